"""Tests for hotcache._flight.SingleFlight: exactly one execution per key under contention.

No timing asserts: threads and tasks are lined up with barriers and events; timeouts only guard
against hangs.
"""
from __future__ import annotations

import asyncio
import sys
import threading

import pytest
from helpers import AsyncInterrupt, interrupt_point, raise_at

from hotcache import _flight
from hotcache._flight import SingleFlight

HANG = 10.0  # seconds: a hang guard only, never a measurement


def _run_threads(n, target):
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert not any(t.is_alive() for t in threads), "a thread hung"


# -- threads ------------------------------------------------------------------------------------


def _waiters(event):
    """Threads blocked in ``event.wait()`` (CPython's Event keeps them on its Condition)."""
    return len(event._cond._waiters)


def _await_waiters(flight, key, n):
    """Block until ``n`` threads wait on the flight for ``key`` (a hang guard, not a timer)."""
    for _ in range(int(HANG * 1000)):
        call = flight._calls.get(key)
        if call is not None and call.done is not None and _waiters(call.done) >= n:
            return
        threading.Event().wait(0.001)
    raise AssertionError("waiters never arrived")


@pytest.mark.parametrize("run", range(5))
def test_one_execution_per_key_16_threads(run):
    flight = SingleFlight()
    n = 16
    calls = []
    value = object()
    results = [None] * n
    barrier = threading.Barrier(n)

    def fn():
        calls.append(threading.get_ident())
        # hold the flight open until every other thread has joined it as a waiter
        _await_waiters(flight, "k", n - 1)
        return value

    def worker(i):
        barrier.wait(HANG)
        results[i] = flight.do("k", fn)

    _run_threads(n, worker)
    assert len(calls) == 1
    assert all(r is value for r in results)
    assert flight.in_flight() == 0


