"""TieredCache over a real redis-server: spill, promote, TTLs across tiers, consistency, isolation.

Each test uses its own namespace on the shared server (flushed per test by ``redis_client``).
L1 clocks are fake where expiry matters; Redis TTLs are checked as PTTL with a tolerance.
"""
from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

import hotcache
from helpers import FakeTimer
from hotcache.breaker import CircuitBreaker
from hotcache.tiers import RedisTier, TieredCache, TieredStats
from hotcache.stats import CacheStats


def tiered(url, maxsize=2, namespace="t:ns", l1=None, **kw):
    kw.setdefault("ttl", 120)
    return TieredCache(l1 if l1 is not None else hotcache.LRUCache(maxsize),
                       RedisTier(url, namespace=namespace, **kw))


class Gate:
    """Wraps a tier's transport: writes block until released; records the writing threads."""

    def __init__(self, tier):
        self.inner = tier._writer.transport
        self.pack_set = self.inner.pack_set
        self.client = self.inner.client
        self.pack_unlink = self.inner.pack_unlink
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads = set()
        tier._writer.transport = self

    def read(self, rkey):
        return self.inner.read(rkey)

    def write(self, commands):
        self.threads.add(threading.current_thread().name)
        self.started.set()
        assert self.release.wait(30)
        return self.inner.write(commands)


# -- spill and promote -------------------------------------------------------------------------

def test_spill_promote_round_trip(url, redis_client, mod):
    t = tiered(url, l1=mod.LRUCache(2))
    for i in range(6):
        t[i] = {"n": i}
    assert t.flush(timeout=10)
    assert sorted(t) == [4, 5] and len(t) == 2          # len/iter: the L1 only
    s = t.stats()
    assert s.spilled == 4 and s.spill_dropped == 0 and s.evictions == 4
    for i in range(4):
        assert redis_client.exists(t.tier.redis_key(i))
    assert t[0] == {"n": 0}                              # L1 miss -> Redis -> promoted
    assert 0 in t.l1
    s = t.stats()
    assert s.l2_hits == 1 and s.l2_misses == 0 and s.misses == 1
    assert t.get("nope", "dflt") == "dflt"
    with pytest.raises(KeyError):
        t["nope"]
    assert t.stats().l2_misses == 2
    assert isinstance(t.stats(), TieredStats) and isinstance(t.stats(), CacheStats)
    t.close()


def test_only_size_and_memory_evictions_spill(url, redis_client):
    timer = FakeTimer()
    t = tiered(url, l1=hotcache.LRUCache(10, ttl=5, timer=timer))
    t["exp"] = 1
    t["gone"] = 2
    del t["gone"]
    timer.advance(10)
    t.l1.expire()
    assert t.flush(timeout=10)
    assert t.stats().spilled == 0
    assert redis_client.keys(b"t:ns:*") == []
    t.close()


def test_spills_are_written_by_the_flusher_thread_only(url):
    t = tiered(url, maxsize=1)
    gate = Gate(t.tier)
    gate.release.set()
    for i in range(50):
        t[i] = i
    assert t.flush(timeout=10)
    assert gate.threads and all(name.startswith("hotcache-redis-flusher") for name in gate.threads)
    assert threading.current_thread().name not in gate.threads
    t.close()


def test_bounded_queue_drops_and_counts(url):
    t = tiered(url, maxsize=1, max_pending=10, batch_size=1)
    gate = Gate(t.tier)
    t[0] = 0                           # its invalidation: the flusher takes it and blocks
    assert gate.started.wait(10)
    for i in range(1, 102):            # 101 sets: invalidations, and spills of 0..100
        t[i] = i
    # a queued invalidation is replaced by the spill of the same key; the queue fills up at 10
    # ops (spills of 0..8 and the invalidation of 9, then replaced by its spill); after that
    # each set's invalidation becomes a tomb (never dropped) and each spill is dropped
    s = t.stats()
    assert s.spill_dropped == 91 and s.spilled == 0
    assert t.get(50, "miss") == "miss"   # a dropped spill with a tomb: a miss, not stale data
    gate.release.set()
    t.flush(timeout=10)
    s = t.stats()
    assert s.spill_dropped == 91 and s.spilled == 10
    t.close()


