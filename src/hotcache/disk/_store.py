"""The storage engine of hotcache's disk cache: one LMDB environment per directory, bounded in bytes.

Reads are one LMDB read transaction each; writes arrive in batches from one writer thread per
cache object and are applied in one write transaction, together with recorded uses (LRU), a
sweep of expired entries and, when the store is near its bound, evictions. Safe for many
processes and threads of one host; a writer killed at any point leaves the last committed
transaction. Nothing here knows about cache keys or values: keys and records are bytes.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import _env as envmod
from ._env import (
    MAX_READERS, CorruptedError, NotOurs, SharedEnv, active, get_ident, lmdb_module, lock_reserve,
    txn_of, wait_for_fork,
)
from ._format import FORMAT, expire_key, stamp_bytes, unpack_record

__all__ = ["CorruptedError", "DiskFull", "Store", "DELETE_OP", "WRITE_OP"]

_log = logging.getLogger("hotcache.disk")

# WHY LMDB (benchmarks/disk_engines.py; numbers in the note)
#
# A read is a B+tree walk in a shared memory map, no system call and no SQL layer: 1 us against
# SQLite's 2-4 us per SELECT through sqlite3 (diskcache: 6 us). A committed transaction is never
# half-visible: the two meta pages are switched at commit, so a process killed at any point
# leaves the previous commit (no recovery step, no journal to replay). Many processes share the
# directory through the lock file (readers never block, one writer at a time; a writer that dies
# holding the write lock is detected by the robust mutex on Linux, SEM_UNDO on macOS, abandoned
# mutexes on Windows). The price: the map size is fixed when opening (it is the byte bound, see
# SIZING), the data file never shrinks (freed pages are reused), and a hostile data file can
# crash the engine (use verify=True for files you do not control; values are authenticated by
# the codec either way).
#
# SIZING. maxsize covers the whole directory: lock.mdb (64 bytes per reader slot plus a header,
# reserved up front) and data.mdb, whose size LMDB never lets exceed map_size = maxsize - the
# lock reserve. Inside the map, "live" pages (branch, leaf and overflow pages of every database)
# are kept below HIGH of the map by evicting the least recently used entries down to LOW; the
# rest is room for copy-on-write and the free list. If LMDB still runs out of map (MDB_MAP_FULL)
# or the file system runs out of space (ENOSPC), the batch is retried after a deeper eviction
# (for ENOSPC, below the size the file already has: those pages need no new disk blocks).
#
# FULL DISK. The file system may fill up before maxsize is reached. LMDB then cannot commit,
# and not even a transaction that deletes: copy-on-write needs free pages, and a data file
# whose pages are all live has none. So every directory keeps a space reserve, a file of
# space_reserve(maxsize) bytes (part of maxsize). When a commit fails for lack of space, the
# reserve is deleted, the budget is lowered to the pages the data file already has, and
# least recently used entries are evicted in small transactions until the batch fits; the
# cache goes on inside the space it has. The reserve is made again once the file system has
# four times its size free.
#
# DATABASES (named LMDB databases of one environment; see _format for the byte layouts)
#   v  lkey -> record            a  lkey -> stamp u64 | expire_us u64    (the index keys of lkey)
#   l  stamp | lkey -> ""        e  expire_us | lkey -> ""               m  meta: format, options

_NEVER = b"\0" * 8  # expire_us of an entry without expiry (the access record's second half)
HIGH = 0.70
LOW = 0.60
EVICT_CHUNK = 64
SWEEP = 256           # expired entries reclaimed per batch
MIN_MAXSIZE = 1 << 20
RESERVE = "space.reserve"


def space_reserve(maxsize: int) -> int:
    """Bytes of the space reserve: maxsize / 64, between 256 KiB and 64 MiB."""
    return min(max(maxsize // 64, 256 << 10), 64 << 20)
WRITE_OP = 0
DELETE_OP = 1

# outcomes (the SpillQueue's codes: hotcache._spill W_SET, W_DELETED, W_NOOP, W_FAILED)
O_SET, O_DELETED, O_NOOP, O_FAILED = 0, 1, 2, 3


class DiskFull(Exception):
    """A write transaction could not be committed for lack of disk space (ENOSPC)."""


def is_enospc(exc: BaseException) -> bool:
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC:
        return True
    return "No space left" in str(exc) or "ENOSPC" in str(exc)


class Store:
    """A disk cache directory as bytes: ``read(lkey)``, ``apply(ops, touches)``, ``clear()``,
    ``scan()``, sizes and counters. Thread-safe (every call is its own LMDB transaction).

    ``meta`` (str -> str) describes the values (serializer, sealed); a directory created with
    other meta, or another maxsize, is refused with ValueError (values would not decode).
    ``on_corrupt``: "raise" (CorruptedError) or "rebuild" (the files are moved to a sibling
    ``<path>.corrupt-<time>-<pid>`` directory and an empty store is made). ``verify``: check the
    data file's structure with lmdb's offline verifier before the engine opens it (use it for
    files that others could have written). ``durable``: fsync every commit (else flush() syncs).
    """

    def __init__(self, path: Any, maxsize: int, meta: Dict[str, str], *, on_corrupt: str = "raise",
                 verify: bool = False, durable: bool = False) -> None:
        try:
            path = os.fspath(path)
        except TypeError:
            raise TypeError("path must be a str or an os.PathLike, not %s" % type(path).__name__) from None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not path:
            raise ValueError("path must not be empty")
        if on_corrupt not in ("raise", "rebuild"):
            raise ValueError("on_corrupt must be 'raise' or 'rebuild', got %r" % (on_corrupt,))
        if maxsize < MIN_MAXSIZE:
            raise ValueError("maxsize must be at least %d bytes (1 MiB), got %d" % (MIN_MAXSIZE, maxsize))
        lmdb_module()
        self.path = os.path.abspath(path)
        self.maxsize = maxsize
        self.reserve_bytes = space_reserve(maxsize)
        self._reserve_path = os.path.join(self.path, RESERVE)
        self.map_size = (maxsize - lock_reserve(MAX_READERS) - self.reserve_bytes) // 65536 * 65536
        self._meta = dict(meta, format=FORMAT.decode(), maxsize=str(maxsize))
        self._on_corrupt = on_corrupt
        self._verify = verify
        self._durable = durable
        self._lock = threading.Lock()
        self._shared: Optional[SharedEnv] = None
        self._cap_pages: Optional[int] = None  # lowered after ENOSPC: the file system's limit
        self._last_stamp = 0
        self.counts = {"evictions": 0, "expirations": 0, "disk_full": 0, "errors": 0,
                       "reserve_released": 0}
        self.last_error: Optional[str] = None
        self.quarantined: Optional[str] = None
        self._open()
        envmod.stores.add(self)

    # -- opening -------------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            self._open_once()
        except CorruptedError as exc:
            if self._on_corrupt == "raise" or isinstance(exc, NotOurs):
                raise
            self._quarantine(str(exc))
            self._open_once()

    def _prepare_dir(self) -> None:
        path = self.path
        if os.path.lexists(path) and not os.path.isdir(path):
            raise NotOurs("%s exists and is not a directory" % path)
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chmod(path, 0o700)
            return
        names = set(os.listdir(path))
        other = sorted(names - {"data.mdb", "lock.mdb", RESERVE, RESERVE + ".tmp"})
        if other:
            raise NotOurs("%s is not a hotcache disk cache directory (it holds %s); give an "
                                 "empty or new directory" % (path, ", ".join(other[:5])))
        if self._verify and "data.mdb" in names:
            try:
                from lmdb import verify as verifier  # lmdb >= 3.0
            except ImportError:
                raise ImportError("verify=True needs lmdb >= 3.0 (its offline verifier): "
                                  "pip install -U 'hotcache[disk]'") from None

            try:
                problems = verifier.verify(path, subdir=True)
            except verifier.VerifyError as exc:
                raise CorruptedError("%s: %s" % (path, exc)) from None
            if problems:
                raise CorruptedError("%s: data.mdb failed verification: %s" % (path, "; ".join(problems[:3])))

    def _open_once(self) -> None:
        lmdb = lmdb_module()
        self._prepare_dir()
        st = os.stat(self.path)
        ident = (st.st_dev, st.st_ino)
        with envmod.envs_lock():
            shared = envmod.envs.get(ident)
            if shared is None:
                try:
                    shared = SharedEnv(ident, self.path, self.map_size, self._durable)
                except (lmdb.InvalidError, lmdb.CorruptedError, lmdb.VersionMismatchError,
                        lmdb.PageNotFoundError, lmdb.IncompatibleError) as exc:
                    raise CorruptedError("%s: not a readable LMDB environment (%s)" % (self.path, exc)) from None
                envmod.envs[ident] = shared
            elif shared.map_size != self.map_size:
                raise ValueError("%s is open in this process with another maxsize" % self.path)
            shared.refs += 1
        try:
            self._check_meta(shared)
        except BaseException:
            self._release(shared)
            raise
        self._shared = shared
        shared.env.reader_check()  # reader slots of dead processes pin pages: free them
        if not os.path.exists(self._reserve_path):
            self._make_reserve()

    def _check_meta(self, shared: SharedEnv) -> None:
        lmdb = lmdb_module()
        try:
            with txn_of(shared.env, db=shared.m) as txn:
                stored = {k.decode(): v.decode() for k, v in txn.cursor()}
            if not stored:
                with txn_of(shared.env, write=True) as txn:
                    if txn.stat(shared.m)["entries"] == 0 and txn.stat(shared.v)["entries"] == 0:
                        for k, v in self._meta.items():
                            txn.put(k.encode(), v.encode(), db=shared.m)
                        return
                with txn_of(shared.env, db=shared.m) as txn:
                    stored = {k.decode(): v.decode() for k, v in txn.cursor()}
        except (lmdb.CorruptedError, lmdb.PageNotFoundError, UnicodeDecodeError) as exc:
            raise CorruptedError("%s: damaged meta data (%s)" % (self.path, exc)) from None
        if stored.get("format") != FORMAT.decode():
            raise CorruptedError("%s holds an LMDB environment that is not a hotcache disk cache "
                                 "(format %r)" % (self.path, stored.get("format")))
        for name, value in self._meta.items():
            if stored.get(name) != value:
                what = "maxsize=%s" % stored.get(name) if name == "maxsize" else "%s=%r" % (name, stored.get(name))
                raise ValueError("%s was created with %s, not %r; open it with the same options or "
                                 "use another directory" % (self.path, what, value))

    def _quarantine(self, reason: str) -> None:
        aside = "%s.corrupt-%s-%d" % (self.path, time.strftime("%Y%m%d%H%M%S"), os.getpid())
        os.rename(self.path, aside)
        self.quarantined = aside
        _log.warning("hotcache.disk: %s; moved it to %s and started an empty cache", reason, aside)

    def _release(self, shared: SharedEnv) -> None:
        with envmod.envs_lock():
            shared.refs -= 1
            if shared.refs <= 0 and envmod.envs.get(shared.ident) is shared:
                del envmod.envs[shared.ident]
                shared.env.close()

    def _forked(self) -> None:  # pragma: no cover - runs in a forked child
        self._lock = threading.Lock()
        if self._shared is not None:
            self._shared = None
            self._reopen_after_fork = True

    def _env(self) -> SharedEnv:
        shared = self._shared
        if shared is None:
            if not getattr(self, "_reopen_after_fork", False):
                raise ValueError("the disk cache is closed")
            with self._lock:
                if self._shared is None:
                    self._open_once()
                    self._reopen_after_fork = False
            shared = self._shared
        return shared  # type: ignore[return-value]

    @property
    def closed(self) -> bool:
        return self._shared is None and not getattr(self, "_reopen_after_fork", False)

    def close(self) -> None:
        """Release this process's handle (the environment closes with its last Store)."""
        shared, self._shared = self._shared, None
        self._reopen_after_fork = False
        if shared is not None:
            self._release(shared)

    # -- reads ---------------------------------------------------------------------------------
    def read(self, lkey: bytes) -> Optional[bytes]:
        """The record stored under ``lkey``, or None. Engine errors propagate (the caller
        counts them and answers a miss)."""
        shared = self._shared
        if shared is None:
            shared = self._env()
        tid = get_ident()
        active[tid] = 1
        try:
            if envmod.forking:
                wait_for_fork()
            txn = shared.env.begin(shared.v)  # db=, positionally (0.4 us less); buffers=False
            try:
                return txn.get(lkey)
            finally:
                txn.abort()  # a read transaction: abort releases its snapshot (cheaper than commit)
        finally:
            del active[tid]

    def scan(self, after: Optional[bytes], n: int) -> List[Tuple[bytes, bytes]]:
        """Up to ``n`` (lkey, record) pairs in key order, starting after ``after`` (None: the
        first). One short read transaction per call, so iterating holds no snapshot."""
        shared = self._env()
        out: List[Tuple[bytes, bytes]] = []
        with txn_of(shared.env, db=shared.v, buffers=False) as txn:
            cur = txn.cursor()
            found = cur.set_range(after) if after is not None else cur.first()
            if found and after is not None and cur.key() == after:
                found = cur.next()
            while found and len(out) < n:
                out.append((cur.key(), cur.value()))
                found = cur.next()
        return out

    def due(self, now: float) -> bool:
        """True if some entry has expired at ``now`` (the expiry index's first key)."""
        shared = self._env()
        with txn_of(shared.env, db=shared.e) as txn:
            cur = txn.cursor()
            return bool(cur.first()) and cur.key()[:8] <= stamp_bytes(now * 1e6)

    def count(self, now: float) -> int:
        """Entries stored minus those already expired at ``now`` (not yet reclaimed)."""
        shared = self._env()
        limit = stamp_bytes(now * 1e6)
        with txn_of(shared.env) as txn:
            entries = txn.stat(shared.v)["entries"]
            expired = 0
            cur = txn.cursor(db=shared.e)
            if cur.first():
                for k in cur.iternext(keys=True, values=False):
                    if k[:8] > limit:
                        break
                    expired += 1
        return max(entries - expired, 0)

    # -- writes --------------------------------------------------------------------------------
    def stamp(self) -> int:
        """A use stamp: wall-clock microseconds, strictly increasing within this process."""
        s = time.time_ns() // 1000
        if s <= self._last_stamp:
            s = self._last_stamp + 1
        self._last_stamp = s
        return s

    def apply(self, ops: "Ops", touches: Dict[bytes, int], now: float) -> List[int]:
        """Apply ``ops`` — (lkey, WRITE_OP, record, expire_at, use stamp) or (lkey, DELETE_OP,
        None, 0.0, 0) — and ``touches`` (lkey -> use stamp) in one transaction, after evicting what the batch
        needs room for, and reclaim up to SWEEP expired entries; returns an outcome per op
        (O_SET, or O_DELETED for a delete or an already expired write). Raises DiskFull or lmdb.Error when the transaction could
        not be committed (then nothing of it was applied)."""
        lmdb = lmdb_module()
        shared = self._env()
        need = self._pages_for(shared, ops)
        if len(ops) > 1 and need > self._map_pages(shared) // 16:  # too big for one transaction
            half = len(ops) // 2
            return self.apply(ops[:half], touches, now) + self.apply(ops[half:], {}, now)
        deeper = 0
        for attempt in range(3):
            shared = self._env()
            try:
                self._make_room(shared, need, deeper)
                with txn_of(shared.env, write=True) as txn:
                    outcomes = self._apply_in(shared, txn, ops, touches, now)
                    self._expire_in(shared, txn, now, SWEEP)
                return outcomes
            except lmdb.MapFullError as exc:
                self._note(exc)
                deeper += 1
            except lmdb.Error as exc:
                if not self._no_space(exc, need * shared.psize):
                    if isinstance(exc, lmdb.PanicError):
                        self._reset_env(shared)
                    raise
                self.counts["disk_full"] += 1
                self._note(exc)
                self._lower_cap(shared)
                self._release_reserve()
                deeper += 1
            if len(ops) > 1 and attempt >= 1:  # the batch may be too big for the map at all
                half = len(ops) // 2
                return self.apply(ops[:half], touches, now) + self.apply(ops[half:], {}, now)
        raise DiskFull("no room on disk for a batch of %d writes" % len(ops))

    @staticmethod
    def _pages_for(shared: SharedEnv, ops: "Ops") -> int:
        """Pages a batch may take: its bytes in four databases at half-full leaves, plus a few
        for branch pages."""
        size = 0
        for lkey, _, record, _, _ in ops:
            if record is not None:
                size += len(record) + 3 * len(lkey) + 96
        return 2 * size // shared.psize + 8

    def _make_room(self, shared: SharedEnv, need: int, deeper: int) -> int:
        """Evict least recently used entries, a chunk per transaction (a transaction that
        deletes needs free pages too, and pages freed by the last commit are not reusable by the
        next one), until ``need`` more pages fit below the high mark (after a failure: below a
        lowered low mark), counting live pages and how far the data file has grown. A chunk
        that hits the end of the map is retried smaller."""
        lmdb = lmdb_module()
        high, low = self._budget(shared, deeper)
        file_cap = int(self._map_pages(shared) * 0.9)
        with txn_of(shared.env) as txn:
            if shared.live_pages(txn) + need <= high and shared.env.info()["last_pgno"] + need <= file_cap:
                return 0
        evicted = 0
        chunk_size = EVICT_CHUNK
        while True:
            try:
                with txn_of(shared.env, write=True) as txn:
                    if shared.live_pages(txn) + need <= low:
                        break
                    cur = txn.cursor(db=shared.l)
                    if not cur.first():
                        break
                    chunk = [k[8:] for k, _ in zip(cur.iternext(keys=True, values=False), range(chunk_size))]
                    for lkey in chunk:
                        self._unlink(shared, txn, lkey)
            except lmdb.MapFullError:
                if chunk_size == 1:
                    raise
                chunk_size = max(1, chunk_size // 4)
                continue
            evicted += len(chunk)
            self.counts["evictions"] += len(chunk)
        return evicted

    def _map_pages(self, shared: SharedEnv) -> int:
        pages = shared.map_size // shared.psize
        if self._cap_pages is not None:
            pages = min(pages, self._cap_pages)
        return pages

    def _no_space(self, exc: BaseException, need: int) -> bool:
        """Was ``exc`` a full file system? ENOSPC, or EIO (LMDB reports a short write at commit
        as EIO, which is what a full file system gives it) while the file system has less free
        space than the batch needs."""
        if is_enospc(exc):
            return True
        if getattr(exc, "errno", None) != errno.EIO and "Input/output error" not in str(exc):
            return False
        try:
            free = shutil.disk_usage(self.path).free
        except OSError:
            return False
        return free < max(need, 1 << 20)

    def _note(self, exc: BaseException) -> None:
        self.last_error = "%s: %s" % (type(exc).__name__, exc)

    def _reset_env(self, shared: SharedEnv) -> None:
        """After MDB_PANIC the environment must be reopened (every handle of this process)."""
        with envmod.envs_lock():
            if envmod.envs.get(shared.ident) is shared:
                del envmod.envs[shared.ident]
        for store in list(envmod.stores):
            if store._shared is shared:
                store._shared = None
                store._reopen_after_fork = True
        envmod.abandoned.append(shared)

    def _lower_cap(self, shared: SharedEnv) -> None:
        """ENOSPC: the file system cannot grow data.mdb; keep live pages below what it has."""
        info = shared.env.info()
        have = info["last_pgno"] + 1
        cap = self._cap_pages
        self._cap_pages = have if cap is None else min(cap, have)

    def _unlink(self, shared: SharedEnv, txn: Any, lkey: bytes) -> bool:
        """Remove ``lkey`` and its index entries; True if it was stored."""
        idx = txn.get(lkey, db=shared.a)
        if idx is None:
            return txn.delete(lkey, db=shared.v)
        txn.delete(idx[:8] + lkey, db=shared.l)
        if idx[8:16] != b"\0" * 8:
            txn.delete(idx[8:16] + lkey, db=shared.e)
        txn.delete(lkey, db=shared.a)
        return txn.delete(lkey, db=shared.v)

    def _apply_in(self, shared: SharedEnv, txn: Any, ops: "Ops", touches: Dict[bytes, int],
                  now: float) -> List[int]:
        # one cursor per database, positional puts: 1.3 us per write against 1.7 us through
        # txn.put(..., db=) (keyword parsing); a new key costs one lookup and four puts
        cv, ca, cl, ce = txn.cursor(shared.v), txn.cursor(shared.a), txn.cursor(shared.l), txn.cursor(shared.e)
        never = _NEVER
        outcomes = []
        for lkey, kind, record, expire_at, when in ops:
            idx = ca.get(lkey)
            if idx is not None:  # replaced or deleted: its index entries go
                self._unlink(shared, txn, lkey)
            if kind == DELETE_OP or record is None or (expire_at and expire_at <= now):
                # applied, whether or not the key was stored: a tomb of the key may go (the
                # queue keeps tombs until an op reports anything but O_NOOP or O_FAILED)
                outcomes.append(O_DELETED)
                continue
            cv.put(lkey, record)
            stamp = stamp_bytes(when or self.stamp())
            if expire_at:
                ekey = expire_key(expire_at, lkey)
                ce.put(ekey, b"")
                ca.put(lkey, stamp + ekey[:8])
            else:
                ca.put(lkey, stamp + never)
            cl.put(stamp + lkey, b"")
            outcomes.append(O_SET)
        for lkey, when in touches.items():
            idx = ca.get(lkey)
            if idx is None:
                continue
            new = stamp_bytes(when)
            if new > idx[:8]:
                txn.delete(idx[:8] + lkey, db=shared.l)
                cl.put(new + lkey, b"")
                ca.put(lkey, new + idx[8:16])
        return outcomes

    def _expire_in(self, shared: SharedEnv, txn: Any, now: float, limit: int) -> int:
        cur = txn.cursor(db=shared.e)
        if not cur.first():
            return 0
        bound = stamp_bytes(now * 1e6)
        due: List[bytes] = []
        for k in cur.iternext(keys=True, values=False):
            if k[:8] > bound or len(due) >= limit:
                break
            due.append(k[8:])
        for lkey in due:
            self._unlink(shared, txn, lkey)
        self.counts["expirations"] += len(due)
        return len(due)

    def _budget(self, shared: SharedEnv, deeper: int) -> Tuple[int, int]:
        pages = self._map_pages(shared)
        high = int(pages * HIGH * (0.7 ** deeper))
        low = int(pages * LOW * (0.7 ** deeper))
        return high, low

    def expire(self, now: float, limit: int) -> List[Tuple[bytes, bytes]]:
        """Remove up to ``limit`` entries expired at ``now``; returns their (lkey, record)."""
        shared = self._env()
        out = []
        bound = stamp_bytes(now * 1e6)
        with txn_of(shared.env, write=True) as txn:
            cur = txn.cursor(db=shared.e)
            due: List[bytes] = []
            if cur.first():
                for k in cur.iternext(keys=True, values=False):
                    if k[:8] > bound or len(due) >= limit:
                        break
                    due.append(k[8:])
            for lkey in due:
                record = txn.get(lkey, db=shared.v)
                self._unlink(shared, txn, lkey)
                if record is not None:
                    out.append((lkey, bytes(record)))
        self.counts["expirations"] += len(out)
        return out

    def clear(self) -> None:
        """Remove every entry (one transaction; every process sees it at once)."""
        shared = self._env()
        with txn_of(shared.env, write=True) as txn:
            for db in (shared.v, shared.a, shared.l, shared.e):
                txn.drop(db, delete=False)

    def sync(self) -> None:
        """fsync the data file: every committed transaction survives a crash of the machine."""
        self._env().env.sync(True)

    def maintain(self) -> None:
        """Free reader slots of processes that died (their snapshots pin pages); put the space
        reserve back once the file system has room again."""
        self._env().env.reader_check()
        if not os.path.exists(self._reserve_path):
            try:
                if shutil.disk_usage(self.path).free > 4 * self.reserve_bytes:
                    self._make_reserve()
            except OSError:
                pass

    # -- the space reserve (see FULL DISK) -------------------------------------------------------
    def _make_reserve(self) -> None:
        """Create the reserve file (its blocks really allocated); on failure leave none."""
        path = self._reserve_path
        tmp = path + ".tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                chunk = b"\0" * 65536
                left = self.reserve_bytes
                while left > 0:
                    left -= os.write(fd, chunk[:min(left, len(chunk))])
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError:
            try:
                os.remove(tmp)
            except OSError:
                pass

    def _release_reserve(self) -> bool:
        """The file system is full: delete the reserve so evictions can commit."""
        try:
            os.remove(self._reserve_path)
        except OSError:
            return False
        self.counts["reserve_released"] += 1
        _log.warning("hotcache.disk: %s: the file system is full; released the %d-byte space "
                     "reserve and evicting to fit the space the cache has", self.path, self.reserve_bytes)
        return True

    # -- sizes and checks ----------------------------------------------------------------------
    def sizes(self) -> Dict[str, int]:
        """entries, live_bytes (pages in use), file_bytes (data.mdb + lock.mdb), map_size."""
        shared = self._env()
        with txn_of(shared.env) as txn:
            entries = txn.stat(shared.v)["entries"]
            live = shared.live_pages(txn) * shared.psize
        return {"entries": entries, "live_bytes": live, "file_bytes": directory_bytes(self.path),
                "map_size": shared.map_size}

    def check(self) -> List[str]:
        """Problems with the databases' agreement (empty: consistent). Walks everything."""
        shared = self._env()
        problems = []
        with txn_of(shared.env, buffers=False) as txn:
            v = dict(txn.cursor(db=shared.v))
            a = dict(txn.cursor(db=shared.a))
            lru = set(k for k, _ in txn.cursor(db=shared.l))
            exp = set(k for k, _ in txn.cursor(db=shared.e))
        if set(v) != set(a):
            problems.append("values and access entries differ: %d vs %d" % (len(v), len(a)))
        want_l = set(idx[:8] + k for k, idx in a.items())
        want_e = set(idx[8:16] + k for k, idx in a.items() if idx[8:16] != b"\0" * 8)
        if want_l != lru:
            problems.append("lru index disagrees (%d entries, %d expected)" % (len(lru), len(want_l)))
        if want_e != exp:
            problems.append("expiry index disagrees (%d entries, %d expected)" % (len(exp), len(want_e)))
        for k, rec in v.items():
            try:
                expire_at, _, _ = unpack_record(rec)
            except ValueError as exc:
                problems.append("record %r: %s" % (k[:40], exc))
                continue
            idx = a.get(k)
            if idx is not None and expire_key(expire_at, k)[:8] != idx[8:16] and expire_at:
                problems.append("record %r: expiry differs from its index" % (k[:40],))
        return problems


def directory_bytes(path: str) -> int:
    """Bytes the directory's files take (the larger of apparent size and allocated blocks)."""
    total = 0
    for name in os.listdir(path):
        try:
            st = os.stat(os.path.join(path, name))
        except OSError:
            continue
        blocks = getattr(st, "st_blocks", 0) * 512
        total += max(st.st_size, blocks)
    return total


def iter_chunks(store: Store, chunk: int = 1000) -> Iterator[Tuple[bytes, bytes]]:
    """Every (lkey, record) of the store, read in chunks of short transactions."""
    after = None
    while True:
        part = store.scan(after, chunk)
        if not part:
            return
        yield from part
        after = part[-1][0]


Touches = Dict[bytes, int]
Ops = List[Tuple[bytes, int, Optional[bytes], float, int]]
Apply = Callable[[Ops, Touches, float], List[int]]
