"""``sizing=R`` on every cache class (C-backed and pure twin) and ``cache.sizing()``; the
decorators' ``sizing=`` and ``cache_sizing()``."""
from __future__ import annotations

import math

import pytest

import hotcache
from hotcache.bench.caches import zipf_trace
from hotcache.sizing import DEFAULT_POLICIES, SizingReport, default_sizes, simulate
from hotcache.sizing.sampler import ONLINE_MEMORY, ONLINE_WORK
from helpers import FakeTimer, module

NAMES = ("Cache", "LRUCache", "LFUCache", "FIFOCache", "RRCache", "TTLCache", "TLRUCache",
         "S3FIFOCache", "TinyLFUCache")


def _make(impl, name, maxsize, **kw):
    cls = getattr(module(impl), name)
    if name == "TTLCache":
        return cls(maxsize, 60, FakeTimer(), **kw)
    if name == "TLRUCache":
        return cls(maxsize, lambda k, v, now: now + 60, FakeTimer(), **kw)
    return cls(maxsize, **kw)


@pytest.mark.parametrize("name", NAMES)
def test_every_class_takes_sizing(impl, name):
    c = _make(impl, name, 40, sizing=0.5)
    for k in range(300):
        c.get(k % 70)
        c[k % 70] = k
    rep = c.sizing()
    assert isinstance(rep, SizingReport)
    assert rep.sizes == default_sizes(40) == [5, 10, 20, 40, 80, 160, 320]
    own = {"RRCache": ["random"]}.get(name, [])
    assert rep.policies == list(DEFAULT_POLICIES) + own
    # a young cache is simulated exactly: the rate starts at 1 and falls only after about
    # ONLINE_WORK sampled lookups
    assert rep.requests == rep.sampled == 300
    assert rep.sample_rate == 1.0
    assert all(len(v) == len(rep.sizes) and all(0.0 <= r <= 1.0 for r in v) for v in rep.hit_ratio.values())
    assert abs(rep.working_set - 70) < 2


@pytest.mark.parametrize("name", ["LRUCache", "TinyLFUCache"])
def test_native_and_twin_reports_are_equal(name):
    """Through several lowerings of the rate (keys dropped from the set and the miniatures,
    miniatures shrunk, phases closed), the C sampler and the twin's agree to the bit."""
    trace = zipf_trace(40_000, nkeys=3_000, s=0.9, seed=5)
    reps = []
    for impl in ("core", "pure"):
        c = _make(impl, name, 100, sizing=0.05)
        for k in trace:
            if c.get(k) is None:
                c[k] = k
        reps.append(c.sizing())
    a, b = reps
    assert a.sample_rate < 0.5                  # lowered (more than once: x0.75 at least)
    assert a.hit_ratio == b.hit_ratio
    assert (a.working_set, a.requests, a.sampled, a.sample_rate) == (b.working_set, b.requests, b.sampled, b.sample_rate)


def test_rate_settles_at_the_floor_and_reads_near_the_truth():
    """Long traffic: the rate falls from 1 to the asked R (the work bound's floor) and no
    lower (memory allows it); where the miniatures hold 100+ entries (R x size), the curve is
    near the exact simulation's (smaller miniatures are coarser: at R = 0.01 a 2000-entry cache
    is simulated by a 20-entry one)."""
    trace = zipf_trace(2_000_000, nkeys=100_000, s=0.9, seed=8)
    c = hotcache.LRUCache(10_000, sizing=0.01)
    for k in trace:
        if c.get(k) is None:
            c[k] = k
    rep = c.sizing()
    assert rep.sample_rate == 0.01
    assert ONLINE_WORK / len(trace) < 0.01 * 0.75      # so the work bound reached its floor
    exact = simulate(trace, sizes=rep.sizes, policies=("lru", "lfu"))
    for p in ("lru", "lfu"):
        err = [abs(rep.hit_ratio[p][i] - exact.hit_ratio[p][i])
               for i, size in enumerate(rep.sizes) if 0.01 * size >= 100]
        # measured: lru 0.031 max at 10000 (100-entry miniature), lfu less; the online
        # advisor settles at R itself (the cost bound), unlike simulate()'s larger work bound
        assert sum(err) / len(err) <= 0.03 and max(err) <= 0.04, (p, err)


@pytest.mark.parametrize("policy", DEFAULT_POLICIES)
def test_online_exact_equals_offline_exact(policy):
    """At R = 1 the online advisor (miniatures keyed by the mixed hash) gives the offline exact
    run's curve (keyed by the keys themselves): no two int keys of the trace share a hash. The
    policies that hash keys themselves (S3-FIFO's ghost, TinyLFU's sketch) see other hashes,
    so their curves are equal in distribution only: within 0.01 here."""
    trace = zipf_trace(30_000, nkeys=5_000, s=0.99, seed=9)
    c = hotcache.LRUCache(200, sizing=1.0)
    for k in trace:
        c[k] = c.get(k, 0) + 1
    rep = c.sizing()
    off = simulate(trace, sizes=rep.sizes, policies=(policy,), sample=1)
    if policy in ("s3fifo", "tinylfu"):
        assert rep.hit_ratio[policy] == pytest.approx(off.hit_ratio[policy], abs=0.01)
    else:
        assert rep.hit_ratio[policy] == off.hit_ratio[policy]


