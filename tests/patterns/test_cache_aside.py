"""Cache-aside: ``hotcache.patterns.get_or_set`` / ``aget_or_set`` with single-flight.

Contention tests gate the loader until every other caller is provably waiting on the flight
(counted on the flight's own Event), so "exactly one call" never depends on scheduling luck.
"""
from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

import pytest

from helpers import FakeTimer, classes
from hotcache import _flight
from hotcache.patterns import aget_or_set, get_or_set

HANG = 20.0  # hang guard only: no assertion depends on how long anything takes


@pytest.fixture
def cache(impl):
    return classes(impl)["LRUCache"](1000)


def wait_until(predicate, what, timeout=HANG):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.001)


def sync_waiters(cache, key):
    """Threads parked on the flight of (cache, key) (its Event exists once someone waits)."""
    call = _flight._ASIDE._calls.get((id(cache), key))
    done = getattr(call, "done", None)
    return 0 if done is None else len(done._cond._waiters)


class NoFlight:
    def do(self, key, fn):
        raise AssertionError("a hit touched the flight machinery")

    async def ado(self, key, fn):
        raise AssertionError("a hit touched the flight machinery")


# -- basics --------------------------------------------------------------------------------------

def test_miss_loads_stores_and_returns(cache):
    calls = []

    def loader():
        calls.append(1)
        return "v"

    assert get_or_set(cache, "k", loader) == "v"
    assert cache["k"] == "v"
    assert get_or_set(cache, "k", loader) == "v"
    assert len(calls) == 1


def test_hit_does_not_touch_flight(cache, monkeypatch):
    cache["k"] = 1
    monkeypatch.setattr(_flight, "_ASIDE", NoFlight())
    assert get_or_set(cache, "k", lambda: 2) == 1
    assert asyncio.run(aget_or_set(cache, "k", lambda: 2)) == 1


def test_none_is_cached(cache):
    calls = []
    for _ in range(3):
        assert get_or_set(cache, "k", lambda: calls.append(1)) is None
    assert calls == [1]
    assert "k" in cache


def test_hit_and_miss_are_counted_once(cache):
    get_or_set(cache, "k", lambda: 1)
    get_or_set(cache, "k", lambda: 1)
    st = cache.stats()
    assert (st.hits, st.misses) == (1, 1)  # the leader's double-check does not count


def test_per_entry_ttl(impl):
    timer = FakeTimer()
    cache = classes(impl)["LRUCache"](10, timer=timer)
    assert get_or_set(cache, "k", lambda: 1, ttl=5) == 1
    assert cache.ttl_left("k") == 5
    timer.advance(5)
    assert "k" not in cache
    assert get_or_set(cache, "k", lambda: 2, ttl=5) == 2


def test_no_ttl_uses_cache_default(impl):
    timer = FakeTimer()
    cache = classes(impl)["LRUCache"](10, timer=timer, ttl=7)
    get_or_set(cache, "k", lambda: 1)
    assert cache.ttl_left("k") == 7


def test_bad_ttl_fails_before_loading(cache):
    calls = []
    with pytest.raises(ValueError):
        get_or_set(cache, "k", lambda: calls.append(1), ttl=-1)
    with pytest.raises(TypeError):
        get_or_set(cache, "k", lambda: calls.append(1), ttl="soon")
    with pytest.raises(TypeError, match="set"):
        get_or_set({}, "k", lambda: calls.append(1), ttl=1)
    assert calls == [] and "k" not in cache


def test_plain_dict_works():
    d = {}
    assert get_or_set(d, "k", lambda: 1) == 1
    assert d == {"k": 1}
    assert asyncio.run(aget_or_set(d, "j", lambda: 2)) == 2
    assert d == {"k": 1, "j": 2}


def test_too_large_is_returned_uncached(impl):
    cache = classes(impl)["LRUCache"](3, getsizeof=len)
    cache["old"] = "ab"
    assert get_or_set(cache, "k", lambda: "toolarge") == "toolarge"
    assert "k" not in cache and cache["old"] == "ab"
    assert asyncio.run(aget_or_set(cache, "k", lambda: "toolarge")) == "toolarge"
    assert "k" not in cache


