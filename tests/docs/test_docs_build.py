"""The documentation site builds with ``python -m mkdocs build --strict``: a broken link, a missing
anchor, a page left out of the navigation or an API reference (``::: hotcache...`` or an autorefs
link) that does not resolve fails the build, and so this test.

MkDocs, Material and mkdocstrings come with the ``test`` extra on every supported Python. Where
they are not installed the test is skipped with the reason, except under CI (``CI`` set), where
that fails, unless an installed wheel is being tested (``HOTCACHE_WHEEL_TEST=1``: cibuildwheel and
the wheel proof install a short list of test dependencies, not the docs tool chain).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "mkdocs.yml"
TOOLS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def _require_tools():
    if not CONFIG.exists() or not (ROOT / "docs").is_dir():
        pytest.skip("mkdocs.yml and docs/ are not beside the tests (an sdist without them)")
    missing = [name for name in TOOLS if importlib.util.find_spec(name.split(".")[0]) is None
               or importlib.util.find_spec(name) is None]
    if not missing:
        return
    problem = "the docs tool chain is not installed (%s): pip install '.[test]'" % ", ".join(missing)
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if ci and os.environ.get("HOTCACHE_WHEEL_TEST") != "1":
        pytest.fail("CI is set but the docs cannot be built: " + problem, pytrace=False)
    pytest.skip(problem)


def _build(config: Path, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
         "--site-dir", str(site)],
        cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600)


def test_site_builds_strict(tmp_path):
    _require_tools()
    proc = _build(CONFIG, tmp_path / "site", ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:]
    for page in ("index.html", "caches/index.html", "architecture/index.html",
                 "api/caches/index.html", "api/tiers/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    api = (tmp_path / "site" / "api" / "caches" / "index.html").read_text(encoding="utf-8")
    # the reference is generated: the C-backed methods come from the extension's stub
    assert 'id="hotcache.cache.Cache.get_or_set"' in api and 'id="hotcache.cache.Cache.peek"' in api


def test_a_broken_link_or_reference_fails_the_build(tmp_path):
    """The strictness is real: the same site with one broken link, one missing anchor and one
    API reference that does not resolve does not build, and the output names all three."""
    _require_tools()
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(CONFIG, project / "mkdocs.yml")
    (project / "src").symlink_to(ROOT / "src", target_is_directory=True)
    page = project / "docs" / "caches.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n\nSee [nowhere](no-such-page.md), "
                    "[no anchor](tiers.md#no-such-heading) and [a name][hotcache.NoSuchName].\n",
                    encoding="utf-8")
    proc = _build(project / "mkdocs.yml", tmp_path / "site", project)
    assert proc.returncode != 0, proc.stdout[-4000:]
    for needle in ("no-such-page.md", "no-such-heading", "hotcache.NoSuchName"):
        assert needle in proc.stdout, (needle, proc.stdout[-4000:])
