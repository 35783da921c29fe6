"""hotcache.sizing.simulate: the offline sizing advisor.

The exact run (sample rate 1) IS the cache: its hit ratio at each size equals replaying the trace
on the real class (get, then store on a miss) hit for hit. The sampled run's curves stay within a
stated error of the exact run on seeded Zipf traces (the issue's 0.01 target at R = 0.01 is
measured on 1M-key traces by benchmarks/sizing_accuracy.py; here smaller traces and a tolerance
that holds for them)."""
from __future__ import annotations

import pytest

import hotcache
from hotcache.bench.caches import zipf_trace
from hotcache.sizing.sampler import OFFLINE_WORK
from hotcache.sizing.simulate import new_sizer
from hotcache.sizing import DEFAULT_POLICIES, SizingReport, simulate

CLASS_OF = {"lru": "LRUCache", "lfu": "LFUCache", "fifo": "FIFOCache", "s3fifo": "S3FIFOCache",
            "tinylfu": "TinyLFUCache"}


def _replay(cls, size, keys):
    # the miniatures are seeded with 0 (TinyLFUCache's admission jitter draws from its PRNG)
    c = cls(size, seed=0) if cls.__name__ == "TinyLFUCache" else cls(size)
    hits = 0
    miss = object()
    for k in keys:
        if c.get(k, miss) is miss:
            c[k] = True
        else:
            hits += 1
    return hits


@pytest.fixture(scope="module")
def trace():
    return zipf_trace(60_000, nkeys=20_000, s=0.99, seed=7)


@pytest.mark.parametrize("policy", DEFAULT_POLICIES)
def test_exact_run_is_the_real_cache(trace, policy):
    cls = getattr(hotcache, CLASS_OF[policy])
    sizes = [50, 400, 3000]
    rep = simulate(trace, sizes=sizes, policies=(policy,), sample=1)
    assert rep.sample_rate == 1.0 and rep.requests == rep.sampled == len(trace)
    for i, size in enumerate(sizes):
        assert rep.hit_ratio[policy][i] * len(trace) == pytest.approx(_replay(cls, size, trace), abs=1e-6)


def test_sample_none_is_exact(trace):
    a = simulate(trace, sizes=[100, 1000])
    b = simulate(trace, sizes=[100, 1000], sample=1.0)
    assert a.hit_ratio == b.hit_ratio and a.sample_rate == 1.0
    assert list(a.hit_ratio) == list(DEFAULT_POLICIES)


@pytest.mark.parametrize("s", [0.99, 0.7])
def test_sampled_curves_near_the_exact_ones(s):
    """Seeded Zipf traces: the adaptive rate (from 1 down to about OFFLINE_WORK / requests, never
    below R) and the estimate keep every policy's mean error under 0.01."""
    trace = zipf_trace(600_000, nkeys=200_000, s=s, seed=11)
    sizes = [2000, 4000, 8000, 16000, 32000, 64000]
    exact = simulate(trace, sizes=sizes, sample=1)
    sampled = simulate(trace, sizes=sizes, sample=0.01)
    assert sampled.sample_rate == pytest.approx(OFFLINE_WORK / len(trace), rel=0.34)
    assert sampled.sampled < 0.6 * len(trace) and sampled.sample_rate < 0.3
    for p in DEFAULT_POLICIES:
        err = [abs(a - b) for a, b in zip(exact.hit_ratio[p], sampled.hit_ratio[p])]
        assert sum(err) / len(err) <= 0.01, (p, err)
        assert max(err) <= 0.02, (p, err)


def test_fixed_low_rate_estimate():
    """Without the work bound (a sampler held at R = 0.02 from the start, as the memory bound
    can hold it), the estimate (working set from the HyperLogLog, capacity misses scaled by
    1/R) is still within 0.015 on average."""
    trace = zipf_trace(600_000, nkeys=200_000, s=0.8, seed=12)
    sizes = [4000, 16000, 64000]
    exact = simulate(trace, sizes=sizes, policies=("lru", "lfu"), sample=1)
    s = new_sizer(0.02, sizes, ["lru", "lfu"])
    s.feed(trace)
    rep = s.report()
    assert rep.sample_rate == 0.02
    for p in ("lru", "lfu"):
        err = [abs(a - b) for a, b in zip(exact.hit_ratio[p], rep.hit_ratio[p])]
        assert sum(err) / len(err) <= 0.015, (p, err)


