"""Run cachetools 8.0.2's OWN tests for the cache classes against hotcache.

Nothing is vendored: the sdist is fetched with ``pip download`` (into tests/.cache/, gitignored,
checked against a pinned sha256), unpacked into a temp dir, and its class tests run in a
subprocess where ``import cachetools`` finds a shim package that re-exports the classes of the
implementation under test:

    "pure" -> hotcache._pure (the pure-Python twin)
    "core" -> hotcache       (the public, C-backed classes)

A failed download FAILS the test (PyPI is reachable in CI); it never skips, except under
HOTCACHE_WHEEL_TEST=1 (set only where an installed wheel is tested: cibuildwheel's test step and
.ci/wheel_proof.sh), where no network is assumed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

__all__: list = []

VERSION = "8.0.2"
SDIST = "cachetools-%s.tar.gz" % VERSION
SHA256 = "30ac523adfc118b51d2b2e7bad8a0ddb31370dfe2700c7f10ca224f36ccf81e0"
CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "cachetools-sdist"

# cachetools' tests for the cache classes only (not cached/cachedmethod/keys/func/threading)
TEST_FILES = (
    "tests/__init__.py",
    "tests/test_cache.py",
    "tests/test_lru.py",
    "tests/test_lfu.py",
    "tests/test_fifo.py",
    "tests/test_rr.py",
    "tests/test_ttl.py",
    "tests/test_tlru.py",
)
CLASSES = ("Cache", "FIFOCache", "LFUCache", "LRUCache", "RRCache", "TLRUCache", "TTLCache")
IMPLS = {"pure": "hotcache._pure", "core": "hotcache"}

pytestmark = pytest.mark.skipif(
    os.environ.get("HOTCACHE_WHEEL_TEST") == "1",
    reason="HOTCACHE_WHEEL_TEST=1: testing an installed wheel, no network assumed",
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sdist() -> Path:
    """The verified sdist, downloaded on first use."""
    path = CACHE_DIR / SDIST
    if path.exists() and _sha256(path) == SHA256:
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "cachetools==%s" % VERSION, "-d", str(CACHE_DIR),
    ]  # fmt: skip
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 or not path.exists():
        pytest.fail("could not download %s (exit %d):\n%s" % (SDIST, proc.returncode, proc.stdout[-3000:]))
    digest = _sha256(path)
    if digest != SHA256:
        path.unlink()
        pytest.fail("%s has sha256 %s, expected %s" % (SDIST, digest, SHA256))
    return path


@pytest.fixture(scope="session")
def cachetools_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unpacked sdist (only its tests/ are used)."""
    dest = tmp_path_factory.mktemp("cachetools-sdist")
    with tarfile.open(_sdist()) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and "/tests/" in m.name]
        for member in members:
            if member.name.startswith("/") or ".." in member.name.split("/"):
                pytest.fail("unsafe path in %s: %r" % (SDIST, member.name))
        tar.extractall(dest, members=members)  # noqa: S202 - checked above
    root = dest / ("cachetools-%s" % VERSION)
    for name in TEST_FILES:
        assert (root / name).is_file(), "%s missing from %s" % (name, SDIST)
    # fail loudly if `import cachetools` ever resolves to anything but the shim
    (root / "conftest.py").write_text(
        "import os\n"
        "import cachetools\n"
        "assert os.path.dirname(os.path.dirname(os.path.abspath(cachetools.__file__))) == "
        "os.environ['HOTCACHE_SHIM'], cachetools.__file__\n"
    )
    return root


def _shim(directory: Path, module: str) -> Path:
    pkg = directory / "cachetools"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            """\
            # shim: cachetools' class tests import the implementation under test through this
            from {module} import {names}

            __all__ = {all!r}
            """
        ).format(module=module, names=", ".join(CLASSES), all=list(CLASSES))
    )
    return directory


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_cachetools_own_suite(impl: str, cachetools_tree: Path, tmp_path: Path) -> None:
    shim = _shim(tmp_path / "shim", IMPLS[impl])
    # shim first, then this process's import path (where hotcache comes from), then the rest
    paths = [str(shim)] + [p for p in sys.path if p and os.path.isdir(p)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONDONTWRITEBYTECODE="1", HOTCACHE_SHIM=str(shim))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    cmd += [name for name in TEST_FILES if name != "tests/__init__.py"]
    proc = subprocess.run(
        cmd, cwd=str(cachetools_tree), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    tail = "\n".join(proc.stdout.splitlines()[-60:])
    if proc.returncode != 0:
        pytest.fail("cachetools %s tests failed against %s (exit %d):\n%s" % (VERSION, IMPLS[impl], proc.returncode, tail))
    # the shim really was used, and the tests really ran
    assert " passed" in tail and " failed" not in tail, tail