# -- TTLs carried across tiers -----------------------------------------------------------------

def test_ttl_left_is_carried_to_redis_and_back(url, redis_client):
    timer = FakeTimer()
    l1 = hotcache.LRUCache(1, timer=timer)
    t = tiered(url, l1=l1, ttl=300)
    t.set("a", 1, ttl=50)
    timer.advance(20)                  # 30 s left
    t["b"] = 2                         # evicts "a"; "b" has no ttl of its own
    t["c"] = 3                         # evicts "b": gets the tier's 300 s
    assert t.flush(timeout=10)
    pttl_a = redis_client.pttl(t.tier.redis_key("a"))
    pttl_b = redis_client.pttl(t.tier.redis_key("b"))
    assert 25_000 < pttl_a <= 30_000
    assert 290_000 < pttl_b <= 300_000
    assert t["a"] == 1                 # promoted with what Redis has left
    left = l1.ttl_left("a")
    assert 25 < left <= 30
    assert left <= redis_client.pttl(t.tier.redis_key("a")) / 1000 + 0.01  # never outlives Redis
    t.close()


def test_promotion_respects_a_shorter_l1_default_ttl(url, redis_client):
    timer = FakeTimer()
    l1 = hotcache.LRUCache(1, ttl=10, timer=timer)
    t = tiered(url, l1=l1, ttl=300)
    t.set("a", 1, ttl=200)
    t["b"] = 2
    assert t.flush(timeout=10)
    assert t["a"] == 1
    assert l1.ttl_left("a") == pytest.approx(10)
    t.close()


def test_expired_redis_entries_are_misses(url, redis_client):
    t = tiered(url, maxsize=1)
    redis_client.set(t.tier.redis_key("x"), b"1", px=1)
    time.sleep(0.01)
    assert t.get("x", "miss") == "miss"
    t.close()


def test_tier_requires_a_positive_ttl(url):
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            RedisTier(url, namespace="x", ttl=bad)
    for bad in (None, "60", True):
        with pytest.raises(TypeError):
            RedisTier(url, namespace="x", ttl=bad)
    with pytest.raises(ValueError):
        RedisTier(url, namespace="x", timeout=0)
    with pytest.raises(TypeError):
        RedisTier(namespace="x")
    with pytest.raises(ValueError):
        RedisTier(url, namespace="a*b")


# -- consistency -------------------------------------------------------------------------------

@pytest.mark.parametrize("flush_before_read", [False, True])
def test_a_set_never_lets_an_older_l2_copy_come_back(url, flush_before_read):
    timer = FakeTimer()
    l1 = hotcache.LRUCache(1, ttl=100, timer=timer)
    t = tiered(url, l1=l1)
    t["k"] = 1
    t["x"] = 0                          # spill k=1
    assert t.flush(timeout=10)
    assert t["k"] == 1                  # promote: both tiers hold 1
    t["k"] = 2                          # L1 only; the Redis copy is invalidated
    if flush_before_read:
        assert t.flush(timeout=10)
    timer.advance(1000)                 # the L1 entry expires
    assert t.get("k", "miss") == "miss"
    t.close()


def test_an_invalidation_in_flight_hides_the_old_copy(url):
    timer = FakeTimer()
    l1 = hotcache.LRUCache(1, ttl=100, timer=timer)
    t = tiered(url, l1=l1)
    t["k"] = 1
    t["x"] = 0
    assert t.flush(timeout=10)
    assert t["k"] == 1
    gate = Gate(t.tier)
    t["k"] = 2                          # its UNLINK is taken by the flusher and blocks
    assert gate.started.wait(10)
    timer.advance(1000)
    assert t.get("k", "miss") == "miss"
    gate.release.set()
    assert t.flush(timeout=10)
    assert t.get("k", "miss") == "miss"
    t.close()


