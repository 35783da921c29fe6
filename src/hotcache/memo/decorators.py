"""The memoizing decorators: ``cached``, ``cachedmethod`` (cachetools 8 compatible, plus
single-flight, async, ttl=/unless=, per-instance method caches) and ``lru_cache`` (functools').

HOW IT WORKS. Every decorator picks its wrapper variant once, at decoration time (``_wrap``,
``cachedmethod``, ``_lru_wrapper`` below); the variants live in private modules:

    cached(...)(f), f sync, no lock/condition   memo/wrappers.py: a CachedCall subclass. A hit
                                                is one native call (key, lookup, count); the
                                                miss path is Python: single-flight load
    cached(..., lock=/condition=)(f)            memo/wrappers.py: cachetools' protocols, exactly
    cached(...)(async f)                        memo/wrappers.py: an ``async def`` wrapper,
                                                caches the awaited result (never the coroutine),
                                                single-flight among tasks (``SingleFlight.ado``)
    cached(AsyncTieredCache)(async f),          memo/wrappers.py: the same with a native L1
    cached(..., tier=AsyncRedisTier)(async f)   hit, and a miss that awaits Redis, then f
    cached(..., refresh_ahead=/stale_if_error=) memo/wrappers.py: reads through a LoadingCache
    cachedmethod(cache_getter, ...)             memo/methods.py:  cachetools' descriptor, a
                                                wrapper per instance in the instance ``__dict__``
    cachedmethod(maxsize=..., ...)              memo/methods.py:  per-instance caches kept in
                                                the instance ``__dict__`` (weakly owned)
    lru_cache(...)                              memo/wrappers.py: CachedCall modes 2/3,
                                                functools keys (lru_cache(0): no key at all)

The miss path, shared by all of them, is ``hotcache.memo.load._Loader``: a flight leader re-checks
the cache, runs the function with no lock held (timed and counted), then stores the result
unless ``unless(result)`` is true, with the per-entry ``ttl`` if any; exceptions are never
cached. Counters: ``hits``, ``misses``, ``loads``, ``load_errors``, ``load_seconds``;
``cache_stats()`` returns them with ``in_flight``; ``cache_clear()`` clears the cache and
resets them.

``_CallBase`` is the CachedCall class the sync wrappers are built on (the native one when the
extension has it, else the pure twin); it is read at each decoration, so the tests switch it by
patching ``hotcache.memo.decorators._CallBase``.
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Callable, Dict, Optional

from .. import _classes, keys
from .load import CacheInfo, _check_ttl, _Loader
from .methods import (_AsyncBoundMethod, _AsyncBoundMethodInfo, _BoundMethod, _BoundMethodInfo,
                       _MethodDescriptor, _PerInstanceMethod)
from .._spec.call import CachedCall as _TwinCall
from .wrappers import (_async_tiered_wrapper, _async_wrapper, _call_classes, _LoadingFunction,
                        _LoadingFunctionInfo, _LockedFunction, _LockedFunctionInfo)

try:
    from .._native.core import CachedCall as _NativeCall  # type: ignore[attr-defined]
except ImportError:  # no extension (or an older one): the twin is the hit path
    _NativeCall = None

__all__ = ["CacheInfo", "cached", "cachedmethod", "lru_cache"]

# the CachedCall class wrappers are built on; the tests switch it to run both implementations
_CallBase: type = _NativeCall if _NativeCall is not None else _TwinCall

_UNSET: Any = object()  # "argument not given"
_POLICIES = {"lru": "LRUCache", "lfu": "LFUCache", "fifo": "FIFOCache", "random": "RRCache",
             "rr": "RRCache", "s3fifo": "S3FIFOCache", "tinylfu": "TinyLFUCache"}


# -- helpers -----------------------------------------------------------------------------------

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


def _is_async_tiered(cache: Any) -> bool:
    """An AsyncTieredCache (its reads are awaited: not a mapping)."""
    return callable(getattr(type(cache), "_aload", None))


def _tiered(l1: Any, tier: Any, is_async: bool) -> Any:
    """``cached(..., tier=)``: the function's L1 in front of ``tier``, in shared mode (every
    result is written to Redis; other processes' L1 copies are invalidated)."""
    if is_async != bool(getattr(tier, "_awaitable", False)):
        if is_async:
            raise TypeError("an async function needs an AsyncRedisTier as tier= (a RedisTier "
                            "would block the event loop on Redis)")
        raise TypeError("a sync function needs a RedisTier as tier=, not an AsyncRedisTier")
    from ..tiers import AsyncTieredCache, TieredCache

    return (AsyncTieredCache if is_async else TieredCache)(l1, tier, mode="shared")


