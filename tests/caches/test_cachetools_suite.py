"""Run cachetools 8.0.2's OWN tests (classes, decorators, keys, func, threading) against hotcache.

Nothing is vendored: the sdist is fetched with ``pip download`` (into tests/.cache/, gitignored,
checked against a pinned sha256), unpacked into a temp dir, and its tests run in a subprocess
where ``import cachetools`` (and ``cachetools.keys``, ``cachetools.func``) finds a shim package
that re-exports hotcache's classes, ``cached``, ``cachedmethod``, ``keys`` and ``func``:

    "pure" -> hotcache as it runs without its extension: the shim blocks ``hotcache._native.core``
              before importing hotcache, so the classes are hotcache._spec's (the pure-Python
              twin) and the decorators run on hotcache._spec.call.CachedCall
    "core" -> hotcache       (the public, C-backed classes; the native CachedCall)

A failed download FAILS the test (PyPI is reachable in CI); it never skips, except under
HOTCACHE_WHEEL_TEST=1 (set only where an installed wheel is tested: cibuildwheel's test step and
.ci/wheel_proof.sh), where no network is assumed.

The same 8.0.2 suite runs on every Python hotcache supports, although cachetools 8 declares
Requires-Python >= 3.11: the sdist is test data here, fetched with ``--ignore-requires-python``.
Its tests run unchanged on 3.10+. On 3.9, whose ``type | type`` raises TypeError, the few PEP 604
unions in subscripts (``LRUCache[int, int | str]``) are rewritten to ``typing.Union[...]`` and
``from __future__ import annotations`` keeps annotations unevaluated; nothing else changes (the
newest release that accepts 3.9, cachetools 6.2.6, tests cachetools 6's older decorator
semantics, which hotcache does not follow). The run ends with a note saying which it was.
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from helpers import NOTES

__all__: list = []

VERSION = "8.0.2"
SDIST = "cachetools-%s.tar.gz" % VERSION
SHA256 = "30ac523adfc118b51d2b2e7bad8a0ddb31370dfe2700c7f10ca224f36ccf81e0"
CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "cachetools-sdist"

# every test file of the sdist: the cache classes, then cached/cachedmethod/keys/func/threading
TEST_FILES = (
    "tests/__init__.py",
    "tests/test_cache.py",
    "tests/test_lru.py",
    "tests/test_lfu.py",
    "tests/test_fifo.py",
    "tests/test_rr.py",
    "tests/test_ttl.py",
    "tests/test_tlru.py",
    "tests/test_cached.py",
    "tests/test_cachedmethod.py",
    "tests/test_keys.py",
    "tests/test_func.py",
    "tests/test_threading.py",
)
CLASSES = ("Cache", "FIFOCache", "LFUCache", "LRUCache", "RRCache", "TLRUCache", "TTLCache")
NAMES = CLASSES + ("CacheInfo", "cached", "cachedmethod", "func", "keys")
IMPLS = ("core", "pure")

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
        # test data, not a dependency: cachetools 8 declares Requires-Python >= 3.11, and its
        # tests are run here on 3.9 and 3.10 too (against hotcache, never cachetools' own code)
        "--ignore-requires-python",
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
        # the "data" filter where the Python has it (3.12+, and security releases of 3.9-3.11)
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, members=members, **safe)  # noqa: S202 - checked above
    root = dest / ("cachetools-%s" % VERSION)
    for name in TEST_FILES:
        assert (root / name).is_file(), "%s missing from %s" % (name, SDIST)
    how = "sdist fetched with --ignore-requires-python, tests unchanged"
    if sys.version_info < (3, 10):
        rewritten = 0
        for name in TEST_FILES:
            path = root / name
            text, n = _for_python39(path.read_text(encoding="utf-8"))
            path.write_text(text, encoding="utf-8")
            rewritten += n
        assert rewritten > 0, "no PEP 604 union found to rewrite: is the 3.9 adaptation still needed?"
        how = ("sdist fetched with --ignore-requires-python; for Python 3.9, %d PEP 604 unions "
               "rewritten to typing.Union and annotations postponed" % rewritten)
    NOTES.append("cachetools' own suite: cachetools %s's tests on Python %s (%s)"
                 % (VERSION, ".".join(map(str, sys.version_info[:3])), how))
    # fail loudly if `import cachetools` ever resolves to anything but the shim
    (root / "conftest.py").write_text(
        "import os\n"
        "import cachetools\n"
        "assert os.path.dirname(os.path.dirname(os.path.abspath(cachetools.__file__))) == "
        "os.environ['HOTCACHE_SHIM'], cachetools.__file__\n"
    )
    return root


def _for_python39(text: str):
    """``text`` (a test module) made importable on Python 3.9: every ``a | b`` inside a
    subscript (a PEP 604 union in a generic alias) becomes ``typing.Union[a, b]``, and
    ``from __future__ import annotations`` is added so annotations stay strings. Returns the new
    text and the number of unions rewritten; everything else is kept byte for byte."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:  # ast columns are UTF-8 byte offsets
        return starts[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8"))

    def operands(node: ast.expr):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return operands(node.left) + operands(node.right)
        return [node]

    unions = []
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Subscript):
            for node in ast.walk(sub.slice):
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                    unions.append(node)
    # outermost unions only (a chain a | b | c is one union)
    inner = {id(n) for u in unions for n in ast.walk(u) if n is not u}
    unions = [u for u in unions if id(u) not in inner]
    edits = []
    for u in unions:
        parts = [ast.get_source_segment(text, op) for op in operands(u)]
        edits.append((offset(u.lineno, u.col_offset), offset(u.end_lineno, u.end_col_offset),
                      "__import__('typing').Union[%s]" % ", ".join(parts)))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return "from __future__ import annotations\n" + text, len(edits)


