"""The memoizing decorators: ``cached``, ``cachedmethod`` (cachetools 8 compatible, plus
single-flight, async, ttl=/unless=, per-instance method caches) and ``lru_cache`` (functools').

HOW IT WORKS. Every decorator picks its wrapper variant once, at decoration time:

    cached(...)(f), f sync, no lock/condition   _CachedFunction: a CachedCall subclass. A hit
                                                is one native call (key, lookup, count); the
                                                miss path is Python: single-flight load
    cached(..., lock=/condition=)(f)            _LockedFunction: cachetools' protocols, exactly
    cached(...)(async f)                        an ``async def`` wrapper: caches the awaited
                                                result (never the coroutine), single-flight
                                                among tasks (``SingleFlight.ado``)
    cached(..., refresh_ahead=/stale_if_error=) reads through a patterns.LoadingCache
    cachedmethod(cache_getter, ...)             cachetools' descriptor: a wrapper per instance,
                                                kept in the instance ``__dict__``
    cachedmethod(maxsize=..., ...)              per-instance caches held by the descriptor under
                                                a weak reference to the instance (see below)
    lru_cache(...)                              _LRUWrapper: CachedCall modes 2/3, functools keys
                                                (lru_cache(0): _LRUUncached builds no key at all)

The miss path (``_Loader``) is shared: a flight leader re-checks the cache (a flight that ended
between our lookup and our flight may have stored the value: this is what makes "exactly one
call per key" hold in every run), runs the function with no lock held (timed and counted),
then stores the result unless ``unless(result)`` is true, with the per-entry ``ttl`` if any.
A ValueError from storing (value too large) is ignored. Exceptions are never cached.

Counters (in a ``_Counts`` record; a CachedCall wrapper's ``hits`` is the native counter):
``hits``, ``misses`` (lookups that found nothing; single-flight waiters included), ``loads``
(function executions, failed and cancelled ones included), ``load_errors`` (executions that
raised or were cancelled), ``load_seconds`` (wall time in the function); ``cache_stats()``
returns them with ``in_flight``. ``cache_clear()`` clears the cache and resets the counters.
Nothing on a wrapper's miss path refers back to the wrapper, so dropping a wrapper frees its
cache at once (no reference cycle), which per-instance method caches rely on.

Per-instance method caches (``cachedmethod()`` without a cache getter) do not keep instances
alive and create no reference cycle: the descriptor maps ``id(instance)`` to (weak reference,
wrapper); the wrapper holds its own cache and the plain function, never the instance; the
weak reference's callback drops the entry when the instance dies. An attribute access returns
``MethodType(wrapper, instance)``, so a bound method kept elsewhere keeps its instance alive
exactly like any bound method. Copies and pickles of an instance start with an empty cache.
"""
from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import math
import threading
import time
import types
import weakref
from typing import Any, Callable, Dict, Optional, Tuple

from . import keys
from ._flight import SingleFlight
from ._pure_call import CachedCall as _TwinCall

try:
    from ._core import CachedCall as _NativeCall  # type: ignore[attr-defined]
except ImportError:  # no extension (or an older one): the twin is the hit path
    _NativeCall = None

__all__ = ["CacheInfo", "cached", "cachedmethod", "lru_cache"]

# the CachedCall class wrappers are built on; the tests switch it to run both implementations
_CallBase: type = _NativeCall if _NativeCall is not None else _TwinCall

CacheInfo = collections.namedtuple("CacheInfo", "hits misses maxsize currsize")
_LRUInfo = functools._CacheInfo  # type: ignore[attr-defined]

_MISSING: Any = object()
_UNSET: Any = object()  # "argument not given"
_perf = time.perf_counter
_POLICIES = {"lru": "LRUCache", "lfu": "LFUCache", "fifo": "FIFOCache", "random": "RRCache",
             "rr": "RRCache"}


# -- helpers -----------------------------------------------------------------------------------

def _name_of(func: Any) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


def _unhashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return True
    return False


def _lookup(cache: Any, key: Any, func: Any) -> Any:
    """``cache[key]``, or _MISSING on KeyError; an unhashable key -> TypeError naming ``func``."""
    try:
        return cache[key]
    except KeyError:
        return _MISSING
    except TypeError as exc:
        if _unhashable(key):
            raise TypeError("%s: unhashable argument: %s" % (_name_of(func), exc)) from None
        raise


_PEEKABLE: Dict[type, bool] = {}  # cache type -> is a hotcache cache (has a stats-neutral peek)


def _is_peekable(cls: type) -> bool:
    found = _PEEKABLE.get(cls)
    if found is None:
        from . import _pure

        bases: Tuple[type, ...] = (_pure.Cache,)
        try:
            from ._core import Core
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
            raise TypeError("%s: unhashable argument: %s" % (_name_of(func), exc)) from None
        raise
    return True


def _make_info(cache: Any, hits: int, misses: int) -> CacheInfo:
    """cachetools' CacheInfo: maxsize/currsize of a sized cache, else (None, len(cache))."""
    if hasattr(cache, "maxsize") and hasattr(cache, "currsize"):
        return CacheInfo(hits, misses, cache.maxsize, cache.currsize)
    return CacheInfo(hits, misses, None, len(cache))


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


def _is_async(func: Any) -> bool:
    """``async def`` functions, methods and partials of them, and objects whose ``__call__``
    is one."""
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)
    return not inspect.isroutine(func) and call is not None and inspect.iscoroutinefunction(call)


def _is_bare_function(cache: Any) -> bool:
    """``@cached`` used without arguments: the "cache" is the function itself."""
    return callable(cache) and not isinstance(cache, type) and not hasattr(cache, "__getitem__")


def _check_ttl(ttl: Any) -> Tuple[Optional[float], Optional[Callable[[Any], Any]]]:
    """(fixed seconds, per-result function): a number is validated now."""
    if ttl is None:
        return None, None
    if callable(ttl):
        return None, ttl
    from ._config import parse_ttl

    return parse_ttl(ttl), None


