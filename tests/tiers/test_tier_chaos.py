"""Graceful degradation of the Redis tier: kill -9, SIGSTOP, breaker open/half-open/closed, recovery.

Each test owns its redis-server (``fresh_redis``). The breakers here use a fake clock, so "after the
cooldown" is a clock step, not a sleep; wall-clock bounds are generous hang guards.
"""
from __future__ import annotations

import threading
import time

import pytest

import hotcache
from helpers import FakeTimer
from hotcache.breaker import CircuitBreaker, CircuitOpenError
from hotcache.tiers import RedisTier, TieredCache
from hotcache.tiers.redis_base import default_breaker

TIMEOUT = 0.05
SLACK = 0.5          # per call: the timeout plus scheduling noise on a busy 2-core box


def make(srv, clock, maxsize=8, **kw):
    breaker = CircuitBreaker(failure_threshold=5, recovery_timeout=5.0, clock=clock,
                             expected_exceptions=default_breaker().expected_exceptions)
    kw.setdefault("ttl", 60)
    tier = RedisTier(srv.url, namespace="chaos", timeout=TIMEOUT, breaker=breaker, **kw)
    return TieredCache(hotcache.LRUCache(maxsize), tier), breaker


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_default_breaker_counts_outages_only():
    from redis.exceptions import ConnectionError, ResponseError, TimeoutError

    b = default_breaker()
    assert (b.failure_threshold, b.recovery_timeout) == (5, 5.0)
    assert isinstance(ConnectionError(), b.expected_exceptions)
    assert isinstance(TimeoutError(), b.expected_exceptions)
    assert not isinstance(ResponseError("WRONGTYPE"), b.expected_exceptions)


def test_breaker_opens_within_5_failed_calls_after_kill_and_recovers(fresh_redis):
    clock = FakeTimer()
    t, breaker = make(fresh_redis, clock)
    for i in range(20):
        t[i] = i
    assert t.flush(timeout=10)
    fresh_redis.kill()
    errors = []
    for n in range(1, 6):
        assert breaker.state == "closed"
        assert t.get(("missing", n), "miss") == "miss"        # a failed Redis call: no exception
        errors.append(t.stats().l2_errors)
    assert breaker.state == "open"
    assert errors == [1, 2, 3, 4, 5]
    start = time.monotonic()
    for n in range(200):                                       # open: Redis is not called at all
        assert t.get(("missing", n), "miss") == "miss"
    assert time.monotonic() - start < 1.0
    assert t.stats().l2_errors == 5
    assert t[19] == 19                                         # L1 keeps serving
    t["new"] = 1                                               # sets keep working
    # recovery: same port, cooldown passes, one probe closes the breaker
    fresh_redis.restart()
    clock.advance(5.0)
    assert breaker.state == "half_open"
    assert t.get("after", "miss") == "miss"                    # the probe (a real miss)
    assert breaker.state == "closed"
    for i in range(100, 120):
        t[i] = i
    assert t.flush(timeout=10)
    assert t[100] == 100                                       # spilled and read back again
    t.close()