@pytest.mark.parametrize("run", range(3))
def test_one_execution_per_key_many_keys(run):
    flight = SingleFlight()
    n, nkeys = 16, 4
    counts = {k: 0 for k in range(nkeys)}
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def loader(k):
        def load():
            with lock:
                counts[k] += 1
            # the flights of all keys are open at once; each waits for its own waiters
            _await_waiters(flight, k, n // nkeys - 1)
            return k * 10

        return load

    def worker(i):
        barrier.wait(HANG)
        k = i % nkeys
        assert flight.do(k, loader(k)) == k * 10

    _run_threads(n, worker)
    assert counts == {k: 1 for k in range(nkeys)}
    assert flight.in_flight() == 0


def test_exception_reaches_every_waiter_same_object():
    flight = SingleFlight()
    n = 16
    started = threading.Event()
    release = threading.Event()
    calls = []
    errors = [None] * n
    boom = ValueError("boom")

    def fn():
        calls.append(1)
        started.set()
        assert release.wait(HANG)
        raise boom

    def leader(i):
        try:
            flight.do("k", fn)
        except ValueError as exc:
            errors[i] = exc

    def waiter(i):
        try:
            flight.do("k", lambda: pytest.fail("a waiter ran fn"))
        except ValueError as exc:
            errors[i] = exc

    t0 = threading.Thread(target=leader, args=(0,))
    t0.start()
    assert started.wait(HANG)
    others = [threading.Thread(target=waiter, args=(i,)) for i in range(1, n)]
    for t in others:
        t.start()
    _await_waiters(flight, "k", n - 1)
    release.set()
    for t in [t0] + others:
        t.join(HANG)
    assert calls == [1]
    assert all(e is boom for e in errors)
    # exceptions are not remembered: the next call runs again
    assert flight.do("k", lambda: 42) == 42
    assert flight.in_flight() == 0


def test_no_cross_key_blocking():
    flight = SingleFlight()
    slow_started = threading.Event()
    slow_release = threading.Event()
    fast_done = threading.Event()

    def slow():
        slow_started.set()
        assert slow_release.wait(HANG)
        return "slow"

    out = {}
    t = threading.Thread(target=lambda: out.setdefault("slow", flight.do("slow", slow)))
    t.start()
    assert slow_started.wait(HANG)
    # the slow key is blocked on an Event; a fast key completes on another thread meanwhile
    f = threading.Thread(target=lambda: (out.setdefault("fast", flight.do("fast", lambda: "fast")),
                                         fast_done.set()))
    f.start()
    assert fast_done.wait(HANG), "the fast key waited for the slow one"
    assert out["fast"] == "fast"
    assert "slow" not in out and flight.in_flight() == 1
    slow_release.set()
    t.join(HANG)
    f.join(HANG)
    assert out["slow"] == "slow"


def test_no_lock_held_while_fn_runs():
    flight = SingleFlight()

    def fn():
        # another thread can use the same flight (another key) and its table lock right now
        done = threading.Event()

        def other():
            flight.in_flight()
            flight.do("other", lambda: None)
            done.set()

        t = threading.Thread(target=other)
        t.start()
        t.join(HANG)
        assert done.is_set(), "a lock was held while fn ran"
        return 1

    assert flight.do("k", fn) == 1


def test_recursion_same_key_on_leader_thread():
    flight = SingleFlight()
    depth = []

    def fn():
        depth.append(1)
        if len(depth) < 3:
            return flight.do("k", fn) + 1
        return 0

    assert flight.do("k", fn) == 2
    assert len(depth) == 3
    assert flight.in_flight() == 0


def test_reentrant_key_eq_does_not_deadlock():
    flight = SingleFlight()

    class Key:
        def __hash__(self):
            return 1

        def __eq__(self, other):
            flight.in_flight()  # takes the table lock while a lookup holds it
            return self is other

    a, b = Key(), Key()
    started = threading.Event()
    release = threading.Event()

    def slow():
        started.set()
        release.wait(HANG)
        return "a"

    t = threading.Thread(target=lambda: flight.do(a, slow))
    t.start()
    assert started.wait(HANG)
    assert flight.do(b, lambda: "b") == "b"  # collides with a: __eq__ runs under the lock
    release.set()
    t.join(HANG)


def test_interrupted_leader_lets_waiters_retry():
    flight = SingleFlight()
    started = threading.Event()
    release = threading.Event()
    calls = []

    class Interrupt(BaseException):
        pass

    def fn():
        calls.append("leader")
        started.set()
        release.wait(HANG)
        raise Interrupt

    out = {}

    def leader():
        try:
            flight.do("k", fn)
        except Interrupt:
            out["leader"] = "interrupted"

    def waiter():
        out["waiter"] = flight.do("k", lambda: calls.append("waiter") or "value")

    t0 = threading.Thread(target=leader)
    t0.start()
    assert started.wait(HANG)
    t1 = threading.Thread(target=waiter)
    t1.start()
    _await_waiters(flight, "k", 1)
    release.set()
    t0.join(HANG)
    t1.join(HANG)
    assert out == {"leader": "interrupted", "waiter": "value"}
    assert calls == ["leader", "waiter"]


# -- asynchronous exceptions (KeyboardInterrupt from a signal handler) at the hand-off ---------------

def _in_thread(fn):
    """``fn()`` on another thread; its result, or AssertionError if it hangs."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(HANG)
    assert not t.is_alive(), "a later caller hung"
    return out[0]


def test_interrupt_right_after_registration_does_not_leak_the_flight():
    """An asynchronous exception landing just after ``setdefault`` registered the flight (before
    the leader's ``try`` used to begin) unregisters it: later callers do not wait forever."""
    flight = SingleFlight()
    code = SingleFlight.do.__code__
    with raise_at(code, interrupt_point(code, "registered")) as inject:
        with pytest.raises(AsyncInterrupt):
            flight.do("k", lambda: "never")
    assert inject.fired
    assert flight.in_flight() == 0
    assert _in_thread(lambda: flight.do("k", lambda: "later")) == "later"


def _finish_points():
    """Where the leader's ``_finish`` can be interrupted: on entry, after unregistering the
    flight (before marking it finished), and on entering the Event.set that wakes waiters."""
    code = _flight._finish.__code__
    return {
        "entering _finish": (code, None),
        "after unregistering": (code, interrupt_point(code, "unregistered")),
        "waking the waiters": (threading.Event.set.__code__, None),
    }


@pytest.mark.parametrize("point", sorted(_finish_points()))
@pytest.mark.parametrize("outcome", ["value", "error"])
def test_interrupted_finish_still_wakes_waiters(point, outcome):
    """The leader (this thread) is interrupted while finishing its flight: ``_finish`` runs
    again to the end, the waiter gets the recorded outcome, the leader gets the interrupt, and
    nothing stays registered."""
    flight = SingleFlight()
    error = ValueError("load failed")

    def fn():
        _await_waiters(flight, "k", 1)  # the waiter is blocked on the flight
        if outcome == "error":
            raise error
        return "value"

    got = []

    def waiter():
        try:
            got.append(flight.do("k", lambda: "waiter ran fn"))
        except ValueError as exc:
            got.append(exc)

    t = threading.Thread(target=waiter, daemon=True)
    code, where = _finish_points()[point]
    with raise_at(code, where) as inject:
        t_started = False
        try:
            def start_waiter_then_run():
                nonlocal t_started
                t.start()
                t_started = True
                return fn()

            with pytest.raises(AsyncInterrupt):
                flight.do("k", start_waiter_then_run)
        finally:
            if t_started:
                t.join(HANG)
    assert inject.fired
    assert not t.is_alive(), "the waiter was never woken"
    assert got == (["value"] if outcome == "value" else [error])
    assert flight.in_flight() == 0
    assert _in_thread(lambda: flight.do("k", lambda: "later")) == "later"


def test_finish_is_idempotent():
    flight = SingleFlight()
    calls = flight._calls
    call = _flight._Call()
    call.owner = 0
    call.finished = False
    call.state = _flight._OK
    call.result = 1
    calls["k"] = call
    other = _flight._Call()
    _flight._finish(calls, "k", call)
    calls["k"] = other  # a new flight of the key: finishing the old one again leaves it alone
    _flight._finish(calls, "k", call)
    assert calls == {"k": other} and call.finished


def test_handoff_race_stress():
    """The lock-free leader/waiter hand-off under very frequent thread switches: no waiter is
    ever left waiting, and each gets the outcome of a flight of its own key."""
    flight = SingleFlight()
    runs = []

    def worker(i):
        for j in range(1500):
            key = j % 3

            def fn(key=key):
                runs.append(key)
                return key

            assert flight.do(key, fn) == key

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _run_threads(8, worker)
    finally:
        sys.setswitchinterval(old)
    assert flight.in_flight() == 0
    assert 0 < len(runs) <= 8 * 1500


def test_unhashable_key():
    with pytest.raises(TypeError):
        SingleFlight().do([], lambda: 1)


# -- asyncio ------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", range(5))
def test_async_one_execution_per_key_100_tasks(run):
    async def main():
        flight = SingleFlight()
        calls = []
        release = asyncio.Event()

        async def fn():
            calls.append(1)
            await release.wait()
            return "v"

        tasks = [asyncio.create_task(flight.ado("k", fn)) for _ in range(100)]
        for _ in range(5):  # every task has started and joined the flight
            await asyncio.sleep(0)
        release.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), HANG)
        assert calls == [1]
        assert results == ["v"] * 100
        assert flight.in_flight() == 0

    asyncio.run(main())