def _build_cache(maxsize: Any, policy: Optional[str], ttl: Optional[float], maxmemory: Any,
                 timer: Any) -> Any:
    """The short form's cache: ``policy`` class with ``maxsize`` (None = unbounded)."""
    import hotcache

    name = _POLICIES.get(policy or "lru")
    if name is None:
        raise ValueError("policy must be one of 'lru', 'lfu', 'fifo', 'random', not %r" % (policy,))
    kwargs: Dict[str, Any] = {}
    if ttl is not None:
        kwargs["ttl"] = ttl
    if maxmemory is not None:
        kwargs["maxmemory"] = maxmemory
    if timer is not None:
        kwargs["timer"] = timer
    return getattr(hotcache, name)(math.inf if maxsize is None else maxsize, **kwargs)


# -- the miss path -----------------------------------------------------------------------------

class _Loader:
    """Loads, stores and counts a miss; one per wrapper (per descriptor for cachetools-style
    ``cachedmethod``, whose flight keys then include the cache's id).

    ``load``: single-flight (threads): the leader re-checks the cache, calls ``func`` with no
    lock held, stores the result; waiters get the same result or exception. ``aload``: the same
    among asyncio tasks. ``store``: ``unless``, per-entry ``ttl``, ValueError ignored.
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
        if self.ttl is None and self.ttl_fn is None and self.unless is None:
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

    def load(self, c: _Counts, func: Callable[..., Any], cache: Any, key: Any,
             args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        return self.flight.do((id(cache), key) if self.per_cache else key,
                              functools.partial(self.lead, c, func, cache, key, args, kwargs))

    def miss(self, func: Callable[..., Any], cache: Any, c: _Counts, key: Any,
             args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        """CachedCall's ``miss`` for ``_CachedFunction`` (bound with functools.partial to the
        counters, never to the wrapper): count, then load through the flight."""
        c.misses += 1
        return self.flight.do(key, functools.partial(self.lead, c, func, cache, key, args, kwargs))

    def lead(self, c: _Counts, func: Callable[..., Any], cache: Any, key: Any,
             args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        """A flight leader's work: re-check, call (timed, counted), store."""
        if _PEEKABLE.get(type(cache)) or _is_peekable(type(cache)):
            found = cache.peek(key, _MISSING)
        else:
            found = _lookup(cache, key, func)
        if found is not _MISSING:
            return found
        start = _perf()
        try:
            value = func(*args, **kwargs)
        except BaseException:
            c.load_errors += 1
            raise
        finally:
            c.loads += 1
            c.load_seconds += _perf() - start
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
            value = _lookup(cache, key, func)
            if value is not _MISSING:
                c.hits += 1
                return value
            c.misses += 1
        value = await loader.acall(c, func, args, kwargs)
        async with lock:
            return loader.store_first(cache, key, value, func)
    with lock:
        value = _lookup(cache, key, func)
        if value is not _MISSING:
            c.hits += 1
            return value
        c.misses += 1
    value = await loader.acall(c, func, args, kwargs)
    with lock:
        return loader.store_first(cache, key, value, func)


# -- cached: the sync single-flight variant (a CachedCall) -------------------------------------

class _FunctionMixin:
    """repr, pickling (by qualified name) and copying (identity) of a function wrapper.

    The mixins below are combined with a CachedCall base (which has the instance ``__dict__``)
    by ``_call_classes``; the attributes they use are declared here for type checkers."""

    _repr_tag = "cached"
    __call__: Callable[..., Any]
    __wrapped__: Any
    cache: Any
    hits: int
    cache_key: Callable[..., Any]
    cache_lock: Any
    cache_condition: Any
    _w_counts: _Counts
    _w_func: Callable[..., Any]
    _w_call: Callable[..., Any]
    _w_loader: _Loader
    _w_maxsize: Optional[int]
    _w_typed: bool

    def __repr__(self) -> str:
        return "<%s %r>" % (self._repr_tag, self.__wrapped__)  # type: ignore[attr-defined]

    def __reduce__(self) -> str:
        return self.__qualname__  # type: ignore[attr-defined, no-any-return]

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


class _CachedMixin(_FunctionMixin):
    """``cached`` on a sync function without lock/condition; the base is a CachedCall, so a hit
    never leaves native code (``hits`` is the base's counter; the others live in ``_Counts``).

    Every attribute a wrapper adds is named ``_w_*`` or ``cache_*``: a name such as ``_miss``
    would shadow a slot of the twin CachedCall, and ``update_wrapper`` copies a stacked inner
    wrapper's ``__dict__`` into this one before ``__init__`` sets our own values."""


    def __init__(self, func: Callable[..., Any], cache: Any, key: Callable[..., Any],
                 loader: _Loader) -> None:
        functools.update_wrapper(self, func)  # first: func.__dict__ must not override our state
        counts = self._w_counts = _Counts()
        miss = functools.partial(loader.miss, func, cache, counts)
        super().__init__(func, cache, miss, key, 0 if key is keys.hashkey else 1)  # type: ignore[call-arg]
        self.cache_key = key
        self.cache_lock = None
        self.cache_condition = None
        self._w_func = func
        self._w_loader = loader

    @property
    def misses(self) -> int:  # type: ignore[override]
        """Lookups that found nothing (single-flight waiters included)."""
        return self._w_counts.misses  # type: ignore[no-any-return]

    @misses.setter
    def misses(self, value: int) -> None:
        self._w_counts.misses = value

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """Drop the entry ``self(*args, **kwargs)`` would use; True if there was one."""
        receiver = self._w_counts.receiver
        if receiver is not None:
            args = (receiver(),) + args
        return _pop(self.cache, self.cache_key(*args, **kwargs), self._w_func)  # type: ignore[attr-defined]

    def cache_clear(self) -> None:
        """Clear the cache and reset the counters."""
        self.cache.clear()  # type: ignore[attr-defined]
        self.hits = 0
        self._w_counts.reset()

    def cache_stats(self) -> Dict[str, Any]:
        """hits, misses, loads, load_errors, load_seconds, in_flight."""
        return self._w_counts.stats(self._w_loader.flight, self.hits)  # type: ignore[attr-defined]


