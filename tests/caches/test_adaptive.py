"""What S3FIFOCache and TinyLFUCache do beyond the contract every class keeps (test_contract.py
and the other parametrised suites cover that): misses feed the policy, popitem is an eviction
for it (also through a subclass's __delitem__), a candidate heavier than the victims it needs,
copy/pickle keeping the sketch and the ghost so the future is the same, and the hit ratio the
policies exist for. Each test runs on the C-backed class and on the pure twin, and compares the
two where both can run.
"""

from __future__ import annotations

import copy
import pickle
import random

import pytest

from helpers import check, classes

ADAPTIVE = ("S3FIFOCache", "TinyLFUCache")


def build(impl, name, maxsize, *args, **kw):
    if name == "TinyLFUCache":
        kw.setdefault("seed", 1)
    return classes(impl)[name](maxsize, *args, **kw)


def zipf_keys(n, nkeys, rng, s=0.99):
    weights = [1.0 / (i + 1) ** s for i in range(nkeys)]
    return rng.choices(range(nkeys), weights=weights, k=n)


@pytest.fixture(params=ADAPTIVE)
def name(request):
    return request.param


# --------------------------------------------------------------------------- misses


def test_lookup_misses_count_in_the_sketch(impl):
    """Caffeine's rule: a lookup that misses records the key's frequency, so a key that keeps
    missing is admitted over a rarely used victim. ``in`` and ``peek`` record nothing."""
    c = build(impl, "TinyLFUCache", 100)
    for k in range(60):             # the sketch is sized once the cache is half full
        c[k] = k
    assert c.policy_info()["sketch_capacity"] > 0
    for _ in range(3):
        assert c.get("x") is None
    with pytest.raises(KeyError):
        c["x"]
    assert c.frequency("x") == 4
    assert "y" not in c and c.peek("y") is None
    assert c.frequency("y") == 0
    c.setdefault("z", 1)            # a miss, then the store: the key is counted once
    assert c.frequency("z") == 1
    assert c.stats().misses == 5
    c["w"] = 1
    assert c.frequency("w") == 1     # a store counts once; a hit once more
    c["w"]
    assert c.frequency("w") == 2


def test_misses_get_a_key_admitted(impl):
    """A full TinyLFU cache of keys used twice each: a new key is refused admission (it leaves
    as the window's candidate) until its misses make it more frequent than main's victim.
    Int keys: their hashes (so the sketch's counters) do not change with PYTHONHASHSEED; with
    str keys a collision in the sketch could admit NEW at once (2 seeds in 300); these int keys
    passed in 2000 fresh caches."""
    c = build(impl, "TinyLFUCache", 50)
    NEW, OTHER = 1000, 2000
    for k in range(50):
        c[k] = k
        c.get(k)
    for _ in range(2):
        for k in range(50):
            c.get(k)
    c[NEW] = 1
    c[OTHER] = 2                  # pushes NEW out of the window: sketch says 1 < 3
    assert NEW not in c
    for _ in range(6):
        c.get(NEW)                # misses: the sketch learns NEW
    c[NEW] = 1
    c[OTHER + 1] = 2
    assert NEW in c
    check(c)


def test_s3fifo_ghost_readmits_to_main(impl):
    """A key evicted from S3-FIFO's small queue is remembered by the ghost: stored again, it
    goes straight to main."""
    c = build(impl, "S3FIFOCache", 10)
    for k in range(10):
        c[k] = k
    c[10] = 10                      # evicts from small (nothing was read): 0 is in the ghost
    gone = [k for k in range(10) if k not in c]
    assert len(gone) == 1
    assert c._policy_frequency(gone[0]) == 1
    main_before = c.policy_info()["main_len"]
    c[gone[0]] = 0
    assert c.policy_info()["main_len"] == main_before + 1
    assert c._policy_frequency(gone[0]) == 0    # the ghost hit consumed the memory
    check(c)


# --------------------------------------------------------------------------- popitem


def test_popitem_is_an_eviction_for_the_policy(impl):
    """popitem() removes the policy's next victim and the policy treats it as evicted: S3FIFO's
    ghost remembers a key popped from small (a del does not)."""
    c = build(impl, "S3FIFOCache", 10)
    for k in range(10):
        c[k] = k
    victim = c.copy().popitem()
    assert c.popitem() == victim
    assert c._policy_frequency(victim[0]) == 1
    other = next(iter(c))
    del c[other]
    assert c._policy_frequency(other) == 0
    check(c)


@pytest.mark.parametrize("which", ["popitem", "evict"])
def test_hooked_delitem_still_evicts_for_the_policy(impl, name, which):
    """A subclass overriding __delitem__ takes cachetools' call graph: popitem and evictions go
    through ``del self[key]``. Its removal of the victim must still be an eviction for the
    policy (S3FIFO's ghost, TINYLFU's jitter and ghost): the same policy state as a plain
    class doing the same operations."""
    deleted = []

    class Sub(classes(impl)[name]):
        def __delitem__(self, key):
            deleted.append(key)
            super().__delitem__(key)

    subject = Sub(8, seed=2) if name == "TinyLFUCache" else Sub(8)
    plain = build(impl, name, 8, **({"seed": 2} if name == "TinyLFUCache" else {}))
    rng = random.Random(5)
    for i, k in enumerate(zipf_keys(400, 40, rng)):
        for c in (subject, plain):
            if c.get(k) is None:
                c[k] = i
        if which == "popitem" and i % 7 == 0:
            assert subject.popitem() == plain.popitem()
    assert deleted
    assert list(subject) == list(plain)
    assert subject._policy_order() == plain._policy_order()
    assert subject._policy_info() == plain._policy_info()
    assert [subject._policy_frequency(k) for k in range(40)] == [
        plain._policy_frequency(k) for k in range(40)]
    check(subject)


