"""hotcache.patterns: the caching patterns, one module each, on any hotcache cache (and, where
noted, on any mutable mapping).

    cache_aside.py    get_or_set / aget_or_set: cache-aside with single-flight
    write_through.py  WriteThroughCache: the store first, then the cache
    write_behind.py   WriteBehindCache, WriteBehindFull: the cache now, the store in batches
    loading.py        LoadingCache: loads its own misses, refresh-ahead, stale-if-error

Layer 4 (docs/architecture.md): these build on the cache classes, the tiers and the foundations,
and wrap any of them (a TieredCache too); the decorators (hotcache.memo) build on these.
"""
from .cache_aside import aget_or_set, get_or_set
from .loading import LoadingCache
from .write_behind import WriteBehindCache, WriteBehindFull
from .write_through import WriteThroughCache

__all__ = [
    "LoadingCache",
    "WriteBehindCache",
    "WriteBehindFull",
    "WriteThroughCache",
    "aget_or_set",
    "get_or_set",
]
