"""Thread-safety under the GIL of the C-backed classes.

N threads hammer one cache with a random mix of every mutating and reading operation while the
interpreter is forced to switch threads very often (``sys.setswitchinterval(1e-6)``).  Afterwards
the cache must be internally consistent (``_check()``), bounded (len <= maxsize, currsize = sum of
getsizeof, memory_used = sum of charges <= maxmemory), every ``on_evict`` call must carry a valid
cause and a value that belongs to its key, and no exception other than KeyError may have escaped.

A second test uses keys whose ``__eq__`` releases the GIL (``time.sleep(0)``) so that other
threads mutate the cache in the middle of a probe: the cache must not crash, and every value it
hands out must be the one stored for that key (each thread only stores ``("v", key)``)."""

from __future__ import annotations

import gc
import random
import sys
import threading
import time

import pytest

from helpers import CLASS_NAMES, FakeTimer, check, classes

from hotcache import ENTRY_OVERHEAD

NTHREADS = 8
OPS_PER_THREAD = 6000
NKEYS = 160
MAXSIZE = 48
TIMED = ("TTLCache", "TLRUCache")
CAUSES = ("size", "memory", "expired")


def _gc_hook(phase, info):
    """A Python gc callback: every collection then runs Python code, where the interpreter may
    switch threads. Allocations inside the cache's operations can collect, so this opens the
    switch points that hypothesis' own gc callback once exposed (a slot reused mid-expire())."""


@pytest.fixture(autouse=True)
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    gc.callbacks.append(_gc_hook)
    try:
        yield
    finally:
        gc.callbacks.remove(_gc_hook)
        sys.setswitchinterval(old)


def value_of(key):
    return ("v", key)


def item_size(value):
    """getsizeof for the "getsizeof" config: 1..4, derived from the value's key."""
    return 1 + value[1] % 4


def item_sizeof(key, value):
    """sizeof for the "maxmemory" config: bytes charged on top of ENTRY_OVERHEAD."""
    return 8 * (1 + key % 5)


def ttu(key, value, now):
    return now + 1 + key % 7


def build(name, config, timer, on_evict):
    cls = classes("core")[name]
    kw = {"on_evict": on_evict}
    if config == "getsizeof":
        maxsize = 2 * MAXSIZE  # sizes 1..4: between 24 and 96 entries
        getsizeof = item_size
    else:
        maxsize = MAXSIZE
        getsizeof = None
    if config == "maxmemory":
        # room for about 44 entries of average charge by memory, 48 by count: both causes happen
        kw["maxmemory"] = 44 * (ENTRY_OVERHEAD + 24)
        kw["sizeof"] = item_sizeof
    if name == "TTLCache":
        return cls(maxsize, 5, timer, getsizeof, **kw)
    if name == "TLRUCache":
        return cls(maxsize, ttu, timer, getsizeof, **kw)
    if name == "RRCache":
        return cls(maxsize, getsizeof=getsizeof, timer=timer, **kw)
    return cls(maxsize, getsizeof, timer=timer, **kw)


