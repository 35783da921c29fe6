"""Tests for hotcache.cached / cachedmethod on ``async def`` functions and methods: the awaited
result is cached (never the coroutine), single-flight among tasks, cancellation, locks.

Plain test functions running ``asyncio.run(...)`` (no pytest-asyncio); no timing asserts.
"""
from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import sys
import threading
import weakref

import pytest

import hotcache
from helpers import AsyncInterrupt, FakeTimer, classes, interrupt_point, raise_at
from hotcache import cached, cachedmethod, keys
from hotcache._flight import SingleFlight

HANG = 10.0  # seconds: hang guard only


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, HANG))


async def settle():
    """Let every ready task run until it blocks."""
    for _ in range(5):
        await asyncio.sleep(0)


# -- the async wrapper ---------------------------------------------------------------------------

def test_caches_the_result_not_the_coroutine(impl):
    calls = []

    @cached(classes(impl)["LRUCache"](8))
    async def f(x):
        calls.append(x)
        await asyncio.sleep(0)
        return x * 2

    assert inspect.iscoroutinefunction(f) and asyncio.iscoroutinefunction(f)

    async def main():
        assert await f(2) == 4
        assert await f(2) == 4  # a coroutine could not be awaited twice
        return f.cache_stats()

    stats = run(main())
    assert calls == [2]
    assert f.cache[(2,)] == 4
    assert (stats["hits"], stats["misses"], stats["loads"], stats["in_flight"]) == (1, 1, 1, 0)


def test_attributes_and_short_form():
    @cached
    async def f(x):
        return x

    assert type(f.cache) is hotcache.LRUCache and f.cache.maxsize == 128
    assert f.cache_key is keys.hashkey and f.cache_lock is None and f.cache_condition is None
    assert f.__wrapped__.__name__ == "f" and f.__name__ == "f"
    assert not hasattr(f, "cache_info")
    g = cached(maxsize=4, info=True)(f.__wrapped__)
    run(g(1))
    run(g(1))
    assert g.cache_info() == (1, 1, 4, 1)
    g.cache_clear()
    assert g.cache_info() == (0, 0, 4, 0)


@pytest.mark.parametrize("attempt", range(3))
def test_one_execution_among_100_tasks(attempt):
    calls = []

    async def main():
        release = asyncio.Event()

        @cached(maxsize=8)
        async def f(x):
            calls.append(x)
            await release.wait()
            return object()

        tasks = [asyncio.create_task(f(1)) for _ in range(100)]
        await settle()
        assert f.cache_stats()["in_flight"] == 1
        release.set()
        results = await asyncio.gather(*tasks)
        assert all(r is results[0] for r in results)
        assert await f(1) is results[0]
        s = f.cache_stats()
        assert (s["misses"], s["loads"], s["hits"]) == (100, 1, 1)

    run(main())
    assert calls == [1]


def test_exception_reaches_every_task_and_is_not_cached():
    calls = []
    boom = LookupError("down")

    async def main():
        release = asyncio.Event()

        @cached(maxsize=8)
        async def f(x):
            calls.append(x)
            await release.wait()
            raise boom

        tasks = [asyncio.create_task(f(1)) for _ in range(100)]
        await settle()
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(r is boom for r in results)
        assert len(f.cache) == 0 and f.cache_stats()["load_errors"] == 1
        with pytest.raises(LookupError):
            await f(1)

    run(main())
    assert calls == [1, 1]


def test_no_cross_key_blocking():
    async def main():
        gate = asyncio.Event()

        @cached(maxsize=8)
        async def f(x):
            if x == "slow":
                await gate.wait()
            return x

        slow = asyncio.create_task(f("slow"))
        await settle()
        assert await f("fast") == "fast"
        assert not slow.done()
        gate.set()
        assert await slow == "slow"

    run(main())


