"""hotcache.memo: the memoizing decorators (also importable from ``hotcache`` itself).

    decorators.py  cached, cachedmethod (cachetools 8's, plus single-flight, async, ttl=,
                   unless=, refresh-ahead, tier=), lru_cache (functools'): each picks its
                   wrapper variant once, at decoration time
    wrappers.py    the function wrappers: CachedCall subclasses (native hit path), locked,
                   loading, async and async-tiered variants
    methods.py     cachedmethod's descriptors and per-instance caches
    load.py        the miss path they share: single-flight load, store, counters, CacheInfo

Layer 5 (docs/architecture.md), the top of the library: it builds on the cache classes
(hotcache._classes), the native and twin CachedCall, the patterns (LoadingCache for
refresh_ahead=) and the tiers (cached(..., tier=)); only the package root, hotcache.func and the
entry points import it. Also importable under its first name, ``hotcache.decorators``.
"""
from .decorators import cached, cachedmethod, lru_cache
from .load import CacheInfo

__all__ = ["CacheInfo", "cached", "cachedmethod", "lru_cache"]