def _build_cache(maxsize: Any, policy: Optional[str], ttl: Optional[float], maxmemory: Any,
                 timer: Any, sizing: Optional[float] = None) -> Any:
    """The short form's cache: ``policy`` class with ``maxsize`` (None = unbounded)."""
    name = _POLICIES.get(policy or "lru")
    if name is None:
        raise ValueError("policy must be one of 'lru', 'lfu', 'fifo', 'random', 's3fifo', "
                         "'tinylfu', not %r" % (policy,))
    kwargs: Dict[str, Any] = {}
    if ttl is not None:
        kwargs["ttl"] = ttl
    if maxmemory is not None:
        kwargs["maxmemory"] = maxmemory
    if timer is not None:
        kwargs["timer"] = timer
    if sizing is not None:
        kwargs["sizing"] = sizing
    return getattr(_classes, name)(math.inf if maxsize is None else maxsize, **kwargs)


# -- cached ------------------------------------------------------------------------------------

def cached(cache: Any = _UNSET, key: Callable[..., Any] = keys.hashkey, lock: Any = None,
           condition: Any = None, info: bool = False, *, maxsize: Any = _UNSET, ttl: Any = None,
           policy: Optional[str] = None, maxmemory: Any = None, timer: Any = None,
           unless: Optional[Callable[[Any], Any]] = None, refresh_ahead: Optional[float] = None,
           stale_if_error: Optional[float] = None, tier: Any = None,
           sizing: Optional[float] = None) -> Any:
    """Decorator: memoize a function's results in ``cache`` (cachetools 8's ``cached``).

    ``cache`` is any mapping (``cache=None`` -> TypeError). ``key(*args, **kwargs)`` builds the
    key (default ``keys.hashkey``). With ``lock=`` and/or ``condition=`` the call follows
    cachetools' protocols exactly; without them the wrapper is thread-safe and single-flight:
    concurrent misses of one key run the function once (the others get its result or its
    exception), with no lock held while it runs. ``info=True`` adds ``cache_info()``.

    Short form: ``cached(maxsize=128, ttl=None, policy="lru"|"lfu"|"fifo"|"random"|"s3fifo"|
    "tinylfu", maxmemory=None, timer=None, sizing=None)`` builds a hotcache cache for each
    function it decorates (as ``functools.lru_cache(128)`` does; ``maxsize=None``: unbounded); ``@cached`` and
    ``cached()`` mean an LRU cache of 128 entries. Giving both a cache and any of these raises
    TypeError. Every decorated function has its own single-flight table, also when several
    share one given cache.

    ``ttl``: seconds each result lives, or ``ttl(result)`` -> seconds (None: the cache's
    default; <= 0: not cached); with a given cache, that cache needs ``set(key, value, ttl=)``
    (TypeError now otherwise). ``unless(result)`` true: the result is returned but not cached.
    ``None`` results are cached. ``refresh_ahead`` (a fraction of ``ttl``) and
    ``stale_if_error`` (seconds) read through ``hotcache.patterns.LoadingCache``.

    ``async def`` functions get an async wrapper that caches the awaited result. With an
    ``AsyncTieredCache`` as the cache, its L1 hits stay native and a miss awaits Redis, then
    the function (single-flight per key among tasks). ``tier=`` (a RedisTier, or an
    AsyncRedisTier for an ``async def``; one tier per decorated function) puts the short
    form's cache in front of it in shared mode: results are shared by every process using the
    tier's namespace, and a numeric ``ttl`` applies in Redis too. Static and class methods may
    be decorated in either order. The wrapper has ``cache``, ``cache_key``,
    ``cache_lock``, ``cache_condition``, ``cache_clear()``, ``cache_stats()``,
    ``invalidate(*args, **kwargs)`` (-> bool), ``cache_sizing()`` (the sizing advisor's report:
    ``sizing=R`` in the short form, or a cache built with it), ``__wrapped__``; a sync wrapper's repr is
    ``<cached func>`` and it pickles by qualified name. An unhashable argument raises TypeError
    naming the function.
    """
    if cache is None:
        raise TypeError("cache must not be None (give a mapping, or maxsize= for the short form)")
    func = None
    if cache is not _UNSET and _is_bare_function(cache):
        func, cache = cache, _UNSET
    short = (maxsize is not _UNSET or policy is not None or maxmemory is not None or timer is not None
             or sizing is not None)
    loading = refresh_ahead is not None or stale_if_error is not None
    if loading and (lock is not None or condition is not None):
        raise TypeError("refresh_ahead=/stale_if_error= cannot be combined with lock=/condition=")
    if loading and (unless is not None or callable(ttl)):
        raise TypeError("refresh_ahead=/stale_if_error= need a numeric ttl= and no unless=")
    if tier is not None and (cache is not _UNSET or loading or lock is not None or condition is not None):
        raise TypeError("tier= goes with the short form only (no cache, lock=, condition=, "
                        "refresh_ahead= or stale_if_error=); give a TieredCache as the cache instead")
    if cache is not _UNSET and _is_async_tiered(cache) and (loading or lock is not None or condition is not None):
        raise TypeError("an AsyncTieredCache is single-flight by itself: no lock=, condition=, "
                        "refresh_ahead= or stale_if_error=")
    if cache is _UNSET:
        fixed, _ = _check_ttl(ttl)
        size = 128 if maxsize is _UNSET else maxsize

        def make_cache() -> Any:  # one cache per decorated function, as functools does
            return _build_cache(size, policy, fixed if not loading else None, maxmemory, timer, sizing)

        # a number is the cache's default ttl; with a tier it is also each entry's Redis ttl
        store_ttl = ttl if fixed is None or tier is not None else None
    elif short:
        raise TypeError("give either a cache or maxsize=/policy=/maxmemory=/timer=/sizing=, not both")
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
        if tier is not None:
            inner = func.__func__ if isinstance(func, (staticmethod, classmethod)) else func
            c = _tiered(c, tier, _is_async(inner))
        lc = _loading(c, ttl, refresh_ahead, stale_if_error) if loading else None
        loader = _Loader(store_ttl, unless)
        for kind in (staticmethod, classmethod):
            if isinstance(func, kind):
                return kind(_wrap(func.__func__, c, key, lock, condition, info, loader, lc))
        return _wrap(func, c, key, lock, condition, info, loader, lc)

    return decorator if func is None else decorator(func)


