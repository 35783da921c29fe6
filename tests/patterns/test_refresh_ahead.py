"""Refresh-ahead and stale-if-error: ``hotcache.patterns.LoadingCache``.

Time is a FakeTimer shared with the underlying cache; background refreshes go to a manual
executor that runs them when the test says so, so every timing boundary is exact.
"""
from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

import pytest

from helpers import FakeTimer, classes
from hotcache.patterns import LoadingCache

HANG = 20.0
TTL = 100.0


class ManualExecutor:
    """Collects submitted refreshes; ``run()`` executes them on the calling thread."""

    def __init__(self):
        self.tasks = []

    def submit(self, fn, *args):
        self.tasks.append((fn, args))

    def run(self):
        tasks, self.tasks = self.tasks, []
        for fn, args in tasks:
            fn(*args)
        return len(tasks)


class Loader:
    """loader(key) -> (key, version); ``fail`` makes it raise; counts calls per key."""

    def __init__(self):
        self.calls = {}
        self.fail = None

    def __call__(self, key):
        self.calls[key] = self.calls.get(key, 0) + 1
        if self.fail is not None:
            raise self.fail
        return (key, self.calls[key])


@pytest.fixture
def timer():
    return FakeTimer()


@pytest.fixture
def cache(impl, timer):
    return classes(impl)["LRUCache"](1000, timer=timer)


@pytest.fixture
def env(cache, timer):
    loader = Loader()
    ex = ManualExecutor()
    lc = LoadingCache(cache, loader, ttl=TTL, refresh_ahead=0.8, executor=ex)
    return lc, loader, ex, timer


def flight_waiters(flight, key):
    """Threads parked on the flight of ``key`` (its Event exists once someone waits)."""
    done = getattr(flight._calls.get(key), "done", None)
    return 0 if done is None else len(done._cond._waiters)


def wait_until(predicate, what):
    deadline = time.monotonic() + HANG
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.001)


# -- loading ---------------------------------------------------------------------------------------

def test_loads_on_miss_and_caches_plain_values(env, cache):
    lc, loader, ex, timer = env
    assert lc["k"] == ("k", 1)
    assert lc.get("k") == ("k", 1)
    assert loader.calls == {"k": 1}
    assert cache["k"] == ("k", 1)  # the cache holds the value itself, no wrapper record
    assert cache.ttl_left("k") == TTL
    assert lc.stats()["loads"] == 1


def test_get_with_own_loader_and_default(cache):
    lc = LoadingCache(cache)
    assert lc.get("k") is None
    assert lc.get("k", default=7) == 7
    with pytest.raises(KeyError):
        lc["k"]
    assert lc.get("k", lambda: "v") == "v"
    assert lc["k"] == "v"
    with pytest.raises(TypeError, match="default="):
        lc.get("j", 5)  # the second argument is a loader, not a default


def test_load_error_propagates_and_is_not_cached(env):
    lc, loader, ex, timer = env
    loader.fail = ConnectionError("down")
    with pytest.raises(ConnectionError):
        lc["k"]
    assert "k" not in lc
    assert lc.stats()["load_errors"] == 1 and lc.last_error is loader.fail
    loader.fail = None
    assert lc["k"] == ("k", 2)


def test_single_flight_16_threads(env):
    lc, _, _, _ = env
    n = 16
    release = threading.Event()
    calls = []
    results = [None] * n

    def slow():
        calls.append(1)
        assert release.wait(HANG)
        return object()

    def worker(i):
        results[i] = lc.get("k", slow)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()

    def waiters():
        return flight_waiters(lc._flight, "k")

    wait_until(lambda: waiters() == n - 1, "15 waiters")
    release.set()
    for t in threads:
        t.join(HANG)
    assert len(calls) == 1 and all(r is results[0] for r in results)


def test_async_single_flight_100_tasks(env):
    lc, _, _, _ = env
    calls = []

    async def main():
        release = asyncio.Event()

        async def slow():
            calls.append(1)
            await release.wait()
            return object()

        tasks = [asyncio.ensure_future(lc.aget("k", slow)) for _ in range(100)]
        for _ in range(5):
            await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    assert len(calls) == 1 and all(r is results[0] for r in results)


