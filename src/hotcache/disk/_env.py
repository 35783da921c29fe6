"""LMDB environments of this process: one per directory, shared by its Stores, safe across fork().

LMDB forbids opening an environment twice in one process and using an inherited one after
fork(); this module keeps the one handle per directory and the transaction registry that makes
a forked child's cleanup harmless to its parent (see FORK).
"""
from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any, Dict, List, Tuple

__all__ = ["CorruptedError", "MAX_READERS", "NAMES", "NotOurs", "SharedEnv", "envs", "lmdb_module",
           "lock_reserve", "stores", "txn_of"]

MAX_READERS = 254
NAMES = frozenset([b"v", b"a", b"l", b"e", b"m"])  # the named databases (see _store)


class CorruptedError(Exception):
    """The directory holds files that are not a readable hotcache disk cache (damaged, foreign,
    or written by another program). ``DiskCache(..., on_corrupt="rebuild")`` moves them aside
    instead and starts empty."""


class NotOurs(CorruptedError):
    """The path is not a cache directory at all (a file, or a directory of other files): never
    moved aside, whatever on_corrupt says."""


def lmdb_module() -> Any:
    try:
        import lmdb
    except ImportError:
        raise ImportError("hotcache's disk cache needs the lmdb package: pip install "
                          "'hotcache[disk]'") from None
    return lmdb


def lock_reserve(max_readers: int) -> int:
    """Bytes reserved for lock.mdb: LMDB's header plus 64 bytes per reader slot, page-rounded."""
    return (8192 + 64 * max_readers + 65535) // 65536 * 65536


class SharedEnv:
    """One open LMDB environment of this process, shared by every Store on the same files
    (LMDB forbids opening an environment twice in one process: its fcntl locks belong to the
    process, and closing a second handle would drop the first one's)."""

    def __init__(self, ident: Tuple[int, int], path: str, map_size: int, durable: bool) -> None:
        lmdb = lmdb_module()
        self.ident = ident
        self.path = path
        self.map_size = map_size
        self.durable = durable
        self.env = lmdb.open(path, map_size=map_size, subdir=True, max_dbs=8, max_readers=MAX_READERS,
                             sync=durable, metasync=durable, readahead=False, mode=0o700,
                             create=False, max_spare_txns=0, lock=True)
        self.psize = self.env.stat()["psize"]
        env = self.env
        try:  # a foreign environment is refused before anything is created in it
            with txn_of(env, buffers=False) as txn:
                names = [bytes(k) for k in txn.cursor().iternext(values=False)]
        except BaseException:
            env.close()
            raise
        foreign = [k for k in names if k not in NAMES]
        if foreign:
            env.close()
            raise CorruptedError("%s holds an LMDB environment that is not a hotcache disk cache "
                                 "(its main database has %r)" % (path, foreign[0][:40]))
        self.v = env.open_db(b"v")
        self.a = env.open_db(b"a")
        self.l = env.open_db(b"l")
        self.e = env.open_db(b"e")
        self.m = env.open_db(b"m")
        self.main = env.open_db(None)
        self.refs = 0

    def live_pages(self, txn: Any) -> int:
        """Pages in use by every database (not counting the free list)."""
        total = 0
        for db in (self.main, self.v, self.a, self.l, self.e, self.m):
            s = txn.stat(db)
            total += s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"]
        return total


envs: Dict[Tuple[int, int], SharedEnv] = {}
_envs_lock = threading.Lock()


def envs_lock() -> Any:
    """The lock guarding ``envs`` (replaced in a forked child)."""
    return _envs_lock


stores: "weakref.WeakSet[Any]" = weakref.WeakSet()  # every Store (for the fork handler)
abandoned: List[Any] = []  # environments that must not be closed here (see FORK)

# FORK. A forked child must not use its parent's environments (LMDB: "use an MDB_env* in the
# process which opened it, without fork()ing"), and py-lmdb refuses to open files that an
# environment of the process still has open, so the child closes the inherited ones and each
# Store reopens its directory on first use. Closing is harmless to the parent only if no
# transaction of the parent exists at the fork (aborting one in the child would clear its
# reader slot in the shared lock table: py-lmdb's close is not fork-aware). Hence: no cached
# spare transactions (max_spare_txns=0, +0.1 us per read), every transaction registers its
# thread in `active`, and the fork handler waits (at most FORK_WAIT seconds) until none is
# live, holding new ones back. Closing in the child then only unmaps and closes descriptors:
# fcntl locks belong to the parent, reader slots are cleared for the child's pid only, and the
# shared mutexes are destroyed only by a process holding the lock file exclusively, which fails
# while the parent has it open. If transactions were still live after FORK_WAIT, the child
# keeps the inherited environments unclosed and cannot reopen those directories (its caches
# then answer misses and count errors).
FORK_WAIT = 5.0
active: Dict[int, int] = {}  # thread id -> 1 while it holds a transaction
forking = False
_fork_unsafe = False
get_ident = threading.get_ident


def wait_for_fork() -> None:
    """A transaction started while a fork is being prepared: wait until it is done."""
    tid = get_ident()
    del active[tid]
    while forking:
        time.sleep(0.0005)
    active[tid] = 1


class txn_of:
    """``with txn_of(env, write=..., db=..., buffers=...) as txn``: a transaction registered for
    the fork handler; commits on success (write), aborts otherwise."""

    __slots__ = ("env", "kwargs", "txn", "tid")

    def __init__(self, env: Any, **kwargs: Any) -> None:
        self.env = env
        self.kwargs = kwargs

    def __enter__(self) -> Any:
        self.tid = tid = get_ident()
        active[tid] = 1
        try:
            if forking:
                wait_for_fork()
            self.txn = self.env.begin(**self.kwargs)
        except BaseException:
            del active[tid]
            raise
        return self.txn

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        try:
            if kind is None and self.kwargs.get("write"):
                self.txn.commit()
            else:
                self.txn.abort()
        finally:
            del active[self.tid]


def _before_fork() -> None:
    global forking, _fork_unsafe
    forking = True
    deadline = time.monotonic() + FORK_WAIT
    while active and time.monotonic() < deadline:
        time.sleep(0.0005)
    _fork_unsafe = bool(active)


def _after_fork_in_parent() -> None:
    global forking
    forking = False


def _after_fork_in_child() -> None:  # pragma: no cover - runs in a forked child
    global _envs_lock, forking
    forking = False
    active.clear()
    _envs_lock = threading.Lock()
    inherited = list(envs.values())
    envs.clear()
    for store in list(stores):
        store._forked()
    for shared in inherited:
        if _fork_unsafe:
            abandoned.append(shared)
            continue
        try:
            shared.env.close()
        except Exception:
            abandoned.append(shared)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)
