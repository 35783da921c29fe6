"""``AsyncDiskTier``: DiskTier for AsyncTieredCache (extra ``hotcache[disk]``).

Reads run directly on the event loop: a disk-tier read is an LMDB read transaction in a shared
memory map plus decoding, a few microseconds, which is less than handing it to a thread costs
(``asyncio.to_thread`` round trip: tens of microseconds; benchmarks/tiers.py --async measures
both). What can block for long runs in a worker thread: waiting for the writer (``flush()``, a
write-through confirmation that is not already settled), the fsync of ``flush()``, ``clear()``
and ``aclose()``. Writes are queue operations on the caller's thread, as in DiskTier.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from .disk_tier import DiskTier

__all__ = ["AsyncDiskTier"]


class AsyncDiskTier(DiskTier):
    """A local directory as the tier of an AsyncTieredCache:
    ``AsyncTieredCache(l1, AsyncDiskTier(path, maxsize="1GB"))``. Same options and behaviour as
    DiskTier; ``get``, ``flush``, ``clear`` and ``aclose`` are coroutines (and the context
    manager is ``async with``)."""

    _awaitable = True

    @property
    def _flusher(self) -> Any:
        """What AsyncTieredCache starts before queueing a write (the disk cache's writer thread)."""
        return self._cache._writer

    async def _fetch(self, rkey: bytes) -> Any:  # type: ignore[override]
        return self._read(rkey)  # microseconds: no thread hop

    async def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        return DiskTier.get(self, key, default)

    async def _confirm(self, mark: Any, timeout: Optional[float]) -> bool:  # type: ignore[override]
        q = self._cache._queue
        with q.lock:
            if q.settled(mark):
                return bool(q.landed(mark))
        return await asyncio.to_thread(DiskTier._confirm, self, mark, timeout)

    async def _clear_with(self, l1_clear: Optional[Callable[[], None]]) -> None:  # type: ignore[override]
        await asyncio.to_thread(DiskTier._clear_with, self, l1_clear)

    async def flush(self, timeout: Optional[float] = None) -> bool:  # type: ignore[override]
        return await asyncio.to_thread(DiskTier.flush, self, timeout)

    async def clear(self) -> None:  # type: ignore[override]
        await asyncio.to_thread(DiskTier.clear, self)

    async def aclose(self, timeout: float = 5.0) -> bool:
        return await asyncio.to_thread(DiskTier.close, self, timeout)

    def __repr__(self) -> str:
        return "Async" + DiskTier.__repr__(self)

    def __enter__(self) -> "AsyncDiskTier":
        raise TypeError("use 'async with' on an AsyncDiskTier")

    async def __aenter__(self) -> "AsyncDiskTier":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
