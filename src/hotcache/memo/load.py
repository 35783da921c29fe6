"""The decorators' miss path: load, store and count a result that was not in the cache.

``_Loader`` (single-flight, ttl=/unless=, storing), ``_Counts`` (a wrapper's counters) and the
lookup helpers every wrapper in ``hotcache.memo`` shares.

HOW IT WORKS. A flight leader re-checks the cache (a flight that ended between our lookup and
our flight may have stored the value: this is what makes "exactly one call per key" hold in
every run), runs the function with no lock held (timed and counted), then stores the result
unless ``unless(result)`` is true, with the per-entry ``ttl`` if any. A ValueError from storing
(value too large) is ignored. Exceptions are never cached.

The sync ``cached`` wrapper (a CachedCall) without ttl=/unless= misses into the native
``FlightMiss`` (hotcache._native.core, call.pxi: the closure below done in C, ~3x fewer
instructions per miss; ``_Loader.counted_miss`` picks it); otherwise, and without the extension,
into ``_Loader.miss_path``'s closure, which is
``SingleFlight.do`` with the uncontended leader inlined: it registers the flight itself (one
``_Call`` allocation, one ``dict.setdefault``, inside its ``try``), calls ``lead`` and ends the
flight with ``_flight._finish`` (again with ``_finish_again`` if an asynchronous exception
interrupts it: see ``hotcache._flight``); a key already in flight (another thread's, or
recursion on this one) goes through ``SingleFlight.do``. Measured (``python benchmarks/decorators.py --quick``, "miss 1
arg", best rounds: every call a miss on a full LRUCache(4096)): 1.46 us per call through
``partial(loader.miss)`` -> ``do`` -> ``partial(lead)`` -> ``_Call.__init__``, 0.99 us this way
(functools.lru_cache: 0.19 us, cachetools.cached: 2.2 us).

Counters (``_Counts``; a CachedCall wrapper's ``hits`` is the native counter): ``hits``,
``misses`` (lookups that found nothing; single-flight waiters included), ``loads`` (function
executions, failed and cancelled ones included), ``load_errors`` (executions that raised or
were cancelled), ``load_seconds`` (wall time in the function). Nothing on a wrapper's miss path
refers back to the wrapper, so dropping a wrapper frees its cache at once (no reference cycle),
which per-instance method caches rely on.
"""
from __future__ import annotations

import collections
import functools
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from .._flight import _ERROR, _OK, _RETRY, SingleFlight, _Call, _finish, _finish_again
from .._spec.call import _name_of, _unhashable, _unhashable_error  # the twin CachedCall's message

try:  # the native single-flight miss of plain ``cached`` wrappers (``_Loader.counted_miss``)
    from .._native.core import FlightMiss as _FlightMiss  # type: ignore[attr-defined]
except ImportError:  # no extension (or an older one): the Python closure of miss_path
    _FlightMiss = None

__all__ = ["CacheInfo", "Miss", "_MISSING", "_Counts", "_Loader", "_acall", "_check_ttl",
           "_lookup", "_make_info", "_name_of", "_perf", "_pop", "_unhashable", "_unhashable_error"]

# cachetools' CacheInfo; public as hotcache.CacheInfo (pickled under that name; also
# hotcache.memo.CacheInfo and, as before, hotcache.decorators.CacheInfo)
CacheInfo = collections.namedtuple("CacheInfo", "hits misses maxsize currsize", module="hotcache")

Miss = Callable[[Any, Tuple[Any, ...], Dict[str, Any]], Any]  # CachedCall's miss(key, args, kwargs)

_MISSING: Any = object()
_perf = time.perf_counter


# -- lookups -----------------------------------------------------------------------------------

def _lookup(cache: Any, key: Any, func: Any) -> Any:
    """``cache[key]``, or _MISSING on KeyError; an unhashable key -> TypeError naming ``func``."""
    try:
        return cache[key]
    except KeyError:
        return _MISSING
    except TypeError as exc:
        if _unhashable(key):
            raise _unhashable_error(func, exc) from None
        raise


