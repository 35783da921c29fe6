"""hotcache: an in-process cache for Python whose hot path is C.

Drop-in replacements for cachetools' classes (``LRUCache``, ``LFUCache``, ``FIFOCache``,
``RRCache``, ``TTLCache``, ``TLRUCache``, ``Cache``) with byte bounds, per-entry TTLs on a timing
wheel, eviction callbacks and statistics.
"""
from ._config import ENTRY_OVERHEAD
from ._version import __version__
from .cache import Cache, FIFOCache, LFUCache, LRUCache, RRCache, TLRUCache, TTLCache, Timer
from .stats import CacheStats

__all__ = [
    "ENTRY_OVERHEAD",
    "Cache",
    "CacheStats",
    "FIFOCache",
    "LFUCache",
    "LRUCache",
    "RRCache",
    "TLRUCache",
    "TTLCache",
    "Timer",
    "__version__",
]
