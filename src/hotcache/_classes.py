"""The cache classes hotcache runs with: hotcache.cache's (C-backed) or, when the extension cannot
be imported, the pure twin's (hotcache._spec), with a RuntimeWarning. Same names, same API.

Layer 2 (caches), beside hotcache.cache (see docs/architecture.md). The package root and every
layer above (tiers, patterns, memo, func) take the classes from here, never from ``hotcache``
itself, so nothing below the package root imports it. ``NATIVE`` tells which ones these are.
"""
from __future__ import annotations

__all__ = [
    "NATIVE", "Cache", "FIFOCache", "LFUCache", "LRUCache", "RRCache", "S3FIFOCache", "TLRUCache",
    "TTLCache", "Timer", "TinyLFUCache",
]

try:
    from .cache import (
        Cache, FIFOCache, LFUCache, LRUCache, RRCache, S3FIFOCache, TinyLFUCache, TLRUCache, TTLCache, Timer,
    )
except ImportError as _exc:  # the C extension could not load: same API, pure Python
    if "_native" not in str(_exc) and "_native" not in (getattr(_exc, "name", None) or ""):
        raise
    import warnings as _warnings

    _warnings.warn(
        "hotcache: the C extension could not be imported (%s); using the pure-Python "
        "implementation, which is correct but slower" % (_exc,),
        RuntimeWarning,
        stacklevel=2,
    )
    from ._spec import (  # type: ignore[assignment]
        Cache, FIFOCache, LFUCache, LRUCache, RRCache, S3FIFOCache, TinyLFUCache, TLRUCache, TTLCache,
        Timer,
    )

    NATIVE = False
else:
    NATIVE = True