def test_unhashable_key(cache):
    with pytest.raises(TypeError):
        get_or_set(cache, ["x"], lambda: 1)


def test_exception_not_cached(cache):
    def boom():
        raise KeyError("nope")

    with pytest.raises(KeyError):
        get_or_set(cache, "k", boom)
    assert "k" not in cache
    assert get_or_set(cache, "k", lambda: 3) == 3


def test_registry_does_not_leak_and_caches_are_collectable(impl):
    cache = classes(impl)["LRUCache"](10)
    ref = weakref.ref(cache)
    get_or_set(cache, "k", lambda: 1)
    with pytest.raises(RuntimeError):
        get_or_set(cache, "e", lambda: (_ for _ in ()).throw(RuntimeError()))
    asyncio.run(aget_or_set(cache, "a", lambda: 1))
    assert _flight._ASIDE.in_flight() == 0
    del cache
    gc.collect()
    assert ref() is None


def test_same_key_in_two_caches_loads_twice(impl):
    cls = classes(impl)["LRUCache"]
    a, b = cls(10), cls(10)
    assert get_or_set(a, "k", lambda: "a") == "a"
    assert get_or_set(b, "k", lambda: "b") == "b"


# -- threads ------------------------------------------------------------------------------------

def test_single_flight_16_threads(cache):
    n = 16
    calls = []
    release = threading.Event()
    results = [None] * n
    barrier = threading.Barrier(n)

    def loader():
        calls.append(threading.get_ident())
        assert release.wait(HANG)
        return object()

    def worker(i):
        barrier.wait()
        results[i] = get_or_set(cache, "k", loader)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    wait_until(lambda: sync_waiters(cache, "k") == n - 1, "15 waiters")
    release.set()
    for t in threads:
        t.join(HANG)
    assert len(calls) == 1
    assert all(r is results[0] for r in results) and results[0] is not None
    assert cache["k"] is results[0]
    assert _flight._ASIDE.in_flight() == 0


