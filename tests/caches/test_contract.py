"""The contract every cache class honours, run for every class x {core, pure}.

Mapping surface, eviction order per policy on small hand-made scenarios, size bounds, iteration
order, copy/deepcopy/pickle with full policy state, subclassing, and the keyword-only extensions
(maxmemory, ttl, set(ttl=), ttl_left, peek, resize, on_evict, stats).
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import math
import pickle
import random
import sys

import pytest

from helpers import CLASS_NAMES, FAR, ORDERED, POLICY, FakeTimer, check, classes, make

ENTRY_OVERHEAD = 64
NON_TTL = ("Cache", "LRUCache", "LFUCache", "FIFOCache", "RRCache")


def drain(cache):
    """popitem() until empty; the sequence of pairs."""
    out = []
    while True:
        try:
            out.append(cache.popitem())
        except KeyError:
            return out


def drain_keys(cache):
    return [k for k, _ in drain(cache)]


# --------------------------------------------------------------------------- mapping surface


def test_mapping_surface(cls, name):
    c = make(cls, 10)
    assert isinstance(c, collections.abc.MutableMapping)
    assert isinstance(c, collections.abc.Mapping)
    assert len(c) == 0 and c.currsize == 0 and c.maxsize == 10
    assert c.getsizeof(None) == 1 and c.getsizeof("abc") == 1
    c[1] = "a"
    c[2] = "b"
    assert c[1] == "a" and c.get(2) == "b" and c.get(3) is None and c.get(3, "d") == "d"
    assert 1 in c and 3 not in c
    assert len(c) == 2 and c.currsize == 2
    assert c == {1: "a", 2: "b"} and c != {1: "a"}
    assert sorted(c.keys()) == [1, 2]
    assert sorted(c.values()) == ["a", "b"]
    assert sorted(c.items()) == [(1, "a"), (2, "b")]
    assert isinstance(c.keys(), collections.abc.KeysView)
    with pytest.raises(KeyError):
        c[3]
    del c[1]
    assert 1 not in c and len(c) == 1
    with pytest.raises(KeyError):
        del c[1]
    assert c.pop(2) == "b"
    with pytest.raises(KeyError):
        c.pop(2)
    assert c.pop(2, "x") == "x"
    assert c.setdefault(5) is None and 5 in c and c[5] is None
    assert c.setdefault(5, 1) is None
    assert c.setdefault(6, 6) == 6
    c.update({7: 7}, eight=8)
    c.update([(9, 9)])
    assert c[7] == 7 and c["eight"] == 8 and c[9] == 9
    k, v = c.popitem()
    assert k not in c and k in (5, 6, 7, "eight", 9)
    c.clear()
    assert len(c) == 0 and c.currsize == 0 and list(c) == []
    check(c)


def test_repr(cls, name):
    c = make(cls, 2)
    c[1] = 1
    assert repr(c) == "%s({1: 1}, maxsize=2, currsize=1)" % name


def test_popitem_empty(cls, name):
    c = make(cls, 2)
    with pytest.raises(KeyError) as info:
        c.popitem()
    assert info.value.args == ("%s is empty" % name,)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_class_getitem(cls, name):
    alias = cls[int, int]
    c = make(alias, 3, name=name)
    assert type(c) is cls
    c[1] = 2
    assert c[1] == 2


def test_properties_read_only(cls, name):
    c = make(cls, 3)
    for attr in ("maxsize", "currsize"):
        with pytest.raises(AttributeError):
            setattr(c, attr, 7)


def test_maxsize_inf(cls, name):
    c = make(cls, math.inf)
    for i in range(1000):
        c[i] = i
    assert len(c) == 1000 and c.maxsize == math.inf
    check(c)


def test_maxsize_zero(cls, name):
    c = make(cls, 0)
    with pytest.raises(ValueError, match="value too large"):
        c[1] = 1
    assert len(c) == 0
    with pytest.raises(ValueError):
        c.setdefault(1, 1)
    assert len(c) == 0
    check(c)


# --------------------------------------------------------------------------- eviction order


def fill(c, keys):
    for k in keys:
        c[k] = k * 10


@pytest.mark.parametrize("name", ["LRUCache", "TTLCache", "TLRUCache"])
def test_lru_order(impl, name):
    cls = classes(impl)[name]
    c = make(cls, 3)
    fill(c, [1, 2, 3])
    c[1]  # use
    assert 2 in c  # not a use
    fill(c, [4])  # evicts 2
    assert sorted(c) == [1, 3, 4]
    c.get(3)  # use
    c.setdefault(1, 0)  # hit is a use
    c[4] = 44  # re-assignment is a use
    assert c._policy_order() == [3, 1, 4]
    fill(c, [5])
    assert sorted(c) == [1, 4, 5]
    assert c._policy_order() == [1, 4, 5]
    assert drain_keys(c) == [1, 4, 5]
    check(c)


def test_lfu_order(impl):
    c = classes(impl)["LFUCache"](3)
    fill(c, [1, 2, 3])
    c[1], c[1], c[2]  # counts 1:3 2:2 3:1
    assert 3 in c and 3 in c  # `in` doesn't count
    fill(c, [4])  # evicts 3 (lowest count)
    assert sorted(c) == [1, 2, 4]
    assert c._policy_order() == [4, 2, 1]
    c[4] = 40  # re-assignment adds 1 -> 4:2, ties with 2, and 2 is less recently used
    assert c._policy_order() == [2, 4, 1]
    assert drain_keys(c) == [2, 4, 1]


def test_lfu_ties_least_recently_used(impl):
    c = classes(impl)["LFUCache"](4)
    fill(c, [1, 2, 3, 4])
    assert c._policy_order() == [1, 2, 3, 4]  # never read: insertion order
    c[3], c[1]  # 3:2, 1:2; 3 used before 1
    assert c._policy_order() == [2, 4, 3, 1]
    c.get(2)
    c[4] = 4  # 2:2 and 4:2 now; order of use within count 2: 3, 1, 2, 4
    assert c._policy_order() == [3, 1, 2, 4]
    fill(c, [5])  # new key starts at 1 -> it is the next victim... after 3 leaves
    assert 3 not in c
    assert c._policy_order() == [5, 1, 2, 4]
    c.clear()  # clear resets counts
    fill(c, [1, 2])
    assert c._policy_order() == [1, 2]


def test_fifo_order(impl):
    c = classes(impl)["FIFOCache"](3)
    fill(c, [1, 2, 3])
    c[1], c.get(1), c.setdefault(1)  # reads don't reorder
    assert c._policy_order() == [1, 2, 3]
    c[1] = 11  # re-assignment moves to newest
    assert c._policy_order() == [2, 3, 1]
    fill(c, [4])
    assert sorted(c) == [1, 3, 4]
    assert drain_keys(c) == [3, 1, 4]


def test_cache_insertion_order(impl):
    c = classes(impl)["Cache"](3)
    fill(c, [1, 2, 3])
    c[1], c.get(2)
    c[1] = 11  # re-assignment doesn't move
    assert c._policy_order() == [1, 2, 3]
    fill(c, [4])
    assert sorted(c) == [2, 3, 4]
    del c[3]
    c[3] = 3  # a new insertion goes last
    assert drain_keys(c) == [2, 4, 3]


def test_rr_membership(impl):
    c = classes(impl)["RRCache"](5, seed=7)
    seen = set()
    for i in range(200):
        c[i] = i
        seen.add(i)
        assert len(c) == min(i + 1, 5)
        assert set(c) <= seen
        assert i in c
    assert sorted(c._policy_order()) == sorted(c)
    k, v = c.popitem()
    assert k == v and k not in c and len(c) == 4
    check(c)


def test_rr_seed_deterministic(impl):
    cls = classes(impl)["RRCache"]
    runs = []
    for _ in range(2):
        c = cls(4, seed=12345)
        evicted = []
        for i in range(50):
            before = set(c)
            c[i] = i
            evicted.extend(sorted(before - set(c)))
        runs.append((evicted, drain_keys(c)))
    assert runs[0] == runs[1]


def test_rr_uniform(impl):
    c = classes(impl)["RRCache"](4, seed=2024)
    fill(c, [0, 1, 2, 3])
    counts = collections.Counter()
    for _ in range(4000):
        k, v = c.popitem()
        counts[k] += 1
        c[k] = v
    assert set(counts) == {0, 1, 2, 3}
    # expected 1000 each, std ~27: a very loose bound that only catches a broken generator
    assert all(700 < n < 1300 for n in counts.values()), counts


def test_rr_custom_choice(impl):
    calls = []

    def choice(seq):
        calls.append(sorted(seq))
        return min(seq)

    c = classes(impl)["RRCache"](3, choice=choice)
    assert c.choice is choice
    fill(c, [5, 3, 9])
    fill(c, [7])
    assert calls == [[3, 5, 9]]
    assert sorted(c) == [5, 7, 9]
    assert c.popitem() == (5, 50)


def test_rr_choice_raises_cache_unchanged(impl):
    def choice(seq):
        raise ZeroDivisionError

    c = classes(impl)["RRCache"](2, choice=choice)
    fill(c, [1, 2])
    with pytest.raises(ZeroDivisionError):
        c[3] = 3
    assert sorted(c) == [1, 2] and 3 not in c
    with pytest.raises(ZeroDivisionError):
        c.popitem()
    assert sorted(c) == [1, 2]
    check(c)


def test_rr_default_choice(impl):
    c = classes(impl)["RRCache"](2)
    assert c.choice is random.choice


def test_policy_order_matches_popitem(cls, name):
    if POLICY[name] == "rr":
        c = make(cls, 6, seed=3)
    else:
        c = make(cls, 6)
    fill(c, [1, 2, 3, 4, 5, 6])
    c[2], c[2], c[5]
    c[3] = 3
    fill(c, [7, 8])
    c.get(1)
    order = c._policy_order()
    assert sorted(order) == sorted(c)
    if POLICY[name] in ORDERED:
        assert drain_keys(c) == order
    elif POLICY[name] != "rr":  # adaptive: a copy (full policy state) pops the same victims
        assert drain_keys(c.copy()) == drain_keys(c)


# --------------------------------------------------------------------------- sizes


def test_getsizeof_bounds(cls, name):
    c = make(cls, 10, getsizeof=len)
    assert c.getsizeof is len
    c[1] = "aaaa"
    c[2] = "bbbb"
    c[3] = "cc"
    assert c.currsize == 10 and len(c) == 3
    c[4] = "ddd"
    assert c.currsize <= 10 and 4 in c
    assert c.currsize == sum(len(c.peek(k)) for k in c)
    before = sorted(c.items())
    with pytest.raises(ValueError, match="value too large"):
        c[5] = "x" * 11
    assert sorted(c.items()) == before and 5 not in c
    c[6] = "y" * 10  # exactly maxsize: everything else goes
    assert list(c) == [6] and c.currsize == 10
    check(c)


def test_getsizeof_replace_grows(cls, name):
    c = make(cls, 10, getsizeof=len)
    c[1] = "a"
    c[2] = "bb"
    c[3] = "ccc"
    c[1] = "x" * 6  # 6+2+3 = 11 > 10: someone has to go
    assert c.currsize <= 10
    assert c.currsize == sum(len(c.peek(k)) for k in c)
    assert c.peek(1) == "x" * 6  # a successful store always leaves the item in the cache
    c[1] = "z"  # shrinks
    assert c.peek(1) == "z"
    assert c.currsize == sum(len(c.peek(k)) for k in c)
    check(c)


def test_getsizeof_replace_lru_keeps_key(impl):
    c = classes(impl)["LRUCache"](10, getsizeof=len)
    c[1] = "a"
    c[2] = "bb"
    c[3] = "ccc"
    c[1] = "x" * 6  # 1 becomes most recent; 2 is evicted first
    assert sorted(c) == [1, 3] and c.currsize == 9


# --------------------------------------------------------------------------- iteration


def test_iteration_first_insertion_order(cls, name):
    c = make(cls, 10)
    fill(c, [3, 1, 2, 5])
    c[1], c.get(2), c.setdefault(3)
    c[5] = "new"
    c[3] = "new"
    assert list(c) == [3, 1, 2, 5]
    del c[1]
    c[1] = 1
    assert list(c) == [3, 2, 5, 1]


def test_reassign_while_iterating(cls, name):
    c = make(cls, 10)
    fill(c, range(8))
    seen = []
    for k in c:
        seen.append(k)
        c[k] = ("new", k)
    assert seen == list(range(8))
    assert list(c) == list(range(8))
    assert all(c.peek(k) == ("new", k) for k in c)
    check(c)


def test_reassign_while_iterating_items(cls, name):
    c = make(cls, 10)
    fill(c, range(5))
    seen = []
    for k in list(c.keys()):
        seen.append(k)
    for k in c.keys():
        c[k] = -1
    assert seen == list(range(5)) and list(c) == list(range(5))


# --------------------------------------------------------------------------- copy / pickle


def _busy(cls, name):
    kw = {"seed": 99} if name == "RRCache" else {}
    c = make(cls, 5, **kw)
    fill(c, [1, 2, 3, 4, 5])
    c[2], c[2], c[1]
    c[3] = 33
    fill(c, [6])
    c[4] = 44
    c.get(6)
    return c


def _continue(c):
    fill(c, [7, 8])
    c[6] if 6 in c else None
    return list(c), drain(c)


@pytest.mark.parametrize("how", ["copy", "method", "deepcopy", "pickle"])
def test_copy_keeps_policy_state(cls, name, how):
    c = _busy(cls, name)
    items = list(c.items())
    order = c._policy_order()
    if how == "copy":
        d = copy.copy(c)
    elif how == "method":
        d = c.copy()
    elif how == "deepcopy":
        d = copy.deepcopy(c)
    else:
        d = pickle.loads(pickle.dumps(c))
    assert type(d) is type(c)
    # peek, not items(): items() reads each value with d[k], a use, which S3FIFO's counters and
    # TINYLFU's sketch would count once more in d than in c
    assert [(k, d.peek(k)) for k in d] == items and list(d) == list(c)
    assert d._policy_order() == order
    assert d.maxsize == c.maxsize and d.currsize == c.currsize
    check(d)
    check(c)  # check() reads items(): uses that must happen on both sides
    assert _continue(d) == _continue(c)


def test_copy_own_data_shared_attrs(cls, name):
    class Sub(cls):
        pass

    c = make(Sub, 5, name=name, getsizeof=len)
    c.extra = ["shared"]
    c["a"] = "xx"
    d = copy.copy(c)
    assert d.extra is c.extra
    assert d.getsizeof is c.getsizeof
    d["b"] = "y"
    del d["a"]
    assert list(c) == ["a"] and list(d) == ["b"]
    assert c.currsize == 2 and d.currsize == 1
    check(c)
    check(d)


def test_copy_does_not_call_init(cls, name):
    calls = []

    class Sub(cls):
        def __init__(self, *args, **kw):
            calls.append(1)
            super().__init__(*args, **kw)

    c = make(Sub, 3, name=name)
    c[1] = 1
    assert calls == [1]
    d = copy.copy(c)
    assert calls == [1] and d == c


def test_copy_large(cls, name):
    n = 2 * sys.getrecursionlimit() + 10
    c = make(cls, n)
    fill(c, range(n))
    for i in range(0, n, 3):
        c[i]
    order = c._policy_order()
    for d in (copy.copy(c), copy.deepcopy(c), pickle.loads(pickle.dumps(c))):
        assert len(d) == n and list(d) == list(range(n))
        assert d._policy_order() == order
        check(d)


def test_deepcopy_values_are_copied(cls, name):
    c = make(cls, 3)
    c[1] = [1, 2]
    d = copy.deepcopy(c)
    assert d[1] == [1, 2] and d.peek(1) is not c.peek(1)
    e = copy.copy(c)
    assert e.peek(1) is c.peek(1)


# --------------------------------------------------------------------------- subclasses


def test_subclass_missing(cls, name):
    class Sub(cls):
        calls = 0

        def __missing__(self, key):
            type(self).calls += 1
            self[key] = value = key * 2
            return value

    c = make(Sub, 2, name=name)
    assert c[3] == 6 and Sub.calls == 1 and c[3] == 6 and Sub.calls == 1
    assert c.get(4) is None and c.pop(4, None) is None and 4 not in c
    assert c.setdefault(5, 0) == 0
    with pytest.raises(KeyError):
        c.pop(7)
    assert Sub.calls == 1
    check(c)


def test_subclass_missing_not_storing(cls, name):
    class Sub(cls):
        def __missing__(self, key):
            return "default"

    c = make(Sub, 2, name=name)
    assert c[1] == "default" and 1 not in c and len(c) == 0


def test_subclass_popitem_override_sees_evictions(cls, name):
    class Sub(cls):
        def popitem(self):
            key, value = super().popitem()
            self.evicted.append(key)
            return key, value

    kw = {"seed": 1} if name == "RRCache" else {}
    c = make(Sub, 2, name=name, **kw)
    c.evicted = []
    fill(c, [1, 2, 3, 4])
    assert len(c.evicted) == 2
    assert sorted(c.evicted + list(c)) == [1, 2, 3, 4]
    check(c)


@pytest.mark.parametrize("kind", ["method", "staticmethod"])
def test_subclass_getsizeof_override(cls, name, kind):
    if kind == "method":

        class Sub(cls):
            def getsizeof(self, value):
                return len(value)

    else:

        class Sub(cls):
            @staticmethod
            def getsizeof(value):
                return len(value)

    c = make(Sub, 10, name=name)
    c[1] = "aaaa"
    c[2] = "bbbbbb"
    assert c.currsize == 10
    c[3] = "c"
    assert c.currsize <= 10 and c.currsize == sum(len(c.peek(k)) for k in c)
    with pytest.raises(ValueError):
        c[4] = "d" * 11
    check(c)


def _register(sub, qualname):
    sub.__qualname__ = sub.__name__ = qualname
    sub.__module__ = __name__
    globals()[qualname] = sub


def test_subclass_added_attributes_pickle(cls, name, impl):
    class Sub(cls):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.label = "hello"

    _register(Sub, "PickledSub_%s_%s" % (impl, name))
    c = make(Sub, 3, name=name)
    c[1] = 1
    c.other = [1]
    for d in (pickle.loads(pickle.dumps(c)), copy.deepcopy(c), copy.copy(c)):
        assert type(d) is Sub and d.label == "hello" and d.other == [1] and d == c
    assert repr(c) == "%s({1: 1}, maxsize=3, currsize=1)" % Sub.__name__


# --------------------------------------------------------------------------- maxmemory


def test_entry_overhead_constant(impl):
    import hotcache

    assert hotcache.ENTRY_OVERHEAD == ENTRY_OVERHEAD
    from helpers import module

    assert getattr(module(impl), "ENTRY_OVERHEAD", ENTRY_OVERHEAD) == ENTRY_OVERHEAD


def _charges(c, sizeof):
    return sum(sizeof(k, c.peek(k)) + ENTRY_OVERHEAD for k in c)


def test_maxmemory_bound_after_every_op(cls, name):
    def sizeof(k, v):
        return v

    evicted = []
    c = make(cls, 1000, maxmemory=1000, sizeof=sizeof, on_evict=lambda k, v, cause: evicted.append(cause))
    assert c.maxmemory == 1000
    rng = random.Random(5)
    for step in range(400):
        k = rng.randrange(30)
        op = rng.random()
        if op < 0.7:
            c[k] = rng.randrange(0, 300)
        elif op < 0.8:
            c.pop(k, None)
        elif op < 0.9:
            c.get(k)
        else:
            c.setdefault(k, rng.randrange(0, 300))
        used = _charges(c, sizeof)
        assert used <= 1000
        assert c.stats().memory_used == used
        assert c.stats().maxmemory == 1000
    assert evicted and set(evicted) == {"memory"}
    check(c)


def test_maxmemory_oversized_item(cls, name):
    c = make(cls, 100, maxmemory=1000, sizeof=lambda k, v: v)
    fill(c, [1, 2, 3])  # 10+20+30 + 3*64
    items, order = list(c.items()), c._policy_order()
    with pytest.raises(ValueError):
        c[9] = 1000 - ENTRY_OVERHEAD + 1
    with pytest.raises(ValueError):
        c[1] = 1000 - ENTRY_OVERHEAD + 1  # replacing an existing key
    assert list(c.items()) == items and c._policy_order() == order
    assert c.stats().memory_used == 60 + 3 * ENTRY_OVERHEAD
    c[9] = 1000 - ENTRY_OVERHEAD  # fits exactly: everything else goes
    assert list(c) == [9] and c.stats().memory_used == 1000
    check(c)


def test_maxmemory_default_charge(cls, name):
    c = make(cls, 100, maxmemory="1MiB")
    assert c.maxmemory == 1024 * 1024
    c["key"] = "value" * 10
    c[12345] = [1, 2, 3]
    expected = sum(sys.getsizeof(k) + sys.getsizeof(c.peek(k)) + ENTRY_OVERHEAD for k in c)
    assert c.stats().memory_used == expected


@pytest.mark.parametrize(
    "text, value",
    [
        ("64MB", 64 * 1000**2),
        ("1.5GiB", int(1.5 * 1024**3)),
        ("512KiB", 512 * 1024),
        ("100B", 100),
        ("2 GB", 2 * 1000**3),
        ("1kb", 1000),
        ("1kib", 1024),
        ("3K", 3 * 1024),
        ("2m", 2 * 1024**2),
        ("1T", 1024**4),
        ("5TB", 5 * 1000**4),
        (0, 0),
        (4096, 4096),
        (None, None),
    ],
)
def test_maxmemory_parse(impl, text, value):
    c = classes(impl)["LRUCache"](10, maxmemory=text)
    assert c.maxmemory == value
    assert value is None or type(c.maxmemory) is int


def test_maxmemory_zero_rejects_everything(cls, name):
    c = make(cls, 10, maxmemory=0)
    with pytest.raises(ValueError):
        c[1] = 1
    assert len(c) == 0


# --------------------------------------------------------------------------- ttl extensions


@pytest.mark.parametrize("name", NON_TTL)
def test_ttl_on_non_ttl_classes(impl, name):
    t = FakeTimer()
    c = make(classes(impl)[name], 10, timer=t, ttl=4)
    c[1] = 1
    t.advance(2)
    c[2] = 2
    assert c.ttl_left(1) == pytest.approx(2) and c.ttl(1) == pytest.approx(2)
    t.advance(1.75)
    assert 1 in c and c[1] == 1
    t.advance(0.25)  # exactly set time + ttl (binary fractions: no rounding)
    assert 1 not in c and 2 in c and list(c) == [2] and len(c) == 1
    assert c.get(1) is None
    with pytest.raises(KeyError):
        c[1]
    t.advance(10)
    assert len(c) == 0 and c.currsize == 0
    check(c)


def test_set_with_ttl(cls, name):
    t = FakeTimer()
    c = make(cls, 10, timer=t)
    c.set(1, "a", ttl=5)
    c.set(2, "b")
    c.set(3, "c", ttl=math.inf)
    assert c[1] == "a" and c[2] == "b"
    assert c.ttl_left(1) == pytest.approx(5)
    assert c.ttl_left(3) is None
    t.advance(5)
    assert 1 not in c and 2 in c and 3 in c
    with pytest.raises(KeyError):
        c.ttl_left(1)
    with pytest.raises(KeyError):
        c.ttl_left(99)
    c.set(2, "bb", ttl=1)  # re-assign with a ttl
    assert c[2] == "bb"
    t.advance(1)
    assert 2 not in c
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            c.set(4, 4, ttl=bad)
        assert 4 not in c
    check(c)


def test_ttl_left_none_without_expiry(impl):
    c = classes(impl)["LRUCache"](3)
    c[1] = 1
    assert c.ttl_left(1) is None and c.ttl(1) is None


def test_peek_no_policy_change(cls, name):
    kw = {"seed": 4} if name == "RRCache" else {}
    c = make(cls, 3, **kw)
    fill(c, [1, 2, 3])
    order = c._policy_order()
    st = c.stats()
    assert c.peek(1) == 10 and c.peek(9) is None and c.peek(9, "d") == "d"
    assert c._policy_order() == order
    assert c.stats() == st


def test_peek_expired_is_default(cls, name):
    t = FakeTimer()
    c = make(cls, 3, timer=t)
    c.set(1, 1, ttl=1)
    t.advance(1)
    assert c.peek(1) is None and c.peek(1, "d") == "d"


def test_resize(cls, name):
    causes = []
    kw = {"seed": 4} if name == "RRCache" else {}
    c = make(cls, 5, on_evict=lambda k, v, cause: causes.append((k, cause)), **kw)
    fill(c, [1, 2, 3, 4, 5])
    order = c._policy_order()
    c.resize(2)
    assert c.maxsize == 2 and len(c) == 2
    assert [cause for _, cause in causes] == ["size"] * 3
    if POLICY[name] in ORDERED:
        assert [k for k, _ in causes] == order[:3]
        assert sorted(c) == sorted(order[3:])
    c.resize()  # nothing changes
    assert c.maxsize == 2 and len(c) == 2
    c.resize(maxsize=10)
    fill(c, [6, 7, 8])
    assert len(c) == 5
    check(c)


def test_resize_maxmemory(cls, name):
    causes = []
    c = make(cls, 10, maxmemory=10_000, sizeof=lambda k, v: 36, on_evict=lambda k, v, cause: causes.append(cause))
    fill(c, [1, 2, 3, 4])  # 100 bytes each
    c.resize(maxmemory=250)
    assert c.maxmemory == 250 and c.maxsize == 10 and len(c) == 2
    assert causes == ["memory", "memory"]
    assert c.stats().memory_used == 200
    c.resize(maxmemory="1KiB")
    assert c.maxmemory == 1024
    check(c)


# --------------------------------------------------------------------------- on_evict


def test_on_evict_size(cls, name):
    log = []

    def on_evict(key, value, cause):
        c._check()
        log.append((key, value, cause, len(c), key in c, 4 in c, list(c).count(key)))

    kw = {"seed": 3} if name == "RRCache" else {}
    c = make(cls, 3, on_evict=on_evict, **kw)
    fill(c, [1, 2, 3])
    assert log == []
    fill(c, [4])
    assert len(log) == 1
    key, value, cause, n, present, new_present, count = log[0]
    assert cause == "size" and value == key * 10 and n == 3
    assert not present and new_present and count == 0
    assert key not in c
    # never for explicit removals
    del c[4]
    c.pop(next(iter(c)))
    c.popitem()
    c.clear()
    assert len(log) == 1


def test_on_evict_once_per_entry_with_sizes(cls, name):
    log = []
    c = make(cls, 10, getsizeof=len, on_evict=lambda k, v, cause: log.append((k, cause)))
    for i in range(5):
        c[i] = "xx"
    c[9] = "y" * 9  # evicts at least 4 entries of 2
    keys = [k for k, _ in log]
    assert len(keys) == len(set(keys)) and set(keys) | set(c) == {0, 1, 2, 3, 4, 9}
    assert not set(keys) & set(c)
    assert all(cause == "size" for _, cause in log)
    assert c.stats().evictions_size == len(log)


def test_on_evict_expired(cls, name):
    t = FakeTimer()
    log = []
    c = make(cls, 10, timer=t, on_evict=lambda k, v, cause: log.append((k, v, cause)))
    c.set(1, "a", ttl=1)
    c.set(2, "b", ttl=2)
    c.set(3, "c", ttl=50)
    t.advance(2)
    c.get(3)
    assert len(c) == 1
    pairs = c.expire()
    reported = sorted(log)
    assert reported == [(1, "a", "expired"), (2, "b", "expired")]
    assert all(p in [(1, "a"), (2, "b")] for p in pairs)
    assert c.expire() == []
    assert len(log) == 2
    assert c.stats().expirations == 2


def test_on_evict_exception_propagates_after_consistent(cls, name):
    calls = []

    def on_evict(key, value, cause):
        calls.append(key)
        raise RuntimeError("boom %d" % len(calls))

    c = make(cls, 5, on_evict=on_evict)
    fill(c, [1, 2, 3, 4, 5])
    with pytest.raises(RuntimeError, match="boom 1"):
        c.resize(2)
    assert len(calls) == 3 and len(c) == 2
    check(c)
    c.resize(10)
    with pytest.raises(RuntimeError):
        c.resize(1)
    c.resize(1)
    with pytest.raises(RuntimeError):
        c[99] = 99
    assert 99 in c and len(c) == 1  # the store happened; the callback's error came after
    check(c)


# --------------------------------------------------------------------------- stats


def test_stats_counters(cls, name):
    from hotcache.stats import CacheStats

    c = make(cls, 2)
    s = c.stats()
    assert isinstance(s, CacheStats)
    assert (s.hits, s.misses, s.inserts, s.updates, s.evictions, s.expirations) == (0, 0, 0, 0, 0, 0)
    assert s.hit_ratio == 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.hits = 5
    c[1] = 1
    c[2] = 2
    c[1]  # hit
    c.get(1)  # hit
    c.get(3)  # miss
    with pytest.raises(KeyError):
        c[4]  # miss
    assert 1 in c  # nothing
    c.peek(1)  # nothing
    c.pop(2)  # nothing
    c[1] = 11  # update
    c.setdefault(1)  # hit
    c.setdefault(2, 2)  # miss + insert
    c[3] = 3  # insert + evict
    c[4] = 4  # insert + evict
    s = c.stats()
    assert s.hits == 3 and s.misses == 3 and s.hit_ratio == pytest.approx(0.5)
    assert s.inserts == 5 and s.updates == 1
    assert s.evictions_size == 2 and s.evictions_memory == 0 and s.evictions == 2
    assert s.expirations == 0
    assert s.len == 2 and s.currsize == 2 and s.maxsize == 2
    assert s.memory_used is None and s.maxmemory is None


def test_stats_memory_evictions(cls, name):
    c = make(cls, 100, maxmemory=3 * (ENTRY_OVERHEAD + 1), sizeof=lambda k, v: 1)
    fill(c, range(5))
    s = c.stats()
    assert s.evictions_memory == 2 and s.evictions_size == 0 and s.evictions == 2
    assert s.memory_used == 3 * (ENTRY_OVERHEAD + 1) and s.len == 3


def test_stats_survive_clear(cls, name):
    c = make(cls, 2)
    c[1] = 1
    c[1]
    c.clear()
    s = c.stats()
    assert s.hits == 1 and s.inserts == 1 and s.len == 0 and s.currsize == 0


def test_all_classes_present(impl):
    got = classes(impl)
    assert set(got) == set(CLASS_NAMES)