def test_a_failed_invalidation_becomes_a_tomb_until_it_lands(url, redis_client):
    timer = FakeTimer()
    clock = FakeTimer()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
    l1 = hotcache.LRUCache(1, ttl=100, timer=timer)
    t = tiered(url, l1=l1, breaker=breaker)
    t["k"] = 1
    t["x"] = 0
    assert t.flush(timeout=10)
    rkey = t.tier.redis_key("k")
    assert redis_client.exists(rkey)
    breaker.record_failure()            # open: the UNLINK for the next set cannot be sent
    assert breaker.state == "open"
    t["k"] = 2
    assert t.flush(timeout=10) is False
    assert redis_client.exists(rkey)    # the stale copy is still in Redis ...
    clock.advance(11)                   # ... the breaker would let a probe through now,
    timer.advance(1000)
    assert t.get("k", "miss") == "miss"  # ... yet the tomb keeps it from being served
    deadline = time.monotonic() + 10
    while redis_client.exists(rkey) and time.monotonic() < deadline:
        time.sleep(0.02)                # the flusher retries the UNLINK
    assert not redis_client.exists(rkey)
    t.close()


def test_a_spill_replacing_a_queued_invalidation_inherits_it(url, redis_client):
    clock = FakeTimer()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
    t = tiered(url, maxsize=1, breaker=breaker, batch_size=1)
    t["k"] = 1
    t["x"] = 0
    assert t.flush(timeout=10)
    rkey = t.tier.redis_key("k")
    gate = Gate(t.tier)
    t["y"] = 9                          # queue: UNLINK y (taken, blocked), spill x
    assert gate.started.wait(10)
    t["k"] = 2                          # queued UNLINK k (evicts y -> spill y)
    t["z"] = 3                          # evicts k=2: its spill replaces the queued UNLINK k
    breaker.record_failure()            # every write from now on fails
    gate.release.set()
    t.flush(timeout=10)
    assert redis_client.get(rkey) is not None    # k=1 is still in Redis, but:
    assert t.l1.get("k") is None
    assert t.get("k", "miss") == "miss"          # the dropped spill left a tomb
    t.close()


def test_delete_and_pop_reach_redis_for_other_processes(url, redis_client):
    t = tiered(url, maxsize=1)
    other = tiered(url, maxsize=1)      # another "process": its own L1 and tier
    t["a"] = 1
    t["b"] = 2
    t["c"] = 3                          # a, b spilled
    assert t.flush(timeout=10)
    assert other["a"] == 1
    other.l1.clear()
    del t["a"]                          # only in Redis: still deletable
    assert t.pop("b") == 2              # pop returns the Redis value
    assert t.pop("c") == 3              # from L1
    assert t.pop("zz", None) is None
    with pytest.raises(KeyError):
        del t["zz"]
    assert t.flush(timeout=10)
    for k in ("a", "b", "c"):
        assert other.get(k, "miss") == "miss"
        assert not redis_client.exists(t.tier.redis_key(k))
    t.close()
    other.close()


def test_contains_checks_both_tiers_without_promoting(url):
    t = tiered(url, maxsize=1)
    t["a"] = 1
    t["b"] = 2
    assert t.flush(timeout=10)
    assert "a" in t and "b" in t and "zz" not in t
    assert "a" not in t.l1
    t.close()


def test_numeric_aliases_share_one_entry_in_both_tiers(url):
    timer = FakeTimer()
    t = tiered(url, l1=hotcache.LRUCache(1, ttl=100, timer=timer))
    t[1] = "one"
    t["x"] = 0
    assert t.flush(timeout=10)
    assert t[1.0] == "one" and t[True] == "one"   # like the L1 (dict) would
    t[1.0] = "float"                              # replaces, and invalidates the Redis copy
    timer.advance(1000)
    assert t.get(1, "miss") == "miss"
    t.close()


def test_unencodable_keys_raise_type_error(url):
    t = tiered(url)
    with pytest.raises(TypeError):
        t[frozenset([1])] = 1
    with pytest.raises(TypeError):
        t.get(frozenset([1]))
    t.close()


