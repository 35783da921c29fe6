"""Refresh-ahead: ``LoadingCache``, a cache that loads its own misses and refreshes read entries early.

Part of ``hotcache.patterns`` (import ``LoadingCache`` from there).

HOW IT WORKS. Values are stored in the underlying cache as they are - no wrapper records, so the
cache's ``getsizeof``/``sizeof``/``on_evict`` and anyone reading the cache directly see the
user's values - with a hard time to live of ``ttl + stale_if_error``. An entry's age is read
back from the cache itself, ``fresh = cache.ttl_left(key) - stale_if_error`` (seconds of
freshness left), so it can never disagree with the cache's own clock and expiry::

    age = ttl - fresh < ttl * refresh_ahead  fresh         return the value
    age >= ttl * refresh_ahead, fresh > 0    refresh-ahead return the value; start one
                                                           background refresh of the key
    fresh <= 0 (still held by the cache)     stale         reload now; if the reload fails,
                                                           return the old value
    absent (or past ttl + stale_if_error)    miss          load now

Loads and refreshes of one key share one :class:`~hotcache._flight.SingleFlight` flight per
LoadingCache, so a reader that finds the entry stale while its refresh runs waits for that
refresh instead of starting a second load. ``_refreshing`` maps a key to a token while its
refresh runs: a second read in the window starts nothing, and an explicit store or delete of
the key marks the token cancelled so a slower refresh never overwrites it. Foreground loads
take the same kind of token (``_loads``: key -> the tokens of its loads running now; sync and
async flights, and those of different event loops, can load one key at once): a ``lc[key] =
v``, ``del``, ``pop``, ``popitem`` or ``clear()`` while a load runs cancels it, and the load
then returns its value to its callers without storing it over the explicit write. Both tables
only hold keys with a load or refresh in flight.

An ``aget`` refresh runs as an asyncio task, held in ``_tasks`` (the loop itself keeps only
weak references to tasks) and, weakly, by its token. A loop closed without cancelling its
tasks (``loop.close()`` without ``asyncio.run``'s cleanup) never runs them again: tasks of
closed loops are dropped from ``_tasks`` whenever a refresh is claimed, and a key whose
refresh token belongs to such a task is claimed afresh (taken over) instead of never being
refreshed again. The dropped task is then garbage; collecting it closes its coroutine, which
unregisters its single-flight entry, so neither the task nor its loop is kept alive.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import math
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import (
    Any, Awaitable, Callable, Dict, Iterator, List, MutableMapping, Optional, Set, Tuple, TypeVar,
    Union,
)

from .._config import parse_ttl
from .._flight import SingleFlight

__all__ = ["LoadingCache"]

K = TypeVar("K")
V = TypeVar("V")

log = logging.getLogger("hotcache.patterns")

_MISSING: Any = object()

# what a lookup found
_FRESH, _WINDOW, _STALE, _ABSENT = range(4)

_shared_executor: Optional[ThreadPoolExecutor] = None
_shared_lock = threading.Lock()


def _default_executor() -> ThreadPoolExecutor:
    """The refresh pool shared by every LoadingCache built without ``executor=`` (4 threads)."""
    global _shared_executor
    with _shared_lock:
        if _shared_executor is None:
            _shared_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hotcache-refresh")
        return _shared_executor


class _Refresh:
    """A running load or background refresh of one key; ``cancelled`` once the key is set or
    deleted (the load must not store then). ``task``: a weak reference to the asyncio task of
    an ``aget`` refresh (None for the others)."""

    __slots__ = ("cancelled", "task")

    def __init__(self) -> None:
        self.cancelled = False
        self.task: Optional["weakref.ref[asyncio.Task[Any]]"] = None

    def abandoned(self) -> bool:
        """An ``aget`` refresh whose task is gone or whose event loop was closed: it will never
        finish (nor release its claim)."""
        if self.task is None:
            return False
        task = self.task()
        return task is None or task.get_loop().is_closed()


class LoadingCache(MutableMapping[K, V]):
    """A cache that loads misses itself, with optional refresh-ahead and stale-if-error.

    ``get(key)`` returns the cached value or calls ``loader(key)`` (the constructor's) or the
    zero-argument ``loader()`` given to ``get``, stores and returns the result. Concurrent loads
    of one key share a single call (threads via ``get``, asyncio tasks via ``aget``); exceptions
    are not cached and reach every waiter. Without any loader, a miss returns ``default``.

    ``ttl`` (seconds) is each loaded value's freshness. ``refresh_ahead=0.8``: a read in the
    last 20 % of an entry's ttl returns the current value at once and starts exactly one
    background refresh (on ``executor``, any object with ``submit(fn)``, by default a shared
    4-thread pool; ``aget`` starts an asyncio task instead). Entries nobody reads are never
    refreshed. A failed refresh keeps the old value until its ttl ends; the error is logged
    and counted. ``stale_if_error=s``: once the ttl is over, a read reloads, and if that reload
    fails the old value is still returned for up to ``s`` more seconds (counted in
    ``stats()["stale_served"]``); after that the error propagates.

    ``cache`` is any hotcache cache (needs ``set(key, value, ttl=)`` and ``ttl_left`` when
    ``ttl`` is given; any mutable mapping otherwise). Entry ages come from that cache's timer:
    inject a fake clock there. ``clock`` times the loads (``stats()["load_seconds"]``; default
    ``time.perf_counter``). Values are stored unwrapped with a cache ttl of
    ``ttl + stale_if_error``.

    Mapping API: ``lc[key]`` is ``get`` with the constructor's loader (KeyError on a miss
    without one); ``lc[key] = v`` stores ``v`` as freshly loaded; ``del``/``pop``/``popitem``/
    ``clear`` drop entries without loading; all of them cancel the store of a load or refresh
    of the key already running (it still returns its value to its callers); ``in``
    means "held and within its ttl"; ``len()`` and iteration cover every entry the cache holds,
    stale ones included; ``items()``/``values()`` read like ``lc[key]``.
    """

    def __init__(self, cache: MutableMapping[K, V], loader: Optional[Callable[[K], V]] = None, *,
                 ttl: Optional[float] = None, refresh_ahead: Optional[float] = None,
                 stale_if_error: Optional[float] = None, executor: Any = None,
                 clock: Optional[Callable[[], float]] = None) -> None:
        if loader is not None and not callable(loader):
            raise TypeError("loader must be callable or None, not %s" % type(loader).__name__)
        ttl = parse_ttl(ttl)
        if refresh_ahead is not None:
            if isinstance(refresh_ahead, bool) or not isinstance(refresh_ahead, (int, float)):
                raise TypeError("refresh_ahead must be a fraction of the ttl, not %s"
                                % type(refresh_ahead).__name__)
            if not 0 < refresh_ahead < 1:
                raise ValueError("refresh_ahead must be between 0 and 1 (exclusive), not %r"
                                 % (refresh_ahead,))
            if ttl is None:
                raise ValueError("refresh_ahead needs a finite ttl=")
        stale = 0.0
        if stale_if_error is not None:
            if isinstance(stale_if_error, bool) or not isinstance(stale_if_error, (int, float)):
                raise TypeError("stale_if_error must be a number of seconds, not %s"
                                % type(stale_if_error).__name__)
            if not 0 <= stale_if_error < math.inf:
                raise ValueError("stale_if_error must be a finite number of seconds >= 0, not %r"
                                 % (stale_if_error,))
            if ttl is None:
                raise ValueError("stale_if_error needs a finite ttl=")
            stale = float(stale_if_error)
        if ttl is not None:
            for method in ("set", "ttl_left"):
                if not callable(getattr(cache, method, None)):
                    raise TypeError("ttl= needs a cache with set(key, value, ttl=) and ttl_left(key) "
                                    "(a hotcache cache), not %s" % type(cache).__name__)
        if executor is not None and not callable(getattr(executor, "submit", None)):
            raise TypeError("executor must have a submit(fn) method, not %s" % type(executor).__name__)
        if clock is not None and not callable(clock):
            raise TypeError("clock must be callable, not %s" % type(clock).__name__)
        self._cache = cache
        self._loader = loader
        self._ttl = ttl
        self._refresh_ahead = refresh_ahead
        self._stale = stale
        self._hard_ttl = None if ttl is None else ttl + stale
        # a read at age >= ttl * refresh_ahead refreshes (age = ttl - fresh: exact at 0.8 * 100)
        self._refresh_age = ttl * refresh_ahead if ttl is not None and refresh_ahead else math.inf
        self._executor = executor
        self._clock = clock or time.perf_counter
        peek = getattr(cache, "peek", None)
        self._peek: Callable[[Any, Any], Any] = peek if callable(peek) else cache.get
        self._flight = SingleFlight()
        self._lock = threading.RLock()  # re-entrant: stores under it may run cache callbacks
        self._refreshing: Dict[Any, _Refresh] = {}
        self._loads: Dict[Any, List[_Refresh]] = {}  # foreground loads running now
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._last_error: Optional[BaseException] = None
        self._counters = {"loads": 0, "load_errors": 0, "refreshes": 0, "refresh_errors": 0,
                          "stale_served": 0}
        self._load_seconds = 0.0

    # -- properties ---------------------------------------------------------------------------

    @property
    def cache(self) -> MutableMapping[K, V]:
        """The underlying cache (it holds the plain values)."""
        return self._cache

    @property
    def ttl(self) -> Optional[float]:
        return self._ttl

    @property
    def refresh_ahead(self) -> Optional[float]:
        return self._refresh_ahead

    @property
    def stale_if_error(self) -> Optional[float]:
        return self._stale if self._ttl is not None and self._stale else None

    @property
    def last_error(self) -> Optional[BaseException]:
        """The most recent exception raised by a load or a refresh (None if none yet)."""
        return self._last_error

    def stats(self) -> Dict[str, Union[int, float]]:
        """loads, load_errors, refreshes (started), refresh_errors, stale_served, refreshing
        (running now), load_seconds (time spent in loaders, by ``clock``)."""
        with self._lock:
            out: Dict[str, Union[int, float]] = dict(self._counters)
            out["refreshing"] = len(self._refreshing)
            out["load_seconds"] = self._load_seconds
            return out

    def __repr__(self) -> str:
        return "%s(%r, ttl=%r, refresh_ahead=%r)" % (type(self).__name__, self._cache, self._ttl,
                                                     self._refresh_ahead)

    # -- reads --------------------------------------------------------------------------------

    # the interface takes a loader second, not a default: deliberately not Mapping.get's signature
    def get(self, key: K, loader: Optional[Callable[[], V]] = None,  # type: ignore[override]
            default: Any = None) -> Any:
        """The value of ``key``, loaded on a miss by ``loader()`` or the constructor's
        ``loader(key)``; ``default`` when there is no loader and no usable value.

        Note the second parameter is a loader, not a default (unlike ``dict.get``); a
        non-callable ``loader`` raises TypeError. Raises what the load raises (see the class
        docstring for refresh-ahead and stale-if-error).
        """
        value = self._get(key, loader)
        return default if value is _MISSING else value

    async def aget(self, key: K, loader: Optional[Callable[[], Union[Awaitable[V], V]]] = None,
                   default: Any = None) -> Any:
        """Async :meth:`get`: loaders may be ``async def`` (awaited) or plain functions;
        concurrent tasks share one load; a refresh-ahead runs as an asyncio task."""
        value, state = self._classify(key, loader)
        if state == _FRESH:
            return value
        fn = self._loader_for(key, loader)
        if state == _WINDOW:
            if fn is not None:
                token = self._claim(key)
                if token is not None:
                    task = asyncio.get_running_loop().create_task(self._arefresh(key, fn, token))
                    token.task = weakref.ref(task)
                    self._tasks.add(task)  # until done, or its loop is closed (see _claim)
                    task.add_done_callback(self._tasks.discard)
            return value
        if fn is None:
            return default
        try:
            return await self._flight.ado(key, partial(self._aload_if_needed, key, fn))
        except Exception:
            if state != _STALE:
                raise
            self._count("stale_served")
            return value

    def __getitem__(self, key: K) -> V:
        value = self._get(key, None)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def peek(self, key: K, default: Any = None) -> Any:
        """The value of ``key`` if held and within its ttl, else ``default``; never loads,
        never refreshes, no cache stats change."""
        value = self._held_fresh(key)
        return default if value is _MISSING else value

    def __contains__(self, key: object) -> bool:
        return self._held_fresh(key) is not _MISSING

    def __iter__(self) -> Iterator[K]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    # -- writes -------------------------------------------------------------------------------

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._cancel(key)
            self._store(key, value)

    def __delitem__(self, key: K) -> None:
        with self._lock:
            self._cancel(key)
            del self._cache[key]

    def pop(self, key: K, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (stale or not) without loading."""
        with self._lock:
            self._cancel(key)
            value = self._cache.pop(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return value

    def popitem(self) -> Tuple[K, V]:
        with self._lock:
            key, value = self._cache.popitem()
            self._cancel(key)
        return key, value

    def clear(self) -> None:
        with self._lock:
            for token in self._refreshing.values():
                token.cancelled = True
            for tokens in self._loads.values():
                for token in tokens:
                    token.cancelled = True
            self._cache.clear()

    # -- internals ----------------------------------------------------------------------------

    def _loader_for(self, key: Any, loader: Any) -> Optional[Callable[[], Any]]:
        if loader is not None:
            return loader  # type: ignore[no-any-return]
        if self._loader is not None:
            return partial(self._loader, key)
        return None

    def _fresh_left(self, key: Any) -> Optional[float]:
        """Seconds of freshness left (> 0; inf without expiry), or None if ``key`` is not held
        or is past its ttl (a stale entry kept for ``stale_if_error``)."""
        if self._ttl is None:
            return math.inf
        try:
            left = self._cache.ttl_left(key)  # type: ignore[attr-defined]
        except KeyError:
            return None
        if left is None:
            return math.inf
        fresh = left - self._stale
        return fresh if fresh > 0 else None

    def _classify(self, key: Any, loader: Any) -> Tuple[Any, int]:
        """(value found, state) for one read: one cache ``get`` and, with a ttl, one
        ``ttl_left``. A non-callable ``loader`` raises TypeError before the cache is read."""
        if loader is not None and not callable(loader):
            raise TypeError("loader must be a zero-argument callable, not %s (use default= "
                            "for a default value)" % type(loader).__name__)
        value = self._cache.get(key, _MISSING)
        if value is _MISSING:
            return value, _ABSENT
        if self._ttl is None:
            return value, _FRESH
        try:
            left = self._cache.ttl_left(key)  # type: ignore[attr-defined]
        except KeyError:  # expired between the two calls
            return _MISSING, _ABSENT
        if left is None:  # stored without expiry behind our back: treat as fresh
            return value, _FRESH
        fresh = left - self._stale
        if fresh > 0:
            return value, (_WINDOW if self._ttl - fresh >= self._refresh_age else _FRESH)
        if loader is None and self._loader is None:
            return _MISSING, _ABSENT  # past its ttl and nothing to reload it with
        return value, _STALE

    def _get(self, key: Any, loader: Any) -> Any:
        value, state = self._classify(key, loader)
        if state == _FRESH:
            return value
        fn = self._loader_for(key, loader)
        if state == _WINDOW:
            if fn is not None:
                self._refresh_in_background(key, fn)
            return value
        if fn is None:
            return _MISSING
        try:
            return self._flight.do(key, partial(self._load_if_needed, key, fn))
        except Exception:
            if state != _STALE:
                raise
            self._count("stale_served")
            return value

    def _held_fresh(self, key: Any) -> Any:
        """The value if held and fresh (the leader's double-check), else _MISSING."""
        value = self._peek(key, _MISSING)
        if value is not _MISSING and self._fresh_left(key) is not None:
            return value
        return _MISSING

    def _load_if_needed(self, key: Any, fn: Callable[[], Any]) -> Any:
        value = self._held_fresh(key)
        if value is not _MISSING:
            return value
        token = self._begin_load(key)
        try:
            started = self._clock()
            try:
                value = fn()
            except Exception as exc:
                self._failed("load_errors", exc, started)
                raise
            self._loaded(key, value, token, started)
        finally:
            self._end_load(key, token)
        return value

    async def _aload_if_needed(self, key: Any, fn: Callable[[], Any]) -> Any:
        value = self._held_fresh(key)
        if value is not _MISSING:
            return value
        token = self._begin_load(key)
        try:
            started = self._clock()
            try:
                value = fn()
                if inspect.isawaitable(value):
                    value = await value
            except Exception as exc:
                self._failed("load_errors", exc, started)
                raise
            self._loaded(key, value, token, started)
        finally:
            self._end_load(key, token)
        return value

    def _begin_load(self, key: Any) -> _Refresh:
        """Register a foreground load of ``key``: explicit writes and deletes cancel it."""
        token = _Refresh()
        with self._lock:
            self._loads.setdefault(key, []).append(token)
        return token

    def _end_load(self, key: Any, token: _Refresh) -> None:
        with self._lock:
            tokens = self._loads.get(key)
            if tokens is not None:
                try:
                    tokens.remove(token)
                except ValueError:
                    pass
                if not tokens:
                    del self._loads[key]

    def _loaded(self, key: Any, value: Any, token: _Refresh, started: float) -> None:
        """Store a loaded value unless ``key`` was written or deleted since the load began
        (the load still returns it to its callers); count the load."""
        with self._lock:
            if not token.cancelled:
                self._store(key, value)
            self._counters["loads"] += 1
            self._load_seconds += self._clock() - started

    def _store(self, key: Any, value: Any) -> None:
        """Store with the hard ttl; a value too large for the cache is not cached (lock held)."""
        cache = self._cache
        try:
            if self._hard_ttl is None:
                cache[key] = value
            else:
                cache.set(key, value, ttl=self._hard_ttl)  # type: ignore[attr-defined]
        except ValueError:
            cache.pop(key, None)  # never leave an older value behind

    def _count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def _failed(self, name: str, exc: BaseException, started: float) -> None:
        with self._lock:
            self._counters[name] += 1
            self._last_error = exc
            self._load_seconds += self._clock() - started

    # -- background refresh -------------------------------------------------------------------

    def _claim(self, key: Any) -> Optional[_Refresh]:
        """Register a refresh of ``key`` unless one is running; None if one is. A refresh whose
        asyncio task can never run again (its loop was closed) does not count: it is taken
        over. Drops every task of a closed loop from ``_tasks`` on the way."""
        with self._lock:
            if self._tasks:
                for task in [t for t in self._tasks if t.get_loop().is_closed()]:
                    self._tasks.discard(task)
            old = self._refreshing.get(key)
            if old is not None:
                if not old.abandoned():
                    return None
                old.cancelled = True  # should its coroutine ever run again, it stores nothing
            token = self._refreshing[key] = _Refresh()
            self._counters["refreshes"] += 1
            return token

    def _release(self, key: Any, token: _Refresh) -> None:
        with self._lock:
            if self._refreshing.get(key) is token:
                del self._refreshing[key]

    def _cancel(self, key: Any) -> None:
        """An explicit write or delete of ``key`` (lock held): running loads and refreshes of
        it must not store their older values over it."""
        token = self._refreshing.get(key)
        if token is not None:
            token.cancelled = True
        for token in self._loads.get(key, ()):
            token.cancelled = True

    def _refresh_in_background(self, key: Any, fn: Callable[[], Any]) -> None:
        token = self._claim(key)
        if token is None:
            return
        try:
            (self._executor or _default_executor()).submit(self._refresh, key, fn, token)
        except Exception as exc:  # e.g. a shut-down executor: the read itself still succeeds
            self._release(key, token)
            with self._lock:
                self._counters["refreshes"] -= 1
            log.warning("hotcache LoadingCache: could not start a refresh of %r: %r", key, exc)

    def _refresh_load(self, key: Any, fn: Callable[[], Any], token: _Refresh) -> Any:
        started = self._clock()
        try:
            value = fn()
        except Exception as exc:
            self._failed("refresh_errors", exc, started)
            raise
        self._refreshed(key, value, token, started)
        return value

    async def _arefresh_load(self, key: Any, fn: Callable[[], Any], token: _Refresh) -> Any:
        started = self._clock()
        try:
            value = fn()
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            self._failed("refresh_errors", exc, started)
            raise
        self._refreshed(key, value, token, started)
        return value

    def _refreshed(self, key: Any, value: Any, token: _Refresh, started: float) -> None:
        with self._lock:
            if not token.cancelled:
                self._store(key, value)
            self._load_seconds += self._clock() - started

    def _refresh(self, key: Any, fn: Callable[[], Any], token: _Refresh) -> None:
        try:
            self._flight.do(key, partial(self._refresh_load, key, fn, token))
        except Exception as exc:
            log.warning("hotcache LoadingCache: background refresh of %r failed: %r", key, exc)
        finally:
            self._release(key, token)

    async def _arefresh(self, key: Any, fn: Callable[[], Any], token: _Refresh) -> None:
        try:
            await self._flight.ado(key, partial(self._arefresh_load, key, fn, token))
        except Exception as exc:
            log.warning("hotcache LoadingCache: background refresh of %r failed: %r", key, exc)
        finally:
            self._release(key, token)
