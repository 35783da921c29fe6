"""hotcache.redis_tier: the Redis second tier under its first name (extra ``hotcache[redis]``).

Kept so that ``from hotcache.redis_tier import RedisTier, TieredCache`` keeps working; the code
lives in ``hotcache.tiers`` (docs/tiers.md), which is the name to use.
"""
from .tiers import AsyncTieredCache, TieredCache, TieredStats
from .tiers.redis_async import AsyncRedisTier
from .tiers.redis_sync import RedisTier

__all__ = ["AsyncRedisTier", "AsyncTieredCache", "RedisTier", "TieredCache", "TieredStats"]