def test_custom_key_function(url, redis_client):
    class User:
        def __init__(self, uid):
            self.uid = uid

    t = tiered(url, maxsize=1, key=lambda u: "user/%d" % u.uid)
    u = User(7)
    t[u] = "seven"
    t[User(8)] = "eight"
    assert t.flush(timeout=10)
    assert redis_client.get(b"t:ns:#user/7") == b'"seven"'
    t.close()


# -- clear and namespaces ----------------------------------------------------------------------

def test_namespace_isolation_and_clear(url, redis_client):
    a = tiered(url, maxsize=1, namespace="iso:a")
    ab = tiered(url, maxsize=1, namespace="iso:a:b")   # a longer namespace with a's prefix
    for t in (a, ab):
        for i in range(20):
            t[i] = i
        assert t.flush(timeout=10)
    redis_client.set(b"iso:a:unrelated", b"x")
    assert a[3] == 3 and ab[3] == 3
    a["own"] = "a"
    assert ab.get("own", "miss") == "miss"
    assert ab.flush(timeout=10)               # promoting 3 evicted (spilled) 19 as well
    a.clear()
    assert len(a) == 0
    assert redis_client.keys(b"iso:a:#*") == []
    assert len(redis_client.keys(b"iso:a:b:#*")) == 20
    assert redis_client.get(b"iso:a:unrelated") == b"x"
    assert ab[5] == 5
    assert a.get(5, "miss") == "miss"
    a.close()
    ab.close()


def test_clear_uses_scan_and_unlink_never_keys_or_flushdb(url, redis_client):
    t = tiered(url, maxsize=1, namespace="scan:ns", timeout=2.0)  # 1000-key UNLINK batches under CI load
    for i in range(1500):
        t[i] = i
    assert t.flush(timeout=20)
    monitor_cmds = []
    orig = t.tier.client.execute_command

    def spy(*args, **kw):
        monitor_cmds.append(args[0].upper() if isinstance(args[0], str) else args[0])
        return orig(*args, **kw)

    t.tier.client.execute_command = spy
    t.clear()
    del t.tier.client.execute_command
    assert "SCAN" in monitor_cmds and "UNLINK" in monitor_cmds
    assert "KEYS" not in monitor_cmds and "FLUSHDB" not in monitor_cmds
    assert redis_client.keys(b"scan:ns:*") == []
    t.close()


def test_clear_drops_queued_spills(url, redis_client):
    t = tiered(url, maxsize=1, batch_size=1)
    gate = Gate(t.tier)
    t["a"] = 1
    t["b"] = 2
    assert gate.started.wait(10)         # the first batch is blocked; more is queued behind it
    t["c"] = 3
    t["d"] = 4
    done = threading.Event()
    th = threading.Thread(target=lambda: (t.clear(), done.set()))
    th.start()
    gate.release.set()
    th.join(20)
    assert done.is_set()
    assert t.flush(timeout=10)
    assert redis_client.keys(b"t:ns:*") == []
    assert len(t) == 0
    t.close()


# -- lifecycle ---------------------------------------------------------------------------------

def test_dropped_tiered_cache_is_collected_and_its_thread_exits(url):
    def make():
        t = tiered(url, maxsize=1)
        for i in range(10):
            t[i] = i
        return weakref.ref(t), weakref.ref(t.tier), t.tier._flusher.thread

    ref, tref, thread = make()
    gc.collect()
    assert ref() is None and tref() is None
    thread.join(10)
    assert not thread.is_alive()


def test_l1_kept_alive_by_the_user_does_not_keep_the_tier(url):
    l1 = hotcache.LRUCache(1)

    def make():
        t = TieredCache(l1, RedisTier(url, namespace="keep:l1", ttl=60))
        t["a"] = 1
        return t.tier._flusher.thread

    thread = make()
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()
    l1["b"] = 2
    l1["c"] = 3                          # evicting after the tier is gone: no hook, no error
    assert list(l1) == ["c"]