class _InfoMixin:
    cache: Any
    hits: int
    misses: int

    def cache_info(self) -> CacheInfo:
        """(hits, misses, maxsize, currsize), as cachetools reports it."""
        return _make_info(self.cache, self.hits, self.misses)  # type: ignore[attr-defined]


class _LRUMixin(_FunctionMixin):
    """``lru_cache``: CachedCall mode 2/3 does everything on a hit and on a miss."""

    _repr_tag = "lru_cache"

    def __init__(self, func: Callable[..., Any], cache: Any, maxsize: Optional[int], typed: bool) -> None:
        functools.update_wrapper(self, func)
        counts = self._w_counts = _Counts()
        self._w_call = _counted(func, counts)  # lru_cache(0) only; otherwise CachedCall times loads
        super().__init__(func, cache, None, None, 3 if typed else 2)  # type: ignore[call-arg]
        self.__wrapped__ = func
        self._w_maxsize = maxsize
        self._w_typed = typed

    def cache_info(self) -> Any:
        """functools' CacheInfo(hits, misses, maxsize, currsize)."""
        return _LRUInfo(self.hits, self.misses, self._w_maxsize, len(self.cache))  # type: ignore[attr-defined]

    def cache_clear(self) -> None:
        """Clear the cache and its statistics."""
        self.cache.clear()  # type: ignore[attr-defined]
        self.hits = self.misses = self.load_errors = 0
        self.load_seconds = 0.0
        self._w_counts.reset()

    def cache_parameters(self) -> Dict[str, Any]:
        return {"typed": self._w_typed, "maxsize": self._w_maxsize}

    def cache_stats(self) -> Dict[str, Any]:
        """hits, misses, loads, load_errors, load_seconds, in_flight (always 0: no single-flight).
        Every miss is a load; CachedCall times them natively (lru_cache(0): the Python wrapper)."""
        out = self._w_counts.stats(None, self.hits)  # type: ignore[attr-defined]
        out["misses"] = self.misses  # type: ignore[attr-defined]
        if out["loads"] == 0:  # not lru_cache(0): the native counters
            out["loads"] = self.misses  # type: ignore[attr-defined]
            out["load_errors"] = self.load_errors  # type: ignore[attr-defined]
            out["load_seconds"] = self.load_seconds  # type: ignore[attr-defined]
        return out


class _LRUZeroMixin(_LRUMixin):
    """``lru_cache(0)``: like functools, no key is built (unhashable arguments are fine) and
    every call is a counted miss."""


    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        self.misses += 1
        return self._w_call(*args, **kwargs)


