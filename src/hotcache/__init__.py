"""hotcache: an in-process cache for Python whose hot path is C.

Drop-in replacements for cachetools' classes (``LRUCache``, ``LFUCache``, ``FIFOCache``,
``RRCache``, ``TTLCache``, ``TLRUCache``, ``Cache``), the adaptive ``TinyLFUCache`` (W-TinyLFU,
recommended for general use) and ``S3FIFOCache``, with byte bounds, per-entry TTLs on a timing
wheel, eviction callbacks and statistics; the memoizing decorators ``cached``, ``cachedmethod``
(cachetools'), ``lru_cache`` (functools'), ``hotcache.keys`` and ``hotcache.func``.
"""
from ._classes import (
    Cache, FIFOCache, LFUCache, LRUCache, RRCache, S3FIFOCache, TinyLFUCache, TLRUCache, TTLCache, Timer,
)
from ._config import ENTRY_OVERHEAD
from ._version import __version__
from .stats import CacheStats
from . import keys
from .memo import CacheInfo, cached, cachedmethod, lru_cache
from . import func

__all__ = [
    "ENTRY_OVERHEAD",
    "Cache",
    "CacheInfo",
    "CacheStats",
    "FIFOCache",
    "LFUCache",
    "LRUCache",
    "RRCache",
    "S3FIFOCache",
    "TLRUCache",
    "TTLCache",
    "Timer",
    "TinyLFUCache",
    "__version__",
    "cached",
    "cachedmethod",
    "func",
    "keys",
    "lru_cache",
]
