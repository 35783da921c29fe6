"""The asyncio flavour: AsyncRedisTier / AsyncTieredCache over a real redis-server.

Same semantics as the sync tier (spill, promote with TTL, invalidation, encryption, breaker); each
test runs its own event loop with asyncio.run.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

import hotcache
from helpers import FakeTimer
from hotcache.breaker import CircuitBreaker
from hotcache.tiers import AsyncRedisTier, AsyncTieredCache
from hotcache.tiers.redis_base import default_breaker


def make(url, l1=None, namespace="as:ns", **kw):
    kw.setdefault("ttl", 120)
    cache_kw = {k: kw.pop(k) for k in ("mode", "invalidation", "write") if k in kw}
    return AsyncTieredCache(l1 if l1 is not None else hotcache.LRUCache(2),
                            AsyncRedisTier(url, namespace=namespace, **kw), **cache_kw)


def test_round_trip_promote_ttl_delete(url, redis_client):
    async def main():
        timer = FakeTimer()
        l1 = hotcache.LRUCache(2, timer=timer)
        c = make(url, l1=l1)
        await c.set("a", {"v": 1}, ttl=30)
        for i in range(4):
            await c.set(i, i)
        assert await c.flush(timeout=10)
        assert c.stats().spilled == 3               # "a", 0 and 1 were evicted
        assert 25_000 < redis_client.pttl(c.tier.redis_key("a")) <= 30_000
        assert await c.get("a") == {"v": 1}
        assert 25 < l1.ttl_left("a") <= 30
        assert await c.get("zz", "miss") == "miss"
        s = c.stats()
        assert (s.l2_hits, s.l2_misses) == (1, 1)
        assert await c.contains(0) and not await c.contains("zz")
        assert await c.delete(0) is True
        assert await c.pop(1) == 1
        assert await c.delete("zz") is False
        with pytest.raises(KeyError):
            await c.pop("zz")
        assert await c.flush(timeout=10)
        assert not redis_client.exists(c.tier.redis_key(0))
        assert len(c) == 2 and sorted(c, key=str) == sorted(l1, key=str)
        await c.aclose()

    asyncio.run(main())


def test_set_invalidates_the_older_copy(url):
    async def main():
        timer = FakeTimer()
        c = make(url, l1=hotcache.LRUCache(1, ttl=100, timer=timer))
        await c.set("k", 1)
        await c.set("x", 0)
        assert await c.flush(timeout=10)
        assert await c.get("k") == 1
        await c.set("k", 2)
        timer.advance(1000)
        assert await c.get("k", "miss") == "miss"
        await c.aclose()

    asyncio.run(main())


def test_encrypted_and_tampered(url, redis_client):
    async def main():
        c = make(url, serializer="pickle", secret=b"s" * 32)
        await c.set("k", {1, 2})
        await c.set("a", 0)
        await c.set("b", 0)
        assert await c.flush(timeout=10)
        rkey = c.tier.redis_key("k")
        blob = redis_client.get(rkey)
        redis_client.set(rkey, blob[:-1], px=60000)
        assert await c.get("k", "miss") == "miss"
        assert c.stats().rejected == 1
        redis_client.set(rkey, blob, px=60000)
        assert await c.get("k") == {1, 2}
        await c.aclose()

    asyncio.run(main())


def test_clear_and_namespace(url, redis_client):
    async def main():
        a = make(url, namespace="as:a")
        b = make(url, namespace="as:a:b")
        for c in (a, b):
            for i in range(10):
                await c.set(i, i)
            assert await c.flush(timeout=10)
        await a.clear()
        assert redis_client.keys(b"as:a:#*") == []
        assert len(redis_client.keys(b"as:a:b:#*")) == 8
        await a.aclose()
        await b.aclose()

    asyncio.run(main())


def test_dead_redis_breaker_opens_and_nothing_raises(fresh_redis):
    async def main():
        clock = FakeTimer()
        breaker = CircuitBreaker(failure_threshold=5, recovery_timeout=5.0, clock=clock,
                                 expected_exceptions=default_breaker().expected_exceptions)
        c = make(fresh_redis.url, breaker=breaker, timeout=0.05, l1=hotcache.LRUCache(4))
        await c.set("hot", 1)
        assert await c.flush(timeout=10)        # its invalidation is written before the kill
        fresh_redis.kill()
        for n in range(5):
            assert await c.get(("miss", n), "miss") == "miss"
        assert breaker.state == "open"
        assert c.stats().l2_errors == 5
        start = time.monotonic()
        for n in range(100):
            assert await c.get(("later", n), "miss") == "miss"
            await c.set(("later", n), n)
        assert time.monotonic() - start < 2.0
        assert await c.get("hot", "miss") in (1, "miss")
        assert await c.flush(timeout=10) is False
        fresh_redis.restart()
        clock.advance(5.0)
        assert await c.get("probe", "miss") == "miss"
        assert breaker.state == "closed"
        await c.aclose()

    asyncio.run(main())


def test_stalled_redis_calls_are_bounded(fresh_redis):
    async def main():
        clock = FakeTimer()
        breaker = CircuitBreaker(failure_threshold=5, recovery_timeout=5.0, clock=clock,
                                 expected_exceptions=default_breaker().expected_exceptions)
        c = make(fresh_redis.url, breaker=breaker, timeout=0.05)
        await c.get("warm")
        fresh_redis.pause()
        try:
            worst = 0.0
            for n in range(5):
                start = time.monotonic()
                assert await c.get(("s", n), "miss") == "miss"
                worst = max(worst, time.monotonic() - start)
            assert worst < 0.55
            assert breaker.state == "open"
        finally:
            fresh_redis.resume()
        await c.aclose(timeout=2)

    asyncio.run(main())


def test_aclose_from_another_event_loop_does_not_hang(url):
    """A tier belongs to one event loop; closing it from a later loop must still return."""
    async def first(c):
        await c.set("a", 1)
        await c.set("b", 2)
        await c.set("c", 3)
        return await c.flush(timeout=10)

    c = make(url)
    assert asyncio.run(first(c))

    async def close(c):
        return await c.aclose(timeout=2)

    assert asyncio.run(close(c)) is True


def test_cached_async_function_over_a_tiered_cache(url):
    from hotcache.memo import cached
    from hotcache.tiers import RedisTier, TieredCache

    t = TieredCache(hotcache.LRUCache(1), RedisTier(url, namespace="as:deco", ttl=60))
    calls = []

    @cached(cache=t)
    async def double(x):
        calls.append(x)
        await asyncio.sleep(0)
        return 2 * x

    async def main():
        assert [await double(x) for x in (1, 2, 3)] == [2, 4, 6]
        assert t.flush(timeout=10)
        assert await double(1) == 2              # evicted from L1, read back from Redis

    asyncio.run(main())
    assert calls == [1, 2, 3]
    t.close()


def test_clear_during_an_outage_is_finished_by_the_flusher_task(fresh_redis):
    async def main():
        clock = FakeTimer()
        breaker = CircuitBreaker(failure_threshold=5, recovery_timeout=5.0, clock=clock,
                                 expected_exceptions=default_breaker().expected_exceptions)
        c = make(fresh_redis.url, breaker=breaker, timeout=0.05, l1=hotcache.LRUCache(1))
        for i in range(5):
            await c.set(i, i)
        assert await c.flush(timeout=10)
        client = fresh_redis.client()
        assert len(client.keys(b"as:ns:#*")) == 4
        fresh_redis.pause()
        try:
            await c.clear()                       # fails: reads are misses until it is done
            assert await c.get(2, "miss") == "miss"
        finally:
            fresh_redis.resume()
        clock.advance(5.0)
        deadline = time.monotonic() + 10
        while client.keys(b"as:ns:#*") and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert client.keys(b"as:ns:#*") == []
        await c.aclose()

    asyncio.run(main())


def _hung_client(client, started):
    """Make every command of ``client`` hang (a stalled Redis) after setting ``started``."""
    async def hang(*args, **kwargs):
        started.set()
        await asyncio.Event().wait()      # never answers
    client.execute_command = hang


def test_a_cancelled_half_open_probe_gives_its_slot_back(url, redis_client):
    async def main():
        clock = FakeTimer()
        breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
        c = make(url, namespace="as:probe", breaker=breaker, timeout=30)
        redis_client.set(c.tier.redis_key("k"), b'"r"', px=60000)
        breaker.record_failure()
        clock.advance(10)                 # half-open: the next read is the probe
        client = c.tier.client
        real = client.execute_command
        started = asyncio.Event()
        _hung_client(client, started)
        probe = asyncio.ensure_future(c.get("k"))
        await asyncio.wait_for(started.wait(), 30)
        probe.cancel()                    # the caller gives up (asyncio.wait_for, a timeout, ...)
        with pytest.raises(asyncio.CancelledError):
            await probe
        assert breaker.stats()["half_open_calls"] == 0
        client.execute_command = real
        assert await c.get("k") == "r"    # the next probe goes through and closes the breaker
        assert breaker.state == "closed"
        await c.aclose()

    asyncio.run(main())


def test_a_given_client_without_socket_timeout_warns_and_awaits_stay_bounded(url, redis_client):
    import redis.asyncio

    async def main():
        client = redis.asyncio.Redis.from_url(url)    # no socket_timeout
        with pytest.warns(RuntimeWarning, match="socket_timeout"):
            tier = AsyncRedisTier(client=client, namespace="as:bounded", ttl=60, timeout=0.05)
        c = AsyncTieredCache(hotcache.LRUCache(2), tier)
        started = asyncio.Event()
        _hung_client(client, started)     # Redis never answers
        # the hang guard is 30 s; the tier's own bound (0.05 s) ends the read as a miss
        assert await asyncio.wait_for(c.get("k", "miss"), 30) == "miss"
        assert started.is_set() and c.stats().l2_errors == 1
        await c.aclose()
        await client.aclose()

    asyncio.run(main())


# -- shared mode, invalidation and @cached over an AsyncTieredCache (issue 14) -------------------

async def _until(cond, timeout=10.0):
    """Poll ``cond`` on the loop until true; False after ``timeout`` (a hang guard)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


