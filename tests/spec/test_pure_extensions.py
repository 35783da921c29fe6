"""Direct tests of the extension behaviours on the pure-Python twin (hotcache._spec).

These pin down the resolutions the C core must follow too (see hotcache._spec.core's docstring):
purge points, dead-on-arrival stores, the re-assigned key never being its own victim, on_evict
ordering and error handling, ttl=/set(ttl=)/ttl_left/peek/resize/expire/stats, and the
validation helpers in hotcache._config.
"""

from __future__ import annotations

import copy
import math
import pickle
import sys

import pytest

from hotcache import _spec as spec
from hotcache._config import (
    ENTRY_OVERHEAD,
    EVICT_CAUSES,
    default_sizeof,
    parse_maxsize,
    parse_memory,
    parse_ttl,
)
from hotcache.stats import CacheStats

__all__: list = []


class Clock:
    def __init__(self) -> None:
        self.time = 0.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.time


def recorder():
    log = []

    def on_evict(key, value, cause):
        log.append((key, value, cause))

    return log, on_evict


# --------------------------------------------------------------------------- _config


def test_constants():
    assert ENTRY_OVERHEAD == 64 and spec.ENTRY_OVERHEAD == 64
    assert EVICT_CAUSES == ("size", "memory", "expired")
    assert default_sizeof("k", 1) == sys.getsizeof("k") + sys.getsizeof(1)


@pytest.mark.parametrize(
    "text, value",
    [
        ("64MB", 64 * 1000**2),
        ("1.5GiB", int(1.5 * 1024**3)),
        ("512 KiB", 512 * 1024),
        ("100B", 100),
        ("2gb", 2 * 1000**3),
        ("2 GB", 2 * 1000**3),
        ("3K", 3 * 1024),
        ("1t", 1024**4),
        ("0.5KB", 500),
        ("4096", 4096),
        (" 7 b ", 7),
        (0, 0),
        (123, 123),
        (2048.0, 2048),
        (None, None),
    ],
)
def test_parse_memory(text, value):
    got = parse_memory(text)
    assert got == value and (value is None or type(got) is int)


@pytest.mark.parametrize("bad", ["64XB", "", "-1MB", "MB", "1.2.3MB", "1e3B", -1, float("nan"), math.inf, 1.5])
def test_parse_memory_value_errors(bad):
    with pytest.raises(ValueError) as info:
        parse_memory(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [True, False, b"64MB", [1], object()])
def test_parse_memory_type_errors(bad):
    with pytest.raises(TypeError):
        parse_memory(bad)


def test_parse_ttl():
    assert parse_ttl(None) is None and parse_ttl(math.inf) is None
    assert parse_ttl(5) == 5.0 and type(parse_ttl(5)) is float and parse_ttl(0.25) == 0.25
    for bad in (0, 0.0, -1, -math.inf, float("nan")):
        with pytest.raises(ValueError, match="ttl"):
            parse_ttl(bad)
    with pytest.raises(ValueError, match="lifetime"):
        parse_ttl(-2, name="lifetime")
    for bad in ("5", True, [], __import__("datetime").timedelta(seconds=1)):
        with pytest.raises(TypeError):
            parse_ttl(bad)


def test_parse_maxsize():
    assert parse_maxsize(10) == (10, 10)
    assert parse_maxsize(2.5) == (2.5, 2)
    assert parse_maxsize(math.inf) == (math.inf, None)
    with pytest.raises(ValueError, match="maxsize must be non-negative"):
        parse_maxsize(-1)
    with pytest.raises(ValueError):
        parse_maxsize(-math.inf)
    with pytest.raises(ValueError):
        parse_maxsize(float("nan"))
    with pytest.raises(TypeError):
        parse_maxsize("10")
    with pytest.raises(TypeError):
        parse_maxsize(None)


def test_constructor_validation():
    with pytest.raises(ValueError):
        spec.LRUCache(10, maxmemory="64XB")
    with pytest.raises(ValueError):
        spec.LRUCache(10, ttl=0)
    with pytest.raises(TypeError):
        spec.LRUCache(10, ttl="1")
    with pytest.raises(TypeError):
        spec.LRUCache(10, on_evict=42)
    with pytest.raises(TypeError):
        spec.RRCache(10, seed="x")


# --------------------------------------------------------------------------- maxmemory


def test_maxmemory_bound_and_oversized_item():
    log, on_evict = recorder()
    c = spec.LRUCache(100, maxmemory=3 * (ENTRY_OVERHEAD + 10), sizeof=lambda k, v: v, on_evict=on_evict)
    for k in range(3):
        c[k] = 10
    assert c.stats().memory_used == 3 * (ENTRY_OVERHEAD + 10) and log == []
    with pytest.raises(ValueError, match="maxmemory"):
        c[9] = 3 * (ENTRY_OVERHEAD + 10)  # charge alone > maxmemory
    assert list(c) == [0, 1, 2] and log == [] and c._policy_order() == [0, 1, 2]
    c[0]  # 1 is now least recently used
    c[3] = 10  # one victim
    assert log == [(1, 10, "memory")]
    assert sorted(c) == [0, 2, 3]
    c[4] = 20  # 10 bytes more than a victim frees: two victims
    assert log[1:] == [(2, 10, "memory"), (0, 10, "memory")]
    assert sorted(c) == [3, 4]
    c._check()