def _loading(cache: Any, ttl: Any, refresh_ahead: Any, stale_if_error: Any) -> Any:
    from ..patterns import LoadingCache

    return LoadingCache(cache, ttl=ttl, refresh_ahead=refresh_ahead, stale_if_error=stale_if_error)


def _wrap(func: Callable[..., Any], cache: Any, key: Callable[..., Any], lock: Any, cond: Any,
          info: bool, loader: _Loader, lc: Any) -> Any:
    """Pick the wrapper variant (once, here)."""
    if not callable(func):
        raise TypeError("cached() needs a callable, not %s" % type(func).__name__)
    if _is_async_tiered(cache):
        if not _is_async(func):
            raise TypeError("an AsyncTieredCache caches async functions only; give a sync "
                            "function a TieredCache")
        return _async_tiered_wrapper(func, cache, key, loader, info)
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


# -- cachedmethod ----------------------------------------------------------------------------

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

    ``cachedmethod(maxsize=128, ttl=None, policy="lru" (or as ``cached``), maxmemory=None, timer=None,
    key=keys.methodkey, info=False, unless=None, refresh_ahead=None, stale_if_error=None)``
    (no cache getter): each instance gets its own cache, kept in the instance ``__dict__``
    under a private name: it never keeps the instance alive and dies with it (a cycle made by
    a cached value referring back to the instance is freed by the garbage collector); copies
    and pickles start empty. Instances must be weak-referenceable; those without a
    ``__dict__`` (``__slots__``) have their caches held by the descriptor, where a value
    referring back to its instance keeps it alive. Stacked on ``@classmethod`` (in
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
    cache = _classes.Cache(math.inf) if maxsize is None else _classes.LRUCache(maxsize)
    return _call_classes(_CallBase)["lru0" if maxsize == 0 else "lru"](func, cache, maxsize, bool(typed))