def test_leader_cancellation_does_not_wedge_waiters():
    calls = []

    async def main():
        gate = asyncio.Event()

        @cached(maxsize=8)
        async def f(x):
            calls.append(x)
            if len(calls) == 1:
                await asyncio.sleep(3600)  # the first leader is cancelled here
            await gate.wait()
            return "v%d" % len(calls)

        leader = asyncio.create_task(f(1))
        await settle()
        waiters = [asyncio.create_task(f(1)) for _ in range(20)]
        await settle()
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        await settle()
        gate.set()
        assert await asyncio.gather(*waiters) == ["v2"] * 20
        assert f.cache[(1,)] == "v2"
        assert f.cache_stats()["load_errors"] == 1  # the cancelled run

    run(main())
    assert calls == [1, 1]


def test_cancelled_waiter_leaves_the_flight_alone():
    async def main():
        gate = asyncio.Event()

        @cached(maxsize=8)
        async def f(x):
            await gate.wait()
            return x

        leader = asyncio.create_task(f(1))
        await settle()
        waiter = asyncio.create_task(f(1))
        await settle()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.set()
        assert await leader == 1

    run(main())


@pytest.mark.parametrize("point", ["after registering", "resolving the future"])
def test_interrupted_leader_hand_off_does_not_wedge(point):
    """An asynchronous exception in the leader task right after it registered its flight, or in
    its ``finally`` before it resolved the future the waiters wait on: the waiters still get an
    outcome (retrying if the leader left none) and later callers do not hang."""
    code = SingleFlight.ado.__code__
    where = interrupt_point(code, "registered" if point == "after registering" else "unregistered")

    async def main():
        gate = asyncio.Event()
        calls = []

        @cached(maxsize=8)
        async def f(x):
            calls.append(x)
            await gate.wait()
            return x * 2

        with raise_at(code, where) as inject:
            leader = asyncio.create_task(f(1))
            await settle()
            waiters = [asyncio.create_task(f(1)) for _ in range(3)]
            await settle()
            gate.set()
            with pytest.raises(AsyncInterrupt):
                await leader
        assert inject.fired
        assert await asyncio.gather(*waiters) == [2, 2, 2]
        assert f.cache_stats()["in_flight"] == 0
        assert await f(1) == 2
        # interrupted before fn ran: one waiter took the load over; else the leader's value
        assert calls == [1]

    run(main())


def test_recursion_in_the_leader_task():
    @cached(maxsize=256)
    async def fib(n):
        return n if n < 2 else await fib(n - 1) + await fib(n - 2)

    assert run(fib(60)) == 1548008755920

    depth = []

    @cached(maxsize=4)
    async def same(x):
        depth.append(x)
        return await same(x) if len(depth) < 3 else "bottom"

    assert run(same(1)) == "bottom"


def test_ttl_unless_none_and_invalidate():
    timer = FakeTimer()
    calls = []

    @cached(maxsize=8, ttl=lambda r: 30 if r else None, unless=lambda r: r == "skip", timer=timer)
    async def f(x):
        calls.append(x)
        return {"none": None, "skip": "skip"}.get(x, x)

    async def main():
        assert await f("none") is None and await f("none") is None
        assert await f("skip") == "skip" and await f("skip") == "skip"
        assert await f("a") == "a"
        assert f.cache.ttl_left(("a",)) == 30 and f.cache.ttl_left(("none",)) is None
        assert f.invalidate("a") is True and f.invalidate("a") is False
        await f("a")

    run(main())
    assert calls == ["none", "skip", "skip", "a", "a"]


def test_unhashable_argument():
    @cached(maxsize=8)
    async def lookup_user(x):
        return x

    with pytest.raises(TypeError, match="lookup_user: unhashable argument"):
        run(lookup_user([1]))


def test_partials_methods_and_callables_are_detected():
    async def add(a, b):
        return a + b

    p = cached(maxsize=4)(functools.partial(add, 1))
    assert run(p(2)) == 3 and run(p(2)) == 3 and p.cache_stats()["hits"] == 1

    class Obj:
        async def __call__(self, x):
            return x * 5

    o = cached(maxsize=4)(Obj())
    assert run(o(2)) == 10 and o.cache_stats()["loads"] == 1

    class Svc:
        @cached(maxsize=4, key=keys.methodkey)
        async def get(self, x):
            return x + 100

    s = Svc()
    assert run(s.get(1)) == 101 and run(Svc.get(s, 1)) == 101
    assert s.get.cache_stats()["hits"] == 1


