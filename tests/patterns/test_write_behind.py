"""Write-behind: ``hotcache.patterns.WriteBehindCache``.

Nothing here asserts on elapsed time: the flusher is driven by ``flush()``, ``close()``,
``batch_size`` and Event-gated writers; sleeps and timeouts are hang guards only.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest

from helpers import FakeTimer, classes
from hotcache.patterns import WriteBehindCache, WriteBehindFull

HANG = 20.0
FAST_RETRY = (0.001, 0.004)


class Store:
    """A batch writer/deleter that records every call (thread-safe) and can be gated or fail."""

    def __init__(self, fail_first=0, gate=None):
        self.lock = threading.Lock()
        self.data = {}
        self.batches = []   # successful write batches, in order
        self.deleted = []   # successful delete batches, in order
        self.calls = 0
        self.fail_first = fail_first
        self.gate = gate
        self.entered = threading.Event()
        self.wrote = threading.Event()

    def write(self, batch):
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(HANG)
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                raise ConnectionError("transient failure %d" % self.calls)
            self.batches.append(list(batch))
            self.data.update(batch)
        self.wrote.set()

    def delete(self, keys):
        with self.lock:
            self.deleted.append(list(keys))
            for key in keys:
                self.data.pop(key, None)


@pytest.fixture
def cache(impl):
    return classes(impl)["LRUCache"](10_000)


def wait_until(predicate, what):
    deadline = time.monotonic() + HANG
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.001)


def make(cache, store, **kw):
    kw.setdefault("flush_interval", None)  # only size, flush() and close() trigger writes
    kw.setdefault("retry_backoff", FAST_RETRY)
    return WriteBehindCache(cache, store.write, **kw)


# -- basics --------------------------------------------------------------------------------------

def test_writes_hit_cache_at_once_and_store_on_flush(cache):
    store = Store()
    with make(cache, store) as wb:
        for i in range(10):
            wb[i] = i * i
        assert cache[3] == 9 and wb[3] == 9
        assert store.batches == []
        assert wb.stats()["pending"] == 10
        wb.flush()
        assert store.data == {i: i * i for i in range(10)}
        st = wb.stats()
        assert st["pending"] == 0 and st["flushed_items"] == 10 and st["flushed_batches"] == 1
        assert st["failed_batches"] == 0 and st["retries"] == 0


def test_batch_size_triggers_and_bounds_batches(cache):
    store = Store()
    with make(cache, store, batch_size=4) as wb:
        for i in range(4):
            wb[i] = i
        assert store.wrote.wait(HANG)  # four queued: the thread writes without being asked
        for i in range(4, 11):
            wb[i] = i
        wb.flush()
    assert all(1 <= len(b) <= 4 for b in store.batches)
    assert [k for b in store.batches for k, _ in b] == list(range(11))  # oldest first
    assert store.batches[0] == [(0, 0), (1, 1), (2, 2), (3, 3)]


def test_flush_interval_triggers_a_write(cache):
    store = Store()
    wb = WriteBehindCache(cache, store.write, batch_size=1000, flush_interval=0.01)
    try:
        wb["k"] = 1
        assert store.wrote.wait(HANG)
        assert store.data == {"k": 1}
    finally:
        wb.close()


def test_close_drains_and_is_idempotent(cache):
    store = Store()
    wb = make(cache, store, batch_size=7)
    for i in range(100):
        wb[i] = str(i)
    wb.close()
    assert store.data == {i: str(i) for i in range(100)}
    assert wb.closed and wb.stats()["pending"] == 0
    wb.close()
    with pytest.raises(RuntimeError, match="closed"):
        wb["late"] = 1
    assert wb[5] == "5"  # reads keep working
    assert not wb._q.thread.is_alive()


def test_context_manager_drains(cache):
    store = Store()
    with make(cache, store) as wb:
        wb.update({"a": 1, "b": 2})
    assert store.data == {"a": 1, "b": 2}
    assert wb.closed


def test_coalescing_last_value_wins_first_position_kept(cache):
    store = Store()
    with make(cache, store) as wb:
        wb["a"] = 1
        wb["b"] = 1
        wb["a"] = 2
        wb["c"] = 1
        wb["a"] = 3
        assert wb.stats()["pending"] == 3
        wb.flush()
    assert store.batches == [[("a", 3), ("b", 1), ("c", 1)]]


def test_write_during_flush_of_same_key_is_written_after(cache):
    gate = threading.Event()
    store = Store(gate=gate)
    wb = make(cache, store, batch_size=1)
    try:
        wb["k"] = 1
        assert store.entered.wait(HANG)  # batch [("k", 1)] is being written
        wb["k"] = 2                       # queued as a new entry, not merged into the running batch
        assert wb.stats()["pending"] == 2
        gate.set()
        wb.flush()
    finally:
        gate.set()
        wb.close()
    assert store.batches == [[("k", 1)], [("k", 2)]]
    assert store.data == {"k": 2}


def test_set_with_ttl(impl):
    timer = FakeTimer()
    cache = classes(impl)["LRUCache"](10, timer=timer)
    store = Store()
    with make(cache, store) as wb:
        wb.set("k", 1, ttl=5)
        assert cache.ttl_left("k") == 5
        with pytest.raises(ValueError):
            wb.set("j", 1, ttl=-1)
        assert "j" not in cache
    assert store.data == {"k": 1}


def test_unhashable_key_changes_nothing(cache):
    store = Store()
    with make(cache, store) as wb:
        with pytest.raises(TypeError):
            wb[["x"]] = 1
        assert wb.stats()["pending"] == 0 and len(cache) == 0


def test_stats_keys(cache):
    with make(cache, Store()) as wb:
        assert set(wb.stats()) == {"pending", "flushed_batches", "flushed_items", "failed_batches",
                                   "retries", "abandoned_batches"}
        assert all(isinstance(v, int) for v in wb.stats().values())


def test_bad_arguments(cache):
    store = Store()
    for kw, exc in [({"batch_size": 0}, ValueError), ({"batch_size": 1.5}, TypeError),
                    ({"max_pending": 0}, ValueError), ({"flush_interval": 0}, ValueError),
                    ({"flush_interval": "1"}, TypeError), ({"retry_backoff": (2, 1)}, ValueError),
                    ({"retry_backoff": 1}, TypeError), ({"max_retries": 3}, ValueError),
                    ({"max_retries": -1, "on_error": print}, ValueError),
                    ({"deleter": 1}, TypeError), ({"on_error": 1}, TypeError)]:
        with pytest.raises(exc):
            WriteBehindCache(cache, store.write, **kw)
    with pytest.raises(TypeError):
        WriteBehindCache(cache, None)


# -- reads ---------------------------------------------------------------------------------------

def test_queued_value_readable_after_cache_eviction(impl):
    cache = classes(impl)["LRUCache"](1)
    store = Store()
    with make(cache, store) as wb:
        wb["a"] = 1
        wb["b"] = 2  # evicts "a" from the one-entry cache; its write is still queued
        assert "a" not in cache
        assert wb["a"] == 1 and "a" in wb and wb.get("a") == 1
        assert len(wb) == 1 and list(wb) == ["b"]  # len/iteration: cached entries only
        wb.flush()
        with pytest.raises(KeyError):
            wb["a"]  # now in the store, gone from both cache and queue
    assert store.data == {"a": 1, "b": 2}


def test_too_large_value_is_queued_not_cached(impl):
    cache = classes(impl)["LRUCache"](3, getsizeof=len)
    store = Store()
    with make(cache, store) as wb:
        wb["k"] = "ab"
        wb["k"] = "far too large"
        assert "k" not in cache
        assert wb["k"] == "far too large"
    assert store.data == {"k": "far too large"}


# -- deletes -------------------------------------------------------------------------------------

def test_delete_without_deleter_drops_cached_copy_only(cache):
    store = Store()
    with make(cache, store) as wb:
        wb["k"] = 1
        del wb["k"]
        assert "k" not in cache and "k" not in wb
        with pytest.raises(KeyError):
            wb["k"]
        with pytest.raises(KeyError):
            del wb["k"]
        wb.flush()
        assert store.data == {"k": 1}  # the queued write still reached the store
        wb["k"] = 2  # a new write is readable again
        assert wb["k"] == 2


def test_delete_with_deleter_queues_a_tombstone(cache):
    store = Store()
    with make(cache, store, deleter=store.delete) as wb:
        wb["gone"] = 1
        wb["kept"] = 1
        wb.flush()
        del wb["gone"]
        assert "gone" not in cache and "gone" not in wb
        del wb["never_cached"]  # deletes in the store even if the cache never held it
        wb.flush()
        assert store.deleted == [["gone", "never_cached"]]
        assert store.data == {"kept": 1}
        # write then delete coalesce into the delete; delete then write into the write
        wb["x"] = 1
        del wb["x"]
        wb["y"] = 1
        del wb["y"]
        wb["y"] = 2
        wb.flush()
    assert store.deleted[-1] == ["x"]
    assert store.batches[-1] == [("y", 2)]
    assert store.data == {"kept": 1, "y": 2}


def test_clear_drops_cache_only(cache):
    store = Store()
    with make(cache, store, deleter=store.delete) as wb:
        wb.update(a=1, b=2)
        wb.clear()
        assert len(cache) == 0 and "a" not in wb
    assert store.data == {"a": 1, "b": 2} and store.deleted == []


# -- backpressure --------------------------------------------------------------------------------

def test_full_queue_blocks_until_room(cache):
    gate = threading.Event()
    store = Store(gate=gate)
    wb = make(cache, store, batch_size=1, max_pending=2)
    try:
        wb["a"] = 1
        assert store.entered.wait(HANG)  # "a" is being written (and counts as pending)
        wb["b"] = 2                       # the second slot
        assert wb.stats()["pending"] == 2
        wb["b"] = 3                       # a queued key coalesces: needs no room, never blocks
        done = threading.Event()

        def blocked_write():
            wb["c"] = 4
            done.set()

        t = threading.Thread(target=blocked_write)
        t.start()
        wait_until(lambda: len(wb._q.progress._waiters) == 1, "the writer to block")
        assert not done.is_set() and "c" not in cache  # blocked before touching the cache
        gate.set()
        assert done.wait(HANG)
        t.join(HANG)
        assert cache["c"] == 4
        wb.flush()
    finally:
        gate.set()
        wb.close()
    assert store.data == {"a": 1, "b": 3, "c": 4}


def test_full_queue_raises_when_not_blocking(cache):
    gate = threading.Event()
    store = Store(gate=gate)
    wb = make(cache, store, batch_size=1, max_pending=2, block=False)
    try:
        wb["a"] = 1
        assert store.entered.wait(HANG)
        wb["b"] = 2
        with pytest.raises(WriteBehindFull):
            wb["c"] = 3
        assert "c" not in cache and wb.stats()["pending"] == 2
        wb["b"] = 5  # coalescing into a queued key still works when full
        with pytest.raises(WriteBehindFull):
            wb.set("d", 1)
        gate.set()
        wb.flush()
        wb["c"] = 3  # room again
    finally:
        gate.set()
        wb.close()
    assert store.data == {"a": 1, "b": 5, "c": 3}


def test_close_wakes_blocked_writers(cache):
    gate = threading.Event()
    store = Store(gate=gate)
    wb = make(cache, store, batch_size=1, max_pending=1)
    errors = []
    wb["a"] = 1
    assert store.entered.wait(HANG)

    def blocked_write():
        try:
            wb["b"] = 2
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=blocked_write)
    t.start()
    wait_until(lambda: len(wb._q.progress._waiters) == 1, "the writer to block")
    closer = threading.Thread(target=wb.close)
    closer.start()
    t.join(HANG)
    assert len(errors) == 1 and "closed" in str(errors[0])  # refused, not silently dropped
    gate.set()
    closer.join(HANG)
    assert store.data == {"a": 1} and "b" not in cache


# -- failures and retries ------------------------------------------------------------------------

def test_transient_failures_lose_nothing_and_keep_order(cache):
    store = Store(fail_first=5)
    with make(cache, store, batch_size=3) as wb:
        expected = {}
        for round_ in range(20):
            for key in range(7):
                wb[key] = (round_, key)
                expected[key] = (round_, key)
        wb.flush()
        st = wb.stats()
    assert store.data == expected
    assert st["failed_batches"] == 5 and st["retries"] == 5 and st["pending"] == 0
    # per key, the store saw its values in write order (rounds never go backwards)
    seen = {}
    for batch in store.batches:
        for key, (round_, _) in batch:
            assert round_ >= seen.get(key, -1)
            seen[key] = round_


def test_writer_failing_many_times_then_recovering(cache):
    store = Store(fail_first=12)  # the backoff reaches its cap; nothing is given up
    with make(cache, store) as wb:
        wb["k"] = "v"
        wb.flush()
    assert store.data == {"k": "v"} and wb.stats()["retries"] == 12


def test_max_retries_hands_batch_to_on_error(cache):
    handed = []

    def always_fails(batch):
        raise OSError("disk full")

    wb = WriteBehindCache(cache, always_fails, flush_interval=None, retry_backoff=FAST_RETRY,
                          max_retries=2, on_error=lambda op, batch, exc: handed.append((op, batch, exc)))
    with wb:
        wb["a"] = 1
        wb["b"] = 2
        wb.flush()
        st = wb.stats()
    assert [(op, batch) for op, batch, _ in handed] == [("write", [("a", 1), ("b", 2)])]
    assert isinstance(handed[0][2], OSError)
    assert st["failed_batches"] == 3 and st["retries"] == 2 and st["abandoned_batches"] == 1
    assert st["flushed_batches"] == 0 and st["pending"] == 0


def test_flush_timeout_keeps_writes_queued(cache):
    gate = threading.Event()
    store = Store(gate=gate)
    wb = make(cache, store)
    try:
        wb["k"] = 1
        with pytest.raises(TimeoutError):
            wb.flush(timeout=0.01)
        assert wb.stats()["pending"] == 1
        gate.set()
        wb.flush(timeout=HANG)
    finally:
        gate.set()
        wb.close()
    assert store.data == {"k": 1}


def test_close_timeout(cache):
    gate = threading.Event()
    store = Store(gate=gate)
    wb = make(cache, store)
    wb["k"] = 1
    with pytest.raises(TimeoutError):
        wb.close(timeout=0.01)
    gate.set()
    wb.close(timeout=HANG)
    assert store.data == {"k": 1}


def test_flush_from_the_writer_is_refused(cache):
    errors = []
    holder = {}

    def writer(batch):
        try:
            holder["wb"].flush()
        except RuntimeError as exc:
            errors.append(exc)

    with WriteBehindCache(cache, writer, flush_interval=None) as wb:
        holder["wb"] = wb
        wb["k"] = 1
        wb.flush()
    assert len(errors) == 1


def test_writer_writing_back_while_closing_is_drained(cache):
    """A writer that writes back into its own cache from the flusher thread keeps working while
    close() drains: the write-back is queued and written, close() returns (it used to raise
    RuntimeError in the writer, failing the batch, retried forever)."""
    store = {}
    holder = {}
    seen_closing = []

    def writer(batch):
        for key, value in batch:
            store[key] = value
            if not key.startswith("ack:"):
                seen_closing.append(holder["wb"].closed)
                holder["wb"]["ack:" + key] = True  # from the flusher thread

    wb = WriteBehindCache(cache, writer, flush_interval=None, max_pending=2,
                          retry_backoff=FAST_RETRY)
    holder["wb"] = wb
    wb["a"] = 1
    wb["b"] = 2  # full: the write-backs are queued past max_pending (never wait for itself)
    closer = threading.Thread(target=wb.close, daemon=True)
    closer.start()  # nothing is due before close (flush_interval=None, batch_size=100)
    closer.join(HANG)
    assert not closer.is_alive(), "close() hung"
    assert seen_closing == [True, True]  # the write-backs did happen during the drain
    assert store == {"a": 1, "b": 2, "ack:a": True, "ack:b": True}
    assert wb.stats()["failed_batches"] == 0 and wb.stats()["pending"] == 0
    assert wb["ack:b"] is True
    with pytest.raises(RuntimeError, match="closed"):
        wb["late"] = 1  # any other thread is still refused
    assert not wb._q.thread.is_alive()


def test_flush_waits_only_for_earlier_writes(cache):
    gates = {"a": threading.Event(), "b": threading.Event()}
    entered = {"a": threading.Event(), "b": threading.Event()}
    written = []

    def writer(batch):
        (key, _), = batch
        entered[key].set()
        assert gates[key].wait(HANG)
        written.append(key)

    wb = WriteBehindCache(cache, writer, batch_size=1, flush_interval=None)
    try:
        wb["a"] = 1
        assert entered["a"].wait(HANG)
        flushed = threading.Event()
        t = threading.Thread(target=lambda: (wb.flush(), flushed.set()))
        t.start()
        wait_until(lambda: len(wb._q.progress._waiters) == 1, "flush() to wait")
        wb["b"] = 2  # queued after the flush call
        gates["a"].set()
        assert entered["b"].wait(HANG)  # "b" is being written and stays blocked...
        assert flushed.wait(HANG)       # ...yet flush() returned: it only waited for "a"
        t.join(HANG)
        assert written == ["a"]
    finally:
        for gate in gates.values():
            gate.set()
        wb.close()
    assert written == ["a", "b"]


# -- threads ---------------------------------------------------------------------------------------

def test_many_threads_with_backpressure(cache):
    store = Store(fail_first=3)
    wb = make(cache, store, batch_size=16, max_pending=32)
    n_threads, n_writes = 8, 400

    def worker(tid):
        for i in range(n_writes):
            wb[(tid, i % 50)] = i

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    wb.close()
    expected = {(t, k): max(i for i in range(n_writes) if i % 50 == k)
                for t in range(n_threads) for k in range(50)}
    assert store.data == expected == dict(cache)


# -- lifetime --------------------------------------------------------------------------------------

def test_unreferenced_instance_is_collected_and_drained(cache):
    store = Store()
    wb = make(cache, store)
    for i in range(50):
        wb[i] = i
    ref = weakref.ref(wb)
    thread = wb._q.thread
    del wb
    gc.collect()
    assert ref() is None  # neither the thread nor atexit keeps it alive
    thread.join(HANG)
    assert not thread.is_alive()
    assert store.data == {i: i for i in range(50)}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_write_the_parents_queue(cache, tmp_path):
    store = Store()
    wb = make(cache, store)
    wb["parent"] = 1
    marker = tmp_path / "child.txt"
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running any exit hook
        try:
            try:
                wb["child"] = 2
                outcome = "accepted"
            except RuntimeError:
                outcome = "refused"
            outcome += " pending=%d" % wb.stats()["pending"]
            wb.close()
            marker.write_text(outcome)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert marker.read_text() == "refused pending=0"
    wb.close()
    assert store.data == {"parent": 1}


EXIT_SCRIPT = r"""
import json, sys, hotcache
from hotcache.patterns import WriteBehindCache

