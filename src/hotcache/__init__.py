"""hotcache: an in-process cache for Python whose hot path is C.

Drop-in replacements for cachetools' classes (``LRUCache``, ``LFUCache``, ``FIFOCache``,
``RRCache``, ``TTLCache``, ``TLRUCache``, ``Cache``) with byte bounds, per-entry TTLs on a timing
wheel, eviction callbacks and statistics; the memoizing decorators ``cached``, ``cachedmethod``
(cachetools'), ``lru_cache`` (functools'), ``hotcache.keys`` and ``hotcache.func``.
"""
from ._config import ENTRY_OVERHEAD
from ._version import __version__
from .stats import CacheStats

try:
    from .cache import Cache, FIFOCache, LFUCache, LRUCache, RRCache, TLRUCache, TTLCache, Timer
except ImportError as _exc:  # the C extension could not load: same API, pure Python
    if "_native" not in str(_exc):
        raise
    import warnings as _warnings

    _warnings.warn(
        "hotcache: the C extension could not be imported (%s); using the pure-Python "
        "implementation, which is correct but slower" % (_exc,),
        RuntimeWarning,
        stacklevel=2,
    )
    from ._spec import (  # type: ignore[assignment]
        Cache, FIFOCache, LFUCache, LRUCache, RRCache, TLRUCache, TTLCache, Timer,
    )

# after the classes: the decorators build them (and fall back to the pure ones with them)
from . import keys  # noqa: E402
from .decorators import CacheInfo, cached, cachedmethod, lru_cache  # noqa: E402
from . import func  # noqa: E402

__all__ = [
    "ENTRY_OVERHEAD",
    "Cache",
    "CacheInfo",
    "CacheStats",
    "FIFOCache",
    "LFUCache",
    "LRUCache",
    "RRCache",
    "TLRUCache",
    "TTLCache",
    "Timer",
    "__version__",
    "cached",
    "cachedmethod",
    "func",
    "keys",
    "lru_cache",
]
