"""Single-flight ("stampede protection"): one execution per key among concurrent callers.

Process-local, for threads (``do``) and asyncio tasks (``ado``); used by ``@cached``
(hotcache.memo), ``hotcache.patterns`` and, below them, the cache-aside functions at the end of
this module (``get_or_set``/``aget_or_set``, public as ``hotcache.patterns.get_or_set`` and as
every cache's ``get_or_set`` method: they live here, in the foundation layer, so that the cache
classes call them without importing a layer above their own).

HOW IT WORKS. A ``SingleFlight`` keeps one table of calls in flight per namespace (sync, and
async per event loop)::

    _calls   {key: _Call}             sync flights
    _acalls  {(loop, key): _ACall}    async flights, one namespace per running event loop
    _Call    a list of the waiters' Events, plus owner (thread id), finished, state, result, exc

The first caller for a key (the *leader*) registers a call with one atomic
``dict.setdefault`` and runs ``fn()``; later callers for the same key (the *waiters*) find the
call and wait until it is finished, then return the leader's result or raise the leader's
exception (the very same object). The leader unregisters the call *before* it signals, so a
caller arriving after the outcome starts a fresh flight: results and exceptions are never
cached here (caching is the caller's business).

The hand-off takes no lock. A waiter appends an Event to the call (a list) and then reads
``finished``; the leader sets ``finished`` and then reads the list. Whichever order the two
interleave in, either the waiter sees ``finished`` (and reads the outcome at once) or the leader
sees the waiter's append and sets ``call[0]``, the Event every waiter of the call waits on
(this needs only that each list append and attribute store is atomic and seen in program order,
which the GIL, and free-threaded CPython's per-object locks, provide). An uncontended flight therefore allocates no Event and touches no lock, and no user code ever
runs under a lock here: the table operations (which may call a key's ``__hash__``/``__eq__``)
are single ``dict`` calls, so a re-entrant ``__eq__`` cannot deadlock.

Rules, and why:

* No lock is held while ``fn()`` runs, so different keys never wait on each other.
* A call for a key that the *current thread* (or, for ``ado``, the current task) is already
  leading runs ``fn()`` directly instead of waiting on itself: recursion never deadlocks.
* A leader that ends with a ``BaseException`` that is not an ``Exception``
  (``KeyboardInterrupt``, ``SystemExit``, ``asyncio.CancelledError``...) re-raises it, but its
  waiters do not inherit it: they retry, and one of them becomes the new leader. This is what
  keeps waiters from being wedged (or spuriously cancelled) when the leader task is cancelled.
* Async waiters wait on the leader's future through ``asyncio.shield``: a cancelled waiter
  stops waiting without cancelling the flight. All tasks of one flight share one event loop,
  so the future is made eagerly and needs no handshake.
* Asynchronous exceptions (a signal handler's ``KeyboardInterrupt``, an exception raised from
  ``SIGALRM``) can arrive at any call or loop jump of the leader. The leader registers its
  flight inside its ``try``, so its ``finally`` always runs once the flight is visible; the
  ``finally`` ends only the flight it registered (``calls.get(key) is call``). Ending a flight
  is idempotent (``_finish``/``_afinish``): if an exception interrupts it, ``_finish_again``
  runs it again to the end and the first exception is then re-raised, so waiters are woken and
  the key is unregistered whatever arrives. (Only a second asynchronous exception landing on
  the entry of that recovery call itself, nanoseconds after the first, can still escape: pure
  Python cannot close that last window.) The places that matter carry a comment
  ``# interrupt point: NAME`` (``registered``: the first line run once the flight is visible;
  ``unregistered``: the step after the flight left the table, before its waiters are woken):
  the tests raise an asynchronous exception as such a line starts (a line-trace event, the same
  on every CPython version), so they hit these points whatever bytecode the compiler emits.
* An async flight records its leader task by ``id()`` only (for the recursion check): a
  leader task abandoned on an event loop that was closed without cancelling it is collected
  like any garbage, and closing its coroutine runs the ``finally`` that unregisters the flight,
  instead of the table keeping the task and its loop alive forever.
"""
from __future__ import annotations

import asyncio
import inspect
import threading
from typing import (
    Any, Awaitable, Callable, Dict, Hashable, MutableMapping, Optional, Tuple, TypeVar, Union,
)

