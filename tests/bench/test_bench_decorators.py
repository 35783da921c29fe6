"""The decorator section of `python -m hotcache bench` runs, checks every round (each contender
really caches: a hit round calls the function never, a miss round once per key) and reports rows."""
from __future__ import annotations

from hotcache.bench.decorators import format_decorators, run_decorators

__all__: list = []


def test_one_round_reports_every_contender_and_no_errors():
    rows, errors = run_decorators(rounds=1)
    assert errors == []
    names = {(r["scenario"], r["library"]) for r in rows}
    for scenario in ("hit 1 arg", "miss 1 arg"):
        for lib in ("functools.lru_cache", "hotcache.lru_cache", "hotcache.cached"):
            assert (scenario, lib) in names
    assert all(r["best_ns"] > 0 and r["vs_lru_cache"] > 0 for r in rows)
    table = format_decorators(rows)
    assert "hotcache.cached" in table and "x lru_cache" in table
