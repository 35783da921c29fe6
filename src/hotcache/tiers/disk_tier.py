"""``DiskTier``: a local directory (LMDB, hotcache.disk) as a tier of a TieredCache (extra
``hotcache[disk]``).

``TieredCache(l1, DiskTier("/var/cache/svc"))``: L1 evictions spill to the disk in the
background, L1 misses read through it (a read is ~1 us: a B+tree walk in a shared memory map,
no system call), and every process of the host that opens the directory shares it. The engine,
the byte bound, TTLs, eviction, the write queue and its writer thread are the disk cache's
(hotcache.disk.cache.DiskCache); this module only speaks the tier protocol (hotcache.tiers.base).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..disk._format import lkey_of, rkey_of
from ..disk._hit import hit_reader
from ..disk.cache import _MISSING, DiskCache, DiskStats
from .base import spill_hook
from .redis_codec import Secret
from .state import MISS

__all__ = ["DiskTier"]


class DiskTier:
    """A local directory as a tier of a TieredCache (one DiskTier per TieredCache; any number of
    processes and DiskTier/DiskCache objects may open the same directory).

    ``DiskTier(path, *, maxsize="10GB", ttl=None, serializer="json", secret=None,
    trusted=False, timer=time.time, on_corrupt="raise", verify=False, durable=False,
    batch_size=1000, max_pending=100_000, interval=0.5)``: the options of
    hotcache.DiskCache (the directory, the byte bound on disk, the default ttl of entries
    written without one (None: until evicted), the serializer with pickle refused unless
    ``secret=`` (AES-256-GCM, bound to the key) or ``trusted=True``, the damaged-file policy).

    As a tier: evicted L1 entries are written with the time they had left (spill mode), or
    every write is (shared mode); an L1 miss reads the directory (this process's queued writes
    first) and promotes the value with the time it has left; a set/delete removes the disk copy
    (spill mode) in the same ordered queue. Writes go through the disk cache's background
    writer, in batches of ``batch_size``, one LMDB transaction each. A full disk or an engine
    error never reaches a caller: reads answer misses, writes that cannot be applied read as
    misses; ``stats()`` says so (``disk_full``, ``write_failures``, ``errors``, ``last_error``).

    There is no breaker (a local file system does not time out like a network) and no
    cross-process invalidation of L1 copies: other processes' L1s keep a key until it expires
    there, so give the L1 a ttl when processes write the same keys (docs/disk-tier.md).
    """

    _awaitable = False
    _announces = False  # no cross-process L1 invalidation: shared mode defaults to invalidation=None
    breaker: Any = None  # no network: nothing to trip
    raise_on_error = False
    timeout = 0.5  # write-through waits at most 20 x this (TieredCache._confirmed)

    def __init__(self, path: Any, *, maxsize: Any = "10GB", ttl: Optional[float] = None,
                 serializer: Any = "json", secret: Secret = None, trusted: bool = False,
                 timer: Callable[[], float] = time.time, on_corrupt: str = "raise",
                 verify: bool = False, durable: bool = False, batch_size: int = 1000,
                 max_pending: int = 100_000, interval: float = 0.5) -> None:
        self._cache = DiskCache(path, maxsize=maxsize, ttl=ttl, serializer=serializer, secret=secret,
                                trusted=trusted, timer=timer, write="behind", on_corrupt=on_corrupt,
                                verify=verify, durable=durable, batch_size=batch_size,
                                max_pending=max_pending, interval=interval)
        self.ttl: Optional[float] = self._cache.ttl
        self._timer = timer
        self._counts = [0, 0]  # l2_hits, l2_misses
        self._rkey: Callable[[Any], bytes] = rkey_of
        self._key_prefix = b""  # _rkey(key) is encode_key(key) in UTF-8 (the native front's rule)
        cls = type(self)
        if all(getattr(cls, name) is getattr(DiskTier, name) for name in ("_read", "_fetch", "_tally")):
            # _tally(_fetch(rkey)) in one frame for the native front (hotcache.disk._hit); it
            # holds the disk cache and the counters, not the tier
            self._fetch_counted = hit_reader(self._cache, self._counts, timer,
                                             _counted(self._cache, timer, self._counts))

    # -- the tier protocol (see hotcache.tiers.base.Tier) ----------------------------------------
    def _read(self, rkey: bytes) -> Any:
        """(value, seconds left or None) of the live value for ``rkey``, else MISS (engine errors
        and tampered values count and read as misses; a closed tier misses). ``_fetch`` of the
        protocol (AsyncDiskTier's awaits it)."""
        return _answer(self._cache, self._timer, rkey)

    _fetch = _read

    def _tally(self, hit: Any) -> Any:
        # counted like DiskCache's counters: a plain increment under the GIL, no lock (the
        # locked Counters.add cost ~0.3 us of a ~4 us disk hit)
        if hit is MISS:
            self._counts[1] += 1
        else:
            self._counts[0] += 1
        return hit

    def _write(self, rkey: bytes, value: Any, ttl: Optional[float]) -> None:
        """Queue ``value`` for ``rkey`` (ttl None: the tier's); never dropped. A value the
        serializer refuses or too large for the directory is not written: the disk copy is
        deleted instead (so no older value outlives the write) and it counts in spill_dropped."""
        seconds = self.ttl if ttl is None else ttl
        if seconds is not None and not seconds > 0:
            self._invalidate(rkey)
            return
        try:
            self._cache._queue_record(rkey, value, seconds, False)
        except Exception:
            self._cache._queue.count_dropped(1)
            self._invalidate(rkey)

    def _invalidate(self, rkey: bytes) -> None:
        self._cache._remove(rkey)

    def _spill_hook(self, index: Dict[bytes, Tuple[Any, Any]]) -> Callable[..., None]:
        return spill_hook(_spiller(self._cache), self._cache._queue.count_dropped, rkey_of,
                          self.ttl, index)

    def _spill_put(self) -> Callable[[bytes, Any, Optional[float]], None]:
        """``put(rkey, value, seconds)``: queue a droppable copy (a spill or a promotion from a
        lower tier); it holds the disk cache, not the tier."""
        return _spiller(self._cache)

    def _cancel_spills(self, rkeys: List[bytes]) -> None:
        self._cache._queue.cancel_spills([lkey_of(rkey) for rkey in rkeys])

    def _mark(self) -> Any:
        return self._cache._queue.mark()

    def _confirm(self, mark: Any, timeout: Optional[float]) -> bool:
        """Wait (at most ``timeout`` seconds) until everything queued before ``mark`` was
        applied; True if it all landed."""
        q = self._cache._queue
        done = q.wait(mark, None if timeout is None else time.monotonic() + timeout)
        with q.lock:
            return done and q.landed(mark)

    def _clear_with(self, l1_clear: Optional[Callable[[], None]]) -> None:
        self._cache._clear_with(l1_clear)

    def _subscriber(self, sink: Any) -> Any:
        return None  # no cross-process invalidation (see the class docstring)

    def counters(self) -> Dict[str, Any]:
        """l2_hits, l2_misses, l2_errors (engine errors), spilled (entries written), spill_dropped,
        rejected, pending, breaker_state ("closed": there is none), disk_full, write_failures."""
        cache = self._cache
        q, store = cache._queue, cache._store
        return {"l2_hits": self._counts[0], "l2_misses": self._counts[1],
                "l2_errors": cache._counts["errors"] + store.counts["errors"],
                "spilled": q.spilled, "spill_dropped": q.spill_dropped,
                "rejected": cache._counts["rejected"], "pending": len(q.queue) + len(q.inflight),
                "breaker_state": "closed", "disk_full": store.counts["disk_full"],
                "write_failures": q.failures}

    # -- public -------------------------------------------------------------------------------
    def get(self, key: Any, default: Any = None) -> Any:
        """The value the directory holds for ``key`` (this tier only, counted as a hit or miss)."""
        hit = self._tally(self._read(rkey_of(key)))
        return default if hit is MISS else hit[0]

    def ttl_left(self, key: Any) -> Optional[float]:
        """Seconds the directory keeps ``key`` (None: no expiry); KeyError if it holds no value."""
        hit = self._read(rkey_of(key))
        if hit is MISS:
            raise KeyError(key)
        return hit[1]

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Block until every write queued so far was applied and synced; True if all landed."""
        return self._cache.flush(timeout)

    def clear(self) -> None:
        """Remove every entry of the directory (for every process sharing it)."""
        self._cache.clear()

    def close(self, timeout: float = 5.0) -> bool:
        """Apply what is queued (at most ``timeout`` seconds), stop the writer, release the
        directory. Afterwards reads miss and writes are dropped. True if everything landed."""
        return self._cache.close(timeout)

    def stats(self) -> DiskStats:
        """The directory's DiskStats (sizes, evictions, expirations, disk_full, last_error)."""
        return self._cache.stats()

    @property
    def cache(self) -> DiskCache:
        """The DiskCache this tier reads and writes (same directory, same queue)."""
        return self._cache

    @property
    def path(self) -> str:
        return self._cache.path

    @property
    def maxsize(self) -> int:
        return self._cache.maxsize

    @property
    def serializer(self) -> str:
        return self._cache.serializer

    @property
    def encrypted(self) -> bool:
        return self._cache.encrypted

    def __repr__(self) -> str:
        return "DiskTier(%r, maxsize=%d, ttl=%r, serializer=%r, encrypted=%r)" % (
            self.path, self.maxsize, self.ttl, self.serializer, self.encrypted)

    def __enter__(self) -> "DiskTier":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a DiskTier cannot be pickled or copied; open its directory again")


def _answer(cache: DiskCache, timer: Callable[[], float], rkey: bytes) -> Any:
    """DiskTier._read of ``cache`` judged by ``timer``."""
    try:
        found = cache._find(rkey)
    except ValueError:  # closed
        return MISS
    if found is _MISSING:
        return MISS
    value, expire_at = found
    if not expire_at:
        return value, None
    left = expire_at - timer()
    return (value, left) if left > 0 else MISS


def _counted(cache: DiskCache, timer: Callable[[], float], counts: List[int]) -> Callable[[bytes], Any]:
    """``_tally(_read(rkey))`` of a DiskTier (its cache, timer and counters)."""
    def read(rkey: bytes) -> Any:
        hit = _answer(cache, timer, rkey)
        counts[1 if hit is MISS else 0] += 1
        return hit

    return read


def _spiller(cache: DiskCache) -> Callable[[bytes, Any, Optional[float]], None]:
    queue_record, dropped = cache._queue_record, cache._queue.count_dropped

    def put(rkey: bytes, value: Any, seconds: Optional[float]) -> None:
        try:
            queue_record(rkey, value, seconds, True)
        except Exception:  # unserializable or too large: the L1 drops it, the tier never had it
            dropped(1)

    return put
