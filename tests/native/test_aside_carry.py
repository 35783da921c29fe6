"""Cache-aside's carried probe (hotpath.pxi: get()'s miss of an exact int/str key leaves its
finished probe to an immediately following ``c[key] = v`` of the very key object). The store
must do exactly what a fresh hash and probe would: these cases invalidate the carry, and each
ends with the invariant checker and a comparison against a dict model."""

from __future__ import annotations

import pickle
import random
import sys

import pytest

import hotcache

M61 = (1 << 61) - 1  # ints k and k + M61 hash alike (CPython's int hash is mod 2**61 - 1)


@pytest.fixture(params=["LRUCache", "FIFOCache", "RRCache", "LFUCache", "S3FIFOCache", "TinyLFUCache"])
def cls(request):
    return getattr(hotcache, request.param)


def same(c, model):
    c._check()
    assert len(c) == len(model)
    for k, v in model.items():
        assert c[k] == v
    assert {k: c[k] for k in list(c)} == model


def test_key_changed_between_get_and_set(cls):
    c = cls(10)
    k1, k2 = 10**15 + 1, 10**15 + 2
    assert c.get(k1) is None
    c[k2] = "b"  # another key: the carry is not its probe
    assert c.get(k1) is None
    c[k1] = "a"
    same(c, {k1: "a", k2: "b"})


def test_cache_mutated_between_get_and_set(cls):
    c = cls(10)
    for i in range(5):
        c[10**15 + i] = i
    k = 10**15 + 100
    for mutate in (
        lambda: c.__setitem__(10**15 + 50, 50),  # an insert
        lambda: c.__delitem__(10**15 + 50),  # a removal (may shift k's probe run)
        lambda: c.pop(10**15 + 1),
        lambda: c.popitem(),
        lambda: c.clear(),
    ):
        assert c.get(k) is None
        mutate()
        c[k] = "v"
        c._check()
        assert c[k] == "v"
        assert sum(1 for x in c if x == k) == 1
        del c[k]
    c._check()


def test_colliding_hash_inserted_between_get_and_set(cls):
    c = cls(10)
    k = 10**15 + 7
    twin = k + M61  # same hash, other value: lands in k's probe run
    assert hash(twin) == hash(k)
    assert c.get(k) is None
    c[twin] = "twin"
    c[k] = "k"
    same(c, {twin: "twin", k: "k"})


def test_different_but_equal_key(cls):
    c = cls(10)
    k1 = 10**20 + 3
    k2 = int(str(k1))  # equal, not the same object
    assert k1 == k2 and k1 is not k2
    assert c.get(k1) is None
    c[k2] = "v"
    assert c.get(k1) == "v"
    c[k1] = "w"  # an update, not a second entry
    same(c, {k1: "w"})
    s1 = "".join(["ab", "cd"])
    s2 = "".join(["abc", "d"])
    assert s1 == s2 and s1 is not s2
    assert c.get(s1) is None
    c[s2] = 1
    c[s1] = 2
    same(c, {k1: "w", s1: 2})


class Evil:
    """Hashes like an int key; its == mutates the cache (re-entrant)."""

    def __init__(self, h, cache, action):
        self.h = h
        self.cache = cache
        self.action = action
        self.calls = 0

    def __hash__(self):
        return self.h

    def __eq__(self, other):
        self.calls += 1
        if self.action is not None:
            action, self.action = self.action, None
            action(self.cache)
        return other is self


@pytest.mark.parametrize("action", [
    lambda c: c.__setitem__(10**15 + 900, "x"),
    lambda c: c.clear(),
    lambda c: [c.__setitem__(10**15 + 1000 + i, i) for i in range(20)],  # evictions
])
def test_reentrant_eq_that_mutates_the_cache(cls, action):
    c = cls(8)
    k = 10**15 + 5
    e = Evil(hash(k), c, action)
    c[e] = "evil"
    before = e.calls
    assert c.get(k) is None  # the probe compares e with k: e's == changes the cache
    assert e.calls > before
    model = {x: c.peek(x) for x in list(c)}
    c[k] = "k"
    model[k] = "k"
    c._check()
    now = {x: c.peek(x) for x in list(c)}
    assert len(now) == len(c) <= 8 and now[k] == "k"
    assert now.items() <= model.items()  # what is left is what was there (less a victim)
    # a probe that compared a key carries nothing: the store probes again (e's == runs again,
    # as it would without the carry)
    c2 = cls(8)
    e2 = Evil(hash(k), c2, None)
    c2[e2] = 1
    assert c2.get(k) is None
    calls = e2.calls
    c2[k] = 2
    assert e2.calls == calls + 1
    same(c2, {e2: 1, k: 2})


def test_carry_survives_nothing_it_should_not(cls):
    """copy, pickle, re-init and resize between get and set."""
    c = cls(4)
    for i in range(4):
        c[10**15 + i] = i
    k = 10**15 + 77
    assert c.get(k) is None
    d = c.copy()
    d[k] = "d"
    c[k] = "c"
    c._check()
    d._check()
    assert c[k] == "c" and d[k] == "d"
    assert c.get(10**15 + 78) is None
    e = pickle.loads(pickle.dumps(c))
    e[10**15 + 78] = 1
    e._check()
    assert c.get(10**15 + 79) is None
    c.__init__(4)
    c[10**15 + 79] = 1
    same(c, {10**15 + 79: 1})


def test_the_carried_key_is_held_not_recycled(cls):
    """The carry owns its key: the very object, never another one at a recycled address."""
    c = cls(4)
    k = 10**15 + 12345
    base = sys.getrefcount(k)
    assert c.get(k) is None
    assert sys.getrefcount(k) == base + 1  # held by the carry until the next miss or store
    c[k] = 1
    assert sys.getrefcount(k) == base + 1  # now by the record only
    del c[k]
    assert sys.getrefcount(k) == base
    # a miss of a key that then dies, a new int at (possibly) the same address: never confused
    for i in range(200):
        x = int(str(10**15 + 5000 + i))
        assert c.get(x) is None
        del x
        y = int(str(10**15 + 9000 + i)) + M61  # another value, maybe the freed address
        c[y] = i
        c._check()
        assert c[y] == i


@pytest.mark.parametrize("seed", range(6))
def test_random_aside_against_a_dict(cls, seed):
    """Random cache-aside traffic with colliding hashes, interleaved mutations and fresh but
    equal key objects; a dict of the cache's own contents is the model after every step."""
    rng = random.Random(seed)
    c = cls(rng.choice([1, 2, 5, 16]))
    base = [10**15 + rng.randrange(12) for _ in range(12)]
    pool = base + [b + M61 for b in base[:4]] + [-1, -2, "s1", "s2"]
    for step in range(600):
        k = rng.choice(pool)
        if isinstance(k, int) and rng.random() < 0.5:
            k = int(str(k))  # a new object, equal
        op = rng.random()
        before = {x: c.peek(x) for x in list(c)}
        if op < 0.6:
            v = c.get(k)
            if v is None:
                if rng.random() < 0.2:  # something changes in between
                    other = rng.choice(pool)
                    if rng.random() < 0.5:
                        c[other] = ("o", step)
                    else:
                        c.pop(other, None)
                c[k] = ("v", step)
                assert c.peek(k) == ("v", step)
        elif op < 0.8:
            c[k] = ("s", step)
        else:
            c.pop(k, None)
        c._check()
        keys = list(c)
        assert len(keys) == len(set(keys)) == len(c)
        assert all(c.peek(x) is not None for x in keys)
        del before