def test_kill_mid_workload_no_exception_reaches_callers(fresh_redis):
    clock = FakeTimer()
    t, breaker = make(fresh_redis, clock, maxsize=50)
    hot = list(range(10))
    for k in hot:
        t[k] = k
    stop = threading.Event()
    failures = []
    counts = [0, 0]

    def worker(seed):
        i = seed * 1_000_000
        try:
            while not stop.is_set():
                i += 1
                t[("w", i)] = i                     # churn: spills + invalidations
                t.get(("w", i - 500))               # L1 misses: Redis reads
                for k in hot[:3]:
                    t.l1[k]                         # keep the hot keys recent in L1
                counts[seed] += 1
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(2)]
    for th in threads:
        th.start()
    assert wait_for(lambda: t.stats().spilled > 200)
    fresh_redis.kill()
    assert wait_for(lambda: breaker.state == "open")
    before = list(counts)
    assert wait_for(lambda: min(c - b for c, b in zip(counts, before)) > 1000)   # still working
    stop.set()
    for th in threads:
        th.join(10)
    assert failures == []
    assert [t[k] for k in hot[:3]] == hot[:3]
    # the flusher drops spills while the breaker is open; on a loaded box its next batch may
    # come after the workers stopped, so wait for it (bounded) instead of reading once
    assert wait_for(lambda: t.stats().spill_dropped > 0)
    s = t.stats()
    assert s.breaker_state == "open" and s.l2_errors >= 5
    # restart: the breaker probes after the cooldown, the flusher writes again
    fresh_redis.restart()
    clock.advance(5.0)
    spilled = t.stats().spilled
    for i in range(200):
        t[("after", i)] = i
    assert t.flush(timeout=10)
    assert breaker.state == "closed"
    assert t.stats().spilled > spilled
    t.close()


def test_stalled_redis_no_call_waits_longer_than_the_timeout(fresh_redis):
    clock = FakeTimer()
    t, breaker = make(fresh_redis, clock)
    t["warm"] = 1
    t.get("warm-miss")                                         # the pool holds a live connection
    assert t.flush(timeout=10)                                 # nothing left for the flusher
    fresh_redis.pause()
    try:
        durations = []
        for n in range(5):
            start = time.monotonic()
            assert t.get(("stalled", n), "miss") == "miss"
            durations.append(time.monotonic() - start)
        assert breaker.state == "open"
        assert max(durations) < TIMEOUT + SLACK, durations
        assert t.stats().l2_errors == 5
        start = time.monotonic()
        for n in range(200):                                   # open: immediate
            assert t.get(("later", n), "miss") == "miss"
            t[("later", n)] = n                                # spills are dropped, not waited on
        assert time.monotonic() - start < 2.0
        assert t.stats().l2_errors <= 6                        # at most one flusher batch more
        assert t.flush(timeout=10) is False
        assert t.stats().spill_dropped > 0
    finally:
        fresh_redis.resume()
    clock.advance(5.0)
    assert wait_for(lambda: t.get("probe", "miss") == "miss" and breaker.state == "closed")
    t.close()


def test_stalled_redis_does_not_block_the_flusher_callers(fresh_redis):
    """Spills while Redis is stalled: the caller's set() never waits on Redis."""
    clock = FakeTimer()
    t, breaker = make(fresh_redis, clock, maxsize=1)
    t["a"] = 0
    fresh_redis.pause()
    try:
        worst = 0.0
        for i in range(300):
            start = time.monotonic()
            t[i] = i
            worst = max(worst, time.monotonic() - start)
        assert worst < SLACK
    finally:
        fresh_redis.resume()
    t.close()


def test_raise_on_error_lets_errors_through(fresh_redis):
    clock = FakeTimer()
    t, breaker = make(fresh_redis, clock, raise_on_error=True)
    fresh_redis.kill()
    from redis.exceptions import ConnectionError

    for _ in range(5):
        with pytest.raises(ConnectionError):
            t.get("k")
    with pytest.raises(CircuitOpenError):
        t.get("k")
    with pytest.raises(CircuitOpenError):
        t.clear()
    t.close(timeout=1)


def test_clear_while_redis_is_down_is_finished_after_recovery(fresh_redis):
    clock = FakeTimer()
    t, breaker = make(fresh_redis, clock, maxsize=1)
    for i in range(10):
        t[i] = i
    assert t.flush(timeout=10)
    client = fresh_redis.client()
    assert len(client.keys(b"chaos:#*")) == 9
    fresh_redis.pause()
    try:
        t.clear()                                # fails: every read is a miss until it is done
        assert t.get(3, "miss") == "miss"
    finally:
        fresh_redis.resume()
    clock.advance(5.0)
    assert wait_for(lambda: client.keys(b"chaos:#*") == [])   # the flusher finished the clear
    t.close()