def test_too_large_value_returned_uncached(impl, timer):
    cache = classes(impl)["LRUCache"](3, getsizeof=len, timer=timer)
    lc = LoadingCache(cache, lambda key: "x" * key, ttl=TTL)
    assert lc[2] == "xx" and 2 in cache
    assert lc[10] == "x" * 10 and 10 not in cache


def test_no_ttl_any_mapping():
    calls = []
    lc = LoadingCache({}, lambda key: calls.append(key) or key * 2)
    assert lc[2] == 4 and lc[2] == 4 and calls == [2]
    assert 2 in lc and len(lc) == 1


# -- refresh-ahead timing ---------------------------------------------------------------------------

def test_no_refresh_before_the_window(env):
    lc, loader, ex, timer = env
    lc["k"]
    timer.advance(0.79 * TTL)
    assert lc["k"] == ("k", 1)
    assert ex.tasks == [] and lc.stats()["refreshes"] == 0


def test_one_refresh_inside_the_window(env, cache):
    lc, loader, ex, timer = env
    lc["k"]
    timer.advance(0.81 * TTL)
    assert lc["k"] == ("k", 1)  # the current value, at once
    assert len(ex.tasks) == 1
    assert lc["k"] == ("k", 1)  # a second read while the refresh is pending starts nothing
    assert lc.get("k") == ("k", 1)
    assert len(ex.tasks) == 1 and lc.stats()["refreshing"] == 1
    assert ex.run() == 1
    assert loader.calls == {"k": 2}
    assert lc["k"] == ("k", 2)
    assert cache.ttl_left("k") == TTL  # the refreshed value has a whole new ttl
    assert ex.tasks == [] and lc.stats()["refreshing"] == 0
    timer.advance(0.5 * TTL)
    assert lc["k"] == ("k", 2) and ex.tasks == []
    st = lc.stats()
    assert st["refreshes"] == 1 and st["loads"] == 1 and st["refresh_errors"] == 0


def test_exact_window_boundary(env):
    lc, loader, ex, timer = env
    lc["k"]
    timer.advance(0.8 * TTL)  # fresh left == 20 % of ttl: inside the window
    lc["k"]
    assert len(ex.tasks) == 1


def test_unread_entries_are_never_refreshed(env):
    lc, loader, ex, timer = env
    lc["read"]
    lc["unread"]
    timer.advance(0.9 * TTL)
    lc["read"]
    ex.run()
    assert loader.calls == {"read": 2, "unread": 1}
    timer.advance(0.1 * TTL)  # "unread" expires without ever having been refreshed
    assert "unread" not in lc
    assert loader.calls["unread"] == 1


def test_failed_refresh_keeps_old_value_until_expiry(env):
    lc, loader, ex, timer = env
    lc["k"]
    timer.advance(0.85 * TTL)
    loader.fail = TimeoutError("slow backend")
    assert lc["k"] == ("k", 1)
    ex.run()
    st = lc.stats()
    assert st["refresh_errors"] == 1 and lc.last_error is loader.fail
    timer.advance(0.1 * TTL)
    assert lc["k"] == ("k", 1)  # still the old value, and one new refresh attempt per window read
    assert len(ex.tasks) == 1
    ex.run()
    timer.advance(0.05 * TTL)  # the ttl is over: no stale_if_error, so the error propagates
    with pytest.raises(TimeoutError):
        lc["k"]
    loader.fail = None
    assert lc["k"] == ("k", 5)


def test_set_during_refresh_wins(env):
    lc, loader, ex, timer = env
    lc["k"]
    timer.advance(0.9 * TTL)
    lc["k"]
    lc["k"] = "explicit"
    ex.run()  # the refresh loads ("k", 2) but must not overwrite the explicit store
    assert lc["k"] == "explicit"
    del lc["k"]
    assert lc.stats()["refreshing"] == 0