def test_async_exception_same_object_to_all():
    async def main():
        flight = SingleFlight()
        boom = KeyError("x")
        calls = []
        release = asyncio.Event()

        async def fn():
            calls.append(1)
            await release.wait()
            raise boom

        tasks = [asyncio.create_task(flight.ado("k", fn)) for _ in range(100)]
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), HANG)
        assert calls == [1]
        assert all(r is boom for r in results)
        # not cached
        assert await flight.ado("k", lambda: "sync-value") == "sync-value"

    asyncio.run(main())


def test_async_no_cross_key_blocking():
    async def main():
        flight = SingleFlight()
        slow_release = asyncio.Event()

        async def slow():
            await slow_release.wait()
            return "slow"

        async def fast():
            return "fast"

        slow_task = asyncio.create_task(flight.ado("slow", slow))
        await asyncio.sleep(0)
        assert await asyncio.wait_for(flight.ado("fast", fast), HANG) == "fast"
        assert not slow_task.done()
        slow_release.set()
        assert await asyncio.wait_for(slow_task, HANG) == "slow"

    asyncio.run(main())


def test_async_leader_cancellation_does_not_wedge_waiters():
    async def main():
        flight = SingleFlight()
        calls = []
        gate = asyncio.Event()

        async def fn():
            calls.append(len(calls))
            if len(calls) == 1:
                await asyncio.sleep(3600)  # the first leader never finishes: it is cancelled
            await gate.wait()
            return "v%d" % len(calls)

        leader = asyncio.create_task(flight.ado("k", fn))
        await asyncio.sleep(0)
        waiters = [asyncio.create_task(flight.ado("k", fn)) for _ in range(10)]
        await asyncio.sleep(0)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.wait_for(asyncio.gather(*waiters), HANG)
        assert results == ["v2"] * 10  # exactly one new leader among the waiters
        assert calls == [0, 1]
        assert flight.in_flight() == 0

    asyncio.run(main())


