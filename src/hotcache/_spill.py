"""The Redis tier's write queue: ordered, coalescing pending writes plus the one flusher thread.

Callers enqueue spills (L1 evictions) and invalidations; one background writer applies them to Redis
in pipelined batches, in order, and readers consult what is still pending before asking Redis.
"""
from __future__ import annotations

import atexit
import itertools
import logging
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
# Readers look up `queue`, then `inflight`, then `tombs` (under the lock) before asking Redis: a
# queued spill is served from memory, a queued or failed invalidation reads as a miss. So no reader
# of this process sees a Redis value older than the newest write it made, whatever the flusher is
# doing.
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
        self.tombs: Dict[bytes, None] = {}
        self.clear_pending = False
        self.closed = False
        self.sleeping = False
        self.wake: Callable[[], None] = self.work.notify
        self.seq = 0        # last sequence number handed out
        self.done = 0       # every op with seq <= done has been attempted
        self.failures = 0   # ops that could not be applied (for flush()'s answer)
        self.spilled = 0
        self.spill_dropped = 0

    # -- producers (caller threads) -----------------------------------------------------------
    def put_spill(self, rkey: bytes, value: Any, deadline: float) -> None:
        """Queue ``SET rkey value`` with the time left until ``deadline`` (time.monotonic)."""
        with self.lock:
            queue = self.queue
            old = queue.pop(rkey, None)
            if self.closed or (old is None and len(queue) >= self.max_pending):
                self.spill_dropped += 1
                return
            self.seq += 1
            queue[rkey] = [SPILL, value, deadline,
                           old is not None and (old[KIND] == DELETE or old[NEEDS_DEL]), self.seq]
            if self.sleeping:
                self._poke()

    def put_delete(self, rkey: bytes) -> None:
        """Queue ``UNLINK rkey``. Never dropped: with the queue full the key becomes a tomb
        (read as a miss, unlinked when the queue has room again)."""
        with self.lock:
            if self.closed:
                return
            old = self.queue.pop(rkey, None)
            if old is None and len(self.queue) >= self.max_pending:
                self._tomb(rkey)
                return
            self.seq += 1
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
            if op is not None:
                return op if op[KIND] == SPILL else GONE
            return GONE if rkey in self.tombs else None

    # -- the flusher --------------------------------------------------------------------------
    def take(self, n: int) -> Batch:
        """Move up to ``n`` of the oldest queued ops to inflight and return them. Only one
        batch is in flight at a time (the caller holds the writer's lock)."""
        with self.lock:
            popitem = self.queue.popitem
            batch = [popitem(False) for _ in range(min(n, len(self.queue)))]
            self.inflight = dict(batch)
            return batch

    def complete(self, batch: Batch, outcomes: List[int]) -> None:
        """Account for a written batch: counters, tombs for invalidations that did not land."""
        with self.lock:
            self.inflight = {}
            self.spilled += outcomes.count(W_SET)
            if W_FAILED in outcomes:
                self._failed(batch, outcomes)
            elif self.tombs:
                pop = self.tombs.pop
                for (rkey, _op), outcome in zip(batch, outcomes):
                    if outcome != W_NOOP:
                        pop(rkey, None)
            if batch:
                self.done = max(self.done, batch[-1][1][SEQ])  # batches leave in seq order
            if not self.queue:
                self.done = self.seq
            self.progress.notify_all()

    def _failed(self, batch: Batch, outcomes: List[int]) -> None:
        queue, tombs = self.queue, self.tombs
        for (rkey, op), outcome in zip(batch, outcomes):
            if outcome != W_FAILED:
                if outcome != W_NOOP:
                    tombs.pop(rkey, None)
                continue
            self.failures += 1
            if op[KIND] == SPILL:
                self.spill_dropped += 1
            if op[KIND] == DELETE or op[NEEDS_DEL]:
                newer = queue.get(rkey)
                if newer is not None:
                    newer[NEEDS_DEL] = True  # the newer op now owes the invalidation
                else:
                    self._tomb(rkey)

    def _tomb(self, rkey: bytes) -> None:
        if self.clear_pending or rkey in self.tombs:
            return
        if len(self.tombs) >= self.tomb_limit:
            _log.warning("hotcache.redis_tier: more than %d invalidations could not reach Redis; "
                         "the namespace will be cleared once Redis answers again", self.tomb_limit)
            self.tombs.clear()
            self.clear_pending = True
        else:
            self.tombs[rkey] = None
        if self.sleeping:
            self._poke()

    def requeue_tombs(self, n: int) -> int:
        """Queue UNLINKs for up to ``n`` tombs as far as the queue has room (they stay tombs
        until one lands); return how many."""
        with self.lock:
            moved = 0
            n = min(n, self.max_pending - len(self.queue))
            for rkey in list(itertools.islice(self.tombs, max(n, 0))):
                if rkey not in self.queue and rkey not in self.inflight:
                    self.seq += 1
                    self.queue[rkey] = [DELETE, None, 0.0, True, self.seq]
                    moved += 1
            return moved

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

    # -- flush / close ------------------------------------------------------------------------
    def mark(self) -> Tuple[int, int]:
        with self.lock:
            return self.seq, self.failures

    def idle_through(self, seq: int) -> bool:
        return self.done >= seq or (not self.queue and not self.inflight)

    def wait(self, seq: int, deadline: Optional[float]) -> bool:
        """Block until every op numbered <= seq has been attempted; False on timeout."""
        with self.lock:
            while not self.idle_through(seq):
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


Writer = Callable[[Batch], List[int]]


class Flusher:
    """The one background thread that drains a SpillQueue through ``write(batch) -> outcomes``.

    It holds no reference to the tier or the TieredCache (only the queue and the callables), so
    dropping them stops it: the tier's finalizer calls ``stop()``. ``ready()`` says whether Redis
    may be tried (breaker not open); ``clear()`` clears the namespace, True on success.
    """

    def __init__(self, queue: SpillQueue, write: Writer, ready: Callable[[], bool],
                 clear: Callable[[], bool], io_lock: threading.Lock, batch_size: int,
                 retry_interval: float, name: str) -> None:
        self._queue = queue
        self._write = write
        self._ready = ready
        self._clear = clear
        self._io_lock = io_lock
        self._batch_size = batch_size
        self._retry_interval = retry_interval
        self._name = name
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()

    @property
    def thread(self) -> Optional[threading.Thread]:
        return self._thread

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
        return not t.is_alive()

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
            with self._io_lock:
                if what == _WORK:
                    batch = q.take(self._batch_size)
                    if batch:
                        try:
                            outcomes = self._write(batch)
                        except Exception:  # a bug in the writer must not kill the flusher
                            _log.exception("hotcache.redis_tier: spill writer failed")
                            outcomes = [W_FAILED] * len(batch)
                        q.complete(batch, outcomes)
                        if q.tombs and W_FAILED not in outcomes:
                            q.requeue_tombs(self._batch_size)  # Redis answers: retry them now
                elif self._ready():
                    if q.clear_pending:
                        try:
                            ok = self._clear()
                        except Exception:
                            _log.exception("hotcache.redis_tier: namespace clear failed")
                            ok = False
                        q.end_clear(ok)
                    else:
                        q.requeue_tombs(self._batch_size)
        _live.discard(self)


_WORK, _RETRY, _STOP = 0, 1, 2

_live: "weakref.WeakSet[Flusher]" = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    """Give every live flusher a short chance to write what is queued before the process ends."""
    for flusher in list(_live):
        flusher.stop(timeout=1.0)