def test_close_drains_then_stops(url, redis_client):
    with tiered(url, maxsize=1) as t:
        for i in range(100):
            t[i] = i
        thread = t.tier._flusher.thread
    assert not thread.is_alive()
    assert len(redis_client.keys(b"t:ns:#*")) == 99
    assert t.get(0, "miss") == "miss"   # a closed tier reads as misses
    assert t[99] == 99                  # the L1 works on


def test_l1_must_be_a_hotcache_cache(url):
    with pytest.raises(TypeError):
        TieredCache({}, RedisTier(url, namespace="x"))
    with pytest.raises(TypeError):
        TieredCache(hotcache.LRUCache(1), object())


def test_mapping_api(url):
    t = tiered(url, maxsize=3)
    t.update({"a": 1, "b": 2})
    assert t.setdefault("c", 3) == 3 and t.setdefault("a", 9) == 1
    assert dict(t.items()) == {"a": 1, "b": 2, "c": 3}
    assert sorted(t.keys()) == ["a", "b", "c"] and sorted(t.values()) == [1, 2, 3]
    assert t == {"a": 1, "b": 2, "c": 3}
    k, v = t.popitem()
    assert k == "a" and v == 1
    assert t.flush(timeout=10)
    assert t.get("a", "miss") == "miss"
    t.close()


def test_a_value_too_large_for_l1_changes_nothing(url):
    t = tiered(url, l1=hotcache.LRUCache(3, getsizeof=len), namespace="big")
    t["k"] = "ab"
    t["x"] = "cd"                        # spills k
    assert t.flush(timeout=10)
    with pytest.raises(ValueError):
        t["k"] = "too long"
    assert t["k"] == "ab"                # the Redis copy was not invalidated
    t.close()


def test_concurrent_readers_and_writers_never_see_stale_values(url):
    """Writers set increasing versions; readers (L1 tiny, so most reads go to Redis) must never
    see a version older than one already returned for the same key by their own thread."""
    t = tiered(url, maxsize=4)
    keys = list(range(8))
    for k in keys:
        t[k] = 0
    stop = threading.Event()
    errors = []

    def writer():
        v = 0
        while not stop.is_set():
            v += 1
            for k in keys:
                t[k] = v

    def reader():
        seen = {}
        while not stop.is_set():
            for k in keys:
                got = t.get(k)
                if got is None:
                    continue
                if got < seen.get(k, 0):
                    errors.append((k, got, seen[k]))
                seen[k] = got

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for th in threads:
        th.start()
    time.sleep(1.0)
    stop.set()
    for th in threads:
        th.join(10)
    assert errors == []
    t.close()


def test_works_as_the_cache_of_cached(url):
    decorators = pytest.importorskip("hotcache.memo")
    t = tiered(url, maxsize=2, namespace="deco")
    calls = []

    @decorators.cached(cache=t)
    def square(x, scale=1):
        calls.append(x)
        return x * x * scale

    for x in range(5):
        assert square(x) == x * x
    assert t.flush(timeout=10)
    assert square(0) == 0 and square(1) == 1      # evicted from L1, served by Redis
    assert calls == [0, 1, 2, 3, 4]
    assert square(2, scale=3) == 12               # keyword keys encode too
    assert t.stats().l2_hits >= 2
    t.close()


def test_cached_with_a_ttl_carries_it_to_redis(url, redis_client):
    decorators = pytest.importorskip("hotcache.memo")
    t = tiered(url, maxsize=1, namespace="deco:ttl", ttl=600)

    @decorators.cached(cache=t, ttl=30)
    def f(x):
        return x + 1

    assert f(1) == 2 and f(2) == 3           # f(1)'s entry is evicted to Redis
    assert t.flush(timeout=10)
    assert 25_000 < redis_client.pttl(t.tier.redis_key((1,))) <= 30_000
    t.close()