def run_threads(workers):
    start = threading.Barrier(len(workers))
    errors = []

    def wrap(fn):
        def target():
            try:
                start.wait()
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        return target

    threads = [threading.Thread(target=wrap(fn), daemon=True) for fn in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a worker thread hangs"
    return errors


def check_value(key, value):
    if value != value_of(key):
        raise AssertionError("key %r returned %r" % (key, value))


def hammer_worker(cache, seed, escaped, timer, advance):
    rng = random.Random(seed)
    randrange = rng.randrange

    def work():
        for i in range(OPS_PER_THREAD):
            k = randrange(NKEYS)
            op = randrange(20)
            try:
                if advance and i % 16 == 0:
                    timer.advance(1)  # the only thread that writes the fake clock
                if i % 29 == 0:
                    time.sleep(0)  # besides the 1us switch interval: hand the GIL over often
                if op <= 4:
                    cache[k] = value_of(k)
                elif op == 5:
                    cache.set(k, value_of(k), ttl=3)
                elif op <= 8:
                    v = cache.get(k)
                    if v is not None:
                        check_value(k, v)
                elif op == 9:
                    check_value(k, cache[k])
                elif op == 10:
                    del cache[k]
                elif op == 11:
                    v = cache.pop(k, None)
                    if v is not None:
                        check_value(k, v)
                elif op == 12:
                    pk, pv = cache.popitem()
                    check_value(pk, pv)
                elif op == 13:
                    check_value(k, cache.setdefault(k, value_of(k)))
                elif op == 14:
                    cache.update({k: value_of(k), (k + 1) % NKEYS: value_of((k + 1) % NKEYS)})
                elif op == 15:
                    n = len(cache)
                    if n > cache.maxsize:
                        raise AssertionError("len %d > maxsize %r" % (n, cache.maxsize))
                elif op == 16:
                    keys = list(cache)
                    if len(set(keys)) != len(keys):
                        raise AssertionError("iteration repeated a key: %r" % (keys,))
                elif op == 17:
                    for ik, iv in cache.items():  # items() looks each key up: KeyError is fine
                        check_value(ik, iv)
                elif op == 18:
                    for ek, ev in cache.expire():
                        check_value(ek, ev)
                else:
                    v = cache.peek(k)
                    if v is not None:
                        check_value(k, v)
                    if k in cache:
                        cache.stats()
            except KeyError:
                pass
            except Exception as exc:  # noqa: BLE001 - collected and reported by the test
                escaped.append((type(exc).__name__, repr(exc), op))

    return work


@pytest.mark.parametrize("config", ["plain", "getsizeof", "maxmemory"])
@pytest.mark.parametrize("name", CLASS_NAMES)
def test_hammer(name, config):
    timer = FakeTimer()
    evicted = []
    cache = build(name, config, timer, lambda k, v, cause: evicted.append((k, v, cause)))
    escaped = []
    workers = [
        hammer_worker(cache, seed=1000 * i + len(name), escaped=escaped, timer=timer,
                      advance=(i == 0))
        for i in range(NTHREADS)
    ]
    errors = run_threads(workers)
    assert not errors, errors
    assert not escaped, "exceptions other than KeyError escaped: %r" % (escaped[:10],)

    sys.setswitchinterval(0.005)  # the checks below run single-threaded anyway
    cache._check()
    check(cache)
    assert len(cache) <= cache.maxsize
    items = [(k, cache.peek(k)) for k in cache]
    for k, v in items:
        check_value(k, v)
    if config == "getsizeof":
        assert cache.currsize == sum(item_size(v) for _, v in items)
    else:
        assert cache.currsize == len(items)
    assert cache.currsize <= cache.maxsize
    st = cache.stats()
    assert st.len == len(items)
    if config == "maxmemory":
        charged = sum(ENTRY_OVERHEAD + item_sizeof(k, v) for k, v in items)
        assert st.memory_used == charged
        assert charged <= cache.maxmemory
    else:
        assert st.memory_used is None

    # on_evict: valid causes, value belongs to its key, counts agree with stats()
    assert evicted, "no eviction happened: the test does not exercise on_evict"
    bad = [e for e in evicted if e[2] not in CAUSES]
    assert not bad, bad[:10]
    for k, v, _ in evicted:
        check_value(k, v)
    causes = [c for _, _, c in evicted]
    assert causes.count("size") == st.evictions_size
    assert causes.count("memory") == st.evictions_memory
    assert causes.count("expired") == st.expirations
    if config != "maxmemory":
        assert "memory" not in causes
    else:
        assert "memory" in causes
    assert "expired" in causes  # every class has timed entries (set(..., ttl=3) or ttl/ttu)

    # still fully usable afterwards
    cache.clear()
    cache._check()
    cache[1] = value_of(1)
    assert cache[1] == value_of(1)
    cache._check()


class SlowKey:
    """A key whose __eq__ releases the GIL; few hash values, so probes compare a lot."""

    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __hash__(self):
        return self.k % 5

    def __eq__(self, other):
        time.sleep(0)  # releases the GIL: other threads run in the middle of the probe
        if not isinstance(other, SlowKey):
            return NotImplemented
        return self.k == other.k

    def __repr__(self):
        return "SlowKey(%d)" % self.k


def check_slow(key, value):
    # value is ("v", <a SlowKey equal to key>); compare the ints, not via __eq__
    if not (type(value) is tuple and len(value) == 2 and value[0] == "v"
            and type(value[1]) is SlowKey and value[1].k == key.k):
        raise AssertionError("key %r returned %r" % (key, value))


SLOW_OPS = 800
SLOW_KEYS = 40


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_gil_releasing_eq(name):
    cls = classes("core")[name]
    timer = FakeTimer()
    evicted = []
    on_evict = lambda k, v, cause: evicted.append((k, v, cause))  # noqa: E731
    if name == "TTLCache":
        cache = cls(16, 1e9, timer, on_evict=on_evict)
    elif name == "TLRUCache":
        cache = cls(16, lambda k, v, now: now + 1e9, timer, on_evict=on_evict)
    else:
        cache = cls(16, on_evict=on_evict)
    escaped = []
    runtime_errors = []

    def worker(seed):
        rng = random.Random(seed)

        def work():
            for _ in range(SLOW_OPS):
                key = SlowKey(rng.randrange(SLOW_KEYS))  # a fresh object: never `is` a stored key
                op = rng.randrange(8)
                try:
                    if op <= 1:
                        cache[key] = ("v", key)
                    elif op == 2:
                        v = cache.get(key)
                        if v is not None:
                            check_slow(key, v)
                    elif op == 3:
                        check_slow(key, cache[key])
                    elif op == 4:
                        v = cache.pop(key, None)
                        if v is not None:
                            check_slow(key, v)
                    elif op == 5:
                        check_slow(key, cache.setdefault(key, ("v", key)))
                    elif op == 6:
                        del cache[key]
                    else:
                        pk, pv = cache.popitem()
                        check_slow(pk, pv)
                except KeyError:
                    pass
                except RuntimeError as exc:  # allowed by the spec for a mutated probe
                    runtime_errors.append(repr(exc))
                except Exception as exc:  # noqa: BLE001
                    escaped.append((type(exc).__name__, repr(exc), op))

        return work

    errors = run_threads([worker(7 * i + 1) for i in range(NTHREADS)])
    assert not errors, errors
    assert not escaped, escaped[:10]

    sys.setswitchinterval(0.005)
    cache._check()
    check(cache)
    assert len(cache) <= cache.maxsize
    ks = [k.k for k in cache]
    assert len(set(ks)) == len(ks), "two equal keys stored: %r" % (sorted(ks),)
    for k in list(cache):
        check_slow(k, cache.peek(k))
    for k, v, cause in evicted:
        assert cause == "size", cause
        check_slow(k, v)
    # the RuntimeError escape hatch must stay an exception, not the rule
    assert len(runtime_errors) <= NTHREADS * SLOW_OPS // 10, runtime_errors[:5]