def test_delete_during_refresh_is_not_undone(env, cache):
    lc, loader, ex, timer = env
    lc["k"]
    timer.advance(0.9 * TTL)
    lc["k"]
    del lc["k"]
    ex.run()
    assert "k" not in cache


def _explicit_ops():
    """An explicit change of key "k" made while a foreground load of it runs: (name, apply,
    what the cache must hold afterwards, None for nothing)."""
    def setitem(lc):
        lc["k"] = "explicit"

    def delitem(lc):
        del lc["k"]

    def pop(lc):
        lc.pop("k", None)

    def popitem(lc):
        lc.popitem()

    def clear(lc):
        lc.clear()

    return [("set", setitem, "explicit"), ("del", delitem, None), ("pop", pop, None),
            ("popitem", popitem, None), ("clear", clear, None)]


def _stale_entry(lc, timer):
    """Key "k" held but past its ttl, so that a read reloads it in the foreground (and del/
    popitem have an entry to remove)."""
    lc.cache.set("k", "old", ttl=TTL + 10)
    timer.advance(TTL + 5)


@pytest.mark.parametrize("op", _explicit_ops(), ids=lambda op: op[0])
def test_explicit_write_during_a_foreground_load_is_not_overwritten(cache, timer, op):
    """``lc[k] = v``/del/pop/popitem/clear while a foreground load of ``k`` runs: the load
    still returns its (older) value to its caller, but does not store it over the change."""
    _, apply, expected = op
    started, go = threading.Event(), threading.Event()

    def loader(key):
        started.set()
        assert go.wait(HANG)
        return "loaded"

    lc = LoadingCache(cache, loader, ttl=TTL, stale_if_error=10)
    _stale_entry(lc, timer)
    got = []
    t = threading.Thread(target=lambda: got.append(lc.get("k")), daemon=True)
    t.start()
    assert started.wait(HANG)
    apply(lc)  # the load is running now
    go.set()
    t.join(HANG)
    assert got == ["loaded"]
    assert cache.get("k") == expected
    assert lc._loads == {}
    assert lc.stats()["loads"] == 1
    assert lc.get("k") == (expected or "loaded")  # nothing held: a new load
    assert cache.get("k") == (expected or "loaded")


@pytest.mark.parametrize("op", _explicit_ops(), ids=lambda op: op[0])
def test_async_explicit_write_during_a_foreground_load_is_not_overwritten(cache, timer, op):
    _, apply, expected = op

    async def main():
        started, go = asyncio.Event(), asyncio.Event()

        async def loader(key):
            started.set()
            await go.wait()
            return "loaded"

        lc = LoadingCache(cache, loader, ttl=TTL, stale_if_error=10)
        _stale_entry(lc, timer)
        task = asyncio.create_task(lc.aget("k"))
        await asyncio.wait_for(started.wait(), HANG)
        apply(lc)
        go.set()
        assert await asyncio.wait_for(task, HANG) == "loaded"
        assert cache.get("k") == expected
        assert lc._loads == {}
        assert await lc.aget("k") == (expected or "loaded")

    asyncio.run(main())


def test_load_without_explicit_writes_still_stores(env, cache):
    """The cancellation is per load: a later load of the key stores as usual, and an explicit
    write of another key cancels nothing."""
    lc, loader, ex, timer = env
    started, go = threading.Event(), threading.Event()

    def slow():
        started.set()
        assert go.wait(HANG)
        return "slow"

    t = threading.Thread(target=lambda: lc.get("k", slow), daemon=True)
    t.start()
    assert started.wait(HANG)
    lc["other"] = 1
    go.set()
    t.join(HANG)
    assert cache.get("k") == "slow" and lc._loads == {}


def test_get_loader_override_is_used_for_refresh(env):
    lc, loader, ex, timer = env
    versions = iter(["v1", "v2"])
    assert lc.get("k", lambda: next(versions)) == "v1"
    timer.advance(0.9 * TTL)
    assert lc.get("k", lambda: next(versions)) == "v1"
    ex.run()
    assert lc.get("k") == "v2" and loader.calls == {}