def test_static_and_class_methods():
    class C:
        @staticmethod
        @cached(maxsize=4)
        async def s(x):
            return x

        @cached(maxsize=4)
        @classmethod
        async def c(cls, x):
            return (cls.__name__, x)

    assert run(C.s(1)) == 1 and run(C().s(1)) == 1
    assert run(C.c(1)) == ("C", 1) and run(C().c(1)) == ("C", 1)


def test_lock_protocols():
    cache = hotcache.LRUCache(8)
    lock = threading.Lock()

    @cached(cache, lock=lock)
    async def f(x):
        assert not lock.locked()  # the lock is never held while the function runs
        await asyncio.sleep(0)
        return x

    async def main():
        alock = asyncio.Lock()

        @cached(hotcache.LRUCache(8), lock=alock)
        async def g(x):
            assert not alock.locked()
            return x * 2

        assert await f(1) == 1 and await f(1) == 1
        assert await g(1) == 2 and await g(1) == 2
        assert f.cache_stats()["hits"] == 1 and g.cache_stats()["hits"] == 1
        assert g.invalidate(1) is True

    run(main())
    with pytest.raises(TypeError, match="condition"):
        cached(cache, condition=threading.Condition())(f.__wrapped__)


def test_refresh_ahead_async():
    timer = FakeTimer()
    version = [0]

    @cached(maxsize=8, ttl=10, refresh_ahead=0.5, timer=timer)
    async def f(x):
        version[0] += 1
        return (x, version[0])

    async def main():
        assert await f(1) == (1, 1)
        timer.advance(6)
        assert await f(1) == (1, 1)  # current value, refresh started as a task
        for _ in range(100):
            if f.loading_cache.stats()["refreshing"] == 0 and version[0] == 2:
                break
            await asyncio.sleep(0)
        assert await f(1) == (1, 2)
        s = f.cache_stats()
        assert (s["hits"], s["misses"]) == (2, 1)

    run(main())


# -- async methods -------------------------------------------------------------------------------

def test_cachedmethod_cachetools_form_async():
    class Svc:
        def __init__(self):
            self.cache = hotcache.LRUCache(8)
            self.calls = []

        @cachedmethod(lambda self: self.cache, info=True)
        async def get(self, x):
            self.calls.append(x)
            await asyncio.sleep(0)
            return x * 3

    s = Svc()
    assert asyncio.iscoroutinefunction(s.get)
    if sys.version_info >= (3, 12):  # inspect.markcoroutinefunction exists from 3.12 on
        assert inspect.iscoroutinefunction(s.get)
    # the instances are marked, not their class (calling the class makes no coroutine)
    assert not inspect.iscoroutinefunction(type(s.get))
    assert not asyncio.iscoroutinefunction(type(s.get))

    async def main():
        results = await asyncio.gather(*[s.get(2) for _ in range(50)])
        assert results == [6] * 50
        assert await s.get(2) == 6

    run(main())
    assert s.calls == [2]
    assert s.get.cache_info() == (1, 50, 8, 1)
    with pytest.raises(TypeError, match="condition"):
        cachedmethod(lambda self: {}, condition=lambda self: threading.Condition())(Svc.get.__wrapped__)


def test_cachedmethod_per_instance_async():
    class Svc:
        def __init__(self, n):
            self.n = n
            self.calls = []

        @cachedmethod(maxsize=8)
        async def get(self, x):
            self.calls.append(x)
            await asyncio.sleep(0)
            return x * self.n

    a, b = Svc(2), Svc(3)
    assert inspect.iscoroutinefunction(a.get)

    async def main(a, b):
        assert await asyncio.gather(a.get(1), a.get(1), b.get(1)) == [2, 2, 3]
        assert await a.get(1) == 2

    run(main(a, b))
    assert a.calls == [1] and b.calls == [1]
    assert a.get.invalidate(1) is True
    ref = weakref.ref(a)
    del a
    gc.collect()
    assert ref() is None
