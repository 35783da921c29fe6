"""Shared mode, clean entries and cross-process invalidation over a real redis-server (one process;
two tiers on one namespace stand for two processes: each tier has its own origin id).

Waits are bounded polls (``wait_for``), never fixed sleeps used as assertions.
"""
from __future__ import annotations

import os
import time

import pytest

import hotcache
from hotcache.tiers import redis_invalidate
from hotcache.tiers.state import TOUCH_LIMIT
from hotcache.breaker import CircuitBreaker
from hotcache.tiers import RedisTier, TieredCache


def wait_for(cond, timeout=10.0):
    """Poll ``cond`` until true; False after ``timeout`` seconds (a hang guard, not a delay)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def shared(url, namespace="sh:ns", maxsize=100, l1=None, **kw):
    tier_kw = {k: kw.pop(k) for k in list(kw) if k in ("ttl", "timeout", "breaker", "raise_on_error",
                                                       "serializer", "secret", "trusted", "key")}
    tier_kw.setdefault("ttl", 120)
    kw.setdefault("mode", "shared")
    c = TieredCache(l1 if l1 is not None else hotcache.LRUCache(maxsize),
                    RedisTier(url, namespace=namespace, **tier_kw), **kw)
    if c.invalidation is not None:  # the constructor waits a moment; a loaded box may need more
        assert wait_for(lambda: c.stats().invalidation_state == "live")
    return c


def heard(cache, n):
    """Wait until ``cache`` has heard of ``n`` keys changed elsewhere (a read racing such a
    message is served but, rightly, not kept: see THE GENERATION RULE)."""
    return wait_for(lambda: cache.stats().invalidations >= n)


def commandstats(client):
    return {name[len("cmdstat_"):]: v["calls"] for name, v in client.info("commandstats").items()}


# -- options ---------------------------------------------------------------------------------------

def test_options_are_validated(url):
    tier = RedisTier(url, namespace="sh:opts", ttl=60)
    for bad, exc in ((dict(mode="both"), ValueError), (dict(mode=1), TypeError),
                     (dict(invalidation="tracking"), ValueError), (dict(write="sync"), ValueError)):
        with pytest.raises(exc):
            TieredCache(hotcache.LRUCache(2), tier, **bad)
    t = TieredCache(hotcache.LRUCache(2), tier)
    assert (t.mode, t.invalidation, t.write) == ("spill", None, "behind")
    assert t.stats().invalidation_state == "off"
    t.close()
    s = shared(url, namespace="sh:opts2")
    assert (s.mode, s.invalidation, s.write) == ("shared", "pubsub", "behind")
    assert s.stats().invalidation_state == "live"
    with pytest.raises(ValueError):  # one invalidating cache per tier
        TieredCache(hotcache.LRUCache(2), s.tier, mode="shared")
    s.close()


# -- shared mode -----------------------------------------------------------------------------------

def test_shared_writes_reach_redis_with_their_ttl(url, redis_client, mod):
    a = shared(url, l1=mod.LRUCache(10), ttl=300)
    a["plain"] = {"v": 1}
    a.set("short", 2, ttl=30)
    del a["plain"]
    a["plain"] = 3
    assert a.flush(timeout=10)
    rk = a.tier.redis_key
    assert 299_000 < redis_client.pttl(rk("plain")) <= 300_000     # the tier's ttl
    assert 29_000 < redis_client.pttl(rk("short")) <= 30_000       # the write's own
    b = shared(url, l1=mod.LRUCache(10))                          # another "process"
    assert b["plain"] == 3 and b.get("short") == 2
    assert b.stats().l2_hits == 2
    assert 29 - 2 < b.l1.ttl_left("short") <= 30                   # promoted with the ttl left
    a.close()
    b.close()


def test_shared_l1_copy_never_outlives_the_redis_copy(url):
    a = shared(url, ttl=50)
    a["k"] = 1
    assert 49 < a.l1.ttl_left("k") <= 50                           # capped at the tier's ttl
    own = shared(url, namespace="sh:own", l1=hotcache.LRUCache(10, ttl=5), ttl=50)
    own["k"] = 1
    assert own.l1.ttl_left("k") <= 5                               # the L1's shorter default
    a.close()
    own.close()


def test_write_through_returns_once_redis_has_it(url, redis_client):
    a = shared(url, write="through")
    assert a.write == "through"
    for i in range(20):
        a[i] = i
        assert redis_client.get(a.tier.redis_key(i)) == str(i).encode()   # no flush needed
    del a[3]
    assert redis_client.get(a.tier.redis_key(3)) is None
    a.close()


def test_write_through_to_a_dead_redis_raises_only_with_raise_on_error(fresh_redis):
    quiet = shared(fresh_redis.url, write="through", breaker=CircuitBreaker(failure_threshold=1, recovery_timeout=60))
    loud = shared(fresh_redis.url, namespace="sh:loud", write="through", raise_on_error=True,
                  breaker=CircuitBreaker(failure_threshold=1, recovery_timeout=60))
    fresh_redis.kill()
    t0 = time.monotonic()
    quiet["k"] = 1                                   # no exception; counted
    quiet["k2"] = 2
    assert quiet["k2"] == 2 and quiet.stats().l2_errors >= 1   # the L1 works on
    with pytest.raises(Exception) as info:
        loud["k"] = 1
        loud["k2"] = 1                               # the breaker is open by now
    assert isinstance(info.value, (TimeoutError, hotcache.breaker.CircuitOpenError))
    assert time.monotonic() - t0 < 10
    quiet.close(timeout=1)
    loud.close(timeout=1)


def test_a_failed_publish_makes_the_write_a_tomb(url, redis_client):
    a = shared(url)
    writer = a.tier._writer
    inner = writer.transport

    class NoPublish:
        def __getattr__(self, name):
            return getattr(inner, name)

        def write(self, commands):
            replies = inner.write(commands[:-1])       # the batch's writes land
            return replies + [ConnectionError("publish lost")]

    writer.transport = NoPublish()
    a["k"] = 1
    assert a.flush(timeout=10) is False              # not announced: not done
    writer.transport = inner
    assert wait_for(lambda: a.flush(timeout=1))      # the tomb is retried: UNLINK + PUBLISH
    assert redis_client.get(a.tier.redis_key("k")) is None
    assert a["k"] == 1                               # this process's L1 keeps its own write
    a.close()


# -- clean entries are not written again -----------------------------------------------------------

def _fill(url, namespace, n):
    seed = shared(url, namespace=namespace, maxsize=n, invalidation=None)
    for i in range(n):
        seed[i] = {"n": i}
    assert seed.flush(timeout=30)
    seed.close()


@pytest.mark.parametrize("mode", ["spill", "shared"])
def test_reading_through_a_small_l1_sends_no_set(url, redis_client, mode):
    """The issue's scenario: 1000 keys read 3 times through TieredCache(LRUCache(100), RedisTier)
    with the values already in Redis: Redis sees reads only, no SET."""
    _fill(url, "sh:amp", 1000)
    t = TieredCache(hotcache.LRUCache(100), RedisTier(url, namespace="sh:amp", ttl=120), mode=mode)
    redis_client.config_resetstat()
    for _ in range(3):
        for i in range(1000):
            assert t[i] == {"n": i}
    assert t.flush(timeout=10)
    stats = commandstats(redis_client)
    assert stats.get("set", 0) == 0 and stats.get("unlink", 0) == 0
    assert stats["get"] == 3000                      # every read was an L1 miss, as designed
    s = t.stats()
    assert s.l2_hits == 3000 and s.spilled == 0 and s.evictions == 2900
    t.close()


def test_changed_entries_still_spill(url, redis_client, mod):
    _fill(url, "sh:dirty", 10)
    t = TieredCache(mod.LRUCache(2), RedisTier(url, namespace="sh:dirty", ttl=120))
    assert t[0] == {"n": 0}                          # clean
    t[1] = "changed"                                 # dirty
    t.l1[2] = "direct"                               # put into the L1 around the tiered cache
    t[3] = "x"                                       # evicts 0 (clean) and 1 (dirty)
    t[4] = "y"
    assert t.flush(timeout=10)
    assert redis_client.get(t.tier.redis_key(0)) == b'{"n":0}'
    assert redis_client.get(t.tier.redis_key(1)) == b'"changed"'
    assert redis_client.get(t.tier.redis_key(2)) == b'"direct"'
    assert t.stats().spilled == 2                    # 1 and 2; 0 was not written again
    t.close()


def test_the_index_stays_bounded(url):
    t = TieredCache(hotcache.LRUCache(50, ttl=0.01), RedisTier(url, namespace="sh:idx", ttl=120))
    for i in range(20_000):                          # entries mostly expire: no eviction pops them
        t[i] = i
    assert len(t._index) <= max(1024, 2 * 50) + 1
    t.close()


# -- invalidation ----------------------------------------------------------------------------------

def test_a_write_drops_the_key_from_other_l1s_not_its_own(url):
    a, b = shared(url), shared(url)
    a["k"] = 1
    assert a.flush(timeout=10) and heard(b, 1)
    assert b["k"] == 1 and "k" in b.l1
    a["k"] = 2
    assert a.flush(timeout=10)
    assert wait_for(lambda: "k" not in b.l1)
    assert b["k"] == 2
    assert a.l1["k"] == 2                            # the writer's own copy stays
    assert b.stats().invalidations >= 2 and a.stats().invalidations == 0
    del a["k"]
    assert a.flush(timeout=10)
    assert wait_for(lambda: "k" not in b.l1) and b.get("k") is None
    a.close()
    b.close()


def test_clear_empties_every_l1(url):
    a, b = shared(url), shared(url)
    for i in range(10):
        a[i] = i
    assert a.flush(timeout=10) and heard(b, 10)
    assert [b[i] for i in range(10)] == list(range(10)) and len(b.l1) == 10
    a.clear()
    assert wait_for(lambda: len(b.l1) == 0)
    assert b.get(3) is None
    a.close()
    b.close()


def test_spill_mode_invalidation(url, redis_client):
    a = TieredCache(hotcache.LRUCache(10), RedisTier(url, namespace="sh:sp", ttl=120), invalidation="pubsub")
    b = TieredCache(hotcache.LRUCache(10), RedisTier(url, namespace="sh:sp", ttl=120), invalidation="pubsub")
    redis_client.set(a.tier.redis_key("k"), b"1")
    assert a["k"] == 1 and b["k"] == 1
    a["k"] = 2                                       # spill mode: L1 only, Redis copy deleted
    assert a.flush(timeout=10)
    assert wait_for(lambda: "k" not in b.l1)
    assert b.get("k") is None                        # a's value is in a's L1 only
    a.close()
    b.close()


def test_an_invalidation_cancels_a_queued_spill_of_the_key(url):
    a = TieredCache(hotcache.LRUCache(1), RedisTier(url, namespace="sh:cancel", ttl=120), invalidation="pubsub")
    q = a.tier._queue
    with a.tier._io_lock:                            # the flusher cannot take a batch
        a.l1["k"] = "old"                            # around the tiered cache: a plain spill
        a.l1["x"] = 0                                # evicts k: queued spill
        assert q.lookup(a.tier.redis_key("k")) is not None
        a._inv_keys([a.tier.redis_key("k")])         # another process wrote k
        assert q.lookup(a.tier.redis_key("k")) is None
    a.close()


def test_per_key_generations(url):
    b = shared(url)
    rk = b.tier.redis_key
    gen = b._begin()
    b._inv_keys([rk("k")])                           # k changed elsewhere during our read
    assert b._settle("k", rk("k"), ("old", None), gen, None) == "old"   # served once...
    assert "k" not in b.l1                                              # ...never kept
    assert b._settle("j", rk("j"), ("fine", None), gen, None) == "fine"
    assert b.l1["j"] == "fine"                       # another key's read is unaffected
    gen = b._begin()
    for i in range(TOUCH_LIMIT + 1):                 # too many changes to remember: refused
        b._touch(rk(("other", i)))
    b._settle("m", rk("m"), ("v", None), gen, None)
    assert "m" not in b.l1
    b.close()


def test_a_malformed_message_clears_the_l1(url, redis_client):
    b = shared(url)
    b.l1["x"] = 1
    b._note(b.tier.redis_key("x"), "x", 1)
    redis_client.publish(b.tier._channel.name, b"garbage")
    assert wait_for(lambda: len(b.l1) == 0)
    b.close()


def test_messages_round_trip():
    ch = redis_invalidate.Channel(b"ns:#", sharded=False)
    keys = [b"ns:#a", b"ns:#", b"ns:#\x00\xff" * 100]
    other = redis_invalidate.Channel(b"ns:#", sharded=False)
    assert other.decode(ch.keys_message(keys)) == (b"K", keys)
    assert ch.decode(ch.keys_message(keys)) is None        # our own
    assert other.decode(ch.clear_message()) == (b"C", [])
    for junk in (b"", b"K", ch.keys_message(keys)[:-1], b"Z" + b"\x00" * 8):
        assert other.decode(junk) == (b"C", [])


# -- a lost subscription ---------------------------------------------------------------------------

def test_a_killed_and_restarted_redis_clears_the_l1_and_recovers(fresh_redis):
    a, b = shared(fresh_redis.url), shared(fresh_redis.url)
    a["k"] = 1
    assert a.flush(timeout=10)
    assert b["k"] == 1
    fresh_redis.kill()
    assert wait_for(lambda: b.stats().invalidation_state == "lost")
    assert len(b.l1) == 0 and b.get("k") is None     # cleared; Redis unreachable: a miss
    b["mine"] = 1                                     # local writes work on meanwhile
    assert b["mine"] == 1
    fresh_redis.restart()
    assert wait_for(lambda: a.stats().invalidation_state == "live" and b.stats().invalidation_state == "live")
    assert "mine" not in b.l1                         # cleared again once live
    assert b.stats().resyncs == 1
    wait_for(lambda: a.tier.breaker.state != "open", timeout=15)
    a["k"] = 2
    assert wait_for(lambda: a.flush(timeout=1), timeout=15)
    assert wait_for(lambda: b.get("k") == 2)
    a["k"] = 3
    assert a.flush(timeout=10)
    assert wait_for(lambda: b.get("k") == 3)          # invalidation works again
    a.close(timeout=1)
    b.close(timeout=1)


def test_messages_missed_while_unsubscribed_never_leave_stale_copies(url, redis_client):
    import threading

    a, b = shared(url), shared(url)
    a["k"] = 1
    assert a.flush(timeout=10) and heard(b, 1)
    assert b["k"] == 1 and "k" in b.l1
    gate = threading.Event()
    sub = b._sub
    opener = sub._opener

    def gated():
        assert gate.wait(30)
        return opener()

    sub._opener = gated
    redis_client.client_kill_filter(_type="pubsub")   # every subscriber connection is cut
    try:
        assert wait_for(lambda: b.stats().invalidation_state == "lost")
        assert "k" not in b.l1                       # cleared at once
        a["k"] = 2                                   # b cannot hear this one
        assert a.flush(timeout=10)
        assert b["k"] == 2 and "k" not in b.l1       # read from Redis, not kept while lost
        b["mine"] = "local"                          # kept meanwhile (this process's own write)
        assert b.l1["mine"] == "local"
    finally:
        gate.set()
    assert wait_for(lambda: b.stats().invalidation_state == "live")
    assert "mine" not in b.l1 and b.stats().resyncs == 1
    assert b["k"] == 2 and "k" in b.l1
    a.close()
    b.close()


def test_a_stalled_redis_counts_as_lost_within_the_heartbeat(fresh_redis):
    b = shared(fresh_redis.url)
    b["k"] = 1
    fresh_redis.pause()
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: b.stats().invalidation_state == "lost", timeout=15)
        assert time.monotonic() - t0 < redis_invalidate.HEARTBEAT + redis_invalidate.PONG_WAIT + 5
        t1 = time.monotonic()
        assert b.get("k") is None                     # cleared; the read is bounded
        assert time.monotonic() - t1 < 2
    finally:
        fresh_redis.resume()
    assert wait_for(lambda: b.stats().invalidation_state == "live", timeout=15)
    b.close(timeout=1)


def test_an_opening_breaker_counts_as_lost(url):
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=60)
    b = shared(url, breaker=breaker)
    b["k"] = 1
    breaker.record_failure(ConnectionError("x"))     # as a failed Redis call would
    assert breaker.state == "open"
    assert len(b.l1) == 0 and b.stats().invalidation_state == "lost"
    assert wait_for(lambda: b.stats().invalidation_state == "live")   # the subscription itself is fine
    b.close(timeout=1)
    assert breaker._listeners == []                  # close() removes its listener


def test_a_forked_child_subscribes_on_its_own(url):
    a, b = shared(url), shared(url)
    a["k"] = 1
    assert a.flush(timeout=10)
    assert b["k"] == 1
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(r)
            os.close(w2)
            ok = len(b.l1) == 0 and b.stats().invalidation_state == "lost"   # nothing inherited
            assert b["k"] == 1                                               # starts its subscriber
            ok = ok and wait_for(lambda: b.stats().invalidation_state == "live")
            assert b["k"] == 1 and "k" in b.l1
            os.write(w, b"1" if ok else b"0")
            os.read(r2, 1)                                                   # the parent wrote
            ok = ok and wait_for(lambda: "k" not in b.l1) and b["k"] == 2
            b["c"] = "child"                                                 # heard by the parent
            ok = ok and b.flush(timeout=10)
            code = 0 if ok else 2
        finally:
            os._exit(code)
    os.close(w)
    os.close(r2)
    try:
        assert os.read(r, 1) == b"1"
        a["c"] = "parent"
        a["k"] = 2
        assert a.flush(timeout=10)
        os.write(w2, b"x")
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the forked child hung")
            time.sleep(0.01)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        assert wait_for(lambda: "c" not in a.l1)     # the child's write reached the parent
        assert a["c"] == "child"
    finally:
        os.close(r)
        os.close(w2)
        a.close()
        b.close()


@pytest.mark.parametrize("fast", [True, False], ids=["hiredis-reader", "read_response"])
def test_error_replies_fail_only_their_own_writes(fresh_redis, monkeypatch, fast):
    from hotcache.tiers import redis_io

    client = fresh_redis.client()
    conn = client.connection_pool.get_connection()
    try:
        conn.connect()
        has_fast = redis_io._fast_replies(conn) is not None
    finally:
        client.connection_pool.release(conn)
    if fast:
        import importlib.util

        if importlib.util.find_spec("hiredis") is None:
            pytest.skip("hiredis is not installed: the flusher reads replies with read_response()")
        assert has_fast, "hiredis is installed but the flusher's reply reader was not found"
    if not fast:
        monkeypatch.setattr(redis_io, "_fast_replies", lambda conn: None)
    a = shared(fresh_redis.url, invalidation=None)
    a["ok"] = 0
    assert a.flush(timeout=10)
    client.config_set("maxmemory", 1)                 # noeviction: every SET is refused (OOM)
    a["k"] = 1
    del a["ok"]                                       # UNLINK is still allowed
    assert a.flush(timeout=10) is False
    assert a.stats().l2_errors >= 1 and a.tier.breaker.state == "closed"   # an answer, not an outage
    assert client.exists(a.tier.redis_key("ok")) == 0
    assert a["k"] == 1                                # this process keeps its write
    client.config_set("maxmemory", 0)
    a["j"] = 2
    assert wait_for(lambda: a.flush(timeout=1))       # the tomb of "k" is retried and lands
    assert client.get(a.tier.redis_key("j")) == b"2" and client.exists(a.tier.redis_key("k")) == 0
    a.close()


def test_a_cluster_without_sharded_pubsub_falls_back_to_classic_pubsub():
    """Redis < 7 answers SSUBSCRIBE/SPUBLISH with "unknown command": the channel downgrades."""
    from redis.exceptions import ResponseError

    ch = redis_invalidate.Channel(b"ns:#", sharded=True)
    assert ch.downgrade(ResponseError("WRONGTYPE")) is False and ch.sharded
    assert ch.downgrade(ResponseError("unknown command 'SPUBLISH', with args beginning with: ")) is True
    assert (ch.publish, ch.subscribe, ch.sharded) == ("PUBLISH", "SUBSCRIBE", False)

    class Sink:
        states = []

        def _inv_state(self, live):
            self.states.append(live)

    sent = []

    class Conn:
        def send_command(self, *args, **kw):
            sent.append(args[0])

        def read_response(self):
            if sent[-1] == "SSUBSCRIBE":
                raise ResponseError("unknown command 'SSUBSCRIBE', with args beginning with: ")
            return [b"subscribe", ch2.name, 1]

        def can_read(self, timeout):
            sub._stopping = True  # one look is enough for this test
            return False

        def disconnect(self):
            pass

    ch2 = redis_invalidate.Channel(b"ns:#", sharded=True)
    sink = Sink()
    sub = redis_invalidate.Subscriber(Conn, ch2, sink, "test-sub")
    sub._run()
    assert sent == ["SSUBSCRIBE", "SUBSCRIBE"] and Sink.states == [True] and not ch2.sharded


def test_cached_with_a_tier_shares_results_between_processes(url, redis_client):
    from hotcache import cached

    calls = []

    def make():
        @cached(maxsize=16, ttl=45, tier=RedisTier(url, namespace="sh:deco", ttl=600))
        def square(x):
            calls.append(x)
            return x * x
        return square

    a, b = make(), make()                       # two "processes" on one namespace
    assert a.cache.mode == "shared" and wait_for(lambda: b.cache.stats().invalidation_state == "live")
    assert a(3) == 9 and a.cache.flush(timeout=10)
    assert 40_000 < redis_client.pttl(a.cache.tier.redis_key((3,))) <= 45_000   # ttl= in Redis too
    assert b(3) == 9 and calls == [3]            # computed once, read from Redis by the other
    a.invalidate(3)
    assert a.cache.flush(timeout=10)
    assert wait_for(lambda: (3,) not in b.cache.l1)
    assert b(3) == 9 and calls == [3, 3]
    with pytest.raises(TypeError):
        cached(hotcache.LRUCache(2), tier=RedisTier(url, namespace="sh:deco2", ttl=60))
    a.cache.close()
    b.cache.close()