_SHIM_HEADER = {
    "core": """\
        # shim: cachetools' tests import hotcache (C-backed classes, native CachedCall) through this
        import hotcache
        import hotcache._native.core
        import hotcache.memo.decorators

        assert hotcache.memo.decorators._CallBase is hotcache._native.core.CachedCall
        """,
    "pure": """\
        # shim: cachetools' tests import hotcache WITHOUT its extension through this: blocking
        # hotcache._native.core makes hotcache fall back to its pure-Python classes and CachedCall twin
        import sys
        import warnings

        sys.modules["hotcache._native.core"] = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            import hotcache
        import hotcache._spec
        import hotcache._spec.call
        import hotcache.memo.decorators

        assert hotcache.LRUCache is hotcache._spec.LRUCache
        assert hotcache.memo.decorators._CallBase is hotcache._spec.call.CachedCall
        """,
}


def _shim(directory: Path, impl: str) -> Path:
    pkg = directory / "cachetools"
    pkg.mkdir(parents=True)
    names = [n for n in NAMES if n not in ("CacheInfo", "func", "keys")]
    (pkg / "__init__.py").write_text(
        textwrap.dedent(_SHIM_HEADER[impl])
        + textwrap.dedent(
            """\
            from hotcache import {names}
            from hotcache import func, keys
            from hotcache.memo import CacheInfo

            __all__ = {all!r}
            """
        ).format(names=", ".join(names), all=list(NAMES))
    )
    (pkg / "keys.py").write_text(
        "from hotcache.keys import hashkey, methodkey, typedkey, typedmethodkey\n\n"
        "__all__ = ('hashkey', 'methodkey', 'typedkey', 'typedmethodkey')\n"
    )
    (pkg / "func.py").write_text(
        "from hotcache.func import fifo_cache, lfu_cache, lru_cache, rr_cache, ttl_cache\n\n"
        "__all__ = ('fifo_cache', 'lfu_cache', 'lru_cache', 'rr_cache', 'ttl_cache')\n"
    )
    return directory


@pytest.mark.parametrize("impl", IMPLS)
def test_cachetools_own_suite(impl: str, cachetools_tree: Path, tmp_path: Path) -> None:
    shim = _shim(tmp_path / "shim", impl)
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
        pytest.fail("cachetools %s tests failed against hotcache (%s) (exit %d):\n%s" % (VERSION, impl, proc.returncode, tail))
    # the shim really was used, and the tests really ran
    assert " passed" in tail and " failed" not in tail, tail
    NOTES.append("  against hotcache (%s): %s" % (impl, tail.splitlines()[-1].strip("= ")))