path, fail_first = sys.argv[1], int(sys.argv[2])
calls = [0]

def writer(batch):
    calls[0] += 1
    if calls[0] <= fail_first:
        raise ConnectionError("transient")
    with open(path, "a") as f:
        for key, value in batch:
            f.write(json.dumps([key, value]) + "\n")

wb = WriteBehindCache(hotcache.LRUCache(100), writer, batch_size=64, flush_interval=None,
                      retry_backoff=(0.001, 0.01))
for i in range(1000):
    wb["k%d" % (i % 300)] = i
gone = WriteBehindCache(hotcache.LRUCache(10), writer, flush_interval=None)
gone["dropped-reference"] = -1
del gone
# no close(), no flush(): the interpreter exits with everything still queued
"""


@pytest.mark.parametrize("fail_first", [0, 3])
def test_interpreter_exit_drains(tmp_path, fail_first):
    import json

    script = tmp_path / "exit_drain.py"
    script.write_text(textwrap.dedent(EXIT_SCRIPT))
    out = tmp_path / "written.jsonl"
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([sys.executable, str(script), str(out), str(fail_first)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    written = {}
    for line in out.read_text().splitlines():
        key, value = json.loads(line)
        written[key] = value
    expected = {"k%d" % k: max(i for i in range(1000) if i % 300 == k) for k in range(300)}
    expected["dropped-reference"] = -1
    assert written == expected
