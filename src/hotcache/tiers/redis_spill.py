"""The Redis tier's write queue: ordered, coalescing pending writes plus the one flusher thread.

Callers enqueue spills (L1 evictions) and invalidations; one background writer applies them to Redis
in pipelined batches, in order, and readers consult what is still pending before asking Redis.
"""
from __future__ import annotations

import atexit
import itertools
import logging
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["DEADLINE", "DELETE", "Flusher", "GONE", "KIND", "NEEDS_DEL", "SEQ", "SPILL", "SpillQueue",
           "VALUE", "W_DELETED", "W_FAILED", "W_NOOP", "W_SET"]

_log = logging.getLogger("hotcache.redis_tier")

# HOW IT WORKS
#
#   caller threads                         flusher (one thread, or one asyncio task)
#   ──────────────                         ──────────────────────────────────────────
#   L1 evicts k  → put_spill(k, v, dl) ─┐
#   set/del k    → put_delete(k) ───────┤   take(n): the n oldest ops move to `inflight`
#                                       ▼   write them in one pipeline (SET k v PX / UNLINK k)
#                 queue: OrderedDict rkey → newest op      complete(): inflight entries leave;
#                 (a newer op for the same key replaces     failed invalidations become tombs
#                  the queued one and moves to the end)
#
# Readers look up `queue`, then `tombs`, then `inflight` (under the lock) before asking Redis: a
# queued spill is served from memory, a queued or failed invalidation reads as a miss. So no reader
# of this process sees a Redis value older than the newest write it made, whatever the flusher is
# doing.
#
# Every op and every tomb carries a sequence number (the order of the writes that made them). A
# tomb stands for an invalidation at its seq: it hides (and outlives) every op of its key with a
# smaller seq, in flight or not, and only an op of the key with a greater seq that reached Redis
# (a newer SET, or the retried UNLINK) removes it. So an older spill of the key that was already
# in flight when the tomb was made can neither be served by a reader nor erase the tomb when it
# lands. (A queued op is always newer than its key's tomb: a tomb is made only when no op of the
# key is queued, and every later op gets a greater seq.)
#
# Rules that keep that true:
#  * Invalidations (DELETE) are never dropped. If writing one fails (Redis down, breaker open), or
#    the queue is full (`max_pending` ops), the key becomes a tomb: reads skip Redis for it, and
#    the flusher retries the UNLINK once the breaker lets calls through and the queue has room.
#    Too many tombs (more than `tomb_limit`) collapse into one pending namespace clear: every
#    read skips Redis until the flusher has cleared the namespace.
#  * Spills may be dropped (queue full, breaker open, write failed, unserializable) and are
#    counted in `spill_dropped`. A spill that replaced a queued invalidation inherits its duty
#    (`needs_del`): if the spill is dropped, the key becomes a tomb.
#  * An op moves queue → inflight → (gone | tomb) under one lock, so a reader always finds it in
#    one of the three places until Redis holds its effect.
#  * flush() is True only when the ops it waited for landed and no tomb (or pending clear) as
#    old as its call is left: an invalidation that became a tomb has not reached Redis yet.
#  * After os.fork() the child gets fresh locks and an empty queue (the parent's queued and
#    in-flight writes are the parent's to make; its invalidations become tombs in the child so
#    the child never reads what they hide), and its own flusher, started at its first write.
#  * The flusher takes a batch while holding the writer's lock (`io_lock`), and a namespace clear
#    holds that lock from dropping the queue to the last UNLINK: no op queued before a clear can
#    land after it.
#
# Cost: the producer side (the L1's spill hook) is one key encoding, one lock, one OrderedDict
# pop/insert and a wake-up only when the flusher sleeps; ops are plain lists because building a
# __slots__ object per eviction measured ~0.4 us against ~0.05 us for a list.

SPILL = 0
DELETE = 1

# outcomes the writer reports per op
W_SET = 0      # SET applied
W_DELETED = 1  # UNLINK applied (an invalidation, or a spill that could not be written but owed one)
W_NOOP = 2     # nothing to write (the spilled entry had already expired)
W_FAILED = 3   # not applied

# An op is a 5-item list (cheaper to make than an object, and it must stay mutable):
#   [kind, value, deadline (time.monotonic() of expiry), needs_del, seq]
KIND, VALUE, DEADLINE, NEEDS_DEL, SEQ = range(5)
Op = List[Any]
Batch = List[Tuple[bytes, Op]]

