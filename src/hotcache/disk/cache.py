"""hotcache.disk.cache: ``DiskCache``, a MutableMapping persisted in a local directory (LMDB).

Shared by the processes and threads of one host, bounded in bytes on disk, with per-entry TTLs,
approximate-LRU eviction, authenticated encryption by option, and a background writer.
"""
from __future__ import annotations

import math
import pickle
import sys
import time
import weakref
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Tuple

from ..tiers.redis_codec import Codec, Rejected, Secret, make_codec
from ..tiers.redis_spill import DEADLINE, GONE, KIND, SPILL, VALUE, SpillQueue
from ._format import decode_key, lkey_of, pack_record, parse_size, rkey_of, unpack_record, value_loader
from ._store import CorruptedError, Store, iter_chunks
from ._writer import DiskWriter, writer_name

__all__ = ["CorruptedError", "DiskCache", "DiskStats"]

_OPTIONS = {"frozen": True}
if sys.version_info >= (3, 10):
    _OPTIONS["slots"] = True

_MISSING: Any = object()
WRITES = ("behind", "through")


@dataclass(**_OPTIONS)  # type: ignore[call-overload]
class DiskStats:
    """A snapshot of a DiskCache: this process's counters and the directory's sizes.

    ``hits``/``misses``: lookups by this object. ``sets``/``deletes``: writes queued by it.
    ``evictions`` (size bound) and ``expirations`` (TTL) count entries this process's writer
    removed (other processes sharing the directory count their own). ``rejected``: stored
    values that failed authentication or decoding (read as misses). ``errors``: engine errors
    (reads answered as misses, batches not written). ``disk_full``: commits refused for lack
    of disk space (ENOSPC); ``write_failures``: queued writes that could not be applied (they
    read as misses). ``pending``: writes queued and not yet applied. ``entries``: entries in
    the directory (including expired ones not yet reclaimed); ``disk_bytes``: the directory's
    files; ``live_bytes``: pages in use; ``maxsize``: the bound on disk_bytes.
    ``last_error``: the latest engine error's text, or None.
    """

    hits: int
    misses: int
    sets: int
    deletes: int
    evictions: int
    expirations: int
    rejected: int
    errors: int
    disk_full: int
    write_failures: int
    pending: int
    entries: int
    disk_bytes: int
    live_bytes: int
    maxsize: int
    last_error: Optional[str]

    @property
    def hit_ratio(self) -> float:
        """``hits / (hits + misses)``, or 0.0 before any lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def _check_ttl(name: str, value: Any, allow_none: bool = True) -> Optional[float]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be seconds as int or float%s, not %s"
                        % (name, " or None" if allow_none else "", type(value).__name__))
    if value != value:
        raise ValueError("%s must be a number of seconds, got nan" % name)
    return float(value)


def _codec(serializer: Any, secret: Secret, trusted: bool) -> Codec:
    """The Redis tier's codec, with the disk cache's wording for the two refusals it words for
    Redis (pickle without a secret, a secret without cryptography)."""
    is_pickle = serializer == "pickle" or serializer is pickle
    if is_pickle and secret is None and not trusted:
        raise ValueError("serializer='pickle' would run code from whoever can write to the cache "
                         "directory: give secret= (values are then authenticated before "
                         "unpickling) or trusted=True if only trusted users can write there")
    try:
        return make_codec(serializer, secret, trusted)
    except ImportError as exc:
        if "cryptography" in str(exc):
            raise ImportError("secret= needs the cryptography package: pip install cryptography") from None
        raise


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if value < 1:
        raise ValueError("%s must be >= 1, got %d" % (name, value))
    return value


class DiskCache(MutableMapping):
    """A cache in a local directory, shared by every process and thread of the host using it.

    ``DiskCache(path, *, maxsize="10GB", ttl=None, serializer="json", secret=None,
    trusted=False, timer=time.time, write="behind", on_corrupt="raise", verify=False,
    durable=False, batch_size=1000, max_pending=100_000, interval=0.5)``

    * ``path``: the directory (created with mode 0700 if missing). It must be new, empty or
      a DiskCache directory; any other file in it raises CorruptedError.
    * ``maxsize``: bytes the directory may take on disk, engine overhead included (an int or
      ``"10GB"``, ``"512MiB"``; at least 1 MiB). Fixed when the directory is created: opening
      it with another maxsize raises ValueError. Least recently used entries are evicted
      (approximately: a read counts as a use once this process's writer records it, at its
      next batch or within ``interval`` seconds).
    * ``ttl``: default seconds an entry lives (None: until evicted); ``set(k, v, ttl=)``
      overrides it per entry. Expired entries read as misses at once and are reclaimed
      incrementally (a bounded sweep with every batch and every ``interval`` when idle).
    * ``serializer``: ``"json"`` (default), ``"msgpack"``, ``"pickle"`` (refused unless
      ``secret=`` or ``trusted=True``: whoever can write the directory could otherwise run
      code in this process) or an object with ``dumps(value) -> bytes`` and ``loads(bytes)``.
    * ``secret``: bytes/str of at least 16 bytes (or a list: the first encrypts, all decrypt):
      values are sealed with AES-256-GCM, bound to their key (a value moved to another key,
      tampered or forged reads as a miss, counted in ``stats().rejected``).
    * ``timer``: the clock TTLs are judged by (wall-clock seconds; shared by processes).
    * ``write``: ``"behind"`` (default): writes and deletes are queued and applied by one
      background thread per DiskCache object in batches, one transaction each; this process
      reads its own queued writes at once, other processes once applied (``flush()`` waits).
      ``"through"``: ``set``/``del``/``pop`` return once their batch was committed.
    * ``on_corrupt``: ``"raise"`` (CorruptedError for damaged or foreign files) or
      ``"rebuild"`` (they are moved to ``<path>.corrupt-<time>-<pid>`` and the cache starts
      empty). ``verify=True`` checks the data file's structure before opening it (lmdb >= 3.0;
      for a directory that others could have written). ``durable=True`` syncs every commit to
      disk (else ``flush()`` does: committed writes survive the death of the process either
      way, and a crash of the machine once flushed).

    A full disk (ENOSPC) never raises: writes that cannot be applied read as misses and are
    counted in ``stats().disk_full`` / ``write_failures``. Keys: None, bool, int, float, str,
    bytes, classes and tuples of these (1, 1.0 and True are the same key, as in a dict).
    Values: whatever the serializer takes (JSON turns tuples into lists). A DiskCache cannot be
    pickled; open the directory again instead. Use it as ``@cached(cache=DiskCache(...))``.
    """

    def __init__(self, path: Any, *, maxsize: Any = "10GB", ttl: Optional[float] = None,
                 serializer: Any = "json", secret: Secret = None, trusted: bool = False,
                 timer: Callable[[], float] = time.time, write: str = "behind",
                 on_corrupt: str = "raise", verify: bool = False, durable: bool = False,
                 batch_size: int = 1000, max_pending: int = 100_000, interval: float = 0.5) -> None:
        size = parse_size("maxsize", maxsize)
        default_ttl = _check_ttl("ttl", ttl)
        if default_ttl is not None and not default_ttl > 0:
            raise ValueError("ttl must be > 0 seconds (or None), got %r" % (ttl,))
        if default_ttl is not None and math.isinf(default_ttl):
            default_ttl = None
        if not callable(timer):
            raise TypeError("timer must be a callable returning seconds")
        if write not in WRITES:
            if not isinstance(write, str):
                raise TypeError("write must be 'behind' or 'through', not %s" % type(write).__name__)
            raise ValueError("write must be 'behind' or 'through', got %r" % (write,))
        every = float(_check_ttl("interval", interval, allow_none=False))  # type: ignore[arg-type]
        if not every > 0 or math.isinf(every):
            raise ValueError("interval must be a finite number of seconds > 0, got %r" % (interval,))
        self._codec: Codec = _codec(serializer, secret, trusted)
        self._loads = value_loader(self._codec)
        meta = {"serializer": str(self._codec.serializer.name), "sealed": "1" if self._codec.sealed else "0"}
        self._store = Store(path, size, meta, on_corrupt=on_corrupt, verify=bool(verify), durable=bool(durable))
        self._ttl = default_ttl
        self._timer = timer
        self._through = write == "through"
        self._max_record = self._store.map_size // 8
        self._queue = SpillQueue(_check_count("max_pending", max_pending), tomb_limit=max_pending)
        self._writer = DiskWriter(self._store, self._queue, _check_count("batch_size", batch_size),
                                  every, timer, writer_name(self._store.path))
        self._touches = self._writer.touches
        self._counts = {"hits": 0, "misses": 0, "sets": 0, "deletes": 0, "rejected": 0, "errors": 0}
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._writer, self._queue, self._store)

    # -- reads ---------------------------------------------------------------------------------
    def _lookup(self, key: Any) -> Any:
        """The live value stored for ``key``, or _MISSING (counted as a hit or a miss)."""
        found = self._find(rkey_of(key))
        if found is _MISSING:
            self._counts["misses"] += 1
            return _MISSING
        self._counts["hits"] += 1
        return found[0]

    def _find(self, rkey: bytes) -> Any:
        """(value, expire_at: the timer's time of expiry, 0.0 for none) of the live value stored
        for ``rkey`` (this process's queued writes first), or _MISSING. Counts rejected values and
        engine errors, not hits or misses (DiskTier counts its own)."""
        if self._closed:
            raise ValueError("I/O operation on a closed DiskCache")
        lkey = rkey if len(rkey) <= 400 else lkey_of(rkey)
        q = self._queue
        if q.done != q.seq or q.tombs or q.clear_pending:
            op = q.lookup(lkey)
            if op is not None:
                if op is GONE or op[KIND] != SPILL:
                    return _MISSING
                expire_at = op[DEADLINE]
                if expire_at and expire_at <= self._timer():
                    return _MISSING
                return self._decode(rkey, lkey, op[VALUE][0], False)
        try:
            record = self._store.read(lkey)
        except Exception as exc:
            if self._closed:
                raise ValueError("I/O operation on a closed DiskCache") from None
            self._counts["errors"] += 1
            self._store.last_error = "%s: %s" % (type(exc).__name__, exc)
            return _MISSING
        if record is None:
            return _MISSING
        return self._decode(rkey, lkey, record, True)

    def _decode(self, rkey: bytes, lkey: bytes, record: bytes, stored: bool) -> Any:
        try:
            expire_at, kept, blob = unpack_record(record)
        except ValueError:
            self._counts["rejected"] += 1
            return _MISSING
        if expire_at and expire_at <= self._timer():
            return _MISSING
        if kept is not None and kept != rkey:
            return _MISSING  # a digest collision (hashed long keys): not this key
        try:
            value = self._loads(rkey, blob)
        except Rejected:
            self._counts["rejected"] += 1
            return _MISSING
        if stored:
            touches = self._touches
            if len(touches) < 65536:
                touches[lkey] = time.time_ns() // 1000
        return value, expire_at

    def __getitem__(self, key: Any) -> Any:
        value = self._lookup(key)
        if value is _MISSING:
            return self.__missing__(key)
        return value

    def __missing__(self, key: Any) -> Any:
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value stored for ``key``, or ``default``."""
        value = self._lookup(key)
        return default if value is _MISSING else value

    def __contains__(self, key: Any) -> bool:
        return self._lookup(key) is not _MISSING

    # -- writes --------------------------------------------------------------------------------
    def set(self, key: Any, value: Any, ttl: Optional[float] = None, *, expire: Optional[float] = None) -> None:
        """Store ``value`` for ``ttl`` seconds (None: the cache's ttl; ``expire=`` is
        diskcache's name for it). A ttl <= 0 removes the key. TypeError for a key the cache
        cannot encode or a value the serializer cannot write, ValueError for a value larger
        than an eighth of maxsize; the cache is then unchanged."""
        if expire is not None:
            if ttl is not None:
                raise TypeError("give ttl= or expire=, not both")
            ttl = expire
        seconds = _check_ttl("ttl", ttl)
        self._put(key, value, self._ttl if seconds is None else seconds)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._put(key, value, self._ttl)

    def _put(self, key: Any, value: Any, seconds: Optional[float]) -> None:
        if self._closed:
            raise ValueError("I/O operation on a closed DiskCache")
        rkey = rkey_of(key)
        if seconds is not None and not seconds > 0:
            self._remove(rkey)
            return
        self._queue_record(rkey, value, seconds, False)
        self._counts["sets"] += 1
        if self._through:
            self._confirm()

    def _record(self, rkey: bytes, value: Any, seconds: Optional[float]) -> Tuple[bytes, bytes, float]:
        """(lkey, record, expire_at) of ``value`` stored for ``seconds`` (None: no expiry).
        TypeError if the serializer refuses the value, ValueError if it is too large."""
        blob = self._codec.dumps(rkey, value)
        lkey = lkey_of(rkey)
        expire_at = 0.0 if seconds is None or math.isinf(seconds) else self._timer() + seconds
        record = pack_record(lkey, rkey, expire_at, blob)
        if len(record) > self._max_record:
            raise ValueError("a value of %d bytes does not fit this cache (maxsize %d allows %d per entry)"
                             % (len(record), self._store.maxsize, self._max_record))
        return lkey, record, expire_at

    def _queue_record(self, rkey: bytes, value: Any, seconds: Optional[float], spill: bool) -> None:
        """Queue ``value`` for ``rkey``: a write (never dropped) or, with ``spill``, a spill of a
        tier (dropped when the queue is full). Errors as _record's, the queue then unchanged."""
        lkey, record, expire_at = self._record(rkey, value, seconds)
        writer = self._writer
        if writer._thread is None:
            writer.ensure()
        if spill:
            self._queue.put_spill(lkey, (record, time.time_ns() // 1000), expire_at)
        else:
            self._queue.put_write(lkey, (record, time.time_ns() // 1000), expire_at)

    def _remove(self, rkey: bytes) -> None:
        writer = self._writer
        if writer._thread is None:
            writer.ensure()
        self._queue.put_delete(lkey_of(rkey))
        self._counts["deletes"] += 1
        if self._through:
            self._confirm()

    def _confirm(self) -> bool:
        q = self._queue
        mark = q.mark()
        return q.wait(mark, time.monotonic() + 60.0) and q.landed(mark)

    def delete(self, key: Any) -> bool:
        """Remove ``key``; True if it was there (diskcache's ``delete``)."""
        present = self._lookup(key) is not _MISSING
        self._remove(rkey_of(key))
        return present

    def __delitem__(self, key: Any) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (``default``, or KeyError, if absent)."""
        value = self._lookup(key)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        self._remove(rkey_of(key))
        return value

    def clear(self) -> None:
        """Remove every entry, for every process sharing the directory (queued writes of this
        process are dropped). If the store cannot be cleared now, every read is a miss until the
        writer has managed it."""
        if self._closed:
            raise ValueError("I/O operation on a closed DiskCache")
        self._clear_with(None)

    def _clear_with(self, then: Optional[Callable[[], None]]) -> None:
        """clear(), calling ``then()`` (a tiered cache's L1 clear) once no write is in flight."""
        q = self._queue
        with self._writer.io_lock:
            q.begin_clear()
            if then is not None:
                then()
            ok = False
            try:
                self._store.clear()
                ok = True
            except Exception as exc:
                self._counts["errors"] += 1
                self._store.last_error = "%s: %s" % (type(exc).__name__, exc)
                self._writer.ensure()
            q.end_clear(ok)

    def expire(self, now: Optional[float] = None) -> int:
        """Remove every entry expired at ``now`` (default: ``timer()``); returns how many."""
        if self._closed:
            raise ValueError("I/O operation on a closed DiskCache")
        when = self._timer() if now is None else _check_ttl("now", now, allow_none=False)
        removed = 0
        with self._writer.io_lock:
            while True:
                part = self._store.expire(when, 1000)  # type: ignore[arg-type]
                removed += len(part)
                if len(part) < 1000:
                    return removed

    # -- whole-cache views ---------------------------------------------------------------------
    def __len__(self) -> int:
        """Live entries in the directory, after this process's queued writes are applied."""
        if self._closed:
            raise ValueError("I/O operation on a closed DiskCache")
        self._drain()
        try:
            return self._store.count(self._timer())
        except Exception as exc:
            self._counts["errors"] += 1
            self._store.last_error = "%s: %s" % (type(exc).__name__, exc)
            return 0

    def __iter__(self) -> Iterator[Any]:
        """The keys of live entries, in the store's byte order (applies queued writes first).
        Entries whose key this process cannot decode (a class not imported here) are skipped.
        Reads in short transactions: entries written meanwhile may or may not be seen."""
        if self._closed:
            raise ValueError("I/O operation on a closed DiskCache")
        self._drain()
        now = self._timer()
        for lkey, record in iter_chunks(self._store):
            try:
                expire_at, kept, _ = unpack_record(record)
                if expire_at and expire_at <= now:
                    continue
                yield decode_key((kept if kept is not None else lkey).decode("utf-8", "surrogatepass"))
            except (ValueError, UnicodeDecodeError):
                continue

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a DiskCache cannot be pickled or copied; open its directory again")

    # -- lifecycle and stats -------------------------------------------------------------------
    def flush(self, timeout: Optional[float] = None) -> bool:
        """Block until every write queued so far was applied (at most ``timeout`` seconds),
        then sync the data file to disk. True if they all landed; False if some could not be
        (disk full, engine error: they read as misses) or time ran out. Never raises for those."""
        if self._closed:
            return True
        landed = self._drain(timeout)
        try:
            self._store.sync()
        except Exception as exc:
            self._store.last_error = "%s: %s" % (type(exc).__name__, exc)
            return False
        return landed

    def _drain(self, timeout: Optional[float] = None) -> bool:
        """Wait until the writes queued so far were applied (no sync); True if all landed."""
        q = self._queue
        mark = q.mark()
        if self._writer.running():
            q.wait(mark, None if timeout is None else time.monotonic() + timeout)
        elif q.queue:
            self._writer.ensure()
            q.wait(mark, None if timeout is None else time.monotonic() + timeout)
        with q.lock:
            return q.landed(mark)

    def close(self, timeout: float = 5.0) -> bool:
        """Apply what is queued (at most ``timeout`` seconds), stop the writer and release the
        directory. True if everything queued was written. Further use raises ValueError."""
        if self._closed:
            return True
        self._closed = True
        self._finalizer.detach()
        return _shutdown(self._writer, self._queue, self._store, timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "DiskCache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def path(self) -> str:
        """The directory (absolute)."""
        return self._store.path

    @property
    def maxsize(self) -> int:
        """The bound in bytes on the directory's size."""
        return self._store.maxsize

    @property
    def ttl(self) -> Optional[float]:
        """The default ttl in seconds (None: entries live until evicted)."""
        return self._ttl

    @property
    def serializer(self) -> str:
        return str(self._codec.serializer.name)

    @property
    def encrypted(self) -> bool:
        return self._codec.sealed

    def volume(self) -> int:
        """Bytes the directory takes on disk (diskcache's ``volume()``)."""
        from ._store import directory_bytes

        return directory_bytes(self._store.path)

    def stats(self) -> DiskStats:
        """Counters of this object and sizes of the directory (see DiskStats)."""
        c, store, q = self._counts, self._store, self._queue
        try:
            sizes = store.sizes() if not self._closed else {}
        except Exception as exc:
            store.last_error = "%s: %s" % (type(exc).__name__, exc)
            sizes = {}
        return DiskStats(
            hits=c["hits"], misses=c["misses"], sets=c["sets"], deletes=c["deletes"],
            evictions=store.counts["evictions"], expirations=store.counts["expirations"],
            rejected=c["rejected"], errors=c["errors"] + store.counts["errors"],
            disk_full=store.counts["disk_full"], write_failures=q.failures,
            pending=len(q.queue) + len(q.inflight), entries=sizes.get("entries", 0),
            disk_bytes=sizes.get("file_bytes", 0), live_bytes=sizes.get("live_bytes", 0),
            maxsize=store.maxsize, last_error=store.last_error)

    def __repr__(self) -> str:
        return "DiskCache(%r, maxsize=%d, ttl=%r, serializer=%r, encrypted=%r%s)" % (
            self._store.path, self._store.maxsize, self._ttl, self.serializer, self.encrypted,
            ", closed" if self._closed else "")


def _shutdown(writer: DiskWriter, queue: SpillQueue, store: Store, timeout: float = 5.0) -> bool:
    """Drain and stop the writer, then release the store (the finalizer and close())."""
    drained = writer.stop(timeout)
    with queue.lock:
        landed = not queue.queue and not queue.inflight and not queue.tombs and not queue.clear_pending
    queue.close()
    if drained:
        try:
            store.sync()
        except Exception:
            pass
        store.close()
    return drained and landed

