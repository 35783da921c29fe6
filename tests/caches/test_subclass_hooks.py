"""A Python subclass observes cachetools 8's call graph: recording subclasses, side by side.

For every class, a subclass that overrides every method cachetools calls on ``self`` (each override
records its call and its result, and calls ``super()``) runs one random operation sequence on
cachetools 8, on hotcache's C-backed class and on the pure twin. After every operation the
recorded calls (with their nesting: each call and each return is an event), the operation's
result (or exception type and arguments) and the contents must be identical across the three.
The contract is docs/compat.md.

Deliberate exclusions, each kept out of the sequences on purpose (docs/compat.md,
"What is not the same"):
- RR_NATIVE_PRNG: RRCache's default ``choice=random.choice`` draws victims from a native PRNG in
  hotcache; every RRCache here gets a deterministic choice that depends on the order of the keys
  it is given (so the order of that list is compared too).
- TIMER_READS: how often the timer function itself is called is not compared (cachetools reads it
  in more places, e.g. in ``__getitem__`` only when the key is present); the times the hooks see
  (``expire(time)``) are compared.
- DEAD_ON_ARRIVAL_TTL: a TTLCache store that is expired on arrival (ttl <= 0) stores nothing in
  hotcache; here ttl >= 1. (TLRUCache's dead-on-arrival rule is cachetools' own and is exercised.)
- INT_SIZES: ``getsizeof`` returns ints (hotcache rejects other numbers).
- MAXSIZE_ZERO: sizes are 1 to 3 (with ``maxsize=0`` hotcache rejects even a size-0 value, which
  cachetools stores).
- KEY_HASH_EQ: how often a key's __hash__/__eq__ run: the keys are ints.
- EXTENSIONS: hotcache's own methods and options (set, peek, stats, on_evict, ttl=, maxmemory=)
  are not cachetools API and not part of the comparison (other tests cover them).

``HOTCACHE_HOOK_EXAMPLES`` sets the sequences per (class, sized) case (default 40, for CI);
``HOTCACHE_HOOK_EXAMPLES=3000`` runs 42,000 sequences. Where cachetools 8 is not installable
(Python 3.9) the side-by-side runs compare the C core with the pure twin.
"""

from __future__ import annotations

import copy
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hotcache
from helpers import CLASS_NAMES, FakeTimer, classes

cachetools = pytest.importorskip("cachetools")
# The comparisons are with cachetools 8 (which needs Python >= 3.10). Without it the side-by-side
# runs compare the C core with the pure twin only; the tests of hotcache alone run anywhere.
CACHETOOLS8 = int(cachetools.__version__.split(".")[0]) >= 8
needs_cachetools8 = pytest.mark.skipif(
    not CACHETOOLS8, reason="compares with cachetools 8 (installed: %s)" % cachetools.__version__)

EXAMPLES = int(os.environ.get("HOTCACHE_HOOK_EXAMPLES", "40"))
TIMED = ("TTLCache", "TLRUCache")
TICK = 1000  # the fake clock moves in ints; ttls and ttu are multiples plus a key-specific offset


# ---------------------------------------------------------------------------- the recorder


class Log(list):
    """Events ("call", name, args) / ("ret", name, result) / ("raise", name, exc type)."""

    on = True

    def add(self, *event):
        if self.on:
            self.append(event)


def recording(base, log, timed, sized):
    """A subclass of `base` overriding every hook cachetools calls, each recording and calling
    super()."""

    def rec(name, fn, *args):
        log.add("call", name, args)
        try:
            result = fn(*args)
        except Exception as exc:
            log.add("raise", name, type(exc).__name__, exc.args)
            raise
        log.add("ret", name, "<iterator>" if name == "__iter__" else result)
        return result

    class Rec(base):
        def __getitem__(self, key):
            return rec("__getitem__", super().__getitem__, key)

        def __setitem__(self, key, value):
            return rec("__setitem__", super().__setitem__, key, value)

        def __delitem__(self, key):
            return rec("__delitem__", super().__delitem__, key)

        def __contains__(self, key):
            return rec("__contains__", super().__contains__, key)

        def __missing__(self, key):
            return rec("__missing__", super().__missing__, key)

        def __iter__(self):
            return rec("__iter__", super().__iter__)

        def __len__(self):
            return rec("__len__", super().__len__)

        def get(self, key, default=None):
            return rec("get", super().get, key, default)

        def pop(self, key, *default):
            return rec("pop", super().pop, key, *default)

        def popitem(self):
            return rec("popitem", super().popitem)

        def setdefault(self, key, default=None):
            return rec("setdefault", super().setdefault, key, default)

        def clear(self):
            return rec("clear", super().clear)

        if timed:
            def expire(self, time=None):
                return rec("expire", super().expire, time)

        if sized:
            def getsizeof(self, value):
                log.add("call", "getsizeof", (value,))
                return value % 3 + 1

    Rec.__name__ = Rec.__qualname__ = "Rec" + base.__name__
    return Rec


