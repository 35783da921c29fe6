"""AsyncTieredCache over an AsyncDiskTier: the tier contract's core (spill with the time left,
promotion with the time left, invalidation, shared mode, write-through, flush/aclose, clear,
stats) from asyncio code, and the argument checks between the sync and asyncio flavours."""
from __future__ import annotations

import asyncio

import pytest

import hotcache
from hotcache.tiers import AsyncTieredCache, TieredCache

pytestmark = pytest.mark.usefixtures("needs_lmdb")


def run(coro):
    return asyncio.run(coro)


def make(tmp_path, maxsize=1, **kw):
    from hotcache.tiers import AsyncDiskTier

    kw.setdefault("ttl", 120)
    tier = AsyncDiskTier(str(tmp_path / "adisk"), maxsize="16MB", **kw)
    return tier


def test_spill_promote_invalidate(tmp_path):
    async def main():
        tier = make(tmp_path)
        c = AsyncTieredCache(hotcache.LRUCache(1), tier)
        await c.set("a", {"v": 1}, ttl=30)
        await c.set("b", 2)                       # spills a
        assert await c.flush(timeout=10)
        assert await tier.get("a") == {"v": 1} and 25 < tier.ttl_left("a") <= 30
        assert await c.get("a") == {"v": 1}       # L1 miss -> disk -> promoted
        assert "a" in c.l1 and 20 < c.l1.ttl_left("a") <= 30
        await c.set("a", 3)                       # spill mode: the disk copy goes
        assert await c.flush(timeout=10)
        assert await tier.get("a") is None
        assert await c.delete("a") is True and await c.get("a") is None
        s = c.stats()
        assert s.l2_hits == 2 and s.spilled >= 1 and len(s.levels) == 1   # tier.get counts too
        assert await c.aclose() is True
        assert await tier.get("b") is None        # closed: misses
    run(main())


def test_shared_mode_write_through_and_clear(tmp_path):
    async def main():
        tier = make(tmp_path)
        c = AsyncTieredCache(hotcache.LRUCache(10), tier, mode="shared", write="through")
        assert c.invalidation is None
        await c.set("k", [1], ttl=50)             # returns once the writer applied it
        assert await tier.get("k") == [1] and 45 < tier.ttl_left("k") <= 50
        assert await c.contains("k") and c.discard("k") is True
        assert await c.flush(timeout=10) and await tier.get("k") is None
        await c.set("x", 1)
        await c.clear()
        assert len(c) == 0 and await tier.get("x") is None
        await c.aclose()
    run(main())


def test_flavours_are_not_mixed(tmp_path):
    from hotcache.tiers import AsyncDiskTier, DiskTier

    async def main():
        tier = AsyncDiskTier(str(tmp_path / "a"), maxsize="8MB")
        with pytest.raises(TypeError, match="AsyncTieredCache"):
            TieredCache(hotcache.LRUCache(2), tier)
        with pytest.raises(TypeError, match="'async with'"):
            with tier:
                pass
        async with tier:
            assert "AsyncDiskTier" in repr(tier)
        sync = DiskTier(str(tmp_path / "s"), maxsize="8MB")
        with pytest.raises(TypeError, match="AsyncDiskTier"):
            AsyncTieredCache(hotcache.LRUCache(2), sync)
        sync.close()
    run(main())