#: returned by SpillQueue.lookup for a key that must read as a miss without asking Redis
GONE: Op = [DELETE, None, 0.0, True, 0]


class SpillQueue:
    """The pending writes of one Redis tier (thread-safe; see HOW IT WORKS above).

    ``max_pending`` bounds the queue (a spill beyond it is dropped, an invalidation becomes a
    tomb); ``tomb_limit`` bounds tombs before they collapse into a pending namespace clear.
    ``wake`` is called (under the lock, so it must be cheap) when work arrives while the
    flusher sleeps (``sleeping``, set by the flusher itself).
    """

    def __init__(self, max_pending: int, tomb_limit: int) -> None:
        self.lock = threading.Lock()
        self.work = threading.Condition(self.lock)      # the flusher waits here for ops
        self.progress = threading.Condition(self.lock)  # flush() waits here for completions
        self.max_pending = max_pending
        self.tomb_limit = tomb_limit
        self.queue: "OrderedDict[bytes, Op]" = OrderedDict()
        self.inflight: Dict[bytes, Op] = {}
        self.tombs: Dict[bytes, int] = {}  # rkey -> seq of the invalidation it stands for
        self.clear_pending = False
        self.closed = False
        self.sleeping = False
        self.wake: Callable[[], None] = self.work.notify
        self.seq = 0        # last sequence number handed out
        self.done = 0       # every op with seq <= done has been attempted
        self.failures = 0   # ops that could not be applied (for flush()'s answer)
        # flush() calls number their marks; a retry of tombs / a pending clear that was skipped
        # (breaker open, nothing requeued, flusher stopped) settles the flushes whose mark was
        # taken before the flusher decided to skip: skip_seen is the newest such mark number.
        # (A count compared before/after would let a skip decided under an older breaker state
        # settle a flush that started after the breaker let calls through again.)
        self.marks = 0
        self.skip_seen = 0
        self.spilled = 0
        self.spill_dropped = 0
        _queues.add(self)

    # -- producers (caller threads) -----------------------------------------------------------
    def put_spill(self, rkey: bytes, value: Any, deadline: float) -> None:
        """Queue ``SET rkey value`` with the time left until ``deadline`` (time.monotonic)."""
        with self.lock:
            if self.closed:
                self.spill_dropped += 1
                return
            queue = self.queue
            old = queue.pop(rkey, None)
            if old is None and len(queue) >= self.max_pending:
                self.spill_dropped += 1
                return
            self.seq += 1
            queue[rkey] = [SPILL, value, deadline,
                           old is not None and (old[KIND] == DELETE or old[NEEDS_DEL]), self.seq]
            if self.sleeping:
                self._poke()

    def put_write(self, rkey: bytes, value: Any, deadline: float) -> None:
        """Queue ``SET rkey value`` for a write of the cache (shared mode): never dropped, and
        it owes the invalidation of ``rkey`` (with the queue full, or if the SET fails, the key
        becomes a tomb, so no older Redis value outlives it)."""
        with self.lock:
            if self.closed:
                return
            old = self.queue.pop(rkey, None)
            self.seq += 1
            if old is None and len(self.queue) >= self.max_pending:
                self._tomb(rkey, self.seq)
                return
            self.queue[rkey] = [SPILL, value, deadline, True, self.seq]
            if self.sleeping:
                self._poke()

    def cancel_spills(self, rkeys: List[bytes]) -> None:
        """Another process changed these keys: forget queued spills of them that owe nothing
        (writing them would put this process's older copy back over the other's change). Ops
        that carry a write of this process stay: they are newer for this process."""
        with self.lock:
            queue = self.queue
            for rkey in rkeys:
                op = queue.get(rkey)
                if op is not None and op[KIND] == SPILL and not op[NEEDS_DEL]:
                    del queue[rkey]

    def put_delete(self, rkey: bytes) -> None:
        """Queue ``UNLINK rkey``. Never dropped: with the queue full the key becomes a tomb
        (read as a miss, unlinked when the queue has room again)."""
        with self.lock:
            if self.closed:
                return
            old = self.queue.pop(rkey, None)
            self.seq += 1
            if old is None and len(self.queue) >= self.max_pending:
                self._tomb(rkey, self.seq)
                return
            self.queue[rkey] = [DELETE, None, 0.0, True, self.seq]
            if self.sleeping:
                self._poke()

    def _poke(self) -> None:
        """Wake the sleeping flusher (lock held): work arrived, or tombs / a pending clear that
        it must start retrying."""
        self.sleeping = False
        self.wake()

    def count_dropped(self, n: int) -> None:
        with self.lock:
            self.spill_dropped += n

    # -- readers ------------------------------------------------------------------------------
    def lookup(self, rkey: bytes) -> Optional[Op]:
        """The newest pending op for ``rkey`` (a spill to serve, or GONE: read as a miss), or
        None when Redis is authoritative for it."""
        with self.lock:
            if self.clear_pending or self.closed:
                return GONE
            op = self.queue.get(rkey)
            if op is None:
                op = self.inflight.get(rkey)
                tomb = self.tombs.get(rkey)
                if tomb is not None and (op is None or op[SEQ] < tomb):
                    return GONE  # an invalidation newer than anything in flight
            if op is not None:
                return op if op[KIND] == SPILL else GONE
            return None

    # -- the flusher --------------------------------------------------------------------------
    def take(self, n: int) -> Batch:
        """Move up to ``n`` of the oldest queued ops to inflight and return them. Only one
        batch is in flight at a time (the caller holds the writer's lock)."""
        with self.lock:
            popitem = self.queue.popitem
            batch = [popitem(False) for _ in range(min(n, len(self.queue)))]
            self.inflight = dict(batch)
            return batch

    def complete(self, batch: Batch, outcomes: List[int], requeue: int = 0) -> None:
        """Account for a written batch: counters, tombs for invalidations that did not land.
        If every write landed (Redis answers), up to ``requeue`` tombs are queued for retry."""
        with self.lock:
            self.inflight = {}
            self.spilled += outcomes.count(W_SET)
            if W_FAILED in outcomes:
                self._failed(batch, outcomes)
            elif self.tombs:
                tombs = self.tombs
                for (rkey, op), outcome in zip(batch, outcomes):
                    if outcome != W_NOOP:
                        self._landed(tombs, rkey, op)
                if tombs and requeue:
                    self._requeue(requeue)
            if batch:
                self.done = max(self.done, batch[-1][1][SEQ])  # batches leave in seq order
            if not self.queue:
                self.done = self.seq
            self.progress.notify_all()

    @staticmethod
    def _landed(tombs: Dict[bytes, int], rkey: bytes, op: Op) -> None:
        """``op`` reached Redis: it removes its key's tomb only if it is newer than the tomb."""
        tomb = tombs.get(rkey)
        if tomb is not None and op[SEQ] > tomb:
            del tombs[rkey]

    def _failed(self, batch: Batch, outcomes: List[int]) -> None:
        queue, tombs = self.queue, self.tombs
        for (rkey, op), outcome in zip(batch, outcomes):
            if outcome != W_FAILED:
                if outcome != W_NOOP:
                    self._landed(tombs, rkey, op)
                continue
            self.failures += 1
            if op[KIND] == SPILL:
                self.spill_dropped += 1
            if op[KIND] == DELETE or op[NEEDS_DEL]:
                newer = queue.get(rkey)
                if newer is not None:
                    newer[NEEDS_DEL] = True  # the newer op now owes the invalidation
                else:
                    self._tomb(rkey, op[SEQ])

    def _tomb(self, rkey: bytes, seq: int) -> None:
        if self.clear_pending:
            return
        old = self.tombs.get(rkey)
        if old is not None:
            if seq > old:
                self.tombs[rkey] = seq
            return
        if len(self.tombs) >= self.tomb_limit:
            _log.warning("hotcache.redis_tier: more than %d invalidations could not reach Redis; "
                         "the namespace will be cleared once Redis answers again", self.tomb_limit)
            self.tombs.clear()
            self.clear_pending = True
        else:
            self.tombs[rkey] = seq
        if self.sleeping:
            self._poke()

    def requeue_tombs(self, n: int) -> int:
        """Queue UNLINKs for up to ``n`` tombs as far as the queue has room (they stay tombs
        until one lands); return how many."""
        with self.lock:
            return self._requeue(n)

    def _requeue(self, n: int) -> int:
        moved = 0
        n = min(n, self.max_pending - len(self.queue))
        for rkey in list(itertools.islice(self.tombs, max(n, 0))):
            if rkey not in self.queue and rkey not in self.inflight:
                self.seq += 1
                self.queue[rkey] = [DELETE, None, 0.0, True, self.seq]
                moved += 1
        return moved

    def skip_ticket(self) -> int:
        """Taken by the flusher before it decides whether to retry: the flushes it may settle
        by skipping."""
        with self.lock:
            return self.marks

    def note_skipped(self, ticket: int) -> None:
        """The flusher could not retry tombs / a pending clear (breaker open): flush() waiters
        stop waiting for them."""
        with self.lock:
            if ticket > self.skip_seen:
                self.skip_seen = ticket
            self.progress.notify_all()

    def begin_clear(self) -> None:
        """Drop every queued op (a namespace clear supersedes them) and read every key as a miss
        until end_clear(True). The caller holds the writer's lock, so nothing is in flight."""
        with self.lock:
            self.queue.clear()
            self.clear_pending = True
            self.done = self.seq
            self.progress.notify_all()

    def end_clear(self, ok: bool) -> None:
        with self.lock:
            if ok:
                self.clear_pending = False
                self.tombs.clear()
            else:
                self.clear_pending = True
                if self.sleeping:
                    self._poke()
            self.progress.notify_all()

    # -- flush / close ------------------------------------------------------------------------
    def mark(self) -> Tuple[int, int, int]:
        """flush()'s starting point: (seq, failures, the number of this mark)."""
        with self.lock:
            self.marks += 1
            return self.seq, self.failures, self.marks

    def idle_through(self, seq: int) -> bool:
        return self.done >= seq or (not self.queue and not self.inflight)

    def owes(self, seq: int) -> bool:
        """True while an invalidation numbered <= seq is a tomb (or a namespace clear is
        pending): it has not reached Redis yet."""
        if self.clear_pending:
            return True
        return any(t <= seq for t in self.tombs.values()) if self.tombs else False

    def settled(self, mark: Tuple[int, int, int]) -> bool:
        """flush()'s wait is over: every op up to the mark was attempted, and its tombs are
        gone or will not be retried now (a write failed since, or a retry was skipped)."""
        seq, failures, number = mark
        return self.idle_through(seq) and (
            self.failures != failures or self.skip_seen >= number or self.closed or not self.owes(seq))

    def landed(self, mark: Tuple[int, int, int]) -> bool:
        """flush()'s answer: everything up to the mark reached Redis."""
        return self.idle_through(mark[0]) and self.failures == mark[1] and not self.owes(mark[0])

    def wait(self, mark: Tuple[int, int, int], deadline: Optional[float]) -> bool:
        """Block until settled(mark); False on timeout."""
        with self.lock:
            while not self.settled(mark):
                if deadline is None:
                    self.progress.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self.progress.wait(left)
            return True

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.work.notify_all()
            self.progress.notify_all()

    def drop_spills(self) -> None:
        """close() ran out of time: drop the queued spills (counted), keep the invalidations
        (a spill that owes one becomes a plain UNLINK), so the flusher ends soon but no value
        this process replaced or deleted stays behind in Redis."""
        with self.lock:
            for rkey, op in list(self.queue.items()):
                if op[KIND] == SPILL:
                    self.spill_dropped += 1
                    if op[NEEDS_DEL]:
                        self.queue[rkey] = [DELETE, None, 0.0, True, op[SEQ]]
                    else:
                        del self.queue[rkey]
            self.progress.notify_all()

    def _after_fork(self) -> None:
        """In a forked child (one thread, locks possibly held by parent threads that do not
        exist here): fresh locks, no queued or in-flight writes (the parent makes them), and the
        parent's pending invalidations kept as tombs, so the child never reads what they hide."""
        renotify = self.wake == self.work.notify
        self.lock = threading.Lock()
        self.work = threading.Condition(self.lock)
        self.progress = threading.Condition(self.lock)
        if renotify:
            self.wake = self.work.notify
        pending = list(self.inflight.items()) + list(self.queue.items())
        self.queue = OrderedDict()
        self.inflight = {}
        for rkey, op in pending:
            if op[KIND] == DELETE or op[NEEDS_DEL]:
                self._tomb(rkey, op[SEQ])
        self.done = self.seq
        self.sleeping = False


