"""hotcache.breaker.CircuitBreaker: the state machine on a fake clock, decorators, listeners, threads.

No sleeps decide an outcome: time is a FakeClock, concurrency is arranged with events and barriers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time

import pytest

from hotcache.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpenError

HANG = 30  # seconds; a hang guard only


class FakeClock:
    def __init__(self, now=100.0):
        self.now = now
        self._lock = threading.Lock()

    def __call__(self):
        return self.now

    def advance(self, dt):
        with self._lock:
            self.now += dt


class Boom(Exception):
    pass


def boom(*a, **kw):
    raise Boom("boom")


def ok(x=1):
    return x


def trip(b):
    for _ in range(b.failure_threshold):
        with pytest.raises(Boom):
            b.call(boom)
    assert b.state == OPEN


@pytest.fixture
def clock():
    return FakeClock()


# -- construction --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw, exc",
    [
        ({"failure_threshold": 0}, ValueError),
        ({"failure_threshold": 1.5}, TypeError),
        ({"failure_threshold": True}, TypeError),
        ({"recovery_timeout": -1}, ValueError),
        ({"recovery_timeout": float("nan")}, ValueError),
        ({"recovery_timeout": float("inf")}, ValueError),
        ({"recovery_timeout": "5"}, TypeError),
        ({"half_open_max_calls": 0}, ValueError),
        ({"half_open_max_calls": None}, TypeError),
        ({"expected_exceptions": ()}, ValueError),
        ({"expected_exceptions": (ValueError, 3)}, TypeError),
        ({"expected_exceptions": "ValueError"}, TypeError),
        ({"fallback": 3}, TypeError),
        ({"clock": 3}, TypeError),
        ({"name": 3}, TypeError),
    ],
)
def test_invalid_arguments(kw, exc):
    with pytest.raises(exc):
        CircuitBreaker(**kw)


def test_defaults_and_repr():
    b = CircuitBreaker(name="redis")
    assert (b.failure_threshold, b.recovery_timeout, b.half_open_max_calls) == (5, 30.0, 1)
    assert b.expected_exceptions == (Exception,)
    assert b.state == CLOSED
    assert "redis" in repr(b) and "closed" in repr(b)
    CircuitBreaker(expected_exceptions=OSError, recovery_timeout=0)  # a single class is accepted


# -- the state machine ----------------------------------------------------------------------------
def test_opens_after_threshold_consecutive_failures(clock):
    b = CircuitBreaker(failure_threshold=3, recovery_timeout=10, clock=clock)
    for _ in range(2):
        with pytest.raises(Boom):
            b.call(boom)
    assert b.call(ok, 7) == 7  # a success resets the consecutive count
    for _ in range(2):
        with pytest.raises(Boom):
            b.call(boom)
    assert b.state == CLOSED
    with pytest.raises(Boom):
        b.call(boom)
    assert b.state == OPEN
    s = b.stats()
    assert s["failures"] == 5 and s["successes"] == 1 and s["opened_count"] == 1
    assert s["consecutive_failures"] == 3


def test_open_rejects_without_calling(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock, name="db")
    trip(b)
    calls = []
    clock.advance(4)
    with pytest.raises(CircuitOpenError) as info:
        b.call(calls.append, 1)
    assert calls == []
    err = info.value
    assert isinstance(err, RuntimeError)
    assert err.state == OPEN and err.name == "db" and err.breaker is b
    assert err.remaining == pytest.approx(6.0)
    assert "db" in str(err) and "6.000" in str(err)
    assert b.remaining == pytest.approx(6.0)
    assert b.stats()["rejected"] == 1


def test_half_open_probe_success_closes(clock):
    b = CircuitBreaker(failure_threshold=2, recovery_timeout=10, clock=clock)
    trip(b)
    clock.advance(9.999)
    assert b.state == OPEN
    clock.advance(0.001)
    assert b.state == HALF_OPEN  # reading the state performs the due transition
    assert b.call(ok, 3) == 3
    assert b.state == CLOSED
    assert b.stats()["consecutive_failures"] == 0
    # a closed breaker needs the full threshold again
    with pytest.raises(Boom):
        b.call(boom)
    assert b.state == CLOSED


def test_half_open_probe_failure_reopens_with_fresh_cooldown(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
    trip(b)
    clock.advance(15)
    with pytest.raises(Boom):
        b.call(boom)
    assert b.state == OPEN
    assert b.remaining == pytest.approx(10.0)
    clock.advance(9)
    with pytest.raises(CircuitOpenError):
        b.call(ok)
    clock.advance(1)
    assert b.call(ok) == 1
    assert b.stats()["opened_count"] == 2


def test_half_open_admits_at_most_max_calls(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=1, half_open_max_calls=2, expected_exceptions=Boom, clock=clock)
    trip(b)
    clock.advance(1)
    assert b.allow() and b.allow()
    assert not b.allow()
    assert b.stats()["half_open_calls"] == 2
    with pytest.raises(CircuitOpenError) as info:
        b.call(ok)
    assert info.value.state == HALF_OPEN and info.value.remaining == 0.0
    b.record_failure(KeyError("not expected"))  # not counted, but gives its slot back
    assert b.state == HALF_OPEN
    assert b.allow()
    b.record_success()
    assert b.state == CLOSED
    assert b.stats()["rejected"] == 2


def test_an_unreported_probe_slot_is_reclaimed_after_recovery_timeout(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=5, expected_exceptions=Boom, clock=clock)
    trip(b)
    clock.advance(5)
    assert b.allow()                    # a probe whose outcome is never reported (its caller died)
    assert not b.allow()                # the only slot is taken ...
    clock.advance(4.9)
    assert not b.allow()                # ... until recovery_timeout has passed since its admission
    assert b.stats()["half_open_calls"] == 1
    clock.advance(0.1)
    assert b.stats()["half_open_calls"] == 0
    assert b.state == HALF_OPEN
    assert b.call(ok) == 1              # the reclaimed slot admits a new probe, which closes it
    assert b.state == CLOSED


def test_a_late_report_of_a_reclaimed_probe_frees_no_other_slot(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=5, expected_exceptions=Boom, clock=clock)
    trip(b)
    clock.advance(5)
    late, _, _ = b._admit()             # probe 1 goes silent
    clock.advance(5)
    second, _, _ = b._admit()           # probe 2 takes the reclaimed slot
    assert second is not None and not b.allow()
    b._settle(late, 0)                  # probe 1 finally reports (neither success nor failure)
    assert not b.allow()                # probe 2 still holds the only slot
    b._settle(second, 1)
    assert b.state == CLOSED


def test_unexpected_exceptions_pass_through_uncounted(clock):
    b = CircuitBreaker(failure_threshold=1, expected_exceptions=(OSError,), clock=clock)

    def bad_value():
        raise ValueError("caller's bug, not an outage")

    for _ in range(5):
        with pytest.raises(ValueError):
            b.call(bad_value)
    with pytest.raises(KeyboardInterrupt):
        b.call(lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert b.state == CLOSED
    assert b.stats()["ignored"] == 6 and b.stats()["failures"] == 0
    with pytest.raises(ConnectionError):  # a subclass of OSError counts
        b.call(lambda: (_ for _ in ()).throw(ConnectionError()))
    assert b.state == OPEN


def test_unexpected_exception_in_half_open_frees_the_probe_slot(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=1, expected_exceptions=OSError, clock=clock)
    b.record_failure()
    clock.advance(1)
    with pytest.raises(ValueError):
        b.call(lambda: int("x"))
    assert b.state == HALF_OPEN
    assert b.call(ok, 2) == 2  # the slot was given back
    assert b.state == CLOSED


def test_record_failure_in_open_state_does_not_extend_cooldown(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
    b.record_failure()
    clock.advance(5)
    b.record_failure()  # a late report
    assert b.remaining == pytest.approx(5.0)
    assert b.stats()["opened_count"] == 1


def test_reset(clock):
    seen = []
    b = CircuitBreaker(failure_threshold=1, clock=clock)
    b.add_listener(lambda br, old, new: seen.append((old, new)))
    trip(b)
    b.reset()
    assert b.state == CLOSED
    assert seen == [(CLOSED, OPEN), (OPEN, CLOSED)]
    b.reset()  # no change, no event
    assert len(seen) == 2
    assert b.stats()["failures"] == 1  # lifetime counters survive reset


# -- late outcomes of calls admitted under an older state ---------------------------------------
def test_stale_outcomes_do_not_flip_the_state(clock):
    b = CircuitBreaker(failure_threshold=2, recovery_timeout=5, clock=clock)
    entered, release = threading.Event(), threading.Event()
    result = {}

    def slow(outcome):
        entered.set()
        assert release.wait(HANG)
        if outcome == "fail":
            raise Boom()
        return outcome

    def run(outcome):
        try:
            result[outcome] = b.call(slow, outcome)
        except Boom:
            result[outcome] = "raised"

    t = threading.Thread(target=run, args=("ok",))
    t.start()
    assert entered.wait(HANG)  # admitted while closed
    trip(b)
    clock.advance(5)
    assert b.state == HALF_OPEN
    release.set()
    t.join(HANG)
    assert result["ok"] == "ok"
    assert b.state == HALF_OPEN  # the success from before the trip does not close it
    assert b.stats()["successes"] == 1

    entered.clear()
    release.clear()
    t = threading.Thread(target=run, args=("fail",))
    t.start()
    assert entered.wait(HANG)  # this one is the half-open probe
    b.record_success()  # ... but something else closes the breaker first
    assert b.state == CLOSED
    release.set()
    t.join(HANG)
    assert result["fail"] == "raised"
    assert b.state == CLOSED and b.stats()["consecutive_failures"] == 0


# -- fallback -------------------------------------------------------------------------------------
def test_fallback_gets_the_same_arguments_only_when_rejected(clock):
    got = []

    def fallback(*args, **kwargs):
        got.append((args, kwargs))
        return "cached"

    b = CircuitBreaker(failure_threshold=1, fallback=fallback, clock=clock)

    @b
    def fetch(key, *, fresh=False):
        raise Boom()

    with pytest.raises(Boom):  # a failing call re-raises; the fallback is not for failures
        fetch("k", fresh=True)
    assert got == []
    assert fetch("k", fresh=True) == "cached"
    assert got == [(("k",), {"fresh": True})]
    assert b.call(boom, 1, 2) == "cached"


# -- decorators -----------------------------------------------------------------------------------
def test_sync_decorator_keeps_metadata(clock):
    b = CircuitBreaker(failure_threshold=2, clock=clock)

    @b
    def add(a, b=2):
        """Adds."""
        return a + b

    assert add(1) == 3 and add(1, b=5) == 6
    assert add.__name__ == "add" and add.__doc__ == "Adds." and add.__wrapped__ is not None
    assert add.breaker is b
    assert b.stats()["successes"] == 2
    with pytest.raises(TypeError):
        b(42)


def test_async_decorator_and_acall(clock):
    async def fallback(x):
        return ("fallback", x)

    b = CircuitBreaker(failure_threshold=2, recovery_timeout=3, fallback=fallback, clock=clock)
    calls = []

    @b
    async def fetch(x):
        calls.append(x)
        await asyncio.sleep(0)
        if x < 0:
            raise Boom()
        return x * 2

    assert asyncio.iscoroutinefunction(fetch) and fetch.__name__ == "fetch"

    async def main():
        assert await fetch(2) == 4
        for _ in range(2):
            with pytest.raises(Boom):
                await fetch(-1)
        assert b.state == OPEN
        assert await fetch(5) == ("fallback", 5)  # awaited fallback, fetch not called
        clock.advance(3)
        assert await fetch(6) == 12
        assert b.state == CLOSED

        async def direct(v):
            return v

        assert await b.acall(direct, 9) == 9

    asyncio.run(main())
    assert calls == [2, -1, -1, 6]


def test_async_cancellation_is_not_a_failure(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=1, clock=clock)

    @b
    async def wait_forever():
        await asyncio.Event().wait()

    async def main():
        task = asyncio.ensure_future(wait_forever())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert b.state == CLOSED and b.stats()["ignored"] == 1


def test_call_rejects_coroutine_functions():
    b = CircuitBreaker()

    async def coro():
        return 1

    with pytest.raises(TypeError, match="acall"):
        b.call(coro)


# -- listeners ------------------------------------------------------------------------------------
def test_listeners_see_every_transition_and_cannot_break_it(clock, caplog):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=1, clock=clock)
    seen = []

    def broken(br, old, new):
        raise RuntimeError("listener bug")

    def reentrant(br, old, new):
        # a listener may look at the breaker: no deadlock (called outside the lock)
        seen.append((old, new, br.stats()["state"]))

    b.add_listener(broken)
    b.add_listener(reentrant)
    with caplog.at_level(logging.ERROR, logger="hotcache.breaker"):
        trip(b)
        clock.advance(1)
        assert b.call(ok) == 1
    assert seen == [(CLOSED, OPEN, OPEN), (OPEN, HALF_OPEN, HALF_OPEN), (HALF_OPEN, CLOSED, CLOSED)]
    assert sum("listener bug" in r.getMessage() or "listener" in r.getMessage() for r in caplog.records) == 3
    b.remove_listener(broken)
    b.remove_listener(reentrant)
    with pytest.raises(ValueError):
        b.remove_listener(reentrant)
    with pytest.raises(TypeError):
        b.add_listener("nope")


# -- threads --------------------------------------------------------------------------------------
def test_half_open_admits_exactly_max_calls_among_16_threads(clock):
    b = CircuitBreaker(failure_threshold=1, recovery_timeout=1, half_open_max_calls=3, clock=clock)
    trip(b)
    clock.advance(1)
    barrier = threading.Barrier(16)
    release = threading.Event()
    inside = []
    outcomes = []
    lock = threading.Lock()

    def probe():
        with lock:
            inside.append(1)
        assert release.wait(HANG)
        return "ok"

    def worker():
        barrier.wait(HANG)
        try:
            r = b.call(probe)
        except CircuitOpenError:
            r = "rejected"
        with lock:
            outcomes.append(r)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    # wait until the 13 rejections are in, then let the 3 probes finish
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        with lock:
            if len(outcomes) == 13:
                break
        time.sleep(0.001)
    assert len(inside) == 3
    release.set()
    for t in threads:
        t.join(HANG)
    assert sorted(outcomes).count("ok") == 3 and outcomes.count("rejected") == 13
    assert b.state == CLOSED
    s = b.stats()
    assert s["rejected"] == 13 and s["half_open_calls"] == 0


LEGAL = {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED), (HALF_OPEN, OPEN)}


def test_16_threads_hammering_keep_the_state_machine_consistent(clock):
    max_probes = 2
    b = CircuitBreaker(
        failure_threshold=3, recovery_timeout=0.05, half_open_max_calls=max_probes, expected_exceptions=Boom, clock=clock
    )
    transitions = []
    tlock = threading.Lock()

    def listener(br, old, new):
        with tlock:
            transitions.append((old, new))

    b.add_listener(listener)
    violations = []
    counts = {"attempts": 0, "admitted": 0, "rejected": 0, "ok": 0, "boom": 0, "other": 0}
    clock_lock = threading.Lock()

    def flaky(rng):
        s = b.stats()
        if s["state"] == HALF_OPEN and s["half_open_calls"] > max_probes:
            violations.append(s)
        r = rng.random()
        if r < 0.45:
            raise Boom()
        if r < 0.5:
            raise KeyError("uncounted")
        return True

    def worker(seed):
        rng = random.Random(seed)
        local = dict.fromkeys(counts, 0)
        for _ in range(400):
            local["attempts"] += 1
            if rng.random() < 0.2:
                with clock_lock:
                    clock.advance(0.01)
            try:
                b.call(flaky, rng)
                local["ok"] += 1
            except Boom:
                local["boom"] += 1
            except KeyError:
                local["other"] += 1
            except CircuitOpenError as exc:
                assert exc.state in (OPEN, HALF_OPEN)
                local["rejected"] += 1
        with tlock:
            for k, v in local.items():
                counts[k] += v

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert not any(t.is_alive() for t in threads)
    assert violations == []
    s = b.stats()
    assert counts["attempts"] == 16 * 400
    assert s["successes"] == counts["ok"]
    assert s["failures"] == counts["boom"]
    assert s["ignored"] == counts["other"]
    assert s["rejected"] == counts["rejected"]
    assert counts["ok"] + counts["boom"] + counts["other"] + counts["rejected"] == counts["attempts"]
    # every notified transition is a legal edge, and their counts agree with each other
    assert set(transitions) <= LEGAL
    opened = sum(1 for t in transitions if t[1] == OPEN)
    assert opened == s["opened_count"] > 0
    assert transitions.count((OPEN, HALF_OPEN)) > 0
    # the transitions form one chain from CLOSED to the final state: count the edges of each kind
    final = s["state"]
    n = transitions.count
    assert n((CLOSED, OPEN)) == 1 + n((HALF_OPEN, CLOSED)) - (final == CLOSED)
    assert n((OPEN, HALF_OPEN)) == opened - (final == OPEN)
    assert n((HALF_OPEN, CLOSED)) + n((HALF_OPEN, OPEN)) == n((OPEN, HALF_OPEN)) - (final == HALF_OPEN)
    assert s["half_open_calls"] == 0  # every admitted probe was settled