def test_maxmemory_size_cause_wins_when_both_bounds_exceeded():
    log, on_evict = recorder()
    c = spec.FIFOCache(2, maxmemory=2 * (ENTRY_OVERHEAD + 1), sizeof=lambda k, v: 1, on_evict=on_evict)
    c[1] = c[2] = None
    c[3] = None
    assert log == [(1, None, "size")]
    s = c.stats()
    assert (s.evictions_size, s.evictions_memory, s.evictions) == (1, 0, 1)


def test_sizeof_errors_leave_cache_unchanged():
    c = spec.LRUCache(10, maxmemory=1000, sizeof=lambda k, v: v)
    c[1] = 1
    with pytest.raises(ValueError):
        c[2] = -1
    with pytest.raises(TypeError):
        c[2] = 1.5
    assert list(c) == [1]
    c._check()


def test_getsizeof_must_return_int():
    c = spec.Cache(10, getsizeof=lambda v: 1.0)
    with pytest.raises(TypeError):
        c[1] = 1
    assert len(c) == 0


# --------------------------------------------------------------------------- on_evict


def test_on_evict_after_consistency_and_order():
    seen = []

    def on_evict(key, value, cause):
        c._check()
        seen.append((key, cause, sorted(c)))

    t = Clock()
    c = spec.LRUCache(3, timer=t, on_evict=on_evict)
    c.set("a", 1, ttl=1)
    c.set("b", 2, ttl=2)
    c["x"] = 0
    t.time = 5
    c["y"] = 0  # purges a, b (earliest expiry first), no size eviction needed
    c["z"] = 0
    c["w"] = 0  # evicts x
    assert seen == [
        ("a", "expired", ["x", "y"]),
        ("b", "expired", ["x", "y"]),
        ("x", "size", ["w", "y", "z"]),
    ]


def test_on_evict_first_exception_reraised_all_callbacks_run():
    calls = []

    def on_evict(key, value, cause):
        calls.append(key)
        raise KeyError("cb %s" % key)

    c = spec.FIFOCache(4, on_evict=on_evict)
    for k in range(4):
        c[k] = k
    with pytest.raises(KeyError, match="cb 0"):
        c.resize(1)
    assert calls == [0, 1, 2] and list(c) == [3]
    c._check()


def test_on_evict_not_for_explicit_removals():
    log, on_evict = recorder()
    c = spec.LRUCache(5, on_evict=on_evict)
    for k in range(5):
        c[k] = k
    del c[0]
    c.pop(1)
    c.popitem()
    c.clear()
    assert log == []


def test_popitem_override_route_reports_evictions():
    class Sub(spec.LRUCache):
        def popitem(self):
            self.calls += 1
            return super().popitem()

    log, on_evict = recorder()
    c = Sub(2, on_evict=on_evict)
    c.calls = 0
    c[1] = c[2] = c[3] = 0
    assert c.calls == 1 and log == [(1, 0, "size")] and sorted(c) == [2, 3]


# --------------------------------------------------------------------------- re-assignment


@pytest.mark.parametrize("name", ["Cache", "LFUCache", "FIFOCache", "LRUCache"])
def test_reassigned_key_is_never_its_own_victim(name):
    log, on_evict = recorder()
    c = getattr(spec, name)(10, getsizeof=len, on_evict=on_evict)
    c[1] = "a"
    c[2] = "bb"
    c[3] = "ccc"
    c[1] = "x" * 9  # 1 is the oldest / least used, yet 2 and 3 go
    assert [k for k, _, _ in log] == [2, 3]
    assert list(c) == [1] and c.currsize == 9
    assert c.stats().updates == 1
    c._check()


def test_reassigned_key_rr_protected():
    c = spec.RRCache(10, getsizeof=len, seed=1)
    for i in range(50):
        c[0] = "a"
        c[1] = "bb"
        c[2] = "ccc"
        c[0] = "x" * 9
        assert list(c) == [0]
        c.clear()


# --------------------------------------------------------------------------- ttl / set / ttl_left / peek


def test_default_ttl_and_set_override():
    t = Clock()
    c = spec.LFUCache(10, ttl=10, timer=t)
    c[1] = 1
    c.set(2, 2, ttl=1)
    c.set(3, 3, ttl=math.inf)
    assert c.ttl_left(1) == 10.0 and c.ttl(2) == 1.0 and c.ttl_left(3) is None
    t.time = 1
    assert 2 not in c and c.peek(2, "gone") == "gone"
    with pytest.raises(KeyError):
        c.ttl_left(2)
    assert c.expire() == [(2, 2)]
    t.time = 10
    assert c.expire() == [(1, 1)] and list(c) == [3]