def test_shared_mode_and_invalidation_between_async_caches(url, redis_client):
    async def main():
        a = make(url, namespace="as:sh", mode="shared", l1=hotcache.LRUCache(10))
        b = make(url, namespace="as:sh", mode="shared", l1=hotcache.LRUCache(10))
        assert a.invalidation == "pubsub"
        await a.get("warm")                       # starts the subscriber tasks
        await b.get("warm")
        assert await _until(lambda: a.stats().invalidation_state == "live"
                            and b.stats().invalidation_state == "live")
        await a.set("k", 1, ttl=30)               # b is listening: it hears of this write
        assert await a.flush(timeout=10)
        assert 25_000 < redis_client.pttl(a.tier.redis_key("k")) <= 30_000
        assert await _until(lambda: b.stats().invalidations >= 1)   # a read racing it is not kept
        assert await b.get("k") == 1 and "k" in b.l1
        await a.set("k", 2)
        assert await a.flush(timeout=10)
        assert await _until(lambda: "k" not in b.l1)
        assert await b.get("k") == 2 and a.l1["k"] == 2
        assert a.discard("k") is True             # sync removal, queued for Redis
        assert await a.flush(timeout=10)
        assert await _until(lambda: "k" not in b.l1)
        assert await b.get("k") is None
        await a.clear()
        await a.aclose()
        await b.aclose()

    asyncio.run(main())