def test_one_tiered_cache_per_l1_and_no_copies(url, redis_server):
    import copy
    import pickle

    l1 = hotcache.LRUCache(4)
    t = TieredCache(l1, RedisTier(url, namespace="own:a"))
    with pytest.raises(ValueError, match="already belongs"):
        TieredCache(l1, RedisTier(url, namespace="own:b"))
    with pytest.raises(TypeError):
        copy.copy(t)
    with pytest.raises(TypeError):
        pickle.dumps(t)
    t.close()
    t2 = TieredCache(l1, RedisTier(url, namespace="own:b"))   # free again after close()
    t2.close()
    with pytest.raises(ValueError, match="decode_responses"):
        RedisTier(client=redis_server.client(decode_responses=True), namespace="own:c")
    with pytest.warns(RuntimeWarning, match="socket_timeout"):
        RedisTier(client=redis_server.client(socket_timeout=None), namespace="own:d").close()


def test_an_on_evict_callback_may_write_back_into_the_tiered_cache(url):
    box = {}
    l1 = hotcache.LRUCache(3, on_evict=lambda k, v, cause: box["t"].set(("evicted", k), v)
                           if not isinstance(k, tuple) else None)
    t = box["t"] = tiered(url, l1=l1)
    for i in range(5):
        t[i] = i                         # no deadlock on the re-entrant set
    assert t.flush(timeout=10)
    got = [t.get(("evicted", i), "miss") for i in range(4)]
    # an entry evicted while its own set() is still running loses its spill to that set's
    # invalidation (queued after it): a miss, never a stale value
    assert all(g in (i, "miss") for i, g in enumerate(got)) and got.count("miss") < 4
    t.close()


# -- regressions: races, tombs, interrupted probes, fork, close -------------------------------

class _WatchedLock:
    """Wraps a TieredCache's RLock: tells when ``reader`` starts waiting for it."""

    def __init__(self, lock, reader_name):
        self.lock = lock
        self.reader_name = reader_name
        self.reader_waiting = threading.Event()

    def __enter__(self):
        if threading.current_thread().name == self.reader_name:
            self.reader_waiting.set()
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


@pytest.mark.parametrize("write", ["set", "delete", "popitem"])
def test_a_read_racing_a_write_never_promotes_the_older_redis_value(url, redis_client, write):
    """The writer is paused after the L1 changed but before the write completed; a reader that
    misses L1 then reads the old Redis copy must not promote it over (or resurrect past) the write."""
    paused, resume = threading.Event(), threading.Event()

    def sizeof(v):  # set: pauses the writer inside l1.set, before the key is in L1
        if v == "v2" and not resume.is_set():
            paused.set()
            assert resume.wait(30)
        return 1

    t = tiered(url, maxsize=10, l1=hotcache.LRUCache(10, getsizeof=sizeof))
    tier = t.tier
    rkey = tier.redis_key("k")
    redis_client.set(rkey, b'"v1"', px=60000)        # "k" only in Redis (spilled earlier)
    if write != "set":
        assert t["k"] == "v1"                        # promoted: both tiers hold v1
        inner = tier._invalidate

        def invalidate(rk):                          # pauses the writer after the L1 removal
            if rk == rkey and not resume.is_set():
                paused.set()
                assert resume.wait(30)
            inner(rk)
        tier._invalidate = invalidate
    writer = threading.Thread(target={"set": lambda: t.set("k", "v2"), "delete": lambda: t.pop("k"),
                                      "popitem": t.popitem}[write])
    writer.start()
    assert paused.wait(30)
    got = []
    reader = threading.Thread(target=lambda: got.append(t.get("k", "miss")), name="racing-reader")
    t._lock = watched = _WatchedLock(t._lock, "racing-reader")
    reader.start()
    assert watched.reader_waiting.wait(30)           # the reader read Redis, waits to promote
    resume.set()
    writer.join(30)
    reader.join(30)
    assert got in (["v1"], ["miss"])                 # it may answer what it read ...
    expected = "v2" if write == "set" else "miss"
    assert t.get("k", "miss") == expected            # ... but never keeps it
    assert t.flush(timeout=10)
    t.l1.clear()
    assert t.get("k", "miss") == "miss"              # the Redis copy was invalidated
    t.close()


