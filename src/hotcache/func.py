"""``functools.lru_cache``-compatible memoizing decorators, one per eviction policy, like
``cachetools.func``: ``fifo_cache``, ``lfu_cache``, ``lru_cache``, ``rr_cache``, ``ttl_cache``, and
hotcache's adaptive ``s3fifo_cache`` and ``tinylfu_cache``.

Each is ``hotcache.cached(cache, key=keys.typedkey if typed else keys.hashkey, info=True)`` on a
hotcache cache of that policy, plus ``cache_parameters()``. Unlike ``hotcache.lru_cache`` (which
follows functools), keys are cachetools' (keyword order does not matter) and the wrappers are
thread-safe and single-flight: concurrent misses of one key run the function once. The hit path
is native. ``maxsize=None`` is unbounded (a plain dict; for ``ttl_cache`` an unbounded
``TTLCache`` whose ``maxsize`` reads None); ``@lru_cache`` without arguments means
``maxsize=128``. ``cache_info()`` is ``(hits, misses, maxsize, currsize)``.
"""
from __future__ import annotations

import math
import random
import time
from typing import Any, Callable, Dict, Optional

from . import keys
from ._classes import FIFOCache, LFUCache, LRUCache, RRCache, S3FIFOCache, TinyLFUCache, TTLCache
from .memo import cached

__all__ = ["fifo_cache", "lfu_cache", "lru_cache", "rr_cache", "s3fifo_cache", "tinylfu_cache", "ttl_cache"]


class _UnboundTTLCache(TTLCache):  # type: ignore[misc, valid-type]
    """An unbounded TTLCache whose ``maxsize`` reads None (as cachetools.func reports it)."""

    def __init__(self, ttl: Any, timer: Callable[[], Any]) -> None:
        TTLCache.__init__(self, math.inf, ttl, timer)

    @property
    def maxsize(self) -> None:  # type: ignore[override]
        return None


def _cache(cache: Any, maxsize: Optional[int], typed: bool) -> Callable[[Callable[..., Any]], Any]:
    def decorator(func: Callable[..., Any]) -> Any:
        wrapper = cached(cache, key=keys.typedkey if typed else keys.hashkey, info=True)(func)
        parameters: Dict[str, Any] = {"maxsize": maxsize, "typed": typed}
        wrapper.cache_parameters = lambda: dict(parameters)
        return wrapper

    return decorator


def fifo_cache(maxsize: Any = 128, typed: bool = False) -> Any:
    """Memoize up to ``maxsize`` results, evicting the first stored (First In First Out)."""
    if maxsize is None:
        return _cache({}, None, typed)
    if callable(maxsize):
        return _cache(FIFOCache(128), 128, typed)(maxsize)
    return _cache(FIFOCache(maxsize), maxsize, typed)


def lfu_cache(maxsize: Any = 128, typed: bool = False) -> Any:
    """Memoize up to ``maxsize`` results, evicting the least frequently used."""
    if maxsize is None:
        return _cache({}, None, typed)
    if callable(maxsize):
        return _cache(LFUCache(128), 128, typed)(maxsize)
    return _cache(LFUCache(maxsize), maxsize, typed)


def lru_cache(maxsize: Any = 128, typed: bool = False) -> Any:
    """Memoize up to ``maxsize`` results, evicting the least recently used."""
    if maxsize is None:
        return _cache({}, None, typed)
    if callable(maxsize):
        return _cache(LRUCache(128), 128, typed)(maxsize)
    return _cache(LRUCache(maxsize), maxsize, typed)


def s3fifo_cache(maxsize: Any = 128, typed: bool = False) -> Any:
    """Memoize up to ``maxsize`` results with S3-FIFO eviction (``hotcache.S3FIFOCache``)."""
    if maxsize is None:
        return _cache({}, None, typed)
    if callable(maxsize):
        return _cache(S3FIFOCache(128), 128, typed)(maxsize)
    return _cache(S3FIFOCache(maxsize), maxsize, typed)


def tinylfu_cache(maxsize: Any = 128, typed: bool = False) -> Any:
    """Memoize up to ``maxsize`` results with W-TinyLFU eviction (``hotcache.TinyLFUCache``):
    frequency-aware admission, the best hit ratio of the lot on most workloads."""
    if maxsize is None:
        return _cache({}, None, typed)
    if callable(maxsize):
        return _cache(TinyLFUCache(128), 128, typed)(maxsize)
    return _cache(TinyLFUCache(maxsize), maxsize, typed)


def rr_cache(maxsize: Any = 128, choice: Callable[[Any], Any] = random.choice, typed: bool = False) -> Any:
    """Memoize up to ``maxsize`` results, evicting a random one (``choice`` picks it)."""
    if maxsize is None:
        return _cache({}, None, typed)
    if callable(maxsize):
        return _cache(RRCache(128, choice), 128, typed)(maxsize)
    return _cache(RRCache(maxsize, choice), maxsize, typed)


def ttl_cache(maxsize: Any = 128, ttl: Any = 600, timer: Callable[[], Any] = time.monotonic,
              typed: bool = False) -> Any:
    """Memoize up to ``maxsize`` results for ``ttl`` each, evicting the least recently used."""
    if maxsize is None:
        return _cache(_UnboundTTLCache(ttl, timer), None, typed)
    if callable(maxsize):
        return _cache(TTLCache(128, ttl, timer), 128, typed)(maxsize)
    return _cache(TTLCache(maxsize, ttl, timer), maxsize, typed)
