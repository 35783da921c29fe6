"""Python code that runs inside the garbage collector (gc callbacks, finalizers, and with threads:
any other thread) may use the cache in the middle of an operation of the C core: every such
point must find the cache consistent. A gc callback that writes to the cache on every collection,
with a collection forced at every allocation, stands in for "another thread got the GIL here"
(the bug it found: expire() allocated result tuples while freed slots still held their keys, so
a store in between reused a slot and expire() reported the new entry as expired)."""
import gc

import pytest

from helpers import FakeTimer, classes

NAMES = ["LRUCache", "LFUCache", "FIFOCache", "RRCache", "TTLCache", "TLRUCache", "Cache"]


def build(impl, name, timer, on_evict):
    cls = classes(impl)[name]
    if name == "TTLCache":
        return cls(12, 1, timer, on_evict=on_evict)
    if name == "TLRUCache":
        return cls(12, lambda k, v, now: now + 1, timer, on_evict=on_evict)
    return cls(12, ttl=1, timer=timer, on_evict=on_evict)


@pytest.fixture
def intruder():
    """Install a gc callback that runs `action` at the start of each collection, and make every
    allocation of a container collect (threshold 1)."""
    installed = []

    def install(action):
        def cb(phase, info):
            if phase == "start":
                action()
        gc.collect()
        gc.callbacks.append(cb)
        installed.append(cb)
        gc.set_threshold(1)

    old = gc.get_threshold()
    yield install
    gc.set_threshold(*old)
    for cb in installed:
        gc.callbacks.remove(cb)


@pytest.mark.parametrize("impl", ["core"])
@pytest.mark.parametrize("name", NAMES)
def test_writes_from_the_collector_never_corrupt(impl, name, intruder):
    t = FakeTimer()
    evicted = []
    c = build(impl, name, t, lambda k, v, cause: evicted.append((k, v, cause)))
    counter = [0]

    def write():
        counter[0] += 1
        if counter[0] % 3 == 0 and len(c) < 100:  # len() itself may collect: bounded writes
            c[("gc", counter[0])] = ("v", ("gc", counter[0]))

    for k in range(10):
        c[k] = ("v", k)
    intruder(write)
    t.advance(5)  # everything stored so far has expired
    expired = c.expire()
    for k in range(10, 40):
        c[k] = ("v", k)  # evictions with collections in between
        c.set(("s", k), ("v", ("s", k)), ttl=0.5)
        c.get(k - 1)
        c.pop(k - 2, None)
        if k % 7 == 0:
            t.advance(1)
    popped = [c.popitem() for _ in range(3)]
    gc.set_threshold(700)
    c._check()
    for k, v in expired + popped + [(k, v) for k, v, _ in evicted]:
        assert k is not None and v == ("v", k), (k, v)
    assert {k for k, _ in expired} <= set(range(10)), "expire() returned entries that never expired"
    for k in list(c):
        assert c.peek(k) == ("v", k)
    st = c.stats()
    causes = [cause for _, _, cause in evicted]
    assert causes.count("size") == st.evictions_size
    assert causes.count("expired") == st.expirations