def test_async_interrupt_right_after_registration_does_not_leak_the_flight():
    code = SingleFlight.ado.__code__

    async def main():
        flight = SingleFlight()
        with raise_at(code, interrupt_point(code, "registered")) as inject:
            with pytest.raises(AsyncInterrupt):
                await flight.ado("k", lambda: "never")
        assert inject.fired
        assert flight.in_flight() == 0
        assert await asyncio.wait_for(flight.ado("k", lambda: "later"), HANG) == "later"

    asyncio.run(main())


@pytest.mark.parametrize("outcome", ["value", "error"])
def test_async_interrupted_finish_still_resolves_the_future(outcome):
    """The leader task is interrupted in its ``finally`` after unregistering the flight, before
    resolving the future its waiters wait on: the future is resolved anyway."""
    code = SingleFlight.ado.__code__
    error = ValueError("load failed")

    async def main():
        flight = SingleFlight()
        gate = asyncio.Event()

        async def fn():
            await gate.wait()
            if outcome == "error":
                raise error
            return "value"

        with raise_at(code, interrupt_point(code, "unregistered")) as inject:
            leader = asyncio.create_task(flight.ado("k", fn))
            await asyncio.sleep(0)
            waiters = [asyncio.create_task(flight.ado("k", fn)) for _ in range(3)]
            await asyncio.sleep(0)
            gate.set()
            with pytest.raises(AsyncInterrupt):
                await leader
        assert inject.fired
        results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), HANG)
        assert results == (["value"] * 3 if outcome == "value" else [error] * 3)
        assert flight.in_flight() == 0

    asyncio.run(main())


def test_async_abandoned_leader_on_a_closed_loop_is_collected():
    """A leader task left pending on an event loop closed without cancelling its tasks: the
    flight table does not keep the task (nor its loop) alive; collecting the task unregisters
    the flight."""
    import gc
    import weakref

    flight = SingleFlight()

    async def fn():
        await asyncio.sleep(3600)

    loop = asyncio.new_event_loop()
    task = loop.create_task(flight.ado("k", fn))
    loop.run_until_complete(asyncio.sleep(0))  # the leader is now inside fn
    assert flight.in_flight() == 1
    loop.close()  # no cancellation: the task stays pending forever
    dead = weakref.ref(loop)
    del loop, task
    # the task says "Task was destroyed but it is pending!" through the closed loop's handler
    gc.collect()
    assert flight.in_flight() == 0
    assert dead() is None


def test_async_cancelled_waiter_does_not_cancel_flight():
    async def main():
        flight = SingleFlight()
        release = asyncio.Event()
        calls = []

        async def fn():
            calls.append(1)
            await release.wait()
            return "v"

        leader = asyncio.create_task(flight.ado("k", fn))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(flight.ado("k", fn))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        assert await asyncio.wait_for(leader, HANG) == "v"
        assert calls == [1]

    asyncio.run(main())


def test_async_recursion_same_key_in_leader_task():
    async def main():
        flight = SingleFlight()
        depth = []

        async def fn():
            depth.append(1)
            if len(depth) < 3:
                return await flight.ado("k", fn) + 1
            return 0

        assert await asyncio.wait_for(flight.ado("k", fn), HANG) == 2

    asyncio.run(main())


def test_sync_and_async_are_separate_namespaces():
    flight = SingleFlight()
    started = threading.Event()
    release = threading.Event()

    def slow():
        started.set()
        release.wait(HANG)
        return "sync"

    t = threading.Thread(target=lambda: flight.do("k", slow))
    t.start()
    assert started.wait(HANG)

    async def main():
        return await flight.ado("k", lambda: "async")

    assert asyncio.run(main()) == "async"
    release.set()
    t.join(HANG)


def test_async_flights_are_per_event_loop():
    flight = SingleFlight()
    inside = threading.Barrier(2)
    results = []

    def run_loop():
        async def fn():
            # both loops' leaders are inside fn at the same time: neither waits on the other
            await asyncio.get_running_loop().run_in_executor(None, inside.wait, HANG)
            return threading.get_ident()

        async def main():
            return await flight.ado("k", fn)

        results.append(asyncio.run(main()))

    _run_threads(2, lambda i: run_loop())
    assert len(set(results)) == 2
