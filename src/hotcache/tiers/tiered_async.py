"""``AsyncTieredCache``: TieredCache for asyncio code, an L1 in front of an AsyncRedisTier or an
AsyncDiskTier.

Same semantics as hotcache.tiers.tiered.TieredCache (what both share is hotcache.tiers.state);
reads that miss the L1 and every write that must reach the tier are awaited.
"""
from __future__ import annotations

from typing import Any, Optional

from .base import TieredStats, check_tier, tiered_stats
from .state import _AUTO, _MISSING, MISS, _ids, _live, _Tiered, popped

__all__ = ["AsyncTieredCache"]


class AsyncTieredCache(_Tiered):
    """``TieredCache`` for asyncio code: ``AsyncTieredCache(l1, tier, *, mode="spill",
    invalidation=<"pubsub" in shared mode>, write="behind")`` with ``await get(key, default)``,
    ``await set(key, value, ttl=None)``, ``await delete(key) -> bool``, ``await pop(key,
    default)``, ``await contains(key)``, ``await clear()``, ``await flush()``, ``await
    aclose()``, ``stats()``, and ``discard(key) -> bool`` (sync: L1 now, Redis queued).

    The semantics are TieredCache's (L1 hits never await Redis, misses read through and promote,
    modes, invalidation, write-through). ``len()`` and iteration cover the L1, as on TieredCache.
    ``@cached`` on an ``async def`` takes it as its cache: L1 hits stay native, misses await
    Redis and are single-flight per key. Use it from one event loop (the subscription is a task
    on the loop that first uses the cache).
    """

    __slots__ = ("_l1", "_tier", "_lock", "_gen", "_floor", "_touched", "_index", "_index_limit",
                 "_shared", "_l1_ttl", "_through", "_sub", "_insync", "_invalidations", "_losses",
                 "_finalizer", "_raise", "__weakref__")

    def __init__(self, l1: Any, tier: Any, *, mode: str = "spill",
                 invalidation: Any = _AUTO, write: str = "behind") -> None:
        if not callable(getattr(l1, "_set_spill_hook", None)):
            raise TypeError("l1 must be a hotcache cache, not %s" % type(l1).__name__)
        check_tier(tier, "an AsyncRedisTier or an AsyncDiskTier")
        if not getattr(tier, "_awaitable", False):
            raise TypeError("tier must be an AsyncRedisTier or an AsyncDiskTier, not %s" % type(tier).__name__)
        self._setup(l1, tier, mode, invalidation, write)
        _live[-1 - next(_ids)] = self
        if self._sub is not None:
            self._sub.ensure()  # a no-op outside a running loop: the first use starts it

    @property
    def tier(self) -> Any:
        """The tier (an AsyncRedisTier or an AsyncDiskTier)."""
        return self._tier

    def __repr__(self) -> str:
        return "AsyncTieredCache(%r, %r, mode=%r)" % (self._l1, self._tier, self.mode)

    async def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self._l1[key]
        except KeyError:
            pass
        return await self._aload(key, default)

    async def _aload(self, key: Any, default: Any) -> Any:
        """An L1 miss: read Redis (awaited), promote. ``@cached``'s miss path calls it."""
        tier = self._tier
        rkey = tier._rkey(key)
        gen = self._begin()
        return self._settle(key, rkey, await tier._fetch(rkey), gen, default)

    async def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        tier = self._tier
        rkey = tier._rkey(key)
        tier._flusher.ensure()
        if self._sub is not None:
            self._sub.ensure()
        mark = self._store(key, value, ttl, rkey)
        if mark is not None:
            await self._confirmed(mark)

    async def _confirmed(self, mark: Any) -> None:
        tier = self._tier
        if await tier._confirm(mark, max(1.0, 20 * tier.timeout)):
            return
        if tier.raise_on_error:
            if tier.breaker.state == "open":
                raise tier._open_error()
            raise TimeoutError("hotcache: Redis did not confirm the write in time")

    async def _remove(self, key: Any) -> Any:
        tier = self._tier
        rkey = tier._rkey(key)
        fallback = await tier._fetch(rkey) if key not in self._l1 else MISS
        value, mark = self._drop(key, rkey, fallback)
        if mark is not None:
            await self._confirmed(mark)
        return value

    async def delete(self, key: Any) -> bool:
        """Remove ``key`` from both tiers; True if either had it."""
        return await self._remove(key) is not _MISSING

    async def pop(self, key: Any, default: Any = _MISSING) -> Any:
        return popped(key, await self._remove(key), default)

    def discard(self, key: Any) -> bool:
        """Remove ``key`` from the L1 now and from Redis through the queue (without reading
        Redis first, and without waiting even with write="through"); True if the L1 had it."""
        tier = self._tier
        rkey = tier._rkey(key)
        try:
            tier._flusher.ensure()
        except RuntimeError:  # no running loop: the flusher writes it when it next runs
            pass
        return self._drop(key, rkey, MISS)[0] is not _MISSING

    async def contains(self, key: Any) -> bool:
        if key in self._l1:
            return True
        return await self._tier._fetch(self._tier._rkey(key)) is not MISS

    async def clear(self) -> None:
        await self._tier._clear_with(self._clear_l1)

    async def flush(self, timeout: Optional[float] = None) -> bool:
        return await self._tier.flush(timeout)

    async def aclose(self, timeout: float = 5.0) -> bool:
        self._finalizer()
        return await self._tier.aclose(timeout)

    def stats(self) -> TieredStats:
        return tiered_stats(self._l1, self._tier, self._inv_counts())

    async def __aenter__(self) -> "AsyncTieredCache":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