def test_exception_reaches_all_16_threads(cache):
    n = 16
    calls = []
    release = threading.Event()
    errors = [None] * n

    def loader():
        calls.append(1)
        assert release.wait(HANG)
        raise ValueError("backend down")

    def worker(i):
        try:
            get_or_set(cache, "k", loader)
        except ValueError as exc:
            errors[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    wait_until(lambda: sync_waiters(cache, "k") == n - 1, "15 waiters")
    release.set()
    for t in threads:
        t.join(HANG)
    assert len(calls) == 1
    assert errors[0] is not None and all(e is errors[0] for e in errors)
    assert "k" not in cache


def test_slow_key_does_not_block_fast_key(cache):
    entered = threading.Event()
    release = threading.Event()

    def slow():
        entered.set()
        assert release.wait(HANG)
        return "slow"

    t = threading.Thread(target=get_or_set, args=(cache, "slow", slow))
    t.start()
    try:
        assert entered.wait(HANG)
        # the slow load is in flight, holding nothing: another key loads and hits at once
        assert get_or_set(cache, "fast", lambda: "fast") == "fast"
        assert get_or_set(cache, "fast", lambda: "other") == "fast"
        assert "slow" not in cache
    finally:
        release.set()
        t.join(HANG)
    assert cache["slow"] == "slow"


def test_loader_may_load_other_keys(cache):
    def outer():
        return get_or_set(cache, "inner", lambda: 1) + 1

    assert get_or_set(cache, "outer", outer) == 2
    assert cache["inner"] == 1


# -- asyncio ------------------------------------------------------------------------------------

def test_async_single_flight_100_tasks(cache):
    calls = []

    async def main():
        release = asyncio.Event()

        async def loader():
            calls.append(1)
            await release.wait()
            return object()

        tasks = [asyncio.ensure_future(aget_or_set(cache, "k", loader)) for _ in range(100)]
        for _ in range(5):  # every task reaches its first await (the leader's Event, or the flight)
            await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    assert len(calls) == 1
    assert all(r is results[0] for r in results)
    assert cache["k"] is results[0]


def test_async_exception_reaches_all_100_tasks(cache):
    calls = []

    async def main():
        release = asyncio.Event()

        async def loader():
            calls.append(1)
            await release.wait()
            raise LookupError("down")

        tasks = [asyncio.ensure_future(aget_or_set(cache, "k", loader)) for _ in range(100)]
        for _ in range(5):
            await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert len(calls) == 1
    assert isinstance(results[0], LookupError)
    assert all(r is results[0] for r in results)
    assert "k" not in cache


def test_async_sync_loader(cache):
    calls = []

    def loader():
        calls.append(1)
        return "v"

    async def main():
        return await asyncio.gather(*[aget_or_set(cache, "k", loader) for _ in range(10)])

    assert asyncio.run(main()) == ["v"] * 10
    assert calls == [1]  # a sync loader never yields: the first task stores before the rest run


def test_async_ttl(impl):
    timer = FakeTimer()
    cache = classes(impl)["LRUCache"](10, timer=timer)

    async def loader():
        return 5

    assert asyncio.run(aget_or_set(cache, "k", loader, ttl=3)) == 5
    assert cache.ttl_left("k") == 3


def test_async_slow_key_does_not_block_fast_key(cache):
    async def main():
        release = asyncio.Event()

        async def slow():
            await release.wait()
            return "slow"

        async def fast():
            return "fast"

        slow_task = asyncio.ensure_future(aget_or_set(cache, "slow", slow))
        await asyncio.sleep(0)
        got = await asyncio.wait_for(aget_or_set(cache, "fast", fast), HANG)
        assert not slow_task.done()
        release.set()
        return got, await slow_task

    assert asyncio.run(main()) == ("fast", "slow")


def test_async_cancelled_leader_does_not_wedge_waiters(cache):
    calls = []

    async def main():
        never = asyncio.Event()

        async def loader():
            calls.append(1)
            if len(calls) == 1:
                await never.wait()  # the first leader hangs until cancelled
            return "v"

        leader = asyncio.ensure_future(aget_or_set(cache, "k", loader))
        await asyncio.sleep(0)
        waiters = [asyncio.ensure_future(aget_or_set(cache, "k", loader)) for _ in range(10)]
        await asyncio.sleep(0)
        leader.cancel()
        results = await asyncio.wait_for(asyncio.gather(*waiters), HANG)
        with pytest.raises(asyncio.CancelledError):
            await leader
        return results

    assert asyncio.run(main()) == ["v"] * 10
    assert len(calls) == 2  # one waiter took over; the rest shared its load
    assert cache["k"] == "v"


def test_thread_and_task_flights_are_separate(cache):
    """A thread loading a key does not make an asyncio task wait (separate namespaces)."""
    entered = threading.Event()
    release = threading.Event()

    def slow():
        entered.set()
        assert release.wait(HANG)
        return "thread"

    t = threading.Thread(target=get_or_set, args=(cache, "k", slow))
    t.start()
    try:
        assert entered.wait(HANG)
        assert asyncio.run(aget_or_set(cache, "k", lambda: "task")) == "task"
    finally:
        release.set()
        t.join(HANG)


# -- the cache methods -------------------------------------------------------------------------

def test_cache_methods_on_every_class(cls):
    from helpers import make

    cache = make(cls, 10)
    calls = []

    def loader():
        calls.append(1)
        return "v"

    assert cache.get_or_set("k", loader) == "v"
    assert cache.get_or_set("k", loader) == "v"

    async def aloader():
        calls.append(2)
        return "w"

    assert asyncio.run(cache.aget_or_set("j", aloader)) == "w"
    assert asyncio.run(cache.aget_or_set("j", aloader)) == "w"
    assert calls == [1, 2]
    assert cache["k"] == "v" and cache["j"] == "w"