def test_memory_bound_lowers_the_rate_below_r():
    trace = list(range(200_000))             # every key new: only the memory bound acts
    rep = simulate(trace, sizes=[1000, 100_000], policies=("lru",), sample=0.5, memory=1 << 20)
    assert rep.sample_rate < 0.5 and rep.memory <= 1 << 20
    # no key repeats: 0, but for the HyperLogLog's error in the compulsory misses
    assert rep.hit_ratio["lru"] == pytest.approx([0.0, 0.0], abs=0.01)


def test_default_sizes_end_at_the_working_set(trace):
    rep = simulate(trace, policies=("lru",))
    distinct = len(set(trace))
    assert abs(rep.working_set - distinct) / distinct < 0.02
    assert rep.sizes == sorted(rep.sizes) and len(rep.sizes) == 12
    assert abs(rep.sizes[-1] - distinct) / distinct < 0.02
    # the exact hit ratio at the largest size: every repeat hits (one miss per distinct key)
    assert rep.hit_ratio["lru"][-1] == pytest.approx(1 - distinct / len(trace), abs=0.01)


def test_sampled_default_sizes(trace):
    rep = simulate(iter(trace), sample=0.1, policies=("lru", "fifo"))
    assert rep.requests == len(trace)
    # a trace this short is simulated exactly (the rate falls after OFFLINE_WORK lookups)
    assert rep.sample_rate == 1.0 and rep.sampled == len(trace)
    assert rep.hit_ratio == simulate(trace, sizes=rep.sizes, policies=("lru", "fifo")).hit_ratio
    long = simulate(iter(trace * 6), sample=0.1, policies=("lru",))
    assert 0.1 <= long.sample_rate < 1.0 and long.requests == 6 * len(trace)


def test_progress_is_called(trace):
    seen = []
    simulate(trace, sizes=[10], policies=("lru",), progress=seen.append, every=10_000)
    assert seen == list(range(10_000, 60_001, 10_000))
    seen.clear()
    simulate(trace, policies=("lru",), sample=0.5, progress=seen.append, every=20_000)
    assert seen == [20_000, 40_000, 60_000]


def test_string_and_tuple_keys():
    keys = ["a", "b", ("t", 1), "a", ("t", 1), "b", 3.5, 3.5]
    rep = simulate(keys, sizes=[10], policies=("lru",))
    assert rep.hit_ratio["lru"] == [0.5]
    assert isinstance(rep, SizingReport) and rep.working_set == pytest.approx(4, abs=0.01)


@pytest.mark.parametrize("sample", [0, -0.1, 1.5, float("nan")])
def test_bad_rate(sample):
    with pytest.raises(ValueError, match="sample rate"):
        simulate([1, 2], sizes=[1], sample=sample)


@pytest.mark.parametrize("sample", ["0.1", True, [0.1]])
def test_rate_type(sample):
    with pytest.raises(TypeError, match="sample rate"):
        simulate([1, 2], sizes=[1], sample=sample)


def test_empty_trace():
    with pytest.raises(ValueError, match="empty"):
        simulate([], sizes=[10])
    with pytest.raises(ValueError, match="empty"):
        simulate(iter(()))


def test_unhashable_key():
    with pytest.raises(TypeError, match="unhashable"):
        simulate([1, [2]], sizes=[10])


@pytest.mark.parametrize("policies, exc", [
    (("lru", "nope"), ValueError), ((), ValueError), (("lru", "lru"), ValueError), (3, TypeError)])
def test_bad_policies(policies, exc):
    with pytest.raises(exc):
        simulate([1], sizes=[1], policies=policies)


@pytest.mark.parametrize("sizes, exc", [([], ValueError), ([0, 5], ValueError), (["x"], TypeError), (5, TypeError)])
def test_bad_sizes(sizes, exc):
    with pytest.raises(exc):
        simulate([1], sizes=sizes)


def test_twin_driver_matches_native(trace):
    """The twin's sampler (used when the extension cannot load) gives the same report."""
    from hotcache.sizing.simulate import _twin_sizer, new_sizer

    short = trace[:20000]
    # from 1, the work bound lowering the rate (down to 0.05) several times on the way
    a = new_sizer(1.0, [20, 200], ["lru", "lfu", "fifo", "s3fifo", "tinylfu"], 0.05, 1000, 0)
    b = _twin_sizer(1.0, [20, 200], ["lru", "lfu", "fifo", "s3fifo", "tinylfu"], 0.05, 1000, 0)
    a.feed(short)
    b.feed(short)
    ra, rb = a.report(), b.report()
    assert ra.sample_rate == rb.sample_rate < 0.2
    assert ra.hit_ratio == rb.hit_ratio and ra.sampled == rb.sampled
    assert ra.working_set == rb.working_set and a.registers() == b.registers()