def test_default_executor_refreshes_in_background(cache, timer):
    started = threading.Event()
    release = threading.Event()
    calls = []

    def loader(key):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            started.set()
            assert release.wait(HANG)
        return len(calls)

    lc = LoadingCache(cache, loader, ttl=TTL, refresh_ahead=0.5)
    assert lc["k"] == 1
    timer.advance(0.6 * TTL)
    assert lc["k"] == 1
    assert started.wait(HANG)
    assert lc["k"] == 1  # refresh still running: old value, no second refresh
    release.set()
    wait_until(lambda: lc.stats()["refreshing"] == 0, "the refresh to finish")
    assert lc["k"] == 2 and len(calls) == 2
    assert calls[1].startswith("hotcache-refresh")


def test_executor_that_refuses_work(cache, timer):
    class Closed:
        def submit(self, fn, *args):
            raise RuntimeError("cannot schedule new futures after shutdown")

    lc = LoadingCache(cache, lambda key: 1, ttl=TTL, refresh_ahead=0.5, executor=Closed())
    lc["k"]
    timer.advance(0.6 * TTL)
    assert lc["k"] == 1  # the read still succeeds
    assert lc.stats()["refreshing"] == 0 and lc.stats()["refreshes"] == 0


# -- stale-if-error -------------------------------------------------------------------------------

def test_stale_if_error_window(cache, timer):
    loader = Loader()
    lc = LoadingCache(cache, loader, ttl=TTL, stale_if_error=50, executor=ManualExecutor())
    assert lc["k"] == ("k", 1)
    assert cache.ttl_left("k") == TTL + 50  # hard expiry = ttl + stale_if_error
    timer.advance(TTL - 1)
    assert lc["k"] == ("k", 1) and loader.calls == {"k": 1}  # fresh: no reload
    timer.advance(1)
    assert "k" not in lc  # past its ttl
    loader.fail = ConnectionError("down")
    assert lc["k"] == ("k", 1)  # reload failed: the stale value is served
    assert loader.calls == {"k": 2}
    timer.advance(49)
    assert lc["k"] == ("k", 1)
    st = lc.stats()
    assert st["stale_served"] == 2 and st["load_errors"] == 2 and lc.last_error is loader.fail
    timer.advance(1)  # ttl + stale_if_error is over: the error propagates
    with pytest.raises(ConnectionError):
        lc["k"]


def test_stale_reload_success_replaces_value(cache, timer):
    loader = Loader()
    lc = LoadingCache(cache, loader, ttl=TTL, stale_if_error=50)
    lc["k"]
    timer.advance(TTL + 10)
    assert lc["k"] == ("k", 2)
    assert cache.ttl_left("k") == TTL + 50


def test_stale_without_loader_is_a_miss(cache, timer):
    lc = LoadingCache(cache, ttl=TTL, stale_if_error=50)
    lc["k"] = "v"
    timer.advance(TTL)
    assert lc.get("k") is None
    with pytest.raises(KeyError):
        lc["k"]
    assert lc.peek("k") is None and "k" not in lc
    assert len(lc) == 1  # still held by the cache for its stale window


def test_stale_if_error_with_refresh_ahead(cache, timer):
    loader = Loader()
    ex = ManualExecutor()
    lc = LoadingCache(cache, loader, ttl=TTL, refresh_ahead=0.8, stale_if_error=50, executor=ex)
    lc["k"]
    timer.advance(0.79 * TTL)
    lc["k"]
    assert ex.tasks == []  # the window is measured on the ttl, not on ttl + stale_if_error
    timer.advance(0.02 * TTL)
    lc["k"]
    assert len(ex.tasks) == 1


