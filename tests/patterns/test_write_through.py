"""Write-through: ``hotcache.patterns.WriteThroughCache`` writes the store first, then the cache."""
from __future__ import annotations

import threading
import time

import pytest

from helpers import FakeTimer, classes
from hotcache.patterns import WriteThroughCache

HANG = 20.0


class Store:
    """A backing store that records every call and can be told to fail."""

    def __init__(self):
        self.data = {}
        self.log = []
        self.fail = None

    def write(self, key, value):
        self.log.append(("write", key, value))
        if self.fail is not None:
            raise self.fail
        self.data[key] = value

    def delete(self, key):
        self.log.append(("delete", key))
        if self.fail is not None:
            raise self.fail
        del self.data[key]


@pytest.fixture
def cache(impl):
    return classes(impl)["LRUCache"](100)


def wait_until(predicate, what):
    deadline = time.monotonic() + HANG
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.001)


def test_store_is_written_before_the_cache(cache):
    seen = []

    def writer(key, value):
        seen.append(cache.get(key, "absent"))

    wt = WriteThroughCache(cache, writer)
    wt["k"] = 1
    wt["k"] = 2
    assert seen == ["absent", 1]  # the cache still held the old state while the store was written
    assert wt["k"] == 2 and cache["k"] == 2


def test_failed_write_leaves_cache_unchanged(cache):
    store = Store()
    wt = WriteThroughCache(cache, store.write)
    wt["old"] = 1
    store.fail = ConnectionError("down")
    with pytest.raises(ConnectionError):
        wt["new"] = 2
    with pytest.raises(ConnectionError):
        wt["old"] = 3
    with pytest.raises(ConnectionError):
        wt.set("old", 4, ttl=10)
    assert dict(cache) == {"old": 1}
    assert store.data == {"old": 1}
    store.fail = None
    wt["new"] = 2
    assert dict(cache) == store.data == {"old": 1, "new": 2}


def test_reads_come_from_the_cache(cache):
    wt = WriteThroughCache(cache, Store().write)
    cache["direct"] = "c"
    assert wt["direct"] == "c" and "direct" in wt
    assert wt.get("missing") is None and "missing" not in wt
    with pytest.raises(KeyError):
        wt["missing"]
    wt["a"] = 1
    assert sorted(wt) == ["a", "direct"] and len(wt) == 2
    assert wt.cache is cache


def test_delete_without_deleter_only_drops_cached_copy(cache):
    store = Store()
    wt = WriteThroughCache(cache, store.write)
    wt["k"] = 1
    del wt["k"]
    assert "k" not in cache
    assert store.data == {"k": 1}
    with pytest.raises(KeyError):
        del wt["k"]
    assert wt.pop("k", "gone") == "gone"


def test_delete_with_deleter(cache):
    store = Store()
    wt = WriteThroughCache(cache, store.write, deleter=store.delete)
    wt["k"] = 1
    del wt["k"]
    assert "k" not in cache and store.data == {}
    # a key the cache does not hold is still deleted from the store
    store.data["only_in_store"] = 5
    del wt["only_in_store"]
    assert store.data == {}
    assert store.log[-1] == ("delete", "only_in_store")
    # the deleter's own KeyError propagates
    with pytest.raises(KeyError):
        del wt["nowhere"]


def test_failed_delete_leaves_cache_unchanged(cache):
    store = Store()
    wt = WriteThroughCache(cache, store.write, deleter=store.delete)
    wt["k"] = 1
    store.fail = TimeoutError("slow")
    with pytest.raises(TimeoutError):
        del wt["k"]
    assert cache["k"] == 1 and store.data == {"k": 1}


def test_clear_does_not_touch_the_store(cache):
    store = Store()
    wt = WriteThroughCache(cache, store.write, deleter=store.delete)
    wt.update(a=1, b=2)
    wt.clear()
    assert len(cache) == 0 and store.data == {"a": 1, "b": 2}
    assert all(entry[0] == "write" for entry in store.log)


