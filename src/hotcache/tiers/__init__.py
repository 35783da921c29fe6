"""hotcache.tiers: an in-process L1 cache in front of one or more tiers (Redis, a local disk).

    from hotcache.tiers import TieredCache, RedisTier, DiskTier   # or AsyncTieredCache, AsyncRedisTier
    TieredCache(l1, DiskTier(path), RedisTier(url=..., namespace=...))   # N tiers, nearest first

    base.py              Tier (the protocol a second tier implements), TieredStats
    state.py             what both tiered caches share: write generations, the clean index,
                         invalidation sink, ownership of the L1's spill hook
    tiered.py            TieredCache (a MutableMapping; L1 hits are native)
    tiered_async.py      AsyncTieredCache
    chain.py             TierChain: several tiers as one (TieredCache(l1, t1, t2, ...))
    disk_tier.py         DiskTier: a hotcache.disk directory as a tier
    disk_async.py        AsyncDiskTier (reads on the loop, waits in a thread)
    redis_base.py        what both Redis tiers share: options, key encoding, codec, spill hook
    redis_sync.py        RedisTier                      redis_async.py   AsyncRedisTier
    redis_io.py          one read, one batch of writes (raw RESP or redis-py's pipeline)
    redis_spill.py       the ordered, coalescing write queue and its flusher thread
    redis_codec.py       key encoding, serializers, AES-GCM sealing
    redis_invalidate.py  cross-process L1 invalidation over pub/sub

Layer 3 (docs/architecture.md): it builds on the cache classes, the breaker and the foundations;
the patterns and the decorators (``cached(..., tier=)``) build on it. ``RedisTier`` and
``AsyncRedisTier`` are imported on first use (they import redis-py), so ``import hotcache.tiers``
stays cheap; ``hotcache.redis_tier`` is the older name of this package's Redis side.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Tier, TieredStats
from .tiered import TieredCache
from .tiered_async import AsyncTieredCache

if TYPE_CHECKING:
    from .disk_async import AsyncDiskTier
    from .disk_tier import DiskTier
    from .redis_async import AsyncRedisTier
    from .redis_sync import RedisTier

__all__ = ["AsyncDiskTier", "AsyncRedisTier", "AsyncTieredCache", "DiskTier", "RedisTier", "Tier",
           "TieredCache", "TieredStats"]


def __getattr__(name: str) -> Any:
    """RedisTier / AsyncRedisTier (with redis-py) and DiskTier / AsyncDiskTier (with lmdb),
    imported when first asked for; the disk tiers without lmdb raise ImportError naming
    hotcache[disk]."""
    if name in ("DiskTier", "AsyncDiskTier"):
        from ..disk._env import lmdb_module

        lmdb_module()
        from . import disk_async, disk_tier

        return disk_tier.DiskTier if name == "DiskTier" else disk_async.AsyncDiskTier
    if name == "RedisTier":
        from .redis_sync import RedisTier

        return RedisTier
    if name == "AsyncRedisTier":
        from .redis_async import AsyncRedisTier

        return AsyncRedisTier
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