def test_stale_if_error_16_threads_share_one_failed_reload(cache, timer):
    release = threading.Event()
    calls = []

    def loader(key):
        calls.append(1)
        if len(calls) > 1:
            assert release.wait(HANG)
            raise ConnectionError("down")
        return "old"

    lc = LoadingCache(cache, loader, ttl=TTL, stale_if_error=50)
    lc["k"]
    timer.advance(TTL + 1)
    n = 16
    results = [None] * n

    def worker(i):
        results[i] = lc["k"]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()

    def waiters():
        return flight_waiters(lc._flight, "k")

    wait_until(lambda: waiters() == n - 1, "15 waiters")
    release.set()
    for t in threads:
        t.join(HANG)
    assert results == ["old"] * n and len(calls) == 2
    assert lc.stats()["stale_served"] == n


# -- async refresh ----------------------------------------------------------------------------------

def test_async_refresh_runs_as_a_task(cache, timer):
    calls = []

    async def loader(key):
        calls.append(key)
        await asyncio.sleep(0)
        return len(calls)

    lc = LoadingCache(cache, loader, ttl=TTL, refresh_ahead=0.8, executor=ManualExecutor())

    async def main():
        assert await lc.aget("k") == 1
        timer.advance(0.79 * TTL)
        assert await lc.aget("k") == 1
        assert len(lc._tasks) == 0
        timer.advance(0.02 * TTL)
        assert await lc.aget("k") == 1  # old value at once
        assert await lc.aget("k") == 1  # no second refresh
        assert len(lc._tasks) == 1
        await asyncio.gather(*lc._tasks)
        return await lc.aget("k")

    assert asyncio.run(main()) == 2
    assert calls == ["k", "k"]
    assert lc.stats()["refreshes"] == 1 and lc.stats()["refreshing"] == 0


def test_async_failed_refresh_and_stale_if_error(cache, timer):
    state = {"fail": False, "n": 0}

    async def loader(key):
        state["n"] += 1
        if state["fail"]:
            raise ConnectionError("down")
        return state["n"]

    lc = LoadingCache(cache, loader, ttl=TTL, refresh_ahead=0.8, stale_if_error=50)

    async def main():
        assert await lc.aget("k") == 1
        state["fail"] = True
        timer.advance(0.9 * TTL)
        assert await lc.aget("k") == 1
        await asyncio.gather(*lc._tasks)
        assert lc.stats()["refresh_errors"] == 1
        timer.advance(0.2 * TTL)  # past the ttl, inside stale_if_error
        assert await lc.aget("k") == 1
        timer.advance(50)
        with pytest.raises(ConnectionError):
            await lc.aget("k")

    asyncio.run(main())
    assert lc.stats()["stale_served"] == 1


def test_async_refresh_left_on_a_closed_loop_is_taken_over(cache, timer):
    """A refresh task left pending when its event loop is closed without asyncio.run's cleanup:
    the claim is taken over by the next read in the window (sync here), the task is not held,
    and once it is collected neither its loop nor its flight entry remains."""
    ex = ManualExecutor()

    async def forever():
        await asyncio.sleep(3600)
        return "never"

    lc = LoadingCache(cache, lambda key: "v%d" % timer(), ttl=TTL, refresh_ahead=0.8, executor=ex)
    assert lc.get("k") == "v0"
    timer.advance(0.9 * TTL)
    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(lc.aget("k", forever)) == "v0"  # starts the refresh task
    loop.run_until_complete(asyncio.sleep(0))                     # it is now inside forever()
    assert lc.stats()["refreshing"] == 1 and len(lc._tasks) == 1
    assert lc._flight.in_flight() == 1
    loop.close()  # no cancellation: the task never runs again
    dead = weakref.ref(loop)
    del loop
    timer.advance(1)
    assert lc.get("k") == "v0"  # in the window: the abandoned claim is taken over
    assert len(ex.tasks) == 1 and len(lc._tasks) == 0
    assert ex.run() == 1
    assert lc.get("k") == "v%d" % (0.9 * TTL + 1)  # refreshed
    assert lc.stats()["refreshing"] == 0 and lc.stats()["refreshes"] == 2
    gc.collect()  # the dropped task ("destroyed but pending"): its coroutine is closed
    assert dead() is None
    assert lc._flight.in_flight() == 0
    assert lc.stats()["refreshing"] == 0