def test_async_write_through(url, redis_client):
    async def main():
        a = make(url, namespace="as:wt", mode="shared", write="through")
        await a.set("k", 1)
        assert redis_client.get(a.tier.redis_key("k")) == b"1"
        assert await a.delete("k") is True
        assert redis_client.get(a.tier.redis_key("k")) is None
        await a.aclose()

    asyncio.run(main())


def test_async_reads_of_a_small_l1_send_no_set(url, redis_client):
    async def main():
        seed = make(url, namespace="as:amp", mode="shared", invalidation=None, l1=hotcache.LRUCache(500))
        for i in range(300):
            await seed.set(i, i)
        assert await seed.flush(timeout=10)
        await seed.aclose()
        c = make(url, namespace="as:amp", l1=hotcache.LRUCache(30))
        redis_client.config_resetstat()
        for _ in range(3):
            for i in range(300):
                assert await c.get(i) == i
        assert await c.flush(timeout=10)
        calls = {k[len("cmdstat_"):]: v["calls"] for k, v in redis_client.info("commandstats").items()}
        assert calls.get("set", 0) == 0 and c.stats().spilled == 0
        await c.aclose()

    asyncio.run(main())


def test_cached_async_function_over_an_async_tiered_cache(url, redis_client):
    from hotcache import cached

    async def main():
        tiered = make(url, namespace="as:deco2", mode="shared", l1=hotcache.LRUCache(2))
        calls = []

        @cached(tiered)
        async def double(x):
            calls.append(x)
            await asyncio.sleep(0.01)
            return 2 * x

        assert await asyncio.gather(*[double(1) for _ in range(20)]) == [2] * 20
        assert calls == [1]                                  # single-flight among the tasks
        for x in (2, 3, 4):
            assert await double(x) == 2 * x
        assert await tiered.flush(timeout=10)
        assert redis_client.exists(tiered.tier.redis_key((1,)))
        assert "1" not in [str(k) for k in tiered.l1]        # evicted from the L1 ...
        assert await double(1) == 2 and calls == [1, 2, 3, 4]   # ... read back from Redis
        hits_before = double.cache_stats()["hits"]
        assert await double(1) == 2
        assert double.cache_stats()["hits"] == hits_before + 1  # a native L1 hit
        assert double.invalidate(1) is True
        assert await tiered.flush(timeout=10)
        assert not redis_client.exists(tiered.tier.redis_key((1,)))
        await tiered.aclose()

    asyncio.run(main())