# --------------------------------------------------------------------------- weights


@pytest.mark.parametrize("bound", ["getsizeof", "maxmemory"])
def test_candidate_heavier_than_victims(name, bound):
    """An item heavier than several victims (and than S3FIFO's small queue / TinyLFU's window)
    is stored and evicts as many as it needs; native and twin agree on who stays."""
    results = []
    for impl in ("core", "pure"):
        if bound == "getsizeof":
            c = build(impl, name, 20, len)
        else:
            c = build(impl, name, float("inf"), maxmemory=20 * 164,
                      sizeof=lambda k, v: 100 * len(v))
        for k in range(20):
            c[k] = "x"
            c.get(k)
        c["big"] = "y" * 9
        assert "big" in c
        if bound == "getsizeof":
            assert c.currsize <= 20
        else:
            assert c.memory_used == c.stats().memory_used <= 20 * 164
        c["small"] = "z"
        check(c)
        results.append((sorted(c, key=str), c._policy_order(), c._policy_info()))
    assert results[0] == results[1]


def test_growing_value_evicts_others(impl, name):
    c = build(impl, name, 10, len)
    for k in range(10):
        c[k] = "a"
    c[3] = "b" * 6                  # re-assignment grows by 5: five others go, never 3
    assert c[3] == "b" * 6 and c.currsize <= 10 and len(c) == 5
    check(c)


# --------------------------------------------------------------------------- copy and pickle


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_copies_have_the_same_future(impl, name, how):
    """After a long skewed workload (sketch and ghost full of history), a copy continued with
    the same requests makes the same decisions: same hits, same victims, same state."""
    rng = random.Random(11)
    trace = zipf_keys(6000, 600, rng)
    c = build(impl, name, 60)
    for k in trace[:3000]:
        if c.get(k) is None:
            c[k] = k
    if how == "copy":
        d = copy.copy(c)
    elif how == "deepcopy":
        d = copy.deepcopy(c)
    else:
        d = pickle.loads(pickle.dumps(c))
    assert d._policy_info() == c._policy_info()
    outs = []
    for cache in (c, d):
        victims = []
        cache.on_evict = lambda k, v, cause: victims.append(k)
        hits = 0
        for k in trace[3000:]:
            if cache.get(k) is None:
                cache[k] = k
            else:
                hits += 1
        outs.append((hits, victims, cache._policy_order(), cache._policy_info()))
    assert outs[0] == outs[1]
    check(d)


def test_pickle_refuses_a_corrupt_policy_state():
    c = build("core", "TinyLFUCache", 10)
    for k in range(20):
        c[k] = k
    state = c.__getstate__()
    assert state[0] == 2 and isinstance(state[12], bytes) and state[12]
    bad = state[:12] + (state[12][:-1],)
    d = classes("core")["TinyLFUCache"].__new__(classes("core")["TinyLFUCache"])
    with pytest.raises(ValueError):
        d.__setstate__(bad)
    with pytest.raises(ValueError):
        d.__setstate__(state[:12] + (b"",))


def test_clear_resets_the_policy(impl, name):
    c = build(impl, name, 10)
    for k in range(30):
        c[k] = k
        c.get(k)
    c.clear()
    fresh = build(impl, name, 10)
    assert c._policy_info() == fresh._policy_info()
    assert all(c._policy_frequency(k) == 0 for k in range(30))


def test_resize_keeps_agreeing(name):
    out = []
    for impl in ("core", "pure"):
        c = build(impl, name, 50)
        for k in zipf_keys(2000, 200, random.Random(3)):
            if c.get(k) is None:
                c[k] = k
        c.resize(7)
        assert len(c) == 7
        c.resize(30)
        for k in range(100, 140):
            c[k] = k
        check(c)
        out.append((c._policy_order(), c._policy_info()))
    assert out[0] == out[1]


# --------------------------------------------------------------------------- hit ratio


@pytest.mark.parametrize("capacity", [100, 1000])
def test_hit_ratio_beats_lru_on_zipf(capacity):
    """What the policies are for: on a Zipf(0.99) trace both beat LRU by a wide margin (the
    full comparison with libCacheSim and theine is benchmarks/hit_ratio.py)."""
    trace = zipf_keys(100_000, 20_000, random.Random(42))
    ratios = {}
    for name in ("LRUCache",) + ADAPTIVE:
        c = classes("core")[name](capacity)
        hits = 0
        for k in trace:
            if c.get(k) is None:
                c[k] = k
            else:
                hits += 1
        ratios[name] = hits / len(trace)
    assert ratios["S3FIFOCache"] > ratios["LRUCache"] + 0.03, ratios
    assert ratios["TinyLFUCache"] > ratios["LRUCache"] + 0.03, ratios


def test_version_1_pickle_state_still_loads():
    """Pickles from before the adaptive policies (state version 1: no policy blob) still load
    for the classical classes."""
    LRU = classes("core")["LRUCache"]
    c = LRU(5)
    for k in range(7):
        c[k] = k
    c[3]
    state = c.__getstate__()
    assert state[0] == 2 and state[12] == b""
    d = LRU.__new__(LRU)
    d.__setstate__((1,) + state[1:12])
    assert list(d.items()) == list(c.items()) and d._policy_order() == c._policy_order()
    check(d)
