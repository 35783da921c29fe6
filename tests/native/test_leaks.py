"""Nothing the cache let go of stays alive: weakrefs to keys and values die after every kind of
removal, reference counts return to their baseline, and a long run on a bounded C cache keeps
the resident set flat."""

from __future__ import annotations

import gc
import os
import sys
import weakref

import pytest

from helpers import FakeTimer, classes, make


class Obj:
    """Weak-referenceable, hashable by identity."""

    def __init__(self, label=None):
        self.label = label


def removal_triggers():
    def evict(c, t, key):
        # the fills are used more than the key (LFU) and many (RR's random victims: the key
        # survives 100 evictions with probability (4/5)**100)
        # survives 100 evictions with probability (4/5)**100); TinyLFU keeps a key in its
        # protected segment until fills used after leaving the window (re-read below) push it
        # to probation, where the fills' higher frequency evicts it
        for i in range(100):
            c[("fill", i)] = i
            for j in range(max(0, i - 3), i + 1):
                for _ in range(5):
                    c.get(("fill", j))

    def delete(c, t, key):
        del c[key]

    def pop(c, t, key):
        c.pop(key)

    def popitem(c, t, key):
        while len(c):
            c.popitem()

    def clear(c, t, key):
        c.clear()

    def expire(c, t, key):
        t.advance(100)
        c.expire()

    def expire_lazy(c, t, key):
        t.advance(100)
        len(c)
        for i in range(10):
            c[("later", i)] = i
        c.expire()

    def resize(c, t, key):
        c.resize(0)

    def overwrite_value_only(c, t, key):
        c[key] = "other"
        del c[key]

    return {f.__name__: f for f in (evict, delete, pop, popitem, clear, expire, expire_lazy, resize, overwrite_value_only)}


TRIGGERS = removal_triggers()


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_weakrefs_die_after_removal(cls, name, trigger):
    t = FakeTimer()
    c = make(cls, 5, timer=t)
    key, value = Obj("k"), Obj("v")
    kref, vref = weakref.ref(key), weakref.ref(value)
    c.set(key, value, ttl=10)
    for i in range(3):
        c.set(i, Obj(i), ttl=10)
    c[key], c.get(key), c.peek(key), key in c  # touch it through every lookup
    del value
    TRIGGERS[trigger](c, t, key)
    del key
    gc.collect()
    assert vref() is None, "value still alive after %s" % trigger
    assert kref() is None, "key still alive after %s" % trigger
    c._check()


def test_overwritten_value_dies(cls, name):
    c = make(cls, 5)
    old = Obj()
    ref = weakref.ref(old)
    c[1] = old
    del old
    c[1] = Obj()
    gc.collect()
    assert ref() is None


def test_dropping_cache_frees_contents(cls, name):
    c = make(cls, 5)
    key, value = Obj(), Obj()
    refs = weakref.ref(key), weakref.ref(value)
    c[key] = value
    del key, value, c
    gc.collect()
    assert all(r() is None for r in refs)


def test_cycle_through_cache_collected(cls, name):
    c = make(cls, 5, on_evict=lambda k, v, cause: None)
    value = Obj()
    value.cache = c  # value -> cache -> value
    c["self"] = value
    c["me"] = c  # cache -> cache
    ref = weakref.ref(value)
    del value, c
    gc.collect()
    assert ref() is None


def test_cycle_through_callbacks_collected(cls, name):
    holder = Obj()
    c = make(cls, 5, getsizeof=lambda v: 1 if holder else 1, on_evict=lambda k, v, cause: holder)
    holder.cache = c  # cache -> callbacks -> holder -> cache
    ref = weakref.ref(holder)
    del holder, c
    gc.collect()
    assert ref() is None


def test_refcounts_return_to_baseline(cls, name):
    c = make(cls, 3, timer=FakeTimer())
    key, value, default = Obj(), Obj(), Obj()
    base = [sys.getrefcount(x) for x in (key, value, default)]

    def counts():
        return [sys.getrefcount(x) for x in (key, value, default)]

    c[key] = value
    c[key], c.get(key), c.peek(key), key in c, c.setdefault(key, default), c.get(key, default)
    c.get("absent", default), c.pop("absent", default), c.peek("absent", default)
    c[key] = value  # update with the same value
    c.set(key, value, ttl=5)
    c.ttl_left(key)
    list(c), list(c.items()), list(c.values()), repr(c), c.stats(), c._policy_order()
    c2 = c.copy()
    del c2
    with pytest.raises(KeyError):
        c["absent"]
    del c[key]
    assert counts() == base
    c[key] = value
    c.pop(key)
    assert counts() == base
    c.setdefault(key, default)
    c.clear()
    assert counts() == base
    c[key] = value
    i = 0
    while key in c and i < 1000:  # RR picks victims at random: insert until the key went
        c[i] = i
        i += 1
    assert key not in c
    assert counts() == base
    c[key] = value
    assert c.popitem() is not None
    while len(c):
        c.popitem()
    assert counts() == base
    # failed stores don't keep anything either
    c2 = make(cls, 3, getsizeof=lambda v: 100 if v is value else 1)
    with pytest.raises(ValueError):
        c2[key] = value
    assert counts() == base


def test_refcounts_after_callbacks_and_errors(cls, name):
    seen = []
    c = make(cls, 2, on_evict=lambda k, v, cause: seen.append(1))
    key, value = Obj(), Obj()
    base = sys.getrefcount(key), sys.getrefcount(value)
    c[key] = value
    c[1] = 1
    c[2] = 2  # someone is evicted
    c.clear()
    assert seen and (sys.getrefcount(key), sys.getrefcount(value)) == base

    def boom(k, v, cause):
        raise ZeroDivisionError

    c = make(cls, 1, on_evict=boom)
    c[key] = value
    with pytest.raises(ZeroDivisionError):
        c[3] = 3
    gc.collect()  # the traceback (boom's frame holds key and value) is a reference cycle
    assert 3 in c and key not in c
    assert (sys.getrefcount(key), sys.getrefcount(value)) == base


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _churn(c, n, start, timer=None):
    for i in range(start, start + n):
        c[i] = str(i)
        c.get(i - 7)
        if timer is not None and i % 64 == 0:
            timer.advance(1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.parametrize("which", ["LRUCache", "LFUCache", "TTLCache", "RRCache"])
def test_rss_flat_on_bounded_core_cache(which):
    cls = classes("core")[which]  # fails (never skips) without the extension
    t = FakeTimer()
    if which == "TTLCache":
        c = cls(2000, 10, t)
    else:
        c = cls(2000, ttl=None)
    # warm-up: grow everything (cache, int/str caches, allocator arenas) to its steady state
    _churn(c, 200_000, 0, t)
    gc.collect()
    before = _rss_bytes()
    _churn(c, 500_000, 200_000, t)  # 500k sets + 500k gets + evictions: > 1M operations
    gc.collect()
    after = _rss_bytes()
    assert len(c) <= 2000
    c._check()
    # a leak of even one 16-byte block per operation would be ~16 MB here
    assert after - before < 4 * 1024 * 1024, (before, after)