def _counted(func: Callable[..., Any], c: _Counts) -> Callable[..., Any]:
    """``func``, timed and counted in ``c`` (it keeps ``func``'s name for error messages)."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        start = _perf()
        try:
            return func(*args, **kwargs)
        except BaseException:
            c.load_errors += 1
            raise
        finally:
            c.loads += 1
            c.load_seconds += _perf() - start

    return call


_CLASSES: Dict[type, Dict[str, type]] = {}


def _call_classes(base: type) -> Dict[str, type]:
    """The CachedCall-based wrapper classes for ``base`` (native or twin), built once."""
    classes = _CLASSES.get(base)
    if classes is None:
        plain = type("_CachedFunction", (_CachedMixin, base), {"__slots__": (), "__module__": __name__})
        info = type("_CachedFunctionInfo", (_InfoMixin, plain), {"__slots__": (), "__module__": __name__})
        lru = type("_LRUWrapper", (_LRUMixin, base), {"__slots__": (), "__module__": __name__})
        lru0 = type("_LRUUncached", (_LRUZeroMixin, base), {"__slots__": (), "__module__": __name__})
        classes = _CLASSES[base] = {"plain": plain, "info": info, "lru": lru, "lru0": lru0}
    return classes


# -- cached with lock=/condition=, and cachetools-style cachedmethod: Python call paths ---------

class _PyWrapper:
    """The Python call path: cachetools' lock and condition protocols, counted exactly as
    cachetools counts them, or (no lock) single-flight on a cache read per call. Subclasses
    provide ``cache``, ``cache_key``, ``cache_lock``, ``cache_condition``."""

    _w_func: Callable[..., Any]
    _w_loader: _Loader
    _w_counts: _Counts
    _w_pending: set
    cache: Any
    cache_key: Callable[..., Any]
    cache_lock: Any
    cache_condition: Any

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        cache = self.cache
        key = self.cache_key(*args, **kwargs)
        lock = self.cache_lock
        func = self._w_func
        loader = self._w_loader
        c = self._w_counts
        if lock is None:
            value = _lookup(cache, key, func)
            if value is not _MISSING:
                c.hits += 1
                return value
            c.misses += 1
            return loader.load(c, func, cache, key, args, kwargs)
        cond = self.cache_condition
        if cond is None:
            with lock:
                value = _lookup(cache, key, func)
                if value is not _MISSING:
                    c.hits += 1
                    return value
                c.misses += 1
            value = loader.call(c, func, args, kwargs)
            with lock:
                return loader.store_first(cache, key, value, func)
        pending = self._w_pending
        with lock:
            while key in pending:
                cond.wait()
            value = _lookup(cache, key, func)
            if value is not _MISSING:
                c.hits += 1
                return value
            pending.add(key)
            c.misses += 1
        try:
            value = loader.call(c, func, args, kwargs)
            with lock:
                loader.store(cache, key, value)
                return value
        finally:
            with lock:
                pending.discard(key)
                cond.notify_all()

    @property
    def hits(self) -> int:
        return self._w_counts.hits

    @property
    def misses(self) -> int:
        return self._w_counts.misses

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """Drop the entry ``self(*args, **kwargs)`` would use; True if there was one."""
        key = self.cache_key(*args, **kwargs)
        lock = self.cache_lock
        if lock is None:
            return _pop(self.cache, key, self._w_func)
        with lock:
            return _pop(self.cache, key, self._w_func)

    def cache_clear(self) -> None:
        """Clear the cache (under the lock, if any) and reset the counters."""
        lock = self.cache_lock
        if lock is None:
            self.cache.clear()
            self._w_counts.reset()
        else:
            with lock:
                self.cache.clear()
                self._w_counts.reset()

    def cache_stats(self) -> Dict[str, Any]:
        """hits, misses, loads, load_errors, load_seconds, in_flight."""
        out = self._w_counts.stats(self._w_loader.flight if self.cache_lock is None else None)
        if self.cache_condition is not None:
            out["in_flight"] = len(self._w_pending)
        return out


class _PyInfoMixin:
    def cache_info(self) -> CacheInfo:
        """(hits, misses, maxsize, currsize), under the lock if any (as cachetools)."""
        lock = self.cache_lock  # type: ignore[attr-defined]
        c = self._w_counts  # type: ignore[attr-defined]
        if lock is None:
            return _make_info(self.cache, c.hits, c.misses)  # type: ignore[attr-defined]
        with lock:
            return _make_info(self.cache, c.hits, c.misses)  # type: ignore[attr-defined]


class _LockedFunction(_FunctionMixin, _PyWrapper):
    """``cached(cache, lock=..., condition=...)`` on a sync function."""

    def __init__(self, func: Callable[..., Any], cache: Any, key: Callable[..., Any], lock: Any,
                 cond: Any, loader: _Loader) -> None:
        functools.update_wrapper(self, func)
        self.cache = cache
        self.cache_key = key
        self.cache_lock = lock
        self.cache_condition = cond
        self._w_func = func
        self._w_loader = loader
        self._w_counts = _Counts()
        self._w_pending = set()

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)


class _LockedFunctionInfo(_PyInfoMixin, _LockedFunction):
    pass


# -- cached with refresh_ahead= / stale_if_error=: through a LoadingCache -----------------------

def _loading_stats(lc: Any, c: _Counts) -> Dict[str, Any]:
    """Counters of a LoadingCache-backed wrapper: hits and misses are the wrapper's; loads,
    load_errors and load_seconds come from the LoadingCache and include background refreshes
    (a refresh that joined a load already running counts as a load)."""
    s = lc.stats()
    out = c.stats(getattr(lc, "_flight", None))
    out.update(loads=s["loads"] + s["load_errors"] + s["refreshes"],
               load_errors=s["load_errors"] + s["refresh_errors"], load_seconds=s["load_seconds"])
    return out


class _LoadingFunction(_FunctionMixin):
    """Reads through a ``hotcache.patterns.LoadingCache``: fresh hits, refresh-ahead in the
    window, stale-if-error. ``misses`` counts the calls that ran the function themselves."""

    def __init__(self, func: Callable[..., Any], lc: Any, key: Callable[..., Any]) -> None:
        functools.update_wrapper(self, func)
        self.cache = lc.cache
        self.loading_cache = lc
        self.cache_key = key
        self.cache_lock = None
        self.cache_condition = None
        self._w_func = func
        self._w_counts = _Counts()

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        key = self.cache_key(*args, **kwargs)
        func = self._w_func
        ran = []
        me = threading.get_ident()

        def load() -> Any:
            if threading.get_ident() == me:  # not a background refresh started by this read
                ran.append(True)
            return func(*args, **kwargs)

        try:
            value = self.loading_cache.get(key, load)
        except TypeError as exc:
            if _unhashable(key):
                raise TypeError("%s: unhashable argument: %s" % (_name_of(func), exc)) from None
            raise
        if ran:
            self._w_counts.misses += 1
        else:
            self._w_counts.hits += 1
        return value

    @property
    def hits(self) -> int:  # type: ignore[override]
        return self._w_counts.hits

    @property
    def misses(self) -> int:  # type: ignore[override]
        return self._w_counts.misses

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """Drop the entry ``self(*args, **kwargs)`` would use; True if there was one."""
        receiver = self._w_counts.receiver
        if receiver is not None:
            args = (receiver(),) + args
        return self.loading_cache.pop(self.cache_key(*args, **kwargs), _MISSING) is not _MISSING

    def cache_clear(self) -> None:
        """Clear the cache and reset the counters."""
        self.loading_cache.clear()
        self._w_counts.reset()

    def cache_stats(self) -> Dict[str, Any]:
        """hits, misses, loads, load_errors, load_seconds (from the LoadingCache: refreshes
        included), in_flight."""
        return _loading_stats(self.loading_cache, self._w_counts)


class _LoadingFunctionInfo(_LoadingFunction):
    def cache_info(self) -> CacheInfo:
        """(hits, misses, maxsize, currsize) of the underlying cache."""
        return _make_info(self.cache, self.hits, self.misses)


def _async_wrapper(func: Callable[..., Any], cache: Any, key: Callable[..., Any], lock: Any,
                   loader: _Loader, info: bool, lc: Any = None) -> Any:
    """The ``async def`` wrapper of ``cached`` (a real coroutine function, so
    ``inspect.iscoroutinefunction`` is true on every Python version). Its closures refer to
    the counters, never to the wrapper itself (no reference cycle)."""
    mode0 = key is keys.hashkey
    c = _Counts()

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        k = (args if not kwargs else keys.hashkey(*args, **kwargs)) if mode0 else key(*args, **kwargs)
        if lc is None:
            return await _acall(c, loader, func, cache, k, lock, args, kwargs)
        ran = []
        me = asyncio.current_task()

        def load() -> Any:
            if asyncio.current_task() is me:  # not a background refresh started by this read
                ran.append(True)
            return func(*args, **kwargs)

        try:
            value = await lc.aget(k, load)
        except TypeError as exc:
            if _unhashable(k):
                raise TypeError("%s: unhashable argument: %s" % (_name_of(func), exc)) from None
            raise
        if ran:
            c.misses += 1
        else:
            c.hits += 1
        return value

    def invalidate(*args: Any, **kwargs: Any) -> bool:
        """Drop the entry ``wrapper(*args, **kwargs)`` would use; True if there was one."""
        if c.receiver is not None:
            args = (c.receiver(),) + args
        k = key(*args, **kwargs)
        if lc is not None:
            return lc.pop(k, _MISSING) is not _MISSING  # type: ignore[no-any-return]
        if lock is None or hasattr(lock, "__aenter__"):
            return _pop(cache, k, func)
        with lock:
            return _pop(cache, k, func)

    def cache_clear() -> None:
        """Clear the cache and reset the counters."""
        (lc if lc is not None else cache).clear()
        c.reset()

    def cache_stats() -> Dict[str, Any]:
        """hits, misses, loads, load_errors, load_seconds, in_flight."""
        if lc is not None:
            return _loading_stats(lc, c)
        return c.stats(loader.flight if lock is None else None)

    for name in ("cache_info", "cache_parameters"):  # copied from a stacked inner wrapper
        wrapper.__dict__.pop(name, None)
    wrapper.cache = cache  # type: ignore[attr-defined]
    wrapper.cache_key = key  # type: ignore[attr-defined]
    wrapper.cache_lock = lock  # type: ignore[attr-defined]
    wrapper.cache_condition = None  # type: ignore[attr-defined]
    wrapper.invalidate = invalidate  # type: ignore[attr-defined]
    wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
    wrapper.cache_stats = cache_stats  # type: ignore[attr-defined]
    wrapper._w_counts = c  # type: ignore[attr-defined]
    wrapper._w_loader = loader  # type: ignore[attr-defined]
    if lc is not None:
        wrapper.loading_cache = lc  # type: ignore[attr-defined]
    if info:
        wrapper.cache_info = lambda: _make_info(cache, c.hits, c.misses)  # type: ignore[attr-defined]
    return wrapper


# -- cached ------------------------------------------------------------------------------------

def cached(cache: Any = _UNSET, key: Callable[..., Any] = keys.hashkey, lock: Any = None,
           condition: Any = None, info: bool = False, *, maxsize: Any = _UNSET, ttl: Any = None,
           policy: Optional[str] = None, maxmemory: Any = None, timer: Any = None,
           unless: Optional[Callable[[Any], Any]] = None, refresh_ahead: Optional[float] = None,
           stale_if_error: Optional[float] = None) -> Any:
    """Decorator: memoize a function's results in ``cache`` (cachetools 8's ``cached``).

    ``cache`` is any mapping (``cache=None`` -> TypeError). ``key(*args, **kwargs)`` builds the
    key (default ``keys.hashkey``). With ``lock=`` and/or ``condition=`` the call follows
    cachetools' protocols exactly; without them the wrapper is thread-safe and single-flight:
    concurrent misses of one key run the function once (the others get its result or its
    exception), with no lock held while it runs. ``info=True`` adds ``cache_info()``.

    Short form: ``cached(maxsize=128, ttl=None, policy="lru"|"lfu"|"fifo"|"random",
    maxmemory=None, timer=None)`` builds a hotcache cache for each function it decorates (as
    ``functools.lru_cache(128)`` does; ``maxsize=None``: unbounded); ``@cached`` and
    ``cached()`` mean an LRU cache of 128 entries. Giving both a cache and any of these raises
    TypeError. Every decorated function has its own single-flight table, also when several
    share one given cache.

    ``ttl``: seconds each result lives, or ``ttl(result)`` -> seconds (None: the cache's
    default; <= 0: not cached); with a given cache, that cache needs ``set(key, value, ttl=)``
    (TypeError now otherwise). ``unless(result)`` true: the result is returned but not cached.
    ``None`` results are cached. ``refresh_ahead`` (a fraction of ``ttl``) and
    ``stale_if_error`` (seconds) read through ``hotcache.patterns.LoadingCache``.

    ``async def`` functions get an async wrapper that caches the awaited result. Static and
    class methods may be decorated in either order. The wrapper has ``cache``, ``cache_key``,
    ``cache_lock``, ``cache_condition``, ``cache_clear()``, ``cache_stats()``,
    ``invalidate(*args, **kwargs)`` (-> bool), ``__wrapped__``; a sync wrapper's repr is
    ``<cached func>`` and it pickles by qualified name. An unhashable argument raises TypeError
    naming the function.
    """
    if cache is None:
        raise TypeError("cache must not be None (give a mapping, or maxsize= for the short form)")
    func = None
    if cache is not _UNSET and _is_bare_function(cache):
        func, cache = cache, _UNSET
    short = maxsize is not _UNSET or policy is not None or maxmemory is not None or timer is not None
    loading = refresh_ahead is not None or stale_if_error is not None
    if loading and (lock is not None or condition is not None):
        raise TypeError("refresh_ahead=/stale_if_error= cannot be combined with lock=/condition=")
    if loading and (unless is not None or callable(ttl)):
        raise TypeError("refresh_ahead=/stale_if_error= need a numeric ttl= and no unless=")
    if cache is _UNSET:
        fixed, _ = _check_ttl(ttl)
        size = 128 if maxsize is _UNSET else maxsize

        def make_cache() -> Any:  # one cache per decorated function, as functools does
            return _build_cache(size, policy, fixed if not loading else None, maxmemory, timer)

        store_ttl = ttl if fixed is None else None  # a number is the cache's default ttl
    elif short:
        raise TypeError("give either a cache or maxsize=/policy=/maxmemory=/timer=, not both")
    else:
        given = cache

        def make_cache() -> Any:
            return given

        store_ttl = ttl
    # validate everything now, at decoration time (a TypeError/ValueError here, not on first use)
    probe = make_cache()
    if loading:
        _loading(probe, ttl, refresh_ahead, stale_if_error)
    else:
        _Loader(store_ttl, unless).check_cache(probe)

    def decorator(func: Any) -> Any:
        c = make_cache()
        lc = _loading(c, ttl, refresh_ahead, stale_if_error) if loading else None
        loader = _Loader(store_ttl, unless)
        for kind in (staticmethod, classmethod):
            if isinstance(func, kind):
                return kind(_wrap(func.__func__, c, key, lock, condition, info, loader, lc))
        return _wrap(func, c, key, lock, condition, info, loader, lc)

    return decorator if func is None else decorator(func)


def _loading(cache: Any, ttl: Any, refresh_ahead: Any, stale_if_error: Any) -> Any:
    from .patterns import LoadingCache

    return LoadingCache(cache, ttl=ttl, refresh_ahead=refresh_ahead, stale_if_error=stale_if_error)


def _wrap(func: Callable[..., Any], cache: Any, key: Callable[..., Any], lock: Any, cond: Any,
          info: bool, loader: _Loader, lc: Any) -> Any:
    """Pick the wrapper variant (once, here)."""
    if not callable(func):
        raise TypeError("cached() needs a callable, not %s" % type(func).__name__)
    if _is_async(func):
        if cond is not None:
            raise TypeError("condition= is not supported for async functions (the async wrapper is "
                            "single-flight without it)")
        return _async_wrapper(func, cache, key, lock, loader, info, lc)
    if lc is not None:
        return (_LoadingFunctionInfo if info else _LoadingFunction)(func, lc, key)
    if lock is None and cond is None:
        return _call_classes(_CallBase)["info" if info else "plain"](func, cache, key, loader)
    cls = _LockedFunctionInfo if info else _LockedFunction
    return cls(func, cache, key, cond if lock is None else lock, cond, loader)


# -- cachedmethod (cachetools 8 form): a descriptor, a wrapper per instance ---------------------

_METHODS_DICT = "__cachetools_cachedmethods"  # cachetools' name: super() wrappers live here


class _MethodDescriptor:
    """``cachedmethod(cache_getter, ...)`` in a class body: cachetools 8's descriptor.

    First instance access builds a wrapper for that instance and stores it in the instance
    ``__dict__`` under the attribute name (later accesses find it there directly); a ``super()``
    access keeps its wrapper in ``__dict__["__cachetools_cachedmethods"]``. Class access returns
    an ``_Unbound`` callable. The descriptor pickles and copies by reference.
    """

    def __init__(self, method: Callable[..., Any], make: Callable[[Any, Any], Any]) -> None:
        self.__owner: Any = None
        self.__attrname: Optional[str] = None
        self.__unbound: Any = None
        self.__make = make  # make(obj, descriptor) -> wrapper

    def __set_name__(self, owner: type, name: str) -> None:
        if self.__attrname is None:
            self.__owner = owner
            self.__attrname = name
        elif name != self.__attrname:
            raise TypeError("Cannot assign the same cachedmethod to two different names (%r and %r)."
                            % (self.__attrname, name))

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        attrname = self.__attrname
        if attrname is None:
            if isinstance(obj, type):  # @classmethod on top (Python < 3.13 calls __get__)
                self.__call__()
            raise TypeError("Cannot use cachedmethod instance without calling __set_name__ on it")
        if obj is None:
            if self.__unbound is None:
                self.__unbound = _Unbound(self)
            return self.__unbound
        for klass in type(obj).__mro__:
            if attrname in klass.__dict__:
                found = klass.__dict__[attrname]
                break
        else:
            found = None  # removed from the class after __set_name__
        if found is self:
            wrapper = self.__make(obj, self)
            try:
                return obj.__dict__.setdefault(attrname, wrapper)
            except (AttributeError, TypeError) as exc:
                raise self.__dict_error(obj, exc) from None
        try:
            wrappers = obj.__dict__.setdefault(_METHODS_DICT, {})
        except (AttributeError, TypeError) as exc:
            raise self.__dict_error(obj, exc) from None
        wrapper = wrappers.get(self)
        if wrapper is None:
            wrapper = wrappers.setdefault(self, self.__make(obj, self))
        return wrapper

    def __reduce__(self) -> Any:
        return (_MethodDescriptor._lookup, (self.__owner, self.__attrname))

    @staticmethod
    def _lookup(owner: type, name: str) -> Any:
        return owner.__dict__[name]

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Cannot call @cachedmethod descriptor directly: @cachedmethod must be the "
                        "outermost decorator, and decorating class methods, static methods or "
                        "properties is not supported (use cachedmethod() without a cache getter "
                        "for per-class caches, or @staticmethod @cached(...))")

    def __dict_error(self, obj: Any, exc: BaseException) -> TypeError:
        if isinstance(exc, AttributeError):
            return TypeError("No '__dict__' attribute on %r instance to cache %r"
                             % (type(obj).__name__, self.__attrname))
        return TypeError("The '__dict__' attribute on %r instance does not support item assignment "
                         "for caching %r" % (type(obj).__name__, self.__attrname))


class _Unbound:
    """Class access to a cachetools-style cached method: call it with the instance first (or
    as the receiver's keyword); binds like a method when aliased in another class."""

    def __init__(self, descriptor: _MethodDescriptor) -> None:
        functools.update_wrapper(self, descriptor.__wrapped__)  # type: ignore[attr-defined]
        self.__descriptor = descriptor
        self.__receiver: Optional[str] = None

    def __reduce__(self) -> Any:
        return (self.__descriptor.__get__, (None,))

    def __repr__(self) -> str:
        return "<cachedmethod %r>" % (self.__wrapped__,)  # type: ignore[attr-defined]

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else self.__descriptor.__get__(obj)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        if args:
            obj, args = args[0], args[1:]
        else:
            obj = self.__pop_receiver(kwargs)
        return self.__descriptor.__get__(obj)(*args, **kwargs)

    def __pop_receiver(self, kwargs: Dict[str, Any]) -> Any:
        if self.__receiver is None:
            self.__receiver = ""
            try:
                first = next(iter(inspect.signature(self).parameters.values()))
            except (ValueError, StopIteration):
                pass
            else:
                if first.kind is first.POSITIONAL_OR_KEYWORD:
                    self.__receiver = first.name
        try:
            return kwargs.pop(self.__receiver)
        except KeyError:
            raise TypeError("Cannot call @cachedmethod through the class without an instance") from None


class _BoundMethod(_PyWrapper):
    """A cachetools-style cached method bound to one instance (kept in its ``__dict__``)."""

    def __init__(self, obj: Any, descriptor: Any, method: Callable[..., Any], cache: Callable[[Any], Any],
                 key: Callable[..., Any], lock: Optional[Callable[[Any], Any]],
                 cond: Optional[Callable[[Any], Any]], loader: _Loader) -> None:
        functools.update_wrapper(self, method)
        self.__obj = obj
        self.__descriptor = descriptor
        self.__cache = cache
        self.__lock = lock
        self.__cond = cond
        self.cache_key = functools.partial(key, obj)  # type: ignore[misc]
        self._w_func = types.MethodType(method, obj)
        self._w_loader = loader
        self._w_counts = _Counts()
        self._w_pending = set()

    def __reduce__(self) -> Any:
        return (self.__descriptor.__get__, (self.__obj,))

    def __repr__(self) -> str:
        return "<cachedmethod %r of %s>" % (self.__wrapped__, object.__repr__(self.__obj))  # type: ignore[attr-defined]

    @property  # type: ignore[override]
    def cache(self) -> Any:
        return self.__cache(self.__obj)

    @property  # type: ignore[override]
    def cache_lock(self) -> Any:
        return None if self.__lock is None else self.__lock(self.__obj)

    @property  # type: ignore[override]
    def cache_condition(self) -> Any:
        return None if self.__cond is None else self.__cond(self.__obj)


class _BoundMethodInfo(_PyInfoMixin, _BoundMethod):
    pass


class _AsyncBoundMethod(_BoundMethod):
    """A cachetools-style cached ``async def`` method bound to one instance: caches the awaited
    result; single-flight without a lock, cachetools' lock protocol with one."""

    async def __call__(self, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        key = self.cache_key(*args, **kwargs)
        return await _acall(self._w_counts, self._w_loader, self._w_func, self.cache, key,
                            self.cache_lock, args, kwargs)


class _AsyncBoundMethodInfo(_PyInfoMixin, _AsyncBoundMethod):
    pass


def _mark_coroutine(cls: type) -> None:
    """Let ``inspect``/``asyncio.iscoroutinefunction`` see the async bound wrappers' instances."""
    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is not None:  # Python >= 3.12: the marker is read from the instance's class too
        cls._is_coroutine_marker = inspect._is_coroutine_mark  # type: ignore[attr-defined]
    import asyncio.coroutines

    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    if marker is not None:
        cls._is_coroutine = marker  # type: ignore[attr-defined]


_mark_coroutine(_AsyncBoundMethod)


# -- cachedmethod (per-instance caches) --------------------------------------------------------

class _PerInstanceMethod:
    """``cachedmethod(maxsize=..., ...)``: each instance (or, for class methods, each class)
    gets its own cache, held here under a weak reference (see the module docstring).

    Class access returns the descriptor itself, callable with the instance first;
    ``cache_clear()`` on it clears every live instance's cache.
    """

    def __init__(self, method: Callable[..., Any], build: Callable[[], Any], is_classmethod: bool) -> None:
        functools.update_wrapper(self, method)
        self.__method = method
        self.__build = build  # build() -> a new `cached` wrapper around method
        self.__classmethod = is_classmethod
        self.__instances: Dict[int, Tuple[Any, Any]] = {}
        self.__lock = threading.Lock()

    def __repr__(self) -> str:
        return "<cachedmethod %r>" % (self.__method,)

    def __reduce__(self) -> str:
        return self.__qualname__  # type: ignore[attr-defined, no-any-return]

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if self.__classmethod:
            obj = objtype if obj is None else type(obj)
        elif obj is None:
            return self
        entry = self.__instances.get(id(obj))
        if entry is None or entry[0]() is not obj:
            wrapper = self.__create(obj)
        else:
            wrapper = entry[1]
        return types.MethodType(wrapper, obj)

    def __call__(self, receiver: Any, /, *args: Any, **kwargs: Any) -> Any:
        """``Class.method(instance, ...)``; also what ``@classmethod`` on top calls."""
        return self.__get__(receiver, type(receiver))(*args, **kwargs)

    def cache_for(self, obj: Any) -> Any:
        """The cache of ``obj`` (created if needed)."""
        return self.__get__(obj, type(obj)).cache

    def cache_clear(self) -> None:
        """Clear the cache of every live instance."""
        for _, wrapper in list(self.__instances.values()):
            wrapper.cache_clear()

    def __create(self, obj: Any) -> Any:
        instances = self.__instances
        with self.__lock:
            entry = instances.get(id(obj))
            if entry is not None and entry[0]() is obj:
                return entry[1]
            ident = id(obj)

            def gone(ref: Any, ident: int = ident) -> None:
                found = instances.get(ident)
                if found is not None and found[0] is ref:
                    del instances[ident]

            try:
                ref = weakref.ref(obj, gone)
            except TypeError:
                raise TypeError("cachedmethod() keeps a cache per %s instance under a weak reference, "
                                "but %r instances are not weak-referenceable (add '__weakref__' to "
                                "__slots__)" % (type(obj).__name__, type(obj).__name__)) from None
            wrapper = self.__build()
            wrapper._w_counts.receiver = weakref.ref(obj)
            instances[ident] = (ref, wrapper)
            return wrapper


def cachedmethod(cache: Any = _UNSET, key: Callable[..., Any] = keys.methodkey, lock: Any = None,
                 condition: Any = None, info: bool = False, *, maxsize: Any = _UNSET, ttl: Any = None,
                 policy: Optional[str] = None, maxmemory: Any = None, timer: Any = None,
                 unless: Optional[Callable[[Any], Any]] = None, refresh_ahead: Optional[float] = None,
                 stale_if_error: Optional[float] = None) -> Any:
    """Decorator for methods. Two forms:

    ``cachedmethod(cache, key=keys.methodkey, lock=None, condition=None, info=False)``:
    cachetools 8. ``cache(self)`` returns the mapping to use (read on every call), ``lock(self)``
    / ``condition(self)`` the lock/condition (cachetools' protocols, exactly). Without them the
    call is single-flight per (cache, key). ``ttl=``/``unless=`` work as in ``cached`` (the
    cache must then have ``set(key, value, ttl=)``, checked when storing).

    ``cachedmethod(maxsize=128, ttl=None, policy="lru", maxmemory=None, timer=None,
    key=keys.methodkey, info=False, unless=None, refresh_ahead=None, stale_if_error=None)``
    (no cache getter): each instance gets its own cache, which never keeps the instance alive
    and dies with it; instances must be weak-referenceable. Stacked on ``@classmethod`` (in
    either order) it keeps one cache per class. ``Class.method.cache_clear()`` clears every
    instance's cache; ``instance.method.cache_clear()`` / ``.invalidate(...)`` / ``.cache_info()``
    act on that instance's cache. ``lock=``/``condition=`` need the first form.

    Write ``@cachedmethod()`` for the defaults: a bare ``@cachedmethod`` cannot be told apart
    from the first form's ``cachedmethod(cache_getter)``.
    """
    if cache is _UNSET:
        if lock is not None or condition is not None:
            raise TypeError("lock=/condition= need a cache getter: cachedmethod(lambda self: ..., lock=...)")
        # validated now; each application builds a new cache (one per instance, below)
        deco = cached(key=key, info=info, maxsize=128 if maxsize is _UNSET else maxsize, ttl=ttl,
                      policy=policy, maxmemory=maxmemory, timer=timer, unless=unless,
                      refresh_ahead=refresh_ahead, stale_if_error=stale_if_error)

        def per_instance(method: Any) -> Any:
            if isinstance(method, staticmethod):
                raise TypeError("a static method has no instance to keep a cache for: use "
                                "@staticmethod @cached(...)")
            is_cm = isinstance(method, classmethod)
            func = method.__func__ if is_cm else method
            return _PerInstanceMethod(func, functools.partial(deco, func), is_cm)

        return per_instance
    if not callable(cache):
        raise TypeError("cache must be callable (a function of the instance returning the mapping)")
    if maxsize is not _UNSET or policy is not None or maxmemory is not None or timer is not None:
        raise TypeError("give either a cache getter or maxsize=/policy=/maxmemory=/timer=, not both")
    if refresh_ahead is not None or stale_if_error is not None:
        raise TypeError("refresh_ahead=/stale_if_error= need the per-instance form: cachedmethod(maxsize=..., ttl=...)")
    loader = _Loader(ttl, unless, per_cache=True)

    def decorator(method: Callable[..., Any]) -> Any:
        is_async = _is_async(method)
        if is_async and condition is not None:
            raise TypeError("condition= is not supported for async methods (the async wrapper is "
                            "single-flight without it)")
        if is_async:
            cls: Any = _AsyncBoundMethodInfo if info else _AsyncBoundMethod
        else:
            cls = _BoundMethodInfo if info else _BoundMethod
        lock_fn = condition if lock is None else lock

        def make(obj: Any, descriptor: Any) -> Any:
            return cls(obj, descriptor, method, cache, key, lock_fn, condition, loader)

        descriptor = _MethodDescriptor(method, make)
        return functools.update_wrapper(descriptor, method)

    return decorator


# -- lru_cache ---------------------------------------------------------------------------------

def lru_cache(maxsize: Any = 128, typed: bool = False) -> Any:
    """``functools.lru_cache`` on a hotcache LRU cache: same keys (keyword order matters, each
    argument hashed once), same ``cache_info()``/``cache_clear()``/``cache_parameters()``, no
    single-flight (concurrent misses each call the function), ``lru_cache(None)`` unbounded,
    ``lru_cache(0)`` never stores, a negative ``maxsize`` is 0. The hit path is native.
    Adds ``cache`` (the hotcache cache) and ``cache_stats()``.
    """
    if isinstance(maxsize, int):
        if maxsize < 0:
            maxsize = 0
    elif callable(maxsize) and isinstance(typed, bool):
        func, maxsize = maxsize, 128
        return _lru_wrapper(func, maxsize, typed)
    elif maxsize is not None:
        raise TypeError("Expected first argument to be an integer, a callable, or None")

    def decorating_function(func: Callable[..., Any]) -> Any:
        return _lru_wrapper(func, maxsize, typed)

    return decorating_function


def _lru_wrapper(func: Callable[..., Any], maxsize: Optional[int], typed: bool) -> Any:
    import hotcache

    cache = hotcache.Cache(math.inf) if maxsize is None else hotcache.LRUCache(maxsize)
    return _call_classes(_CallBase)["lru0" if maxsize == 0 else "lru"](func, cache, maxsize, bool(typed))
