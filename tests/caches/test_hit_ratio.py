"""Trace-driven hit ratios: hotcache against the independent simulators of
benchmarks/hit_ratio.py on a seeded Zipf(0.99) trace.

LRU, LFU, FIFO and TTLCache without expiry (which evicts LRU) must reproduce the simulator's hit
count EXACTLY; RR must be within ``RANDOM_TOLERANCE`` (0.005) of the simulators' mean ratio.
The C-backed classes run on 200k requests over 100k keys, the pure twin on a smaller trace."""

from __future__ import annotations

import importlib.util
import itertools
import os

import pytest

from helpers import classes

HERE = os.path.dirname(os.path.abspath(__file__))
HIT_RATIO_PATH = os.path.join(HERE, os.pardir, os.pardir, "benchmarks", "hit_ratio.py")

# sizes: (requests, key space); capacities are 10% and 1% of the key space
CORE_SIZE = (200_000, 100_000)
PURE_SIZE = (20_000, 10_000)


def _load_hit_ratio():
    spec = importlib.util.spec_from_file_location("_hotcache_bench_hit_ratio", HIT_RATIO_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


hr = _load_hit_ratio()


def _trace(requests, nkeys):
    from hotcache.bench.caches import zipf_trace

    trace = zipf_trace(requests, nkeys=nkeys)
    assert len(trace) == requests
    assert all(0 <= k < nkeys for k in trace)
    return trace


@pytest.fixture(scope="module")
def core_trace():
    return _trace(*CORE_SIZE)


@pytest.fixture(scope="module")
def pure_trace():
    return _trace(*PURE_SIZE)


def _policy_classes(impl, rr_seeded=False):
    """policy -> constructor(capacity), mirroring hit_ratio.classes_of but for either impl.

    (hit_ratio.classes_of("hotcache._spec") cannot be used: it calls __import__, which returns
    the top-level package, i.e. the C-backed classes.)"""
    cl = classes(impl)  # for "core" also asserts the classes are backed by the C extension
    if rr_seeded:
        seeds = itertools.count(1000)
        rr = lambda n: cl["RRCache"](n, seed=next(seeds))  # noqa: E731
    else:
        rr = cl["RRCache"]
    return {
        "LRU": cl["LRUCache"],
        "LFU": cl["LFUCache"],
        "FIFO": cl["FIFOCache"],
        "RR": rr,
        "TTL": lambda n: cl["TTLCache"](n, ttl=10 ** 9),  # never expires: evicts LRU
    }


def _assert_rows(rows, capacities):
    assert {(r["policy"], r["capacity"]) for r in rows} == {
        (p, c) for p in hr.POLICIES for c in capacities
    }
    bad = [r for r in rows if not r["ok"]]
    assert not bad, "\n" + hr.format_rows(rows, "measured")
    for r in rows:
        if r["policy"] == "RR":
            assert abs(r["diff"]) <= hr.RANDOM_TOLERANCE, r
        else:
            assert r["diff"] == 0, r
        # a run where nothing (or everything) hits would make the comparison meaningless
        assert 0.05 < r["simulator"] < 0.95, r


def test_simulators_discriminate(core_trace):
    """The simulators disagree with each other by far more than the RR tolerance, so an exact
    match (or a match within tolerance) really identifies the policy."""
    cap = CORE_SIZE[1] // 100
    lru = hr.sim_lru(core_trace, cap)
    lfu = hr.sim_lfu(core_trace, cap)
    fifo = hr.sim_fifo(core_trace, cap)
    assert len({lru, lfu, fifo}) == 3
    n = len(core_trace)
    assert abs(lru - fifo) / n > 2 * hr.RANDOM_TOLERANCE
    assert abs(lfu - lru) / n > 2 * hr.RANDOM_TOLERANCE


def test_core_matches_simulators(core_trace):
    nkeys = CORE_SIZE[1]
    capacities = (nkeys // 10, nkeys // 100)
    rows = hr.check(trace=core_trace, capacities=capacities, classes=_policy_classes("core"))
    _assert_rows(rows, capacities)


def test_default_classes_are_hotcache(core_trace):
    """check() with its default classes (hit_ratio.classes_of("hotcache")) uses the same
    C-backed classes; run it on a prefix to keep this cheap."""
    trace = core_trace[:50_000]
    capacities = (1_000,)
    rows = hr.check(trace=trace, capacities=capacities, policies=("LRU", "LFU", "FIFO", "TTL"))
    assert all(r["ok"] for r in rows), "\n" + hr.format_rows(rows, "hotcache")


def test_pure_matches_simulators(pure_trace):
    nkeys = PURE_SIZE[1]
    capacities = (nkeys // 10, nkeys // 100)
    # seeded RR: the pure twin's RR is slow-ish and this trace is short, so make it deterministic
    rows = hr.check(trace=pure_trace, capacities=capacities,
                    classes=_policy_classes("pure", rr_seeded=True))
    _assert_rows(rows, capacities)
