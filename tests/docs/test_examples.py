"""Every ```python block of README.md runs as written (the README's promises stay true).

Blocks that talk to Redis get ``REDIS_URL`` pointing at the session's throwaway redis-server
(tests/conftest_redis.py), so they run too; each block runs in a fresh namespace, in a
subprocess-free ``exec`` with its stdout captured.
"""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

__all__: list = []

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks():
    if not README.exists():  # pragma: no cover - the sdist and the repo both ship it
        return []
    text = README.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"```python\n(.*?)```", text, re.S):
        line = text.count("\n", 0, m.start()) + 2
        out.append(pytest.param(m.group(1), id="README.md:%d" % line))
    return out


BLOCKS = _blocks()


def test_readme_has_examples():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("code", BLOCKS)
def test_readme_block_runs(code, request, monkeypatch):
    if "redis" in code:
        server = request.getfixturevalue("redis_server")
        server.client().flushall()
        monkeypatch.setenv("REDIS_URL", server.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