_PEEKABLE: Dict[type, bool] = {}  # cache type -> is a hotcache cache (has a stats-neutral peek)


def _is_peekable(cls: type) -> bool:
    found = _PEEKABLE.get(cls)
    if found is None:
        from .._spec.core import Cache

        bases: Tuple[type, ...] = (Cache,)
        try:
            from .._native.core import Core
        except ImportError:
            pass
        else:
            bases += (Core,)
        found = _PEEKABLE[cls] = issubclass(cls, bases)
    return found


def _recheck(cache: Any, key: Any, func: Any) -> Any:
    """A flight leader's second look: ``peek`` (no stats, no use) on hotcache caches."""
    if _PEEKABLE.get(type(cache)) or _is_peekable(type(cache)):
        return cache.peek(key, _MISSING)
    return _lookup(cache, key, func)


def _pop(cache: Any, key: Any, func: Any) -> bool:
    """Drop ``key`` from ``cache``; True if it was there."""
    try:
        del cache[key]
    except KeyError:
        return False
    except TypeError as exc:
        if _unhashable(key):
            raise _unhashable_error(func, exc) from None
        raise
    return True


def _make_info(cache: Any, hits: int, misses: int) -> CacheInfo:
    """cachetools' CacheInfo: maxsize/currsize of a sized cache, else (None, len(cache))."""
    if hasattr(cache, "maxsize") and hasattr(cache, "currsize"):
        return CacheInfo(hits, misses, cache.maxsize, cache.currsize)
    return CacheInfo(hits, misses, None, len(cache))


# -- counters ----------------------------------------------------------------------------------

class _Counts:
    """A wrapper's counters, kept apart from the wrapper so that nothing on its miss path
    refers back to it (no reference cycle: a dropped wrapper frees its cache at once).
    ``receiver`` is the weak reference to the instance of a per-instance method cache."""

    __slots__ = ("hits", "misses", "loads", "load_errors", "load_seconds", "receiver")

    def __init__(self) -> None:
        self.receiver: Any = None
        self.reset()

    def reset(self) -> None:
        self.hits = 0
        self.misses = 0
        self.loads = 0
        self.load_errors = 0
        self.load_seconds = 0.0

    def stats(self, flight: Optional[SingleFlight], hits: Optional[int] = None) -> Dict[str, Any]:
        return {"hits": self.hits if hits is None else hits, "misses": self.misses,
                "loads": self.loads, "load_errors": self.load_errors,
                "load_seconds": self.load_seconds,
                "in_flight": flight.in_flight() if flight is not None else 0}


def _check_ttl(ttl: Any) -> Tuple[Optional[float], Optional[Callable[[Any], Any]]]:
    """(fixed seconds, per-result function): a number is validated now."""
    if ttl is None:
        return None, None
    if callable(ttl):
        return None, ttl
    from .._config import parse_ttl

    return parse_ttl(ttl), None


# -- the miss path -----------------------------------------------------------------------------

