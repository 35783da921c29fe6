"""Every ```python block of README.md and of the documentation (docs/**/*.md) runs as written:
what the pages promise stays true.

Blocks that talk to Redis get ``REDIS_URL`` pointing at the session's throwaway redis-server
(tests/conftest_redis.py), so they run too; each block runs in a fresh namespace, in a
subprocess-free ``exec`` with its stdout captured. Blocks meant to be read, not run (shell
commands, output, PromQL) are fenced as ``text`` or left untyped.
"""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

__all__: list = []

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def _pages():
    pages = [README] if README.exists() else []
    if DOCS.is_dir():
        pages += sorted(DOCS.rglob("*.md"))
    return pages


def _blocks(pages):
    out = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
            line = text.count("\n", 0, m.start()) + 2
            name = page.relative_to(ROOT).as_posix()
            out.append(pytest.param(page, m.group(1), id="%s:%d" % (name, line)))
    return out


BLOCKS = _blocks(_pages())


def test_readme_has_examples():
    """The README shows each concern with an example (the sdist and the repo both ship it)."""
    readme = [b for b in BLOCKS if b.values[0] == README]
    assert len(readme) >= 6, len(readme)


def test_docs_have_examples():
    """Each page about a concern shows it at work; the moved README examples are all here."""
    if not DOCS.is_dir():  # pragma: no cover - an sdist without docs/
        pytest.skip("docs/ is not beside the tests")
    pages = {b.values[0].name for b in BLOCKS if b.values[0] != README}
    for page in ("caches.md", "decorators.md", "patterns.md", "tiers.md", "redis.md", "monitoring.md"):
        assert page in pages, page
    assert len(BLOCKS) >= 25, len(BLOCKS)


@pytest.mark.parametrize("page, code", BLOCKS)
def test_example_runs(page, code, request, monkeypatch):
    if "redis" in code:
        server = request.getfixturevalue("redis_server")
        server.client().flushall()
        monkeypatch.setenv("REDIS_URL", server.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(page), "exec"), {"__name__": "doc_example"})