def order_choice(log):
    """RRCache's choice: the middle of the keys it is given (so their order matters)."""

    def choice(keys):
        log.add("choice", list(keys))
        return keys[len(keys) // 2]

    return choice


def make_ttu(log):
    def ttu(key, value, now):
        log.add("ttu", key, value, now)
        if value % 7 == 0:
            return now - 1  # dead on arrival: TLRU stores nothing and drops an old entry
        return now + TICK * (1 + (key + value) % 3) + key  # unique per key: no expiry ties

    return ttu


def build(impl, name, maxsize, sized, ttl):
    """(cache, log, timer) for one implementation: "cachetools", "core" or "pure"."""
    log = Log()
    timer = FakeTimer(0)
    base = getattr(cachetools, name) if impl == "cachetools" else classes(impl)[name]
    cls = recording(base, log, name in TIMED, sized)
    if name == "TTLCache":
        c = cls(maxsize, ttl * TICK, timer)
    elif name == "TLRUCache":
        c = cls(maxsize, make_ttu(log), timer)
    elif name == "RRCache":
        c = cls(maxsize, order_choice(log))
    else:
        c = cls(maxsize)
    return c, log, timer


# ---------------------------------------------------------------------------- operations

keys = st.integers(0, 7)
values = st.integers(0, 20)
MAP_OPS = st.one_of(
    st.tuples(st.just("set"), keys, values),
    st.tuples(st.just("set"), keys, values),
    st.tuples(st.just("getitem"), keys),
    st.tuples(st.just("get"), keys),
    st.tuples(st.just("get_default"), keys),
    st.tuples(st.just("del"), keys),
    st.tuples(st.just("pop"), keys),
    st.tuples(st.just("pop_default"), keys),
    st.tuples(st.just("contains"), keys),
    st.tuples(st.just("setdefault"), keys, values),
    st.tuples(st.just("update"), keys, values),
    st.sampled_from([("popitem",), ("clear",), ("len",), ("currsize",), ("iter",), ("items",),
                     ("repr",), ("eq",), ("bool",), ("copy",), ("deepcopy",)]),
)
TIME_OPS = st.one_of(
    st.tuples(st.just("tick"), st.sampled_from([TICK // 2, TICK, 2 * TICK])),
    st.just(("expire",)),
    st.tuples(st.just("expire_at"), st.sampled_from([0, TICK, 3 * TICK])),
)


def snapshot(c, impl):
    """Live keys in iteration order with their values, read without any hook or policy use."""
    ks = [k for k in iter(c)]
    if impl == "cachetools":
        return [(k, cachetools.Cache.__getitem__(c, k)) for k in ks]
    return [(k, c.peek(k)) for k in ks]


def apply(c, timer, op):
    kind = op[0]
    if kind == "set":
        c[op[1]] = op[2]
    elif kind == "getitem":
        return c[op[1]]
    elif kind == "get":
        return c.get(op[1])
    elif kind == "get_default":
        return c.get(op[1], -1)
    elif kind == "del":
        del c[op[1]]
    elif kind == "pop":
        return c.pop(op[1])
    elif kind == "pop_default":
        return c.pop(op[1], -1)
    elif kind == "contains":
        return op[1] in c
    elif kind == "setdefault":
        return c.setdefault(op[1], op[2])
    elif kind == "update":
        c.update({op[1]: op[2]})
    elif kind == "popitem":
        return c.popitem()
    elif kind == "clear":
        c.clear()
    elif kind == "len":
        return len(c)
    elif kind == "currsize":
        return c.currsize
    elif kind == "iter":
        return [k for k in c]
    elif kind == "items":
        return list(c.items())
    elif kind == "repr":
        return repr(c)
    elif kind == "eq":
        return c == {}
    elif kind == "bool":
        return bool(c)
    elif kind in ("copy", "deepcopy"):
        d = copy.copy(c) if kind == "copy" else copy.deepcopy(c)
        return type(d).__name__, len(d), sorted(d.items())
    elif kind == "tick":
        timer.advance(op[1])
    elif kind == "expire":
        return c.expire()
    elif kind == "expire_at":
        return c.expire(timer.time + op[1])
    else:  # pragma: no cover
        raise AssertionError(op)


def outcome(c, timer, op):
    try:
        return ("ok", apply(c, timer, op))
    except Exception as exc:
        return ("raise", type(exc).__name__, exc.args)


IMPLS = ("cachetools", "core", "pure")
SIDE_BY_SIDE = IMPLS if CACHETOOLS8 else ("pure", "core")  # the first is the reference


def sides(name):
    """The implementations to run side by side for class `name`: the first is the reference.
    hotcache's own classes (S3FIFOCache, TinyLFUCache) have no cachetools twin: the pure twin
    is their reference."""
    if CACHETOOLS8 and hasattr(cachetools, name):
        return IMPLS
    return ("pure", "core")


def run_side_by_side(name, sized, maxsize, ttl, ops):
    SIDE_BY_SIDE = sides(name)
    caches = {impl: build(impl, name, maxsize, sized, ttl) for impl in SIDE_BY_SIDE}
    for i, op in enumerate(ops):
        seen = {}
        for impl, (c, log, timer) in caches.items():
            del log[:]
            result = outcome(c, timer, op)
            log.on = False
            try:
                state = snapshot(c, impl)
                if impl != "cachetools":
                    c._check()
            finally:
                log.on = True
            seen[impl] = (result, list(log), state)
        first = SIDE_BY_SIDE[0]
        ref = seen[first]
        for impl in SIDE_BY_SIDE[1:]:
            got = seen[impl]
            where = "op %d %r on %s (%s)" % (i, op, name, impl)
            assert got[1] == ref[1], "%s: hook calls differ\n  %s: %r\n  %s: %r" % (
                where, first, ref[1], impl, got[1])
            assert got[0] == ref[0], "%s: result %r, %s %r" % (where, got[0], first, ref[0])
            assert got[2] == ref[2], "%s: contents %r, %s %r" % (where, got[2], first, ref[2])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.parametrize("sized", [False, True], ids=["unsized", "sized"])
@pytest.mark.parametrize("name", CLASS_NAMES)
def test_recorded_calls_match_cachetools(name, sized, data):
    maxsize = data.draw(st.sampled_from([0, 1, 2, 3, 4, 6]), label="maxsize")
    ttl = data.draw(st.sampled_from([1, 2, 3]), label="ttl")
    ops = MAP_OPS if name not in TIMED else st.one_of(MAP_OPS, TIME_OPS)
    seq = data.draw(st.lists(ops, max_size=40), label="ops")
    run_side_by_side(name, sized, maxsize, ttl, seq)


def test_every_hook_of_the_recorder_is_reached():
    """The random sequences above are only as good as the hooks they reach: one fixed sequence
    per class reaches every recorded name on cachetools and hotcache alike."""
    ops = [("set", 1, 1), ("set", 2, 2), ("set", 3, 3), ("set", 4, 4), ("getitem", 9),
           ("get", 1), ("pop", 2), ("popitem",), ("setdefault", 5, 5), ("contains", 3),
           ("len",), ("iter",), ("tick", 5 * TICK), ("set", 6, 8), ("expire",), ("clear",)]
    for name in CLASS_NAMES:
        ops_here = [op for op in ops if name in TIMED or op[0] not in ("tick", "expire")]
        run_side_by_side(name, True, 3, 1, ops_here)
        c, log, timer = build("core", name, 3, True, 1)
        for op in ops_here:
            outcome(c, timer, op)
        reached = {e[1] for e in log if e[0] == "call"}
        wanted = {"__getitem__", "__setitem__", "__delitem__", "__contains__", "__missing__",
                  "__iter__", "__len__", "get", "pop", "popitem", "setdefault", "clear",
                  "getsizeof"} | ({"expire"} if name in TIMED else set())
        assert wanted <= reached, (name, wanted - reached)


# ---------------------------------------------------------------------------- shelved-cache


class DelMixin:
    """shelved-cache 0.5's mixin: a callback after every __delitem__ (it deletes from disk)."""

    def __init__(self, delete_callback, *args, **kwargs):
        self.delete_callback = delete_callback
        super().__init__(*args, **kwargs)

    def __delitem__(self, key):
        super().__delitem__(key)
        self.delete_callback(key)


class PersistentCache:
    """shelved-cache's PersistentCache, with a dict standing in for the shelve file."""

    def __init__(self, wrapped_cache_cls, disk, *args, **kwargs):
        new_cls = type("Wrapped%s" % wrapped_cache_cls.__name__, (DelMixin, wrapped_cache_cls), {})
        self.wrapped = new_cls(self.delete_callback, *args, **kwargs)
        self.disk = disk
        for k, v in list(disk.values()):  # a new instance loads what is on disk
            self.wrapped[k] = v

    def delete_callback(self, key):
        self.disk.pop(str(hash(key)), None)

    def __setitem__(self, key, value):
        self.disk[str(hash(key))] = (key, value)
        self.wrapped[key] = value

    def __getitem__(self, key):
        return self.wrapped[key]

    def __contains__(self, key):
        return key in self.wrapped


@pytest.mark.parametrize("impl", ["core", "pure"])
def test_shelved_cache_eviction(impl):
    """shelved-cache's test_eviction and test_persistency, which failed with hotcache before:
    the evicted key left the disk, and a new instance does not bring it back."""
    LRUCache = classes(impl)["LRUCache"]
    disk = {}
    pc = PersistentCache(LRUCache, disk, maxsize=2)
    pc["a"] = 42
    pc["b"] = 43
    pc["c"] = 44
    assert "a" not in pc and str(hash("a")) not in disk
    assert "b" in pc and str(hash("b")) in disk
    pc2 = PersistentCache(LRUCache, disk, maxsize=2)
    assert "a" not in pc2 and pc2["b"] == 43 and pc2["c"] == 44


@needs_cachetools8
def test_issue_reproduction():
    """The issue's example: eviction, pop and popitem all reach the subclass's __delitem__."""
    for mod in (cachetools, hotcache, hotcache._spec):
        class C(mod.LRUCache):
            seen = []

            def __delitem__(self, key):
                super().__delitem__(key)
                self.seen.append(key)

        c = C(maxsize=2)
        c["a"] = 1
        c["b"] = 2
        c["c"] = 3  # evicts "a"
        c.pop("b")
        c.popitem()
        assert C.seen == ["a", "b", "c"], mod.__name__


@pytest.mark.parametrize("impl", ["core", "pure"])
@pytest.mark.parametrize("name", CLASS_NAMES)
def test_overriding_delitem_sees_every_removal(impl, name):
    """Every key that leaves through eviction (size or getsizeof growth), pop, popitem or del
    reaches the overriding __delitem__, for every class; only clear() and expiry (cachetools
    removes expired items through the base Cache.__delitem__) do not."""
    gone = []
    base = classes(impl)[name]

    class Sub(base):
        def __delitem__(self, key):
            super().__delitem__(key)
            gone.append(key)

    timer = FakeTimer(0)
    sizes = {}
    if name == "TTLCache":
        c = Sub(4, 100, timer, getsizeof=lambda v: sizes.get(v, 1))
    elif name == "TLRUCache":
        c = Sub(4, lambda k, v, now: now + 100, timer, getsizeof=lambda v: sizes.get(v, 1))
    else:
        c = Sub(4, getsizeof=lambda v: sizes.get(v, 1))
    stored = set()
    for k in range(12):
        c[k] = k
        stored.add(k)
    stored.add(12)
    sizes[100] = 3
    c[11] = 100          # grows: evicts until it fits
    assert c.pop(next(iter(c))) is not None
    c.popitem()
    c[12] = 12
    del c[12]
    # one __delitem__ per entry that left (a re-assigned key may be its own victim, as in
    # cachetools, and then enters again)
    assert len(gone) == c.stats().inserts - len(c)
    assert set(gone) | set(c) == stored
    c.clear()
    n = len(gone)
    if name in TIMED:
        c[50] = 1
        timer.advance(1000)
        assert c.expire() == [(50, 1)] and len(gone) == n  # expiry: not through __delitem__


# ---------------------------------------------------------------------------- __missing__


@needs_cachetools8
@pytest.mark.parametrize("name", CLASS_NAMES)
def test_missing_that_stores_counts_as_use_like_cachetools(name):
    """A DefaultCache-style __missing__ that stores the key: cachetools' LRUCache and LFUCache
    then count the key as used (LRU: newest; LFU: a second use), the others do not. The next
    victims show it; the class overrides no hook, so this is hotcache's native path."""
    orders = {}
    for impl in sides(name):
        base = getattr(cachetools, name) if impl == "cachetools" else classes(impl)[name]

        class Default(base):
            def __missing__(self, key):
                self[key] = key * 10
                return key * 10

        if name == "TTLCache":
            c = Default(3, 100, FakeTimer(0))
        elif name == "TLRUCache":
            c = Default(3, lambda k, v, now: now + 100, FakeTimer(0))
        elif name == "RRCache":
            c = Default(3, choice=min)
        else:
            c = Default(3)
        c[1] = 1
        assert c[2] == 20           # stored by __missing__
        c[3] = 3
        c[1]                        # LRU: 1 newest; LFU: 1 has two uses, 2 one or two
        order = []
        while c:
            order.append(c.popitem()[0])
        orders[impl] = order
    assert orders["core"] == orders.get("cachetools", orders["pure"]) == orders["pure"], orders


@needs_cachetools8
def test_cachetools_public_names():
    """Everything cachetools 8 exports at its top level, hotcache exports too."""
    assert set(cachetools.__all__) <= set(hotcache.__all__)
    for name in cachetools.__all__:
        assert getattr(hotcache, name) is not None
    info = hotcache.CacheInfo(1, 2, 3, 4)
    assert info == cachetools.CacheInfo(1, 2, 3, 4)
    assert info._fields == cachetools.CacheInfo._fields
    assert hotcache.CacheInfo is hotcache.memo.CacheInfo


@pytest.mark.parametrize("impl", ["core", "pure"])
def test_hooks_decided_per_class(impl):
    """Which path a class takes is decided when the class is created: overriding one of the
    hooks makes it (and its subclasses) follow cachetools' graph; other overrides do not."""
    LRUCache = classes(impl)["LRUCache"]
    calls = []

    class Plain(LRUCache):
        def __setitem__(self, key, value):      # not a hook: native paths call it where
            calls.append(("set", key))           # cachetools does (setdefault, update)
            super().__setitem__(key, value)

    class Hooked(Plain):
        def __contains__(self, key):
            calls.append(("in", key))
            return super().__contains__(key)

    class Below(Hooked):
        pass

    for cls, expect in ((Plain, [("set", 1)]), (Hooked, [("in", 1), ("set", 1), ("in", 1)]),
                        (Below, [("in", 1), ("set", 1), ("in", 1)])):
        del calls[:]
        c = cls(2)
        c.setdefault(1, 1)
        c.get(1)
        assert calls == expect, cls


@pytest.mark.parametrize("impl", ["core", "pure"])
def test_popitem_that_removes_nothing_raises(impl):
    """cachetools would loop forever; hotcache raises and the cache stays consistent."""
    LRUCache = classes(impl)["LRUCache"]

    class Stuck(LRUCache):
        def popitem(self):
            return ("x", 0)

    c = Stuck(2)
    c[1] = 1
    c[2] = 2
    with pytest.raises(RuntimeError, match="did not remove"):
        c[3] = 3
    assert sorted(c) == [1, 2]
    c._check()


@pytest.mark.parametrize("impl", ["core", "pure"])
def test_hooked_eviction_reports_to_on_evict_and_stats(impl):
    """hotcache's extensions on a hooked class: on_evict gets every entry evicted through
    self.popitem() (after the store), stats() counts it."""
    LRUCache = classes(impl)["LRUCache"]
    seen = []

    class Sub(LRUCache):
        def __delitem__(self, key):
            seen.append(("del", key))
            super().__delitem__(key)

    c = Sub(2, on_evict=lambda k, v, cause: seen.append(("evict", k, cause)))
    for k in range(4):
        c[k] = k
    assert seen == [("del", 0), ("evict", 0, "size"), ("del", 1), ("evict", 1, "size")]
    assert c.stats().evictions == 2 and sorted(c) == [2, 3]


@needs_cachetools8
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_equal_expiry_times_after_restore_like_cachetools(how):
    """cachetools' TTLCache.__setstate__ re-sorts its expiry list stably from LRU order, so
    entries that expire at the same time leave in LRU order after a restore; so do hotcache's
    (plain classes too: this is state, not a hook)."""
    import pickle

    results = {}
    for impl in IMPLS:
        cls = cachetools.TTLCache if impl == "cachetools" else classes(impl)["TTLCache"]
        timer = FakeTimer(0)
        c = cls(10, 5, timer)
        for k in (4, 1, 3, 2):
            c[k] = k
        c[1], c[4]                   # LRU order now 3, 2, 1, 4; expiry (set) order 4, 1, 3, 2
        if how == "pickle":
            d = pickle.loads(pickle.dumps(c))
        else:
            d = copy.deepcopy(c)
        results[impl] = (d.expire(100), c.expire(100))
    assert results["core"] == results["cachetools"] == results["pure"], results
    assert results["core"] == ([(3, 3), (2, 2), (1, 1), (4, 4)], [(4, 4), (1, 1), (3, 3), (2, 2)])


@pytest.mark.parametrize("impl", ["core", "pure"])
@pytest.mark.parametrize("name", CLASS_NAMES)
@pytest.mark.parametrize("what", ["insert", "delete", "clear"])
def test_hooks_that_change_the_cache(impl, name, what):
    """Overrides that change the cache while hotcache is between the steps of an operation
    (inside __delitem__ during an eviction, __contains__ during get/pop, expire during a store):
    any error is a Python exception, and the structures stay consistent."""
    budget = [40]

    def meddle(c, key):
        if budget[0] <= 0:
            return
        budget[0] -= 1
        if what == "insert":
            c.__class__.__mro__[1].__setitem__(c, ("m", budget[0]), 0)
        elif what == "delete":
            for k in list(c)[:1]:
                c.__class__.__mro__[1].pop(c, k, None)
        else:
            c.clear()

    base = classes(impl)[name]

    class Meddler(base):
        def __delitem__(self, key):
            super().__delitem__(key)
            meddle(self, key)

        def __contains__(self, key):
            meddle(self, key)
            return super().__contains__(key)

        if name in TIMED:
            def expire(self, time=None):
                meddle(self, None)
                return super().expire(time)

    timer = FakeTimer(0)
    if name == "TTLCache":
        c = Meddler(4, 3, timer, getsizeof=lambda v: 1 + v % 2)
    elif name == "TLRUCache":
        c = Meddler(4, lambda k, v, now: now + 3, timer, getsizeof=lambda v: 1 + v % 2)
    elif name == "RRCache":
        c = Meddler(4, choice=lambda keys: keys[-1], getsizeof=lambda v: 1 + v % 2)
    else:
        c = Meddler(4, getsizeof=lambda v: 1 + v % 2)
    for i in range(60):
        for op in (lambda: c.__setitem__(i % 9, i), lambda: c.get(i % 7), lambda: c.pop(i % 5, None),
                   lambda: c.setdefault(i % 6, 1), lambda: c.popitem(), lambda: len(c),
                   lambda: timer.advance(1)):
            try:
                op()
            except (KeyError, RuntimeError):
                pass
            c._check()
    assert c.currsize <= 4