def test_only_lookups_count():
    c = hotcache.LRUCache(10, sizing=1.0)
    for k in range(50):
        c[k] = k            # stores, deletes, peeks and `in` are not lookups
        c.peek(k)
        _ = k in c
    c.pop(49)
    assert c.sizing().requests == 0
    c.get(1)
    c[48]
    with pytest.raises(KeyError):
        c[1000]
    assert c.sizing().requests == 3


def test_sizing_changes_nothing(impl):
    trace = zipf_trace(5_000, nkeys=400, s=0.8, seed=2)
    on = _make(impl, "TinyLFUCache", 50, sizing=1.0, seed=4)
    off = _make(impl, "TinyLFUCache", 50, seed=4)
    for c in (on, off):
        for i, k in enumerate(trace):
            if c.get(k) is None:
                c[k] = i
    assert list(on.items()) == list(off.items())
    assert on.stats() == off.stats()


def test_sizing_off():
    c = hotcache.LRUCache(10)
    with pytest.raises(ValueError, match="sizing is off"):
        c.sizing()
    import hotcache._spec as spec

    with pytest.raises(ValueError, match="sizing is off"):
        spec.LRUCache(10).sizing()


@pytest.mark.parametrize("rate, exc", [(0, ValueError), (-1, ValueError), (1.01, ValueError),
                                        (math.nan, ValueError), ("0.1", TypeError), (True, TypeError)])
def test_bad_rate(impl, rate, exc):
    with pytest.raises(exc, match="sample rate"):
        _make(impl, "LRUCache", 10, sizing=rate)


def test_unbounded_cache_needs_a_size(impl):
    with pytest.raises(ValueError, match="finite maxsize"):
        _make(impl, "LRUCache", math.inf, sizing=0.1)


def test_unhashable_lookup_unchanged(impl):
    c = _make(impl, "LRUCache", 10, sizing=1.0)
    with pytest.raises(TypeError):
        c.get([1])
    assert c.sizing().requests == 0


def test_memory_bounded_under_millions_of_distinct_keys():
    """Default settings, a big cache and 3M distinct keys: the set of distinct sampled keys and
    the miniatures would pass 2 MiB at R = 0.01, so the memory bound takes the rate below R
    (and the report says so); the advisor holds under 2 MiB (the C structures' own count)."""
    c = hotcache.LRUCache(1_000_000, sizing=0.01)
    peak = 0
    for start in range(0, 3_000_000, 500_000):
        for k in range(start, start + 500_000):
            c.get(k)
        peak = max(peak, c.sizing().memory)
    rep = c.sizing()
    assert rep.sample_rate < 0.01
    assert peak <= ONLINE_MEMORY == 2 * 1024 * 1024
    assert abs(rep.working_set - 3_000_000) / 3_000_000 < 0.02
    assert rep.hit_ratio["lru"] == [0.0] * len(rep.sizes)     # no key ever repeats
    small = hotcache.LRUCache(10_000, sizing=0.01)
    for k in range(3_000_000):
        small.get(k)
    # the set of distinct sampled keys alone (30k at R = 0.01) is half of the budget: the
    # rate falls below R here too
    assert small.sizing().sample_rate <= 0.01 and small.sizing().memory <= ONLINE_MEMORY


def test_copies_start_without_the_advisor(impl):
    import copy
    import pickle
    c = _make(impl, "LRUCache", 10, sizing=0.5)
    c[1] = 1
    for other in (copy.copy(c), copy.deepcopy(c), pickle.loads(pickle.dumps(c))):
        assert other[1] == 1
        with pytest.raises(ValueError, match="sizing is off"):
            other.sizing()
    c.get(1)
    assert c.sizing().requests == 1


# -- decorators ---------------------------------------------------------------------------------

def test_cached_short_form_sizing():
    @hotcache.cached(maxsize=100, sizing=1.0)
    def f(x):
        return x * 2

    for k in zipf_trace(2_000, nkeys=300, s=0.9, seed=1):
        f(k)
    rep = f.cache_sizing()
    assert rep.requests == 2_000 and rep.sizes == default_sizes(100)
    # the decorator's lookups are the cache's: its hit ratio at maxsize is the LRU curve's point
    i = rep.sizes.index(100)
    assert rep.hit_ratio["lru"][i] == pytest.approx(f.cache_stats()["hits"] / 2_000)


def test_cached_given_cache_and_kwargs():
    c = hotcache.LFUCache(50, sizing=1.0)

    @hotcache.cached(c, key=lambda x, y=0: (x, y))
    def g(x, y=0):
        return x + y

    g(1, y=2)
    g(1, y=2)
    assert g.cache_sizing().requests == 2
    with pytest.raises(TypeError, match="not both"):
        hotcache.cached(c, sizing=0.1)


def test_cache_sizing_without_the_advisor():
    @hotcache.cached(maxsize=10)
    def h(x):
        return x

    with pytest.raises(ValueError, match="sizing is off"):
        h.cache_sizing()

    @hotcache.cached({})
    def d(x):
        return x

    with pytest.raises(TypeError, match="no sizing advisor"):
        d.cache_sizing()


def test_async_and_locked_wrappers():
    import asyncio
    import threading

    @hotcache.cached(maxsize=10, sizing=1.0)
    async def a(x):
        return x

    asyncio.run(a(1))
    asyncio.run(a(1))
    assert a.cache_sizing().requests >= 2

    @hotcache.cached(hotcache.LRUCache(10, sizing=1.0), lock=threading.Lock())
    def b(x):
        return x

    b(1)
    b(1)
    assert b.cache_sizing().requests >= 2
