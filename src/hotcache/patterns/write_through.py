"""Write-through: ``WriteThroughCache``, whose writes reach the backing store before the cache.

Part of ``hotcache.patterns`` (import ``WriteThroughCache`` from there). Works on any mutable
mapping as the cache; a ``ttl=`` needs a hotcache cache (``set(key, value, ttl=)``).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Hashable, Iterator, List, MutableMapping, Optional, TypeVar

from .._flight import _check_ttl

__all__ = ["WriteThroughCache"]

K = TypeVar("K")
V = TypeVar("V")

_MISSING: Any = object()


class _KeyLocks:
    """One lock per key, held only while some thread uses it (the table never grows stale)."""

    __slots__ = ("_mutex", "_locks")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locks: Dict[Hashable, List[Any]] = {}  # key -> [lock, number of users]

    def acquire(self, key: Hashable) -> None:
        with self._mutex:
            slot = self._locks.get(key)
            if slot is None:
                slot = self._locks[key] = [threading.Lock(), 0]
            slot[1] += 1
        slot[0].acquire()

    def release(self, key: Hashable) -> None:
        with self._mutex:
            slot = self._locks[key]
            slot[1] -= 1
            if not slot[1]:
                del self._locks[key]
        slot[0].release()

    def __len__(self) -> int:
        with self._mutex:
            return len(self._locks)


class WriteThroughCache(MutableMapping[K, V]):
    """Write-through: every write goes to the backing store first, then to the cache.

    ``wt[key] = value`` calls ``writer(key, value)``; only when it returns is the value stored
    in ``cache``. If ``writer`` raises, the cache is left exactly as it was and the exception
    propagates. Writes of one key are serialised (a per-key lock is held across the writer
    and the cache store), so the cache never ends with an older value than the store; writes of
    different keys run concurrently. Reads (``wt[key]``, ``get``, ``in``, ``len``, iteration)
    come from the cache only: pair it with :func:`get_or_set` on ``wt.cache`` to load misses.

    Deletes: with ``deleter=`` (a callable ``deleter(key)``), ``del wt[key]`` calls it first and
    then drops the cached copy; a failed deleter leaves the cache unchanged and raises. A key
    absent from the cache is still deleted from the store (no KeyError from us; the deleter may
    raise its own). Without a deleter, ``del wt[key]`` only drops the cached copy (KeyError if
    it is not cached): the store keeps the record. ``clear()`` only empties the cache, never the
    store. A value too large for the cache (ValueError from the cache) is written to the store,
    any older cached copy is dropped, and no error is raised.
    """

    def __init__(self, cache: MutableMapping[K, V], writer: Callable[[K, V], Any], *,
                 deleter: Optional[Callable[[K], Any]] = None) -> None:
        if not callable(writer):
            raise TypeError("writer must be callable, not %s" % type(writer).__name__)
        if deleter is not None and not callable(deleter):
            raise TypeError("deleter must be callable or None, not %s" % type(deleter).__name__)
        self._cache = cache
        self._writer = writer
        self._deleter = deleter
        self._locks = _KeyLocks()

    @property
    def cache(self) -> MutableMapping[K, V]:
        """The cache the reads come from."""
        return self._cache

    @property
    def writer(self) -> Callable[[K, V], Any]:
        return self._writer

    @property
    def deleter(self) -> Optional[Callable[[K], Any]]:
        return self._deleter

    def __repr__(self) -> str:
        return "%s(%r, %r)" % (type(self).__name__, self._cache, self._writer)

    def __getitem__(self, key: K) -> V:
        value = self._cache.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return key in self._cache

    def __iter__(self) -> Iterator[K]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    def __setitem__(self, key: K, value: V) -> None:
        self._write(key, value, None)

    def set(self, key: K, value: V, ttl: Optional[float] = None) -> None:
        """``wt[key] = value`` with a per-entry cache ttl in seconds (the store has no ttl)."""
        self._write(key, value, _check_ttl(self._cache, ttl))

    def _write(self, key: K, value: V, ttl: Optional[float]) -> None:
        hash(key)  # an unhashable key fails before the store is written
        locks = self._locks
        locks.acquire(key)
        try:
            self._writer(key, value)
            try:
                if ttl is None:
                    self._cache[key] = value
                else:
                    self._cache.set(key, value, ttl=ttl)  # type: ignore[attr-defined]
            except ValueError:  # too large to cache: the store has it, drop the stale copy
                self._cache.pop(key, None)
        finally:
            locks.release(key)

    def __delitem__(self, key: K) -> None:
        hash(key)
        locks = self._locks
        locks.acquire(key)
        try:
            if self._deleter is None:
                del self._cache[key]
            else:
                self._deleter(key)
                self._cache.pop(key, None)
        finally:
            locks.release(key)

    def clear(self) -> None:
        """Drop every cached copy; the store is not touched."""
        self._cache.clear()

    def stats(self) -> Any:
        """The cache's ``stats()``."""
        return self._cache.stats()  # type: ignore[attr-defined]