from ._config import parse_ttl

__all__ = ["SingleFlight", "aget_or_set", "get_or_set"]

R = TypeVar("R")

# outcome of a flight
_PENDING = 0
_OK = 1
_ERROR = 2
_RETRY = 3  # the leader died of a non-Exception BaseException: waiters try again


class _Call(list["threading.Event"]):
    """One synchronous flight. The list itself holds the waiters' Events (appended by the
    waiters; all of them wait on the first); ``owner`` is the leader's thread id. ``state`` is
    set once the outcome is known, ``result`` only in state _OK, ``exc`` only in state _ERROR.

    A list subclass with no ``__init__``, so that registering an uncontended flight costs one
    C-level allocation (a third of a Python ``__init__``): make one as ``call = _Call();
    call.owner = me; call.finished = False`` (``SingleFlight.do``; the decorators' inlined
    leader in ``hotcache.memo.load``), end it with ``_finish``."""

    __slots__ = ("owner", "finished", "state", "result", "exc")
    owner: int
    finished: bool
    state: int
    result: Any
    exc: BaseException

    @property
    def done(self) -> Optional[threading.Event]:
        """The Event the waiters wait on (None until the first waiter arrives)."""
        return self[0] if self else None


def _finish(calls: Dict[Hashable, _Call], key: Hashable, call: _Call) -> None:
    """The leader's last step, after it stored the outcome in ``call`` (``state`` and
    ``result``/``exc``): unregister the flight (only if ``call`` is the one registered), then
    mark it finished, then wake the waiters, in this order (see HOW IT WORKS).

    Idempotent: running it again after an interruption finishes what is left (a flight that
    was never registered is left alone in the table). Never raises (unless ``key``'s
    ``__eq__`` does, or an asynchronous exception arrives: see ``_finish_again``)."""
    if calls.get(key) is call:  # only the leader removes its call
        del calls[key]
    call.finished = True  # interrupt point: unregistered
    if call:
        call[0].set()


_FINISH_ATTEMPTS = 100  # bounds _finish_again when finishing fails for a reason that repeats


def _finish_again(finish: Callable[[Any, Any, Any], None], calls: Any, key: Any, call: Any) -> None:
    """``finish(calls, key, call)`` (``_finish`` or ``_afinish``) was interrupted by an
    exception: run it again until one run completes. The caller re-raises the first exception
    (its ``except BaseException: _finish_again(...); raise``). Never raises; gives up after
    ``_FINISH_ATTEMPTS`` failed runs (an exception that is not asynchronous, e.g. from a
    key's ``__eq__``, would fail every run)."""
    for _ in range(_FINISH_ATTEMPTS):
        try:
            finish(calls, key, call)
            return
        except BaseException:
            pass


class _ACall:
    """One asynchronous flight: the leader task's id, a future set when done, the outcome.

    The id is unambiguous while the flight is registered: the leader's ``ado`` frame refers
    to its task, so the task outlives the ``finally`` that unregisters the flight (even when a
    garbage-collected, abandoned task's coroutine is closed, finalizers run before any memory
    is freed). A weak reference would cost 100 ns per async miss (measured), the id 30 ns."""

    __slots__ = ("owner", "done", "state", "result", "exc")

    def __init__(self, owner: Optional[int], done: "asyncio.Future[None]") -> None:
        self.owner = owner  # id() of the leader task: the flight never keeps its task alive
        self.done = done
        self.state = _PENDING
        self.result: Any = None
        self.exc: Optional[BaseException] = None


def _afinish(calls: Dict[Any, _ACall], fkey: Any, call: _ACall) -> None:
    """``_finish`` of an async flight: unregister it (if registered), then resolve its future.
    Idempotent. A future whose event loop was closed meanwhile cannot schedule its waiters'
    callbacks: they can never run anyway, the error is ignored."""
    if calls.get(fkey) is call:
        del calls[fkey]
    done = call.done
    if not done.done():
        try:
            done.set_result(None)
        except RuntimeError:
            if not done.get_loop().is_closed():
                raise


def _closed_loop_error(exc: BaseException, call: _ACall) -> bool:
    """``exc`` is the RuntimeError of resolving ``call.done`` after its loop was closed."""
    return isinstance(exc, RuntimeError) and call.done.get_loop().is_closed()


