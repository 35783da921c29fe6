"""hotcache: an in-process cache for Python whose hot path is C.

Drop-in replacements for cachetools' classes (``LRUCache``, ``LFUCache``, ``FIFOCache``,
``RRCache``, ``TTLCache``, ``TLRUCache``, ``Cache``), the adaptive ``TinyLFUCache`` (W-TinyLFU,
recommended for general use) and ``S3FIFOCache``, with byte bounds, per-entry TTLs on a timing
wheel, eviction callbacks and statistics; the memoizing decorators ``cached``, ``cachedmethod``
(cachetools'), ``lru_cache`` (functools'), ``hotcache.keys`` and ``hotcache.func``. ``hotcache.DiskCache`` (a MutableMapping in a local
directory, hotcache.disk) is imported on first use: it needs ``pip install 'hotcache[disk]'``.
"""
from typing import TYPE_CHECKING, Any

from ._classes import (
    Cache, FIFOCache, LFUCache, LRUCache, RRCache, S3FIFOCache, TinyLFUCache, TLRUCache, TTLCache, Timer,
)
from ._config import ENTRY_OVERHEAD
from ._version import __version__
from .stats import CacheStats
from . import keys
from .memo import CacheInfo, cached, cachedmethod, lru_cache
from . import func

if TYPE_CHECKING:
    from .disk import DiskCache

__all__ = [
    "ENTRY_OVERHEAD",
    "Cache",
    "CacheInfo",
    "CacheStats",
    "DiskCache",
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


def __getattr__(name: str) -> Any:
    """``DiskCache``, imported (with lmdb) when first asked for; a clear ImportError without lmdb."""
    if name == "DiskCache":
        from .disk._env import lmdb_module

        lmdb_module()  # ImportError naming hotcache[disk] when lmdb is missing
        from .disk import DiskCache

        return DiskCache
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