def test_a_tomb_outranks_an_older_spill_in_flight(url, redis_client):
    t = tiered(url, maxsize=1, max_pending=3)
    t["a"] = "v1"
    assert t.flush(timeout=10)
    gate = Gate(t.tier)
    t["b"] = "x"                        # evicts a: SPILL a=v1, UNLINK b queued
    assert gate.started.wait(10)        # the flusher holds both in flight
    t["c"] = "y"
    t["d"] = "z"                        # queue: SPILL b, SPILL c, UNLINK d (full)
    del t["a"]                          # queue full: UNLINK a becomes a tomb, newer than the SPILL a in flight
    q = t.tier._queue
    assert list(q.tombs) == [t.tier.redis_key("a")]
    assert t.get("a", "miss") == "miss"   # the tomb wins over the older spill in flight
    assert t.flush(timeout=0.01) is False  # (e) not everything reached Redis
    gate.release.set()
    assert t.flush(timeout=10)          # waits for the tomb's retried UNLINK too
    assert q.tombs == {}
    assert redis_client.get(t.tier.redis_key("a")) is None
    t.l1.clear()
    assert t.get("a", "miss") == "miss"
    t.close()


def test_flush_is_false_while_an_invalidation_is_a_tomb(url, redis_client):
    clock = FakeTimer()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
    t = tiered(url, maxsize=1, max_pending=1, breaker=breaker)
    gate = Gate(t.tier)
    t["a"] = 1                          # UNLINK a: in flight, blocked
    assert gate.started.wait(10)
    t["b"] = 2                          # evicts a: SPILL a fills the queue; UNLINK b: a tomb
    breaker.record_failure()            # open: the tomb cannot be retried
    gate.release.set()
    assert t.flush(timeout=10) is False
    assert t.tier._queue.tombs
    clock.advance(11)                   # a probe may go through: the tomb is retried and lands
    assert t.flush(timeout=10)
    assert not t.tier._queue.tombs
    t.close()


def test_a_skip_decided_before_a_flush_began_does_not_settle_it():
    """The flusher asks the breaker, finds it open, and only then records the skip; a flush()
    that began in between (after the breaker let calls through again) must keep waiting for
    the retry, not take that stale skip as its answer (the race behind a CI flake)."""
    from hotcache.tiers.redis_spill import SpillQueue

    q = SpillQueue(max_pending=10, tomb_limit=10)
    q.seq += 1
    q._tomb(b"k", q.seq)                  # an invalidation that could not reach Redis
    first = q.mark()                      # a flush() that began before the retry decision
    ticket = q.skip_ticket()              # the flusher asks the breaker: open
    second = q.mark()                     # a flush() that began after that
    q.note_skipped(ticket)                # ... and records the skip
    assert q.settled(first) and not q.landed(first)
    assert not q.settled(second)          # waits for the next retry
    q.note_skipped(q.skip_ticket())       # the next retry is skipped too: now it is settled
    assert q.settled(second) and not q.landed(second)
    q.tombs.clear()                       # the retried UNLINK landed
    third = q.mark()
    assert q.settled(third) and q.landed(third)


def test_a_closed_queue_keeps_its_queued_invalidation():
    from hotcache.tiers.redis_spill import DELETE, SpillQueue

    q = SpillQueue(max_pending=10, tomb_limit=10)
    q.put_delete(b"k")
    q.close()
    q.put_spill(b"k", 1, time.monotonic() + 60)      # dropped, and must not pop the UNLINK first
    assert q.queue[b"k"][0] == DELETE and q.spill_dropped == 1


class _Interrupt(BaseException):
    """Stands for KeyboardInterrupt / a signal handler's timeout."""


def test_an_interrupted_half_open_probe_gives_its_slot_back(url, redis_client):
    clock = FakeTimer()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
    t = tiered(url, breaker=breaker)
    redis_client.set(t.tier.redis_key("k"), b'"r"', px=60000)
    breaker.record_failure()
    clock.advance(10)
    transport = t.tier._transport
    real_read = transport.read

    def interrupted(rkey):
        raise _Interrupt()
    transport.read = interrupted
    with pytest.raises(_Interrupt):
        t.get("k")                      # the probe is interrupted
    transport.read = real_read
    assert breaker.stats()["half_open_calls"] == 0
    assert t.get("k") == "r"            # the next probe goes through and closes the breaker
    assert breaker.state == "closed"
    t.close()