def test_async_refresh_on_a_closed_loop_taken_over_by_another_loop(cache, timer):
    calls = []

    async def loader(key):
        calls.append(key)
        if len(calls) == 2:
            await asyncio.sleep(3600)  # the first refresh: left pending on a closed loop
        return len(calls)

    lc = LoadingCache(cache, loader, ttl=TTL, refresh_ahead=0.8, executor=ManualExecutor())
    first = asyncio.new_event_loop()
    assert first.run_until_complete(lc.aget("k")) == 1
    timer.advance(0.9 * TTL)
    assert first.run_until_complete(lc.aget("k")) == 1
    first.run_until_complete(asyncio.sleep(0))
    first.close()
    del first

    async def main():
        assert await lc.aget("k") == 1  # takes the refresh over: a task of this loop
        assert len(lc._tasks) == 1
        await asyncio.wait_for(asyncio.gather(*lc._tasks), HANG)
        return await lc.aget("k")

    assert asyncio.run(main()) == 3
    assert lc.stats()["refreshes"] == 2 and lc.stats()["refreshing"] == 0
    gc.collect()  # the abandoned task of the first loop
    assert lc._flight.in_flight() == 0


def test_async_sync_loader(cache):
    lc = LoadingCache(cache, lambda key: key + 1)
    assert asyncio.run(lc.aget(1)) == 2
    assert asyncio.run(lc.aget(5, lambda: "own")) == "own"


# -- mapping API ------------------------------------------------------------------------------------

def test_mapping_api_never_loads_on_removal(env, cache):
    lc, loader, ex, timer = env
    lc["a"] = 1
    lc["b"]
    assert lc.pop("a") == 1 and lc.pop("a", "x") == "x"
    with pytest.raises(KeyError):
        lc.pop("a")
    with pytest.raises(KeyError):
        del lc["zzz"]
    key, value = lc.popitem()
    assert (key, value) == ("b", ("b", 1))
    lc["c"] = 3
    lc.clear()
    assert len(cache) == 0
    assert loader.calls == {"b": 1}


def test_contains_and_peek_never_load_or_refresh(env, cache):
    lc, loader, ex, timer = env
    assert "k" not in lc and lc.peek("k", "d") == "d"
    lc["k"]
    timer.advance(0.9 * TTL)
    assert "k" in lc and lc.peek("k") == ("k", 1)
    assert ex.tasks == [] and loader.calls == {"k": 1}
    hits = cache.stats().hits
    lc.peek("k")
    assert cache.stats().hits == hits


def test_items_read_through_the_cache(env):
    lc, loader, ex, timer = env
    lc.update(a=1, b=2)
    assert dict(lc.items()) == {"a": 1, "b": 2} and sorted(lc) == ["a", "b"]


def test_bad_arguments(cache):
    for kw, exc in [({"refresh_ahead": 0.8}, ValueError),
                    ({"ttl": 10, "refresh_ahead": 1}, ValueError),
                    ({"ttl": 10, "refresh_ahead": 0}, ValueError),
                    ({"ttl": 10, "refresh_ahead": "0.8"}, TypeError),
                    ({"stale_if_error": 5}, ValueError),
                    ({"ttl": 10, "stale_if_error": -1}, ValueError),
                    ({"ttl": -1}, ValueError),
                    ({"ttl": 10, "executor": object()}, TypeError),
                    ({"clock": 5}, TypeError)]:
        with pytest.raises(exc):
            LoadingCache(cache, **kw)
    with pytest.raises(TypeError):
        LoadingCache(cache, loader=5)
    with pytest.raises(TypeError, match="ttl_left"):
        LoadingCache({}, ttl=10)


def test_load_seconds_uses_clock(cache):
    clock = FakeTimer()

    def loader(key):
        clock.advance(2.5)
        return key

    lc = LoadingCache(cache, loader, clock=clock)
    lc["k"]
    assert lc.stats()["load_seconds"] == 2.5