Writer = Callable[[Batch], List[int]]


class Flusher:
    """The one background thread that drains a SpillQueue through ``write(batch) -> outcomes``.

    It holds no reference to the tier or the TieredCache (only the queue and the callables), so
    dropping them stops it: the tier's finalizer calls ``stop()``. ``ready()`` says whether Redis
    may be tried (breaker not open); ``clear()`` clears the namespace, True on success.
    """

    def __init__(self, queue: SpillQueue, write: Writer, ready: Callable[[], bool],
                 clear: Callable[[], bool], batch_size: int, retry_interval: float,
                 name: str) -> None:
        self._queue = queue
        self._write = write
        self._ready = ready
        self._clear = clear
        self.io_lock = threading.Lock()  # held while a batch is taken and written, and by clear()
        self._batch_size = batch_size
        self._retry_interval = retry_interval
        self._name = name
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        _flushers.add(self)

    @property
    def thread(self) -> Optional[threading.Thread]:
        return self._thread

    def running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def start(self) -> None:
        """Start the thread if it is not running (idempotent, thread-safe)."""
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None and not self._stopping:
                t = threading.Thread(target=self._run, name=self._name, daemon=True)
                t.start()
                self._thread = t
                _live.add(self)

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Drain what is queued, then end the thread; True if it ended within ``timeout``."""
        q = self._queue
        with q.lock:
            self._stopping = True
            q.work.notify_all()
        t = self._thread
        if t is None or t is threading.current_thread():
            return True
        t.join(timeout)
        if t.is_alive():
            q.drop_spills()  # what is left to write: the invalidations only, then the thread ends
            return False
        return True

    def _after_fork(self) -> None:
        """In a forked child: the parent's thread does not exist here. Fresh locks; the thread
        is started again by the first write the child queues (not from inside fork())."""
        self._start_lock = threading.Lock()
        self.io_lock = threading.Lock()
        self._thread = None
        if self._stopping:
            return
        q = self._queue

        def wake() -> None:  # called with the queue lock held, on the child's first write
            q.wake = q.work.notify
            self.start()
        q.wake = wake
        q.sleeping = True  # so the first write calls wake()

    def _wait(self) -> int:
        """Block until there is something to do: _WORK (queued ops), _RETRY (tombs or a pending
        clear to try again) or _STOP (stopping and nothing queued)."""
        q = self._queue
        with q.lock:
            while True:
                if q.queue:
                    return _WORK
                if self._stopping or q.closed:
                    return _STOP
                q.sleeping = True
                if q.tombs or q.clear_pending:
                    woken = q.work.wait(self._retry_interval)
                    q.sleeping = False
                    if not woken and not q.queue:
                        return _RETRY
                else:
                    q.work.wait()
                    q.sleeping = False

    def _run(self) -> None:
        q = self._queue
        while True:
            what = self._wait()
            if what == _STOP:
                break
            # The batch is taken under the writer's lock: a namespace clear (which holds it)
            # can then never be overtaken by ops queued before it.
            with self.io_lock:
                if what == _WORK:
                    batch = q.take(self._batch_size)
                    if batch:
                        try:
                            outcomes = self._write(batch)
                        except Exception:  # a bug in the writer must not kill the flusher
                            _log.exception("hotcache.redis_tier: spill writer failed")
                            outcomes = [W_FAILED] * len(batch)
                        # Redis answered every write: tombs are retried at once
                        q.complete(batch, outcomes, requeue=self._batch_size)
                    continue
                ticket = q.skip_ticket()  # before the breaker is asked (see SpillQueue.marks)
                if not self._ready():
                    q.note_skipped(ticket)
                else:
                    if q.clear_pending:
                        try:
                            ok = self._clear()
                        except Exception:
                            _log.exception("hotcache.redis_tier: namespace clear failed")
                            ok = False
                        q.end_clear(ok)
                    elif not q.requeue_tombs(self._batch_size):
                        q.note_skipped(ticket)  # nothing could be queued: flush() must not wait on it
        _live.discard(self)
        with q.lock:
            q.skip_seen = sys.maxsize  # no more retries from this thread: nothing waits on them
            q.progress.notify_all()


_WORK, _RETRY, _STOP = 0, 1, 2

_live: "weakref.WeakSet[Flusher]" = weakref.WeakSet()
# every queue and flusher ever made (weakly), for the fork handler
_queues: "weakref.WeakSet[SpillQueue]" = weakref.WeakSet()
_flushers: "weakref.WeakSet[Flusher]" = weakref.WeakSet()
_forked: "List[Callable[[], None]]" = []  # more after-fork handlers (the tiered caches' locks)


def _after_fork_in_child() -> None:  # pragma: no cover - runs in a forked child
    for q in list(_queues):
        q._after_fork()
    for f in list(_flushers):
        f._after_fork()
    _live.clear()
    for fn in _forked:
        fn()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _drain_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    """Give every live flusher a short chance to write what is queued before the process ends."""
    for flusher in list(_live):
        flusher.stop(timeout=1.0)