def _outcome(call: Any) -> Any:
    """The leader's result, its exception raised, or _RETRY (also for a leader interrupted
    before it could record any outcome)."""
    state = getattr(call, "state", _RETRY)
    if state == _OK:
        return call.result
    if state == _ERROR:
        raise call.exc
    return _RETRY


class SingleFlight:
    """Run a function at most once at a time per key; concurrent callers share its outcome.

    ``do(key, fn)`` for threads, ``await ado(key, fn)`` for asyncio tasks (separate
    namespaces; async flights are also separate per event loop). ``key`` is any hashable.
    Exceptions raised by ``fn`` reach the leader and every waiter of that flight, and are
    never remembered after it.
    """

    __slots__ = ("_calls", "_acalls", "__weakref__")

    def __init__(self) -> None:
        self._calls: Dict[Hashable, _Call] = {}
        self._acalls: Dict[Tuple[asyncio.AbstractEventLoop, Hashable], _ACall] = {}

    def __repr__(self) -> str:
        return "<%s in_flight=%d>" % (type(self).__name__, self.in_flight())

    def in_flight(self) -> int:
        """Number of flights (sync and async) currently running."""
        return len(self._calls) + len(self._acalls)

    # -- threads ---------------------------------------------------------------------------

    def do(self, key: Hashable, fn: Callable[[], R]) -> R:
        """Return ``fn()``, running it only if no other thread is already running it for
        ``key``; otherwise wait for that run and return its result (or raise its exception).

        Raises whatever ``fn`` raised (waiters: the same exception object), or TypeError if
        ``key`` is unhashable. The calling thread may be interrupted while waiting; the flight
        itself is unaffected.
        """
        me = threading.get_ident()
        calls = self._calls
        while True:
            new = _Call()
            new.owner = me
            new.finished = False
            try:  # registration inside the try: the finally ends whatever became visible
                call = calls.setdefault(key, new)
                if call is new:  # lead; interrupt point: registered
                    result = fn()
                    new.result = result
                    new.state = _OK
                    return result
            except Exception as exc:
                new.exc = exc
                new.state = _ERROR
                raise
            except BaseException:
                new.state = _RETRY
                raise
            finally:
                try:
                    _finish(calls, key, new)  # a no-op but for a flight ``new`` registered
                except BaseException:
                    _finish_again(_finish, calls, key, new)
                    raise
            if call.owner == me:
                return fn()  # recursion on the leader's thread
            call.append(threading.Event())
            if not call.finished:  # else the outcome is there already
                call[0].wait()
            outcome = _outcome(call)
            if outcome is not _RETRY:
                return outcome  # type: ignore[no-any-return]
            # the leader was interrupted: compete to lead a new flight

    # -- asyncio ---------------------------------------------------------------------------

    async def ado(self, key: Hashable, fn: Callable[[], Union[Awaitable[R], R]]) -> R:
        """Async twin of :meth:`do`: ``fn()`` is awaited if it returns an awaitable.

        Flights are per running event loop. If the leader task is cancelled it re-raises
        ``CancelledError`` and its waiters retry (one becomes the new leader); a cancelled
        waiter leaves without disturbing the flight.
        """
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        fkey = (loop, key)
        calls = self._acalls
        while True:
            call = calls.get(fkey)
            if call is None:
                new = _ACall(None if task is None else id(task), loop.create_future())
                try:  # registration inside the try: the finally ends whatever became visible
                    call = calls.setdefault(fkey, new)
                    if call is new:  # lead; interrupt point: registered
                        result = fn()
                        if inspect.isawaitable(result):
                            result = await result
                        new.result = result
                        new.state = _OK
                        return result  # type: ignore[return-value]
                except Exception as exc:
                    new.exc = exc
                    new.state = _ERROR
                    raise
                except BaseException:
                    new.state = _RETRY
                    raise
                finally:
                    try:  # _afinish inlined (measured: 30 ns of a 3.9 us async miss)
                        if calls.get(fkey) is new:  # only a flight ``new`` registered
                            del calls[fkey]
                        if not new.done.done():
                            new.done.set_result(None)  # interrupt point: unregistered
                    except BaseException as exc:
                        _finish_again(_afinish, calls, fkey, new)
                        if not _closed_loop_error(exc, new):
                            raise
            if task is not None and call.owner == id(task):
                result = fn()  # recursion in the leader's task
                if inspect.isawaitable(result):
                    result = await result
                return result  # type: ignore[return-value]
            await asyncio.shield(call.done)
            outcome = _outcome(call)
            if outcome is not _RETRY:
                return outcome  # type: ignore[no-any-return]
            # the leader was cancelled or interrupted: compete to lead a new flight


