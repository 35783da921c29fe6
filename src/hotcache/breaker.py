"""hotcache.breaker: a thread-safe circuit breaker (closed / open / half-open) for sync and async calls.

Used by the Redis tier to stop waiting on a dead or stalled Redis; usable on any call that can fail.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import os
import threading
import time
import weakref
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Type, TypeVar, Union

__all__ = ["CircuitBreaker", "CircuitOpenError", "CLOSED", "OPEN", "HALF_OPEN"]

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
Listener = Callable[["CircuitBreaker", str, str], Any]
ExcTypes = Union[Type[BaseException], Tuple[Type[BaseException], ...]]

_log = logging.getLogger("hotcache.breaker")

# HOW IT WORKS
#
#            failure_threshold consecutive             recovery_timeout elapsed
#            expected failures                         (checked lazily on the next allow()/state)
#   CLOSED ─────────────────────────────▶ OPEN ─────────────────────────────▶ HALF_OPEN
#     ▲                                    ▲                                      │
#     │                                    └──────── a probe fails ───────────────┤
#     └──────────────────────────────────────────── a probe succeeds ─────────────┘
#
# Every transition bumps a generation number. A call admitted by allow() carries the generation
# it was admitted in; its outcome only moves the state machine if the generation is still
# current. So a slow call admitted while CLOSED that fails after the breaker already re-opened
# (or closed again) is counted in stats() but cannot flip the state a second time, and a late
# success from before the trip cannot close a breaker that a probe is testing.
#
# A half-open probe holds a slot until its outcome is reported. A probe whose caller vanished
# without reporting (a BaseException the caller did not route to record_failure, a cancelled
# task, a bug) would otherwise keep its slot forever and leave the breaker half-open, rejecting
# every call. So each probe slot remembers when it was admitted, and a slot not reported within
# recovery_timeout is reclaimed (its late report, if it ever comes, is counted in stats() but
# frees no other probe's slot).
# All state lives behind one threading.Lock held for a few attribute updates (never across the
# protected call or a listener), so the breaker is safe for threads and for asyncio alike.


class CircuitOpenError(RuntimeError):
    """Raised instead of calling the protected function while the breaker rejects calls.

    ``remaining`` is the seconds left until the breaker will let a probe through (0.0 when it is
    half-open and all probe slots are taken); ``state`` is the state that rejected the call.
    """

    def __init__(self, breaker: "CircuitBreaker", state: str, remaining: float) -> None:
        self.breaker = breaker
        self.name = breaker.name
        self.state = state
        self.remaining = remaining
        label = "circuit %r" % (breaker.name,) if breaker.name is not None else "circuit"
        if state == OPEN:
            msg = "%s is open; next probe in %.3f s" % (label, remaining)
        else:
            msg = "%s is half-open and all %d probe slot(s) are taken" % (label, breaker.half_open_max_calls)
        super().__init__(msg)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if value < minimum:
        raise ValueError("%s must be >= %d, got %d" % (name, minimum, value))
    return value


def _check_exc_types(value: Any) -> Tuple[Type[BaseException], ...]:
    types = value if isinstance(value, tuple) else (value,)
    if not types:
        raise ValueError("expected_exceptions must name at least one exception class")
    for t in types:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            raise TypeError("expected_exceptions must be an exception class or a tuple of them, got %r" % (t,))
    return types


class CircuitBreaker:
    """Stop calling something that keeps failing; try it again after a cooldown.

    * **closed**: calls pass. Each expected failure adds to a consecutive-failure count, each
      success resets it; ``failure_threshold`` consecutive failures open the breaker.
    * **open**: calls are rejected at once (``CircuitOpenError``, or ``fallback(*args, **kwargs)``
      when a fallback is given) until ``recovery_timeout`` seconds have passed on ``clock``.
    * **half_open**: at most ``half_open_max_calls`` concurrent probe calls pass; the others are
      rejected. The first probe success closes the breaker, a probe failure re-opens it (and the
      cooldown starts again).

    Only exceptions that are instances of ``expected_exceptions`` count as failures; any other
    exception (and ``BaseException`` such as ``KeyboardInterrupt`` or ``CancelledError``) passes
    through untouched and counts as neither success nor failure (a half-open probe slot it held
    is given back). ``fallback`` is called only for rejected calls, with the same positional and
    keyword arguments as the protected function; a failing protected call always re-raises its
    own exception. In an async wrapper an awaitable returned by the fallback is awaited.

    Use it as a decorator (``@breaker`` on a sync or ``async def`` function; the variant is
    picked once at decoration time), through ``breaker.call(fn, *args, **kwargs)`` /
    ``await breaker.acall(fn, ...)``, or by hand: ``if breaker.allow(): ...`` followed by exactly
    one ``record_success()`` or ``record_failure()`` (an ``allow()`` that is never settled keeps
    its half-open probe slot until ``recovery_timeout`` has passed; then the slot is reclaimed).

    ``clock`` is any zero-argument callable returning seconds (``time.monotonic`` by default;
    a fake clock in tests). It is read under the breaker's lock, so it must be cheap and must
    not call back into the breaker. Listeners added with ``add_listener(fn)`` are called as
    ``fn(breaker, old_state, new_state)`` after each transition, outside the lock, on the thread
    that caused it; an exception from a listener is logged (logger ``hotcache.breaker``) and
    never reaches the caller or changes the breaker.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        half_open_max_calls: int = 1,
        expected_exceptions: ExcTypes = (Exception,),
        fallback: Optional[Callable[..., Any]] = None,
        clock: Callable[[], float] = time.monotonic,
        name: Optional[str] = None,
    ) -> None:
        self.failure_threshold = _check_int("failure_threshold", failure_threshold, 1)
        if isinstance(recovery_timeout, bool) or not isinstance(recovery_timeout, (int, float)):
            raise TypeError("recovery_timeout must be seconds as int or float, not %s" % type(recovery_timeout).__name__)
        if not (recovery_timeout >= 0) or math.isinf(recovery_timeout):
            raise ValueError("recovery_timeout must be a finite number of seconds >= 0, got %r" % (recovery_timeout,))
        self.recovery_timeout = float(recovery_timeout)
        self.half_open_max_calls = _check_int("half_open_max_calls", half_open_max_calls, 1)
        self.expected_exceptions: Tuple[Type[BaseException], ...] = _check_exc_types(expected_exceptions)
        if fallback is not None and not callable(fallback):
            raise TypeError("fallback must be callable or None")
        if not callable(clock):
            raise TypeError("clock must be a zero-argument callable returning seconds")
        if name is not None and not isinstance(name, str):
            raise TypeError("name must be a str or None")
        self.fallback = fallback
        self.clock = clock
        self.name = name
        self._lock = threading.Lock()
        _breakers.add(self)
        self._listeners: List[Listener] = []
        self._state = CLOSED
        self._gen = 0  # bumped on every transition, see HOW IT WORKS
        self._consecutive = 0
        self._opened_at = 0.0
        self._probes = 0  # half-open probes admitted and not yet settled (== len(_probe_at))
        self._probe_at: Dict[int, float] = {}  # probe id -> admission time, oldest first
        self._probe_ids = 0
        # lifetime counters (monotonic; reset() does not clear them)
        self._successes = 0
        self._failures = 0
        self._rejected = 0
        self._ignored = 0
        self._opened_count = 0

    def __repr__(self) -> str:
        return "<CircuitBreaker%s state=%s failures=%d/%d>" % (
            "" if self.name is None else " %r" % (self.name,),
            self.state,
            self._consecutive,
            self.failure_threshold,
        )

    # -- state machine (all under self._lock; transitions return what to notify) ---------------
    def _transition(self, new: str, events: List[Tuple[str, str]]) -> None:
        old = self._state
        self._state = new
        self._gen += 1
        self._probes = 0
        self._probe_at.clear()
        if new == OPEN:
            self._opened_at = self.clock()
            self._opened_count += 1
        elif new == CLOSED:
            self._consecutive = 0
        events.append((old, new))

    def _tick(self, events: List[Tuple[str, str]]) -> None:
        if self._state == OPEN and self.clock() - self._opened_at >= self.recovery_timeout:
            self._transition(HALF_OPEN, events)

    def _remaining(self) -> float:
        if self._state != OPEN:
            return 0.0
        return max(0.0, self.recovery_timeout - (self.clock() - self._opened_at))

    def _notify(self, events: List[Tuple[str, str]]) -> None:
        for old, new in events:
            for fn in list(self._listeners):
                try:
                    fn(self, old, new)
                except Exception:
                    _log.exception("circuit breaker listener %r raised on %s -> %s", fn, old, new)

    def _reclaim(self) -> None:
        """Free the probe slots not reported within recovery_timeout (lock held)."""
        if not self._probe_at:
            return
        now = self.clock()
        limit = self.recovery_timeout
        for pid, since in list(self._probe_at.items()):
            age = now - since
            if not (age >= limit and age > 0):
                break  # oldest first: the rest are younger
            del self._probe_at[pid]
        self._probes = len(self._probe_at)

    def _release_probe(self, pid: int) -> None:
        """Give back probe slot ``pid`` (-1: the oldest one; lock held)."""
        probe_at = self._probe_at
        if pid < 0:
            if probe_at:
                del probe_at[next(iter(probe_at))]
        else:
            probe_at.pop(pid, None)
        self._probes = len(probe_at)

    def _admit(self) -> Tuple[Optional[Tuple[int, int]], str, float]:
        """Claim permission for one call: ((generation, probe id or 0) or None, state,
        remaining)."""
        events: List[Tuple[str, str]] = []
        with self._lock:
            self._tick(events)
            state = self._state
            if state == HALF_OPEN:
                self._reclaim()
            if state == CLOSED:
                ticket: Optional[Tuple[int, int]] = (self._gen, 0)
            elif state == HALF_OPEN and self._probes < self.half_open_max_calls:
                self._probe_ids += 1
                self._probe_at[self._probe_ids] = self.clock()
                self._probes = len(self._probe_at)
                ticket = (self._gen, self._probe_ids)
            else:
                self._rejected += 1
                ticket = None
            remaining = self._remaining() if ticket is None else 0.0
        if events:
            self._notify(events)
        return ticket, state, remaining

    def _settle(self, ticket: Optional[Tuple[int, int]], outcome: int) -> None:
        """outcome: 1 success, -1 failure, 0 neither. ticket None = the current generation (a
        half-open report made by hand gives back the oldest probe slot)."""
        events: List[Tuple[str, str]] = []
        with self._lock:
            if ticket is None:
                ticket = (self._gen, -1 if self._state == HALF_OPEN else 0)
            gen, probe = ticket
            current = gen == self._gen
            if probe and current:
                self._release_probe(probe)
            if outcome > 0:
                self._successes += 1
                if current:
                    if self._state == CLOSED:
                        self._consecutive = 0
                    elif self._state == HALF_OPEN:
                        self._transition(CLOSED, events)
            elif outcome < 0:
                self._failures += 1
                if current:
                    if self._state == CLOSED:
                        self._consecutive += 1
                        if self._consecutive >= self.failure_threshold:
                            self._transition(OPEN, events)
                    elif self._state == HALF_OPEN:
                        self._transition(OPEN, events)
            else:
                self._ignored += 1
        if events:
            self._notify(events)

    # -- public state API ---------------------------------------------------------------------
    @property
    def state(self) -> str:
        """The current state: ``"closed"``, ``"open"`` or ``"half_open"``.

        Reading it moves an open breaker whose cooldown has passed to half-open (listeners are
        told), exactly as the next call would."""
        events: List[Tuple[str, str]] = []
        with self._lock:
            self._tick(events)
            state = self._state
        if events:
            self._notify(events)
        return state

    @property
    def remaining(self) -> float:
        """Seconds until an open breaker lets a probe through (0.0 unless open)."""
        with self._lock:
            return self._remaining()

    def allow(self) -> bool:
        """Claim permission for one call. True: make the call, then call record_success() or
        record_failure() exactly once. False: the call was rejected (counted in stats)."""
        return self._admit()[0] is not None

    def record_success(self) -> None:
        """Report a successful call: resets the failure count; closes a half-open breaker."""
        self._settle(None, 1)

    def record_failure(self, exc: Optional[BaseException] = None) -> None:
        """Report a failed call. With ``exc`` given, an exception that is not one of
        ``expected_exceptions`` is not counted (it only gives back a half-open probe slot)."""
        if exc is not None and not isinstance(exc, self.expected_exceptions):
            self._settle(None, 0)
        else:
            self._settle(None, -1)

    def reset(self) -> None:
        """Back to closed with no consecutive failures (listeners told if the state changes).
        Lifetime counters in stats() keep counting."""
        events: List[Tuple[str, str]] = []
        with self._lock:
            if self._state != CLOSED:
                self._transition(CLOSED, events)
            self._consecutive = 0
        if events:
            self._notify(events)

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(breaker, old_state, new_state)`` after every state change."""
        if not callable(fn):
            raise TypeError("listener must be callable")
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        """Remove a listener added before; ValueError if it is not registered."""
        with self._lock:
            self._listeners.remove(fn)

    def stats(self) -> Dict[str, Any]:
        """A snapshot: state, consecutive_failures, failure_threshold, successes, failures
        (counted expected failures), ignored (exceptions not counted), rejected, opened_count,
        half_open_calls (probes in flight), remaining (cooldown seconds left), name."""
        events: List[Tuple[str, str]] = []
        with self._lock:
            self._tick(events)
            if self._state == HALF_OPEN:
                self._reclaim()
            snap = {
                "name": self.name,
                "state": self._state,
                "consecutive_failures": self._consecutive,
                "failure_threshold": self.failure_threshold,
                "successes": self._successes,
                "failures": self._failures,
                "ignored": self._ignored,
                "rejected": self._rejected,
                "opened_count": self._opened_count,
                "half_open_calls": self._probes,
                "remaining": self._remaining(),
            }
        if events:
            self._notify(events)
        return snap

    # -- calling through the breaker ----------------------------------------------------------
    def _reject(self, state: str, remaining: float, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        if self.fallback is not None:
            return self.fallback(*args, **kwargs)
        raise CircuitOpenError(self, state, remaining)

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call ``fn(*args, **kwargs)`` through the breaker (sync functions only; see acall)."""
        if inspect.iscoroutinefunction(fn):
            raise TypeError("%r is a coroutine function: use 'await breaker.acall(fn, ...)'" % (fn,))
        ticket, state, remaining = self._admit()
        if ticket is None:
            return self._reject(state, remaining, args, kwargs)  # type: ignore[no-any-return]
        try:
            result = fn(*args, **kwargs)
        except self.expected_exceptions:
            self._settle(ticket, -1)
            raise
        except BaseException:
            self._settle(ticket, 0)
            raise
        self._settle(ticket, 1)
        return result

    async def acall(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """Await ``fn(*args, **kwargs)`` through the breaker; an awaitable fallback result is awaited."""
        ticket, state, remaining = self._admit()
        if ticket is None:
            result = self._reject(state, remaining, args, kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result  # type: ignore[no-any-return]
        try:
            result = await fn(*args, **kwargs)
        except self.expected_exceptions:
            self._settle(ticket, -1)
            raise
        except BaseException:
            self._settle(ticket, 0)
            raise
        self._settle(ticket, 1)
        return result

    def __call__(self, fn: F) -> F:
        """Decorator: ``@breaker`` protects a sync function or an ``async def`` coroutine function.

        The wrapper keeps the function's metadata (functools.wraps) and has ``.breaker``."""
        if not callable(fn):
            raise TypeError("CircuitBreaker decorates callables, got %r" % (fn,))
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self.acall(fn, *args, **kwargs)

            async_wrapper.breaker = self  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        admit, settle, reject = self._admit, self._settle, self._reject

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ticket, state, remaining = admit()
            if ticket is None:
                return reject(state, remaining, args, kwargs)
            try:
                result = fn(*args, **kwargs)
            except self.expected_exceptions:
                settle(ticket, -1)
                raise
            except BaseException:
                settle(ticket, 0)
                raise
            settle(ticket, 1)
            return result

        wrapper.breaker = self  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]


# A forked child starts with one thread: a breaker lock that another parent thread held at fork
# time would never be released there, so every live breaker gets a fresh one.
_breakers: "weakref.WeakSet[CircuitBreaker]" = weakref.WeakSet()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in a forked child
    for b in list(_breakers):
        b._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
