"""The function wrappers ``cached`` and ``lru_cache`` return, one class (or closure) per variant;
``hotcache.memo.decorators`` picks the variant once, at decoration time.

    _CachedFunction[Info]   cached(...)(f), f sync, no lock/condition: a CachedCall subclass. A
                            hit is one native call (key, lookup, count); the miss is
                            ``_Loader.miss_path`` (single-flight load, hotcache.memo.load)
    _LockedFunction[Info]   cached(..., lock=/condition=)(f): cachetools' protocols, exactly
    _LoadingFunction[Info]  cached(..., refresh_ahead=/stale_if_error=): reads through a
                            patterns.LoadingCache
    _async_wrapper          cached(...)(async f): an ``async def`` wrapper that caches the awaited
                            result (never the coroutine), single-flight among tasks
    _async_tiered_wrapper   cached(AsyncTieredCache)(async f): the L1 hit native, the miss
                            single-flight and awaiting Redis, then the function
    _LRUWrapper             lru_cache: CachedCall modes 2/3, functools keys
    _LRUUncached            lru_cache(0): builds no key at all

``_call_classes(base)`` builds the CachedCall-based classes on a CachedCall class, once per base:
``hotcache.memo.decorators`` passes its ``_CallBase`` at decoration time (the tests switch it between
the native type and the pure twin), so no class here names a CachedCall of its own. Their
mixins add attributes and methods, never ``__call__`` (except ``lru_cache(0)``): a hit stays one
native call. ``_PyWrapper`` (the Python call path) also runs the cachetools-style bound methods
of ``hotcache.memo.methods``.

The async wrapper's hit is one ``cache[key]`` in the wrapper's own coroutine (no second
coroutine, no flight): 0.44 us -> 0.21 us per ``await f(k)`` (``python benchmarks/decorators.py
--quick``, "async hit 1 arg"; a hand-written OrderedDict memo: 0.15 us).
"""
from __future__ import annotations

import asyncio
import functools
import threading
import types
from typing import Any, Callable, Dict, Optional

from .. import keys
from .load import (_MISSING, CacheInfo, _acall, _Counts, _Loader, _lookup, _make_info, _perf,
                    _pop, _unhashable, _unhashable_error)

__all__ = ["_FunctionMixin", "_LoadingFunction", "_LoadingFunctionInfo", "_LockedFunction",
           "_LockedFunctionInfo", "_PyInfoMixin", "_PyWrapper", "_async_tiered_wrapper",
           "_async_wrapper", "_call_classes"]

# functools' CacheInfo named tuple, through its public cache_info() (functools._CacheInfo is private)
_LRUInfo = type(functools.lru_cache(maxsize=0)(lambda: None).cache_info())


# -- shared by every function wrapper -------------------------------------------------------

def _sizing_of(cache: Any) -> Any:
    """``cache.sizing()``, or a TypeError saying how to turn the advisor on."""
    while not hasattr(cache, "sizing") and hasattr(cache, "cache"):
        cache = cache.cache         # a LoadingCache wraps the cache
    sizing = getattr(cache, "sizing", None)
    if not callable(sizing):
        raise TypeError("%s has no sizing advisor: decorate with @cached(maxsize=N, sizing=R) or "
                        "give a hotcache cache built with sizing=R" % type(cache).__name__)
    return sizing()


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

    def cache_sizing(self) -> Any:
        """The sizing advisor's report of this function's lookups (``sizing=R``)."""
        return _sizing_of(self.cache)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


# -- cached (sync, no lock) and lru_cache: CachedCall subclasses ------------------------------

class _CachedMixin(_FunctionMixin):
    """``cached`` on a sync function without lock/condition; the base is a CachedCall, so a hit
    never leaves native code (``hits`` is the base's counter; the others live in ``_Counts``).

    Every attribute a wrapper adds is named ``_w_*`` or ``cache_*``: a name such as ``_miss``
    would shadow a slot of the twin CachedCall, and ``update_wrapper`` copies a stacked inner
    wrapper's ``__dict__`` into this one before ``__init__`` sets our own values."""


    def __init__(self, func: Callable[..., Any], cache: Any, key: Callable[..., Any],
                 loader: _Loader) -> None:
        functools.update_wrapper(self, func)  # first: func.__dict__ must not override our state
        counts, miss = loader.counted_miss(func, cache)
        self._w_counts = counts
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


