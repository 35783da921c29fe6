"""hotcache.decorators: the memoizing decorators under their first name.

Kept so that ``from hotcache.decorators import cached`` keeps working; the code lives in
``hotcache.memo`` (docs/decorators.md). ``hotcache.cached`` etc. are the names to use.
"""
from .memo import CacheInfo, cached, cachedmethod, lru_cache

__all__ = ["CacheInfo", "cached", "cachedmethod", "lru_cache"]