def test_cached_with_an_async_tier_shares_results_and_never_blocks_the_loop(fresh_redis):
    from hotcache import cached

    async def main():
        tier = AsyncRedisTier(fresh_redis.url, namespace="as:tierarg", ttl=120, timeout=0.05)
        calls = []

        @cached(maxsize=8, ttl=40, tier=tier)
        async def f(x):
            calls.append(x)
            return {"x": x}

        assert f.cache.mode == "shared"
        assert await f(1) == {"x": 1}
        assert await f.cache.flush(timeout=10)
        client = fresh_redis.client()
        assert 35_000 < client.pttl(tier.redis_key((1,))) <= 40_000   # ttl= applies in Redis too
        fresh_redis.pause()                 # a stalled Redis: a miss must not block other tasks
        try:
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.005)

            t = asyncio.ensure_future(ticker())
            start = time.monotonic()
            assert await f(2) == {"x": 2}   # the Redis read times out (50 ms), then f runs
            elapsed = time.monotonic() - start
            t.cancel()
            assert elapsed < 2.0 and ticks >= 2
        finally:
            fresh_redis.resume()
        await f.cache.aclose(timeout=2)

    asyncio.run(main())


def test_cached_rejects_mismatched_tiers(url):
    from hotcache import cached
    from hotcache.tiers import RedisTier

    with pytest.raises(TypeError):
        @cached(maxsize=4, tier=RedisTier(url, namespace="as:mis", ttl=60))
        async def f(x):
            return x
    with pytest.raises(TypeError):
        @cached(maxsize=4, tier=AsyncRedisTier(url, namespace="as:mis2", ttl=60))
        def g(x):
            return x
    with pytest.raises(TypeError):
        cached(make(url, namespace="as:mis3"), lock=threading.Lock())
    with pytest.raises(TypeError):
        @cached(make(url, namespace="as:mis4"))
        def h(x):
            return x


def test_a_url_tier_built_before_any_loop_builds_its_client_at_first_use(url, monkeypatch):
    """Python 3.9: redis.asyncio's pool makes an asyncio.Lock, which needs an event loop then;
    the tier then builds its client at its first use, inside the loop."""
    import types

    from hotcache.tiers import redis_async

    real = redis_async.client_from_url
    calls = []

    def no_loop_yet(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("There is no current event loop in thread 'MainThread'.")
        return real(*args)

    monkeypatch.setattr(redis_async, "client_from_url", no_loop_yet)
    monkeypatch.setattr(redis_async, "sys", types.SimpleNamespace(version_info=(3, 9, 18)))
    tier = AsyncRedisTier(url, namespace="as:late", ttl=60)
    assert tier.client is None
    c = AsyncTieredCache(hotcache.LRUCache(4), tier, mode="shared")

    async def main():
        await c.set("k", 1)
        assert tier.client is not None and len(calls) == 2
        assert await c.flush(timeout=10)
        assert await _until(lambda: c.stats().invalidation_state == "live")
        await c.aclose()

    asyncio.run(main())