# -- cache-aside ---------------------------------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")
_MISSING: Any = object()  # get_or_set's "not in the cache"

# one flight table for every cache's get_or_set: keys are (id(cache), key) and exist only while
# loading (the running leader holds the cache, so its id cannot be reused meanwhile)
_ASIDE = SingleFlight()


def _peek(cache: Any) -> Callable[[Any, Any], Any]:
    """The cheapest stats-neutral lookup the cache offers (hotcache's ``peek``, else ``get``)."""
    peek = getattr(cache, "peek", None)
    return peek if callable(peek) else cache.get  # type: ignore[no-any-return]


def _check_ttl(cache: Any, ttl: Any) -> Optional[float]:
    """Validate ``ttl`` before any load runs: a bad ttl must not be mistaken for a store that
    did not fit (both raise ValueError from the cache)."""
    if ttl is None:
        return None
    seconds = parse_ttl(ttl)
    if not callable(getattr(cache, "set", None)):
        raise TypeError("ttl= needs a cache with set(key, value, ttl=) (a hotcache cache), not %s"
                        % type(cache).__name__)
    return seconds


def _store(cache: Any, key: Any, value: Any, ttl: Any) -> None:
    """Store ``value``; a value too large for the cache (ValueError) is simply not cached."""
    try:
        if ttl is None:
            cache[key] = value
        else:
            cache.set(key, value, ttl=ttl)
    except ValueError:
        pass


def get_or_set(cache: MutableMapping[K, V], key: K, loader: Callable[[], V],
               ttl: Optional[float] = None) -> V:
    """Cache-aside: return ``cache[key]``, or load it with ``loader()``, store it and return it.

    A hit is one ``cache.get`` and touches no lock. On a miss, concurrent callers for the same
    ``(cache, key)`` (threads) share one ``loader()`` call: the first one runs it with no lock
    held, the others wait and get the same value, or the same exception object. Exceptions are
    not cached. Different keys never wait on each other. ``ttl`` (seconds) is the stored entry's
    own time to live (``cache.set(key, value, ttl=ttl)``); None stores with ``cache[key] = value``
    (the cache's default ttl, if any). A value too large for the cache is returned uncached.
    ``None`` is a value like any other and is cached.

    Raises TypeError for an unhashable key (from the cache), ValueError/TypeError for a bad
    ``ttl`` (before loading), and whatever ``loader`` raises.
    """
    value = cache.get(key, _MISSING)
    if value is not _MISSING:
        return value
    ttl = _check_ttl(cache, ttl)
    peek = _peek(cache)

    def load() -> V:
        # double-check as leader: a flight that finished between our miss and now stored it
        found = peek(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        loaded = loader()
        _store(cache, key, loaded, ttl)
        return loaded

    return _ASIDE.do((id(cache), key), load)


async def aget_or_set(cache: MutableMapping[K, V], key: K,
                      loader: Callable[[], Union[Awaitable[V], V]],
                      ttl: Optional[float] = None) -> V:
    """Async cache-aside: like :func:`get_or_set`, shared among asyncio tasks of one event loop.

    ``loader`` may be an ``async def`` function (awaited) or a plain function (called on the
    event loop thread: wrap blocking I/O in ``asyncio.to_thread`` yourself). If the leading task
    is cancelled, one of its waiters takes over the load; the others are not cancelled.
    """
    value = cache.get(key, _MISSING)
    if value is not _MISSING:
        return value
    ttl = _check_ttl(cache, ttl)
    peek = _peek(cache)

    async def load() -> V:
        found = peek(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        loaded = loader()
        if inspect.isawaitable(loaded):
            loaded = await loaded  # type: ignore[misc]
        _store(cache, key, loaded, ttl)
        return loaded  # type: ignore[return-value]

    return await _ASIDE.ado((id(cache), key), load)