def test_set_with_ttl(impl):
    timer = FakeTimer()
    cache = classes(impl)["LRUCache"](10, timer=timer)
    store = Store()
    wt = WriteThroughCache(cache, store.write)
    wt.set("k", 1, ttl=5)
    assert cache.ttl_left("k") == 5 and store.data == {"k": 1}
    timer.advance(5)
    assert "k" not in wt and store.data == {"k": 1}
    with pytest.raises(ValueError):
        wt.set("k", 2, ttl=0)
    assert store.data == {"k": 1}  # a bad ttl fails before the store is written


def test_too_large_value_reaches_store_and_drops_stale_copy(impl):
    cache = classes(impl)["LRUCache"](3, getsizeof=len)
    store = Store()
    wt = WriteThroughCache(cache, store.write)
    wt["k"] = "ab"
    wt["k"] = "much too large"
    assert store.data == {"k": "much too large"}
    assert "k" not in cache  # never serve the older "ab"


def test_unhashable_key_fails_before_writing(cache):
    store = Store()
    wt = WriteThroughCache(cache, store.write)
    with pytest.raises(TypeError):
        wt[["x"]] = 1
    assert store.log == []


def test_bad_arguments():
    with pytest.raises(TypeError):
        WriteThroughCache({}, None)
    with pytest.raises(TypeError):
        WriteThroughCache({}, print, deleter=5)
    with pytest.raises(TypeError, match="set"):
        WriteThroughCache({}, print).set("k", 1, ttl=1)


def test_plain_dict_cache():
    store = Store()
    d = {}
    wt = WriteThroughCache(d, store.write, deleter=store.delete)
    wt["k"] = 1
    assert d == store.data == {"k": 1}
    del wt["k"]
    assert d == store.data == {}


def test_writes_of_one_key_are_serialised(cache):
    """Two threads writing one key: the cache ends with the value the store saw last."""
    gate = threading.Event()
    first_in = threading.Event()
    order = []

    def writer(key, value):
        order.append(value)
        if value == 1:
            first_in.set()
            assert gate.wait(HANG)

    wt = WriteThroughCache(cache, writer)
    t1 = threading.Thread(target=wt.__setitem__, args=("k", 1))
    t1.start()
    assert first_in.wait(HANG)
    t2 = threading.Thread(target=wt.__setitem__, args=("k", 2))
    t2.start()
    # t2 is queued on the key's lock (2 users) while t1's writer is still running
    wait_until(lambda: wt._locks._locks.get("k", [None, 0])[1] == 2, "second writer to queue")
    assert order == [1]
    gate.set()
    t1.join(HANG)
    t2.join(HANG)
    assert order == [1, 2]
    assert cache["k"] == 2
    assert len(wt._locks) == 0  # the lock table empties once nobody writes


def test_different_keys_do_not_wait(cache):
    gate = threading.Event()
    entered = threading.Event()

    def writer(key, value):
        if key == "slow":
            entered.set()
            assert gate.wait(HANG)

    wt = WriteThroughCache(cache, writer)
    t = threading.Thread(target=wt.__setitem__, args=("slow", 1))
    t.start()
    try:
        assert entered.wait(HANG)
        wt["fast"] = 2
        assert cache["fast"] == 2 and "slow" not in cache
    finally:
        gate.set()
        t.join(HANG)
    assert cache["slow"] == 1


def test_many_threads_store_and_cache_agree(cache):
    data = {}
    lock = threading.Lock()

    def write(key, value):
        with lock:
            data[key] = value

    wt = WriteThroughCache(cache, write)

    def worker(tid):
        for i in range(300):
            wt[i % 17] = (tid, i)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert dict(cache) == data
    assert len(wt._locks) == 0


def test_stats_pass_through(cache):
    wt = WriteThroughCache(cache, Store().write)
    wt["k"] = 1
    wt["k"]
    assert wt.stats().hits == 1
