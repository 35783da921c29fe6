"""`python -m hotcache bench` runs on any interpreter with whatever peers are installed there: a
peer that is absent, fails to import or fails a tiny store/lookup is left out with a note, and the
table still comes out. Runs the real `run()` end to end on shrunken sizes (seconds, not a minute).
"""
from __future__ import annotations

import io
import sys
import types

import pytest

from hotcache.bench import caches as _bench, decorators as _bench_decorators

__all__: list = []

PEERS = ("cachebox", "cachetools", "lru")


@pytest.fixture
def tiny(monkeypatch):
    """Sizes shrunk so that a whole run takes about a second; one round everywhere."""
    monkeypatch.setattr(_bench, "N_KEYS", 2000)
    monkeypatch.setattr(_bench, "ZIPF_KEYS", 20000)
    monkeypatch.setattr(_bench, "QUICK", _bench.Preset(1, 1, 0.01, 1, 5000, 5.0))
    real = _bench_decorators.run_decorators
    monkeypatch.setattr(_bench_decorators, "run_decorators", lambda rounds, notes: real(rounds=1, notes=notes))


def _run():
    out = io.StringIO()
    result = _bench.run(quick=True, out=out)
    return out.getvalue(), result


def test_bench_runs_with_no_peer_installed(tiny, monkeypatch):
    for name in PEERS:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError: not installed
    text, result = _run()
    assert set(result["libraries"]) == {"dict", "lru_cache", "hotcache"}
    for peer in ("cachebox", "cachetools", "lru-dict"):
        assert any(n.startswith(peer + " not installed (skipped") for n in result["notes"]), result["notes"]
    assert "get hit LRU" in text and "hotcache" in text and "decorators" in text
    assert "ERROR" not in text


def test_bench_leaves_out_a_broken_peer_and_goes_on(tiny, monkeypatch):
    class Broken:
        def __init__(self, maxsize):
            raise TypeError("an older API")

    class Works(dict):
        def __init__(self, maxsize):
            super().__init__()

    fake = types.ModuleType("cachetools")
    fake.LRUCache = Works
    fake.FIFOCache = Broken
    monkeypatch.setitem(sys.modules, "cachetools", fake)
    monkeypatch.setitem(sys.modules, "cachebox", None)

    class Exploding(types.ModuleType):
        def __getattr__(self, name):
            raise RuntimeError("ABI mismatch")

    monkeypatch.setitem(sys.modules, "lru", Exploding("lru"))
    text, result = _run()
    notes = result["notes"]
    assert any(n.startswith("cachetools: FIFO (TypeError: an older API) failed") for n in notes), notes
    assert any(n.startswith("lru-dict failed to import (RuntimeError: ABI mismatch)") for n in notes), notes
    assert "decorators: cachetools.cached left out (AttributeError" in " ".join(notes), notes
    assert "cachetools" in result["libraries"] and "lru-dict" not in result["libraries"]
    rows = {(r["scenario"], r["library"]) for r in result["rows"]}
    assert ("get hit LRU", "cachetools") in rows and ("get hit FIFO", "cachetools") not in rows


def test_bench_header_names_the_call_path(tiny):
    text, result = _run()
    assert "decorator call path " in result["libraries"]["hotcache"]