def test_untimed_cache_never_reads_the_clock():
    t = Clock()
    c = spec.LRUCache(3, timer=t)
    c[1] = 1
    c[1], c.get(1), 1 in c, len(c), list(c), c.currsize, repr(c), c.stats(), c.expire(), c.peek(1)
    c.pop(1)
    assert t.calls == 0
    c.set(2, 2, ttl=5)  # from now on the cache holds an expiring entry
    assert t.calls == 1
    c[2]
    assert t.calls == 2


def test_one_clock_read_per_operation():
    t = Clock()
    c = spec.TTLCache(2, 10, timer=t)
    for op in (lambda: c.__setitem__(1, 1), lambda: c.setdefault(2, 2), lambda: c.__setitem__(3, 3),
               lambda: c.popitem(), lambda: c.pop(3), lambda: len(c), lambda: c.stats()):  # fmt: skip
        before = t.calls
        op()
        assert t.calls == before + 1


def test_dead_on_arrival_store_drops_old_entry():
    t = Clock()
    log, on_evict = recorder()
    c = spec.TLRUCache(3, lambda k, v, now: now + v, timer=t, on_evict=on_evict)
    c[1] = 5
    c[1] = 0  # expires now: not stored, old value dropped silently
    assert 1 not in c and len(c) == 0 and log == [] and c.stats().updates == 0


def test_tlru_ttl_caps_ttu_and_set_overrides():
    t = Clock()
    c = spec.TLRUCache(10, lambda k, v, now: now + 100, timer=t, ttl=5)
    c[1] = 1
    c.set(2, 2, ttl=50)
    assert c.ttl_left(1) == 5.0 and c.ttl_left(2) == 50.0


def test_ttlcache_ttl_is_cachetools_property():
    c = spec.TTLCache(3, 7)
    assert c.ttl == 7 and callable(c.ttl_left)


def test_del_and_pop_of_expired_key_count_as_expirations():
    t = Clock()
    log, on_evict = recorder()
    c = spec.Cache(5, timer=t, on_evict=on_evict)
    c.set(1, "a", ttl=1)
    c.set(2, "b", ttl=1)
    t.time = 1
    with pytest.raises(KeyError):
        del c[1]
    assert c.pop(2, "dflt") == "dflt"
    assert log == [(1, "a", "expired"), (2, "b", "expired")]
    assert c.stats().expirations == 2 and c.expire() == []


def test_peek_no_side_effects():
    c = spec.LRUCache(2)
    c[1] = c[2] = 0
    before = c.stats()
    assert c.peek(1) == 0 and c.peek(3, "d") == "d"
    assert c.stats() == before and c._policy_order() == [1, 2]


# --------------------------------------------------------------------------- resize / stats / copy


def test_resize():
    log, on_evict = recorder()
    c = spec.LRUCache(5, on_evict=on_evict)
    for k in range(5):
        c[k] = k
    c[0]
    c.resize(maxsize=2)
    assert [k for k, _, _ in log] == [1, 2, 3] and c.maxsize == 2
    with pytest.raises(ValueError):
        c.resize(maxsize=-1)
    assert c.maxsize == 2
    c.resize(maxmemory="1KiB")  # starts charging now
    assert c.maxmemory == 1024
    assert c.stats().memory_used == sum(default_sizeof(k, c.peek(k)) + ENTRY_OVERHEAD for k in c)
    c._check()


def test_stats_snapshot():
    c = spec.LRUCache(1)
    c[1] = 1
    c[1]
    c.get(2)
    c[2] = 2
    s = c.stats()
    assert isinstance(s, CacheStats)
    assert (s.hits, s.misses, s.inserts, s.evictions, s.len, s.currsize, s.maxsize) == (1, 1, 2, 1, 1, 1, 1)
    assert s.hit_ratio == 0.5
    assert CacheStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 1, None, None, 0).hit_ratio == 0.0


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))])
def test_copy_keeps_expiry_rng_and_counters(how):
    c = spec.RRCache(10, seed=5, ttl=100, timer=Clock())
    for k in range(10):
        c[k] = k
    c[3]
    d = how(c)
    assert d.ttl_left(3) == 100.0 and d.stats() == c.stats() and d.choice is c.choice
    victims_c = [c.popitem()[0] for _ in range(5)]
    victims_d = [d.popitem()[0] for _ in range(5)]
    assert victims_c == victims_d


def test_resize_enabling_maxmemory_evicts_oversized_entries():
    log, on_evict = recorder()
    c = spec.FIFOCache(10, sizeof=lambda k, v: v, on_evict=on_evict)
    c[1] = 500
    c[2] = 10
    c.resize(maxmemory=200)
    assert log == [(1, 500, "memory")] and list(c) == [2]
    assert c.stats().memory_used == 10 + ENTRY_OVERHEAD
    c._check()
