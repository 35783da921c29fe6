"""The disk cache's background writer: one thread per cache object that applies queued writes,
recorded uses and expiry sweeps to the store in batches, one LMDB transaction per batch.

The queue is the Redis tier's (hotcache._spill.SpillQueue): ordered, coalescing, consulted by
readers before the store, with tombs for deletes that could not be applied.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from typing import Callable, Dict, List, Optional

from ..tiers.redis_spill import DEADLINE, KIND, SPILL, VALUE, W_FAILED, SpillQueue
from ._store import DELETE_OP, WRITE_OP, DiskFull, Store

__all__ = ["DiskWriter"]

_log = logging.getLogger("hotcache.disk")

# HOW IT WORKS
#
#   caller threads                       the writer thread (started at the first write)
#   set  -> queue.put_write(lkey, (record, stamp), exp)  wakes at once when work arrives, else
#   del  -> queue.put_delete(lkey)                       every `interval` seconds:
#   read -> touches[lkey] = use stamp                      take up to batch_size ops + all
#                                                          touches, store.apply() them in one
#                                                          transaction (+ an expiry sweep),
#                                                          queue.complete(outcomes)
#                                                        on a tick also: retry tombs, a pending
#                                                        clear, free dead readers' slots
#
# A batch that cannot be committed (disk full after eviction, an engine error) fails as a whole:
# its writes become tombs in the queue (the key reads as a miss in this process, never as the
# older value on disk) and are retried as deletes on later ticks. flush() waits on the queue's
# marks; a failure makes it return False, never raise.

MAINTAIN_EVERY = 10.0  # seconds between reader-table checks
TOUCH_MAX = 1 << 16    # recorded uses kept between batches (more are not recorded)


class DiskWriter:
    """Drains ``queue`` into ``store``. ``touches`` (lkey -> use stamp, microseconds) is filled
    by readers and emptied here; ``timer()`` gives the time expiry is judged by."""

    def __init__(self, store: Store, queue: SpillQueue, batch_size: int, interval: float,
                 timer: Callable[[], float], name: str) -> None:
        self.store = store
        self.queue = queue
        self.batch_size = batch_size
        self.interval = interval
        self.timer = timer
        self.name = name
        self.touches: Dict[bytes, int] = {}
        self.io_lock = threading.Lock()
        self.batches = 0
        self.failed_batches = 0
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        self._next_maintain = 0.0
        _writers.add(self)

    def running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def ensure(self) -> None:
        """Start the thread if it is not running (idempotent; after a fork, the child's first
        write starts the child's own)."""
        if self._thread is not None or self._stopping:
            return
        with self._start_lock:
            if self._thread is None and not self._stopping:
                t = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread = t
                t.start()
                _live.add(self)

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Apply what is queued, then end the thread; True if it ended within ``timeout``."""
        q = self.queue
        with q.lock:
            self._stopping = True
            q.work.notify_all()
        t = self._thread
        if t is None or t is threading.current_thread():
            return True
        t.join(timeout)
        return not t.is_alive()

    def _forked(self) -> None:  # pragma: no cover - runs in a forked child
        self._start_lock = threading.Lock()
        self.io_lock = threading.Lock()
        self._thread = None
        self.touches.clear()

    # -- the thread ----------------------------------------------------------------------------
    def _wait(self) -> bool:
        """Block until there is work or a tick is due; False when the thread should end."""
        q = self.queue
        with q.lock:
            if q.queue:
                return True
            if self._stopping or q.closed:
                return False
            q.sleeping = True
            q.work.wait(self.interval)
            q.sleeping = False
            return True

    def _run(self) -> None:
        while self._wait():
            self.step()
        # drain: the loop ends only with an empty queue, but a clear may still be pending
        _live.discard(self)
        q = self.queue
        with q.lock:
            q.skip_seen = sys.maxsize  # no more retries from this thread: no flush() waits on them
            q.progress.notify_all()

    def take_touches(self) -> Dict[bytes, int]:
        touches = self.touches
        if not touches:
            return {}
        taken = touches.copy()
        touches.clear()  # uses recorded between copy and clear are lost: LRU is approximate
        return taken

    def step(self) -> None:
        """One batch (possibly empty: touches and an expiry sweep only) and the tick's chores."""
        q = self.queue
        store = self.store
        with self.io_lock:
            batch = q.take(self.batch_size)
            touches = self.take_touches()
            outcomes: List[int] = []
            now_t = self.timer()
            ops = [(lkey, WRITE_OP, op[VALUE][0], op[DEADLINE], op[VALUE][1]) if op[KIND] == SPILL
                   else (lkey, DELETE_OP, None, 0.0, 0) for lkey, op in batch]
            try:
                if batch or touches or store.due(now_t):
                    outcomes = store.apply(ops, touches, now_t)
                    self.batches += 1
            except DiskFull:
                outcomes = [W_FAILED] * len(batch)
                self.failed_batches += 1
            except Exception as exc:
                outcomes = [W_FAILED] * len(batch)
                if not store.closed:
                    store.counts["errors"] += 1
                    store.last_error = "%s: %s" % (type(exc).__name__, exc)
                    _log.warning("hotcache.disk: a batch of %d writes failed: %s", len(batch), exc)
                    self.failed_batches += 1
            ticket = q.skip_ticket()  # before complete() decides what it can requeue
            q.complete(batch, outcomes, requeue=self.batch_size)
            if q.clear_pending and not q.queue:
                ok = False
                try:
                    store.clear()
                    ok = True
                except Exception as exc:
                    store.last_error = "%s: %s" % (type(exc).__name__, exc)
                q.end_clear(ok)
            elif q.tombs and not q.queue:
                q.note_skipped(ticket)  # nothing could be requeued now: flush() must not wait on it
            now = time.monotonic()
            if now >= self._next_maintain:
                self._next_maintain = now + MAINTAIN_EVERY
                try:
                    store.maintain()
                except Exception:
                    pass


_live: "weakref.WeakSet[DiskWriter]" = weakref.WeakSet()
_writers: "weakref.WeakSet[DiskWriter]" = weakref.WeakSet()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in a forked child
    _live.clear()
    for w in list(_writers):
        w._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _drain_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    """Apply what live writers still have queued before the interpreter exits."""
    for writer in list(_live):
        writer.stop(timeout=5.0)


def writer_name(path: str) -> str:
    return "hotcache-disk-writer[%s]" % os.path.basename(path.rstrip(os.sep))

