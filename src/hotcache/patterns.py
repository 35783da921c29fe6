"""The caching patterns: cache-aside with single-flight, write-through, write-behind, refresh-ahead.

Works on any hotcache cache (and, where noted, on any mutable mapping). Write-behind lives in
``_pattern_writebehind.py`` and refresh-ahead (``LoadingCache``) in ``_pattern_loading.py``.

Cache-aside (``get_or_set``) shares one :class:`~hotcache._flight.SingleFlight` between all
caches, keyed by ``(id(cache), key)``. The flight table only holds a key while its load runs,
and the running leader holds a reference to the cache, so an ``id`` cannot be reused by another
cache while a flight keyed by it exists: nothing is registered per cache and nothing leaks.
"""
from __future__ import annotations

import inspect
import threading
from typing import (
    Any, Awaitable, Callable, Dict, Hashable, Iterator, List, MutableMapping, Optional, TypeVar,
    Union,
)

from ._config import parse_ttl
from ._flight import SingleFlight
from ._pattern_loading import LoadingCache
from ._pattern_writebehind import WriteBehindCache, WriteBehindFull

__all__ = [
    "LoadingCache",
    "WriteBehindCache",
    "WriteBehindFull",
    "WriteThroughCache",
    "aget_or_set",
    "get_or_set",
]

K = TypeVar("K")
V = TypeVar("V")

_MISSING: Any = object()

# one flight table for every cache: keys are (id(cache), key) and exist only while loading
_FLIGHT = SingleFlight()


def _peek(cache: Any) -> Callable[[Any, Any], Any]:
    """The cheapest stats-neutral lookup the cache offers (hotcache's ``peek``, else ``get``)."""
    peek = getattr(cache, "peek", None)
    return peek if callable(peek) else cache.get  # type: ignore[no-any-return]


def _check_ttl(cache: Any, ttl: Any) -> Optional[float]:
    """Validate ``ttl`` before any load runs: a bad ttl must not be mistaken for a store that
    did not fit (both raise ValueError from the cache)."""
    if ttl is None:
        return None
    seconds = parse_ttl(ttl)
    if not callable(getattr(cache, "set", None)):
        raise TypeError("ttl= needs a cache with set(key, value, ttl=) (a hotcache cache), not %s"
                        % type(cache).__name__)
    return seconds


def _store(cache: Any, key: Any, value: Any, ttl: Any) -> None:
    """Store ``value``; a value too large for the cache (ValueError) is simply not cached."""
    try:
        if ttl is None:
            cache[key] = value
        else:
            cache.set(key, value, ttl=ttl)
    except ValueError:
        pass


def get_or_set(cache: MutableMapping[K, V], key: K, loader: Callable[[], V],
               ttl: Optional[float] = None) -> V:
    """Cache-aside: return ``cache[key]``, or load it with ``loader()``, store it and return it.

    A hit is one ``cache.get`` and touches no lock. On a miss, concurrent callers for the same
    ``(cache, key)`` (threads) share one ``loader()`` call: the first one runs it with no lock
    held, the others wait and get the same value, or the same exception object. Exceptions are
    not cached. Different keys never wait on each other. ``ttl`` (seconds) is the stored entry's
    own time to live (``cache.set(key, value, ttl=ttl)``); None stores with ``cache[key] = value``
    (the cache's default ttl, if any). A value too large for the cache is returned uncached.
    ``None`` is a value like any other and is cached.

    Raises TypeError for an unhashable key (from the cache), ValueError/TypeError for a bad
    ``ttl`` (before loading), and whatever ``loader`` raises.
    """
    value = cache.get(key, _MISSING)
    if value is not _MISSING:
        return value
    ttl = _check_ttl(cache, ttl)
    peek = _peek(cache)

    def load() -> V:
        # double-check as leader: a flight that finished between our miss and now stored it
        found = peek(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        loaded = loader()
        _store(cache, key, loaded, ttl)
        return loaded

    return _FLIGHT.do((id(cache), key), load)


async def aget_or_set(cache: MutableMapping[K, V], key: K,
                      loader: Callable[[], Union[Awaitable[V], V]],
                      ttl: Optional[float] = None) -> V:
    """Async cache-aside: like :func:`get_or_set`, shared among asyncio tasks of one event loop.

    ``loader`` may be an ``async def`` function (awaited) or a plain function (called on the
    event loop thread: wrap blocking I/O in ``asyncio.to_thread`` yourself). If the leading task
    is cancelled, one of its waiters takes over the load; the others are not cancelled.
    """
    value = cache.get(key, _MISSING)
    if value is not _MISSING:
        return value
    ttl = _check_ttl(cache, ttl)
    peek = _peek(cache)

    async def load() -> V:
        found = peek(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        loaded = loader()
        if inspect.isawaitable(loaded):
            loaded = await loaded  # type: ignore[misc]
        _store(cache, key, loaded, ttl)
        return loaded  # type: ignore[return-value]

    return await _FLIGHT.ado((id(cache), key), load)


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