def test_an_interrupted_write_gives_the_probe_slot_back():
    from hotcache.tiers.redis_io import Counters, Writer
    from hotcache.tiers.redis_spill import SPILL, SpillQueue
    from hotcache.tiers.redis_codec import make_codec

    clock = FakeTimer()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)

    class Transport:
        client = None
        pack_set = staticmethod(lambda rkey, data, px: ("SET", rkey))
        pack_unlink = staticmethod(lambda rkey: ("UNLINK", rkey))

        def write(self, commands):
            raise _Interrupt()

    q = SpillQueue(10, 10)
    w = Writer(Transport(), make_codec(), breaker, Counters(), q)
    with pytest.raises(_Interrupt):
        w([(b"k", [SPILL, 1, time.monotonic() + 60, False, 1])])
    assert breaker.stats()["half_open_calls"] == 0 and breaker.allow()


def test_read_only_replies_count_as_outage_failures():
    from redis.exceptions import ReadOnlyError, ResponseError

    from hotcache.tiers.redis_io import settle_replies
    from hotcache.tiers.redis_base import default_breaker

    b = default_breaker()
    for _ in range(4):
        settle_replies(b, [True, ResponseError("WRONGTYPE")])   # the server answering: not an outage
    assert b.state == "closed"
    for _ in range(5):
        settle_replies(b, [True, ReadOnlyError("READONLY You can't write against a read only replica.")])
    assert b.state == "open"


def test_close_that_times_out_writes_only_the_invalidations_left(url, redis_client):
    t = tiered(url, maxsize=1, batch_size=1)
    t["old"] = 0
    t["x"] = 0                           # spill old
    assert t.flush(timeout=10)
    gate = Gate(t.tier)
    t["y"] = 1                           # evicts x: SPILL x in flight, blocked; UNLINK y queued
    assert gate.started.wait(10)
    t["old"] = 2                         # UNLINK old queued (SPILL y queued as well)
    t["z"] = 3                           # spill old=2 replaces UNLINK old and owes it; UNLINK z
    thread = t.tier._flusher.thread
    assert t.close(timeout=0.01) is False
    dropped = t.stats().spill_dropped
    gate.release.set()
    thread.join(30)
    assert not thread.is_alive()
    assert redis_client.get(t.tier.redis_key("old")) is None   # the owed invalidation was written
    assert redis_client.get(t.tier.redis_key("y")) is None     # the spills were not
    assert redis_client.get(t.tier.redis_key("x")) == b"0"     # (the spill in flight landed)
    assert dropped == 2 and t.stats().spilled == 2             # old=0 earlier, then x


def test_a_forked_child_writes_through_its_own_flusher(url, redis_client):
    import os

    t = tiered(url, maxsize=1, namespace="t:fork")
    t["p"] = 0
    assert t.flush(timeout=10)
    gate = Gate(t.tier)
    t["q"] = 1                           # the parent's flusher is mid-write (holds its I/O lock)
    assert gate.started.wait(10)
    tier = t.tier
    with t._lock, tier._queue.lock, tier.breaker._lock:   # locks held by this thread at fork
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                gate.release.set()       # the child's writes go through the same (copied) gate
                t["a"] = "child"
                t["b"] = 2               # evicts a -> spilled by the child's flusher
                ok = t.flush(timeout=10)
                t.clear()                # needs the I/O lock the parent's flusher held
                t["c"] = 3
                t["d"] = 4
                ok = ok and t.flush(timeout=10)
                code = 0 if ok and tier._flusher.running() and t.get("c") == 3 else 2
            finally:
                os._exit(code)
    deadline = time.monotonic() + 30     # a hang guard only
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.02)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert redis_client.get(tier.redis_key("c")) == b"3"   # written by the child
    gate.release.set()
    assert t.flush(timeout=10)           # the parent's own queue is untouched
    t.close()