# -- cached with lock=/condition=, and cachetools-style cachedmethod -------------------------

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
                raise _unhashable_error(func, exc) from None
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
    hashkey = keys.hashkey
    c = _Counts()

    if lc is None and lock is None:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            k = (args if not kwargs else hashkey(*args, **kwargs)) if mode0 else key(*args, **kwargs)
            try:
                value = cache[k]
            except KeyError:
                value = _MISSING  # the load runs outside the handler: no KeyError context
            except TypeError as exc:
                if _unhashable(k):
                    raise _unhashable_error(func, exc) from None
                raise
            if value is not _MISSING:
                c.hits += 1
                return value
            c.misses += 1
            return await loader.aload(c, func, cache, k, args, kwargs)

    elif lc is None:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            k = (args if not kwargs else hashkey(*args, **kwargs)) if mode0 else key(*args, **kwargs)
            return await _acall(c, loader, func, cache, k, lock, args, kwargs)

    else:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            k = (args if not kwargs else hashkey(*args, **kwargs)) if mode0 else key(*args, **kwargs)
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
                    raise _unhashable_error(func, exc) from None
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
    wrapper.cache_sizing = lambda: _sizing_of(cache)  # type: ignore[attr-defined]
    wrapper._w_counts = c  # type: ignore[attr-defined]
    wrapper._w_loader = loader  # type: ignore[attr-defined]
    if lc is not None:
        wrapper.loading_cache = lc  # type: ignore[attr-defined]
    if info:
        wrapper.cache_info = lambda: _make_info(cache, c.hits, c.misses)  # type: ignore[attr-defined]
    return wrapper


def _async_tiered_wrapper(func: Callable[..., Any], tiered: Any, key: Callable[..., Any],
                          loader: _Loader, info: bool) -> Any:
    """The ``async def`` wrapper of ``cached`` over an AsyncTieredCache: the hit is the L1's own
    lookup (native, no await); a miss is single-flight per key among tasks, and its leader
    re-checks the L1, awaits Redis (promoting what it finds), and only then awaits the function
    and stores the result in both tiers (``await tiered.set``: per-entry ttl, ``unless``). The
    event loop is never blocked on Redis."""
    mode0 = key is keys.hashkey
    hashkey = keys.hashkey
    l1 = tiered.l1
    peek = l1.peek
    aload = tiered._aload
    aset = tiered.set
    flight = loader.flight
    c = _Counts()

    async def lead(k: Any, args: Any, kwargs: Any) -> Any:
        value = peek(k, _MISSING)  # a flight that ended meanwhile may have stored it
        if value is not _MISSING:
            return value
        value = await aload(k, _MISSING)
        if value is not _MISSING:
            return value
        value = await loader.acall(c, func, args, kwargs)
        if not loader.wanted(value):
            return value
        ttl = loader.ttl
        if loader.ttl_fn is not None:
            ttl = loader.ttl_fn(value)
            if ttl is not None and not ttl > 0:
                return value  # not worth caching
        try:
            await aset(k, value, ttl)
        except ValueError:
            pass  # too large for the L1
        return value

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        k = (args if not kwargs else hashkey(*args, **kwargs)) if mode0 else key(*args, **kwargs)
        try:
            value = l1[k]
        except KeyError:
            value = _MISSING  # the load runs outside the handler: no KeyError context
        except TypeError as exc:
            if _unhashable(k):
                raise _unhashable_error(func, exc) from None
            raise
        if value is not _MISSING:
            c.hits += 1
            return value
        c.misses += 1
        return await flight.ado(k, functools.partial(lead, k, args, kwargs))

    def invalidate(*args: Any, **kwargs: Any) -> bool:
        """Drop the entry ``wrapper(*args, **kwargs)`` would use from the L1 now and from
        Redis through the tier's queue (other processes' L1s too, with invalidation); True if
        the L1 had it."""
        if c.receiver is not None:
            args = (c.receiver(),) + args
        try:
            return bool(tiered.discard(key(*args, **kwargs)))
        except TypeError as exc:
            k = key(*args, **kwargs)
            if _unhashable(k):
                raise _unhashable_error(func, exc) from None
            raise

    def cache_clear() -> None:
        """Clear the L1 and reset the counters (Redis keeps its copies: ``await
        wrapper.cache.clear()`` clears the namespace, in every process)."""
        tiered._clear_l1()
        c.reset()

    def cache_stats() -> Dict[str, Any]:
        """hits, misses, loads, load_errors, load_seconds, in_flight."""
        return c.stats(flight)

    for name in ("cache_info", "cache_parameters"):  # copied from a stacked inner wrapper
        wrapper.__dict__.pop(name, None)
    wrapper.cache = tiered  # type: ignore[attr-defined]
    wrapper.cache_key = key  # type: ignore[attr-defined]
    wrapper.cache_lock = None  # type: ignore[attr-defined]
    wrapper.cache_condition = None  # type: ignore[attr-defined]
    wrapper.invalidate = invalidate  # type: ignore[attr-defined]
    wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
    wrapper.cache_stats = cache_stats  # type: ignore[attr-defined]
    wrapper.cache_sizing = lambda: _sizing_of(l1)  # type: ignore[attr-defined]
    wrapper._w_counts = c  # type: ignore[attr-defined]
    wrapper._w_loader = loader  # type: ignore[attr-defined]
    if info:
        wrapper.cache_info = lambda: _make_info(l1, c.hits, c.misses)  # type: ignore[attr-defined]
    return wrapper