class _Loader:
    """Loads, stores and counts a miss; one per wrapper (per descriptor for cachetools-style
    ``cachedmethod``, whose flight keys then include the cache's id).

    ``miss_path``: the sync CachedCall wrapper's miss (see the module docstring). ``load``:
    single-flight (threads) for the Python call paths: the leader re-checks the cache, calls
    ``func`` with no lock held, stores the result; waiters get the same result or exception.
    ``aload``: the same among asyncio tasks. ``store``: ``unless``, per-entry ``ttl``,
    ValueError ignored.
    """

    __slots__ = ("unless", "ttl", "ttl_fn", "plain", "flight", "per_cache")

    def __init__(self, ttl: Any = None, unless: Optional[Callable[[Any], Any]] = None,
                 per_cache: bool = False) -> None:
        self.ttl, self.ttl_fn = _check_ttl(ttl)
        self.unless = unless
        self.plain = self.ttl is None and self.ttl_fn is None and unless is None
        self.flight = SingleFlight()
        self.per_cache = per_cache

    def check_cache(self, cache: Any) -> None:
        """TypeError unless ``cache`` can store a per-entry ttl (when a ttl is configured)."""
        if (self.ttl is not None or self.ttl_fn is not None) and not callable(getattr(cache, "set", None)):
            raise TypeError("ttl= needs a cache with set(key, value, ttl=) (a hotcache cache), not %s"
                            % type(cache).__name__)

    def wanted(self, value: Any) -> bool:
        return self.unless is None or not self.unless(value)

    def store(self, cache: Any, key: Any, value: Any) -> None:
        if not self.wanted(value):
            return
        try:
            if self.ttl_fn is not None:
                seconds = self.ttl_fn(value)
                if seconds is None:
                    cache[key] = value
                elif seconds > 0:
                    cache.set(key, value, ttl=seconds)
                # seconds <= 0: not worth caching
            elif self.ttl is not None:
                cache.set(key, value, ttl=self.ttl)
            else:
                cache[key] = value
        except ValueError:
            pass  # too large for the cache

    def store_first(self, cache: Any, key: Any, value: Any, func: Any) -> Any:
        """cachetools' lock protocol: keep a value another caller stored meanwhile."""
        if self.plain:
            try:
                return cache.setdefault(key, value)
            except ValueError:
                return value
        found = _lookup(cache, key, func)
        if found is not _MISSING:
            return found
        self.store(cache, key, value)
        return value

    def call(self, c: _Counts, func: Callable[..., Any], args: Tuple[Any, ...],
             kwargs: Dict[str, Any]) -> Any:
        start = _perf()
        try:
            return func(*args, **kwargs)
        except BaseException:
            c.load_errors += 1
            raise
        finally:
            c.loads += 1
            c.load_seconds += _perf() - start

    async def acall(self, c: _Counts, func: Callable[..., Any], args: Tuple[Any, ...],
                    kwargs: Dict[str, Any]) -> Any:
        start = _perf()
        try:
            return await func(*args, **kwargs)
        except BaseException:
            c.load_errors += 1
            raise
        finally:
            c.loads += 1
            c.load_seconds += _perf() - start

    def counted_miss(self, func: Callable[..., Any], cache: Any) -> Tuple[Any, Miss]:
        """(counters, miss) for a CachedCall ``cached`` wrapper of ``func`` on ``cache``: the
        native ``FlightMiss`` (both in one object) when the extension has it and this loader is
        plain (no ttl=, unless=), else a ``_Counts`` and ``miss_path``'s closure. Read at each
        decoration: the tests set ``hotcache.memo.load._FlightMiss = None`` to run the closure."""
        if _FlightMiss is not None and self.plain:
            peek = cache.peek if _is_peekable(type(cache)) else None

            def recheck(key: Any) -> Any:
                return peek(key, _MISSING) if peek is not None else _lookup(cache, key, func)

            fm = _FlightMiss(func, cache, self.flight, recheck, _MISSING)
            return fm, fm
        c = _Counts()
        return c, self.miss_path(func, cache, c)

    def miss_path(self, func: Callable[..., Any], cache: Any, c: _Counts) -> Miss:
        """CachedCall's ``miss(key, args, kwargs)`` for a ``cached`` wrapper of ``func`` on
        ``cache``: count the miss, then lead or join the flight for ``key``. The closure holds
        the counters, the cache and this loader, never the wrapper."""
        calls = self.flight._calls
        setdefault = calls.setdefault
        do = self.flight.do
        peek = cache.peek if _is_peekable(type(cache)) else None
        store = None if self.plain else self.store
        perf = _perf
        get_ident = threading.get_ident

        def lead(key: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
            """A flight leader's work: re-check, call (timed, counted), store."""
            value = peek(key, _MISSING) if peek is not None else _lookup(cache, key, func)
            if value is not _MISSING:
                return value
            start = perf()
            try:
                value = func(*args, **kwargs)
            except BaseException:
                c.load_errors += 1
                raise
            finally:
                c.loads += 1
                c.load_seconds += perf() - start
            if store is None:
                try:
                    cache[key] = value
                except ValueError:
                    pass  # too large for the cache
            else:
                store(cache, key, value)
            return value

        def miss(key: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
            c.misses += 1
            call = _Call()  # SingleFlight.do's leader, inlined (see the module docstring)
            call.owner = get_ident()
            call.finished = False
            try:  # registration inside the try: the finally ends whatever became visible
                registered = setdefault(key, call)
                if registered is not call:  # interrupt point: registered
                    # in flight: wait, or recursion
                    return do(key, functools.partial(lead, key, args, kwargs))
                value = lead(key, args, kwargs)
            except Exception as exc:
                call.exc = exc
                call.state = _ERROR
                raise
            except BaseException:
                call.state = _RETRY
                raise
            else:
                call.result = value
                call.state = _OK
                return value
            finally:
                try:
                    _finish(calls, key, call)  # a no-op but for a flight ``call`` registered
                except BaseException:  # an asynchronous exception: finish anyway, re-raise
                    _finish_again(_finish, calls, key, call)
                    raise

        return miss

    def load(self, c: _Counts, func: Callable[..., Any], cache: Any, key: Any,
             args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        """Single-flight load for the Python call paths (the cache may differ per call)."""
        return self.flight.do((id(cache), key) if self.per_cache else key,
                              functools.partial(self.lead, c, func, cache, key, args, kwargs))

    def lead(self, c: _Counts, func: Callable[..., Any], cache: Any, key: Any,
             args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        """A flight leader's work: re-check, call (timed, counted), store."""
        found = _recheck(cache, key, func)
        if found is not _MISSING:
            return found
        value = self.call(c, func, args, kwargs)
        if self.plain:
            try:
                cache[key] = value
            except ValueError:
                pass  # too large for the cache
        else:
            self.store(cache, key, value)
        return value

    async def aload(self, c: _Counts, func: Callable[..., Any], cache: Any, key: Any,
                    args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        async def lead() -> Any:
            found = _recheck(cache, key, func)
            if found is not _MISSING:
                return found
            value = await self.acall(c, func, args, kwargs)
            self.store(cache, key, value)
            return value

        return await self.flight.ado((id(cache), key) if self.per_cache else key, lead)


def _counted_lookup(c: _Counts, cache: Any, key: Any, func: Any) -> Any:
    """``_lookup``, counted in ``c`` as a hit or a miss (the locked branches of _acall; the
    lock-free hit paths keep this inline)."""
    value = _lookup(cache, key, func)
    if value is _MISSING:
        c.misses += 1
    else:
        c.hits += 1
    return value


async def _acall(c: _Counts, loader: _Loader, func: Callable[..., Any], cache: Any, key: Any,
                 lock: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    """One call of an async wrapper: single-flight without a lock; with ``lock`` cachetools'
    lock protocol (a sync lock is held only around the cache operations; an asyncio lock is
    used with ``async with``)."""
    if lock is None:
        value = _lookup(cache, key, func)
        if value is not _MISSING:
            c.hits += 1
            return value
        c.misses += 1
        return await loader.aload(c, func, cache, key, args, kwargs)
    if hasattr(lock, "__aenter__"):
        async with lock:
            value = _counted_lookup(c, cache, key, func)
        if value is not _MISSING:
            return value
        value = await loader.acall(c, func, args, kwargs)
        async with lock:
            return loader.store_first(cache, key, value, func)
    with lock:
        value = _counted_lookup(c, cache, key, func)
    if value is not _MISSING:
        return value
    value = await loader.acall(c, func, args, kwargs)
    with lock:
        return loader.store_first(cache, key, value, func)
