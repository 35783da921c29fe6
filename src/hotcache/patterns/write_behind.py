"""Write-behind: a cache whose writes reach the backing store later, in batches, from one thread.

Part of ``hotcache.patterns`` (import ``WriteBehindCache`` and ``WriteBehindFull`` from there).

HOW IT WORKS. A write stores the value in the cache and queues it, both under one lock::

    pending   OrderedDict {key: _Entry(value | _DELETE, seq, since, hidden)}   queue order
    inflight  {key: _Entry}   the batch the flusher thread is writing right now
    seq       number given to each entry when it enters ``pending`` (increasing)
    done_seq  every entry with seq <= done_seq has reached the store (or on_error)

A write to a key already in ``pending`` replaces the value in place: the key keeps its place in
the queue (that of its first pending write) and the last value wins. Keeping the first place
means a key written over and over is still flushed on schedule instead of being pushed back
forever. ``inflight`` entries are never changed; a write to a key being flushed queues a new
entry, written in a later batch, so the store sees one key's values in write order.

One daemon thread takes up to ``batch_size`` entries from the head of ``pending`` when
``batch_size`` are queued, when the oldest has waited ``flush_interval`` seconds, when
``flush()`` or a blocked writer asks, or when closing. It calls ``writer`` (and ``deleter``)
with no lock held and retries a failing call with exponential backoff until it succeeds (or,
with ``max_retries``, hands the batch to ``on_error``): a batch is finished before the next is
taken, so entries complete in ``seq`` order and ``flush()`` only has to wait for
``done_seq >= seq at the time of the call``.

The thread references only this module's ``_Queue``, never the ``WriteBehindCache``: dropping
the last reference to a ``WriteBehindCache`` runs a ``weakref.finalize`` that asks the queue to
drain and stop, and queues still running at interpreter exit are drained by an ``atexit`` hook.
In a child created by ``os.fork()`` inherited queues are closed and empty (the parent writes
them).
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, List, MutableMapping, Optional, Set, Tuple, TypeVar

from .._config import parse_ttl

__all__ = ["WriteBehindCache", "WriteBehindFull"]

K = TypeVar("K")
V = TypeVar("V")

log = logging.getLogger("hotcache.patterns")

_MISSING: Any = object()
_DELETE: Any = object()  # the queued value of a delete (a tombstone)


class WriteBehindFull(Exception):
    """A non-blocking write found ``max_pending`` writes queued; nothing was changed."""


class _Entry:
    """One queued write (or delete) of a key."""

    __slots__ = ("value", "seq", "since", "hidden")

    def __init__(self, value: Any, seq: int, since: float) -> None:
        self.value = value
        self.seq = seq
        self.since = since
        self.hidden = False  # dropped from the cache by del/clear (no deleter): not readable


class _Queue:
    """The pending writes and their flusher thread (no reference to the WriteBehindCache)."""

    def __init__(self, writer: Callable[[List[Tuple[Any, Any]]], Any],
                 deleter: Optional[Callable[[List[Any]], Any]], batch_size: int,
                 flush_interval: Optional[float], max_pending: int,
                 backoff: Tuple[float, float], max_retries: Optional[int],
                 on_error: Optional[Callable[[str, List[Any], BaseException], Any]],
                 exit_timeout: Optional[float]) -> None:
        self.writer = writer
        self.deleter = deleter
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.backoff = backoff
        self.max_retries = max_retries
        self.on_error = on_error
        self.exit_timeout = exit_timeout
        self.lock = threading.RLock()  # re-entrant: the cache store under it may run callbacks
        self.wake = threading.Condition(self.lock)      # the flusher waits here
        self.progress = threading.Condition(self.lock)  # flush(), blocked writers wait here
        self.pending: "OrderedDict[Any, _Entry]" = OrderedDict()
        self.inflight: Dict[Any, _Entry] = {}
        self.seq = 0
        self.done_seq = 0
        self.flush_to = 0
        self.closing = False
        self.stopped = False
        self.counters = {"flushed_batches": 0, "flushed_items": 0, "failed_batches": 0,
                         "retries": 0, "abandoned_batches": 0}
        self.thread = threading.Thread(target=self._run, name="hotcache-write-behind", daemon=True)
        _LIVE.add(self)
        try:
            self.thread.start()
        except BaseException:
            _LIVE.discard(self)
            raise

    # -- caller side (lock held by the caller unless stated) -------------------------------

    def count(self) -> int:
        return len(self.pending) + len(self.inflight)

    def lookup(self, key: Any) -> Any:
        """The newest queued value of ``key`` still readable, else _MISSING (takes the lock)."""
        with self.lock:
            entry = self.pending.get(key)
            if entry is None:
                entry = self.inflight.get(key)
            if entry is None or entry.hidden or entry.value is _DELETE:
                return _MISSING
            return entry.value

    def hide(self, key: Any) -> bool:
        """Make queued writes of ``key`` unreadable (they still reach the store)."""
        found = False
        for table in (self.pending, self.inflight):
            entry = table.get(key)
            if entry is not None and not entry.hidden and entry.value is not _DELETE:
                entry.hidden = True
                found = True
        return found

    def flush(self, timeout: Optional[float]) -> None:
        if threading.current_thread() is self.thread:
            raise RuntimeError("flush() called from the write-behind writer would wait for itself")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            target = self.seq
            if self.flush_to < target:
                self.flush_to = target
                self.wake.notify()
            while self.done_seq < target:
                if self.stopped:
                    raise RuntimeError("the write-behind thread stopped with %d writes not written"
                                       % self.count())
                if deadline is None:
                    self.progress.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError("flush() timed out with %d writes pending" % self.count())
                    self.progress.wait(remaining)

    def close_nowait(self) -> None:
        """Stop accepting writes; the thread drains the queue and ends."""
        with self.lock:
            self.closing = True
            self.wake.notify()
            self.progress.notify_all()

    def close(self, timeout: Optional[float]) -> None:
        self.close_nowait()
        if threading.current_thread() is self.thread:
            return  # called from the writer: the thread ends by itself once drained
        self.thread.join(timeout)
        with self.lock:
            left = self.count()
        if self.thread.is_alive():
            raise TimeoutError("close() timed out with %d writes pending" % left)
        if left:
            raise RuntimeError("the write-behind thread stopped with %d writes not written" % left)

    # -- the flusher thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch = self._take()
                if batch is None:
                    return
                self._write(*batch)
        except BaseException:  # a bug: say so loudly; flush()/close() then raise RuntimeError
            log.exception("hotcache write-behind thread crashed; %d writes not written", self.count())
        finally:
            with self.lock:
                self.stopped = True
                self.progress.notify_all()
            _LIVE.discard(self)

    def _take(self) -> Optional[Tuple[int, List[Tuple[Any, Any]], List[Any]]]:
        """Wait until a batch is due; move it to ``inflight``; return (last seq, writes, deletes)."""
        with self.lock:
            pending = self.pending
            while True:
                if pending:
                    head = next(iter(pending.values()))
                    if (self.closing or len(pending) >= self.batch_size
                            or head.seq <= self.flush_to):
                        break
                    if self.flush_interval is None:
                        self.wake.wait()
                        continue
                    remaining = head.since + self.flush_interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self.wake.wait(remaining)
                elif self.closing:
                    return None
                else:
                    self.wake.wait()
            writes: List[Tuple[Any, Any]] = []
            deletes: List[Any] = []
            last = 0
            for _ in range(min(self.batch_size, len(pending))):
                key, entry = pending.popitem(last=False)
                self.inflight[key] = entry
                last = entry.seq
                if entry.value is _DELETE:
                    deletes.append(key)
                else:
                    writes.append((key, entry.value))
            return last, writes, deletes

    def _write(self, last: int, writes: List[Tuple[Any, Any]], deletes: List[Any]) -> None:
        ok = True
        if writes:
            ok = self._call("write", self.writer, writes)
        if deletes:
            assert self.deleter is not None
            ok = self._call("delete", self.deleter, deletes) and ok
        with self.lock:
            n = len(self.inflight)
            self.inflight.clear()
            self.done_seq = last
            if ok:
                self.counters["flushed_batches"] += 1
                self.counters["flushed_items"] += n
            self.progress.notify_all()

    def _call(self, op: str, fn: Callable[[List[Any]], Any], items: List[Any]) -> bool:
        """Call ``fn(items)`` until it succeeds (True) or is handed to on_error (False)."""
        attempt = 0
        while True:
            try:
                fn(list(items))  # a fresh list each time: the callee may consume it
                return True
            except BaseException as exc:
                attempt += 1
                with self.lock:
                    self.counters["failed_batches"] += 1
                if self.max_retries is not None and attempt > self.max_retries:
                    log.error("hotcache write-behind: %s of %d items failed %d times, handing it "
                              "to on_error: %r", op, len(items), attempt, exc)
                    assert self.on_error is not None
                    try:
                        self.on_error(op, list(items), exc)
                    except BaseException:
                        log.exception("hotcache write-behind: on_error raised")
                    with self.lock:
                        self.counters["abandoned_batches"] += 1
                    return False
                low, high = self.backoff
                delay = min(high, low * 2.0 ** min(attempt - 1, 60))
                log.warning("hotcache write-behind: %s of %d items failed (attempt %d): %r; "
                            "retrying in %.3g s", op, len(items), attempt, exc, delay)
                time.sleep(delay)
                with self.lock:
                    self.counters["retries"] += 1


# queues whose thread is running (the thread holds them anyway; removed when it ends)
_LIVE: Set[_Queue] = set()


def _drain_at_exit() -> None:
    for queue in list(_LIVE):
        try:
            queue.close(queue.exit_timeout)
        except Exception as exc:
            log.error("hotcache write-behind at interpreter exit: %s", exc)


def _after_fork_in_child() -> None:
    """A forked child has no flusher threads and fresh locks must replace ones the parent's
    threads may have held: inherited queues become closed and empty in the child (their
    writes belong to the parent, which still writes them); writes to them raise RuntimeError."""
    for queue in list(_LIVE):
        queue.lock = threading.RLock()
        queue.wake = threading.Condition(queue.lock)
        queue.progress = threading.Condition(queue.lock)
        queue.pending.clear()
        queue.inflight.clear()
        queue.done_seq = queue.seq
        queue.closing = queue.stopped = True
    _LIVE.clear()


atexit.register(_drain_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class WriteBehindCache(MutableMapping[K, V]):
    """Write-behind: writes hit the cache at once and reach the store later, in batches.

    ``wb[key] = value`` (or ``wb.set(key, value, ttl=)``) stores the value in ``cache`` and
    queues it; one daemon thread calls ``writer(batch)`` with a list of ``(key, value)`` pairs
    (at most ``batch_size``, distinct keys, oldest first) once ``batch_size`` writes are queued
    or the oldest has waited ``flush_interval`` seconds (None: only size, ``flush()`` and
    ``close()`` trigger). Repeated writes to a queued key coalesce: the last value wins and the
    key keeps the queue position of its first pending write.

    A failing ``writer`` is retried with exponential backoff (``retry_backoff=(first, max)``
    seconds) - forever by default, so nothing is ever dropped; with ``max_retries=n`` the batch
    is handed to ``on_error(op, batch, exc)`` (required then) after n retries. Failures are
    logged on the ``hotcache.patterns`` logger. One key's writes reach the store in order.

    When ``max_pending`` writes are queued (including the batch being written), a write of a
    key not already queued blocks until there is room (``block=True``) or raises
    :class:`WriteBehindFull` with nothing changed (``block=False``). A writer running on the
    flusher thread that writes back into this cache is never blocked by its own queue.

    Deletes: with ``deleter=`` (called as ``deleter(keys)`` with a list of keys, after
    ``writer`` in the same flush), ``del wb[key]`` drops the cached copy and queues a delete
    that coalesces with the key's writes like any write. Without a deleter, ``del wb[key]``
    only drops the cached copy (KeyError if there is none); a queued write of the key still
    reaches the store. ``clear()`` drops the cached copies only.

    Reads come from the cache, then from the queue: a value the cache has already evicted
    (or that was too large to cache) but that is not yet in the store is still returned, so a
    caller never sees an older value than its own last write. ``len()`` and iteration cover the
    cached entries only.

    ``flush(timeout=None)`` returns once every write queued before the call is written;
    ``close(timeout=None)`` stops new writes, drains the queue and ends the thread (idempotent,
    also via ``with``, via garbage collection and at interpreter exit, where ``exit_timeout``
    bounds the wait). Both raise TimeoutError when the timeout runs out. Writes after close
    raise RuntimeError, except those of a writer writing back from the flusher thread during
    the drain (written before the thread ends); reads keep working. In a child made by ``os.fork()`` an inherited
    instance is closed and its queue empty (the parent writes those). ``stats()`` -> dict of
    ints: pending,
    flushed_batches, flushed_items, failed_batches (failed writer/deleter calls), retries,
    abandoned_batches (handed to on_error). Thread-safe.
    """

    def __init__(self, cache: MutableMapping[K, V],
                 writer: Callable[[List[Tuple[K, V]]], Any], batch_size: int = 100,
                 flush_interval: Optional[float] = 1.0, max_pending: int = 10_000,
                 block: bool = True, *, deleter: Optional[Callable[[List[K]], Any]] = None,
                 retry_backoff: Tuple[float, float] = (0.05, 2.0),
                 max_retries: Optional[int] = None,
                 on_error: Optional[Callable[[str, List[Any], BaseException], Any]] = None,
                 exit_timeout: Optional[float] = None) -> None:
        if not callable(writer):
            raise TypeError("writer must be callable, not %s" % type(writer).__name__)
        if deleter is not None and not callable(deleter):
            raise TypeError("deleter must be callable or None, not %s" % type(deleter).__name__)
        if on_error is not None and not callable(on_error):
            raise TypeError("on_error must be callable or None, not %s" % type(on_error).__name__)
        batch_size = _positive_int("batch_size", batch_size)
        max_pending = _positive_int("max_pending", max_pending)
        if flush_interval is not None:
            flush_interval = _seconds("flush_interval", flush_interval, allow_zero=False)
        try:
            low, high = retry_backoff
        except (TypeError, ValueError):
            raise TypeError("retry_backoff must be a pair (first delay, max delay) of seconds") from None
        low = _seconds("retry_backoff[0]", low, allow_zero=True)
        high = _seconds("retry_backoff[1]", high, allow_zero=True)
        if high < low:
            raise ValueError("retry_backoff: max delay %r is below the first delay %r" % (high, low))
        if max_retries is not None:
            max_retries = _positive_int("max_retries", max_retries, allow_zero=True)
            if on_error is None:
                raise ValueError("max_retries needs on_error= to receive the batches it gives up on "
                                 "(without max_retries, failed batches are retried forever)")
        if exit_timeout is not None:
            exit_timeout = _seconds("exit_timeout", exit_timeout, allow_zero=True)
        self._cache = cache
        self._block = bool(block)
        self._deleter = deleter
        self._q = _Queue(writer, deleter, batch_size, flush_interval, max_pending, (low, high),
                         max_retries, on_error, exit_timeout)
        self._finalizer = weakref.finalize(self, _Queue.close_nowait, self._q)
        self._finalizer.atexit = False  # _drain_at_exit handles live queues, with a join

    @property
    def cache(self) -> MutableMapping[K, V]:
        """The cache the writes go to at once."""
        return self._cache

    @property
    def closed(self) -> bool:
        return self._q.closing

    def __repr__(self) -> str:
        return "<%s pending=%d closed=%s>" % (type(self).__name__, self._q.count(), self._q.closing)

    # -- writes -------------------------------------------------------------------------------

    def __setitem__(self, key: K, value: V) -> None:
        self._put(key, value, None)

    def set(self, key: K, value: V, ttl: Optional[float] = None) -> None:
        """``wb[key] = value`` with a per-entry cache ttl in seconds (the store has no ttl)."""
        if ttl is not None:
            ttl = parse_ttl(ttl)
            if not callable(getattr(self._cache, "set", None)):
                raise TypeError("ttl= needs a cache with set(key, value, ttl=), not %s"
                                % type(self._cache).__name__)
        self._put(key, value, ttl)

    def __delitem__(self, key: K) -> None:
        if self._deleter is not None:
            self._put(key, _DELETE, None)
            return
        q = self._q
        with q.lock:
            found = self._cache.pop(key, _MISSING) is not _MISSING
            if not q.hide(key) and not found:
                raise KeyError(key)

    def _put(self, key: Any, value: Any, ttl: Optional[float]) -> None:
        q = self._q
        cache = self._cache
        with q.lock:
            while True:
                # the writer writing back from the flusher thread is part of the drain: accepted
                # while closing (the thread takes batches until pending is empty)
                if q.closing and threading.current_thread() is not q.thread:
                    raise RuntimeError("write to a closed WriteBehindCache")
                entry = q.pending.get(key)  # TypeError for an unhashable key, nothing changed
                if entry is not None or q.count() < q.max_pending:
                    break
                if not self._block:
                    raise WriteBehindFull("%d writes are waiting for the store (max_pending)"
                                          % q.count())
                if q.stopped:
                    raise RuntimeError("the write-behind thread stopped; cannot queue")
                if threading.current_thread() is q.thread:
                    break  # the writer writing back must not wait for itself
                if q.flush_to < q.seq:
                    q.flush_to = q.seq  # make room as fast as the store allows
                    q.wake.notify()
                q.progress.wait()
            if value is _DELETE:
                cache.pop(key, None)
            else:
                try:
                    if ttl is None:
                        cache[key] = value
                    else:
                        cache.set(key, value, ttl=ttl)  # type: ignore[attr-defined]
                except ValueError:  # too large to cache: the store still gets it
                    cache.pop(key, None)
            if entry is None:
                q.seq += 1
                q.pending[key] = _Entry(value, q.seq, time.monotonic())
                n = len(q.pending)
                if n == 1 or n == q.batch_size:
                    q.wake.notify()
            else:
                entry.value = value
                entry.hidden = False

    def clear(self) -> None:
        """Drop every cached copy; queued writes still reach the store (and are not readable)."""
        q = self._q
        with q.lock:
            self._cache.clear()
            for table in (q.pending, q.inflight):
                for entry in table.values():
                    entry.hidden = True

    # -- reads --------------------------------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        value = self._cache.get(key, _MISSING)
        if value is _MISSING:
            value = self._q.lookup(key)
            if value is _MISSING:
                raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return key in self._cache or self._q.lookup(key) is not _MISSING

    def __iter__(self) -> Iterator[K]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    # -- control ------------------------------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> None:
        """Block until every write queued before this call has reached the store (or on_error).

        With the default infinite retries this waits as long as the store keeps failing;
        ``timeout`` (seconds) bounds the wait: TimeoutError, the writes stay queued.
        RuntimeError when called from the writer itself.
        """
        self._q.flush(timeout)

    def close(self, timeout: Optional[float] = None) -> None:
        """Refuse new writes, write everything queued, stop the thread. Idempotent.

        TimeoutError if the queue is not drained within ``timeout`` seconds (the thread keeps
        draining in the background).
        """
        self._q.close(timeout)

    def __enter__(self) -> "WriteBehindCache[K, V]":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def stats(self) -> Dict[str, int]:
        """pending, flushed_batches, flushed_items, failed_batches, retries, abandoned_batches."""
        q = self._q
        with q.lock:
            out = {"pending": q.count()}
            out.update(q.counters)
            return out


def _positive_int(name: str, value: Any, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if value < (0 if allow_zero else 1):
        raise ValueError("%s must be %s, not %r" % (name, ">= 0" if allow_zero else ">= 1", value))
    return value


def _seconds(name: str, value: Any, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number of seconds, not %s" % (name, type(value).__name__))
    if value != value or value < 0 or (value == 0 and not allow_zero) or value == float("inf"):
        raise ValueError("%s must be a finite number of seconds %s, not %r"
                         % (name, ">= 0" if allow_zero else "> 0", value))
    return float(value)
