"""hotcache.lru_cache side by side with functools.lru_cache: the same calls must give the same
results and the same cache_info(), down to the corner cases (keys, typed, hashing once,
recursion, re-entrant __eq__, pickling, weakrefs, copies, binding).

Runs against both hit-path implementations (native CachedCall and the Python twin).
"""
from __future__ import annotations

import copy
import functools
import pickle
import random
import threading
import weakref

import pytest

import hotcache
from hotcache.memo import decorators
from hotcache._spec.call import CachedCall as TwinCall

try:
    from hotcache._native import core as _core
except ImportError:  # pragma: no cover - pure fallback
    _core = None

NATIVE = getattr(_core, "CachedCall", None)
CALL_IMPLS = ["twin"] + (["native"] if NATIVE is not None else [])
HANG = 10.0


@pytest.fixture(params=CALL_IMPLS)
def call_impl(request, monkeypatch):
    base = NATIVE if request.param == "native" else TwinCall
    monkeypatch.setattr(decorators, "_CallBase", base)
    return base


def both(maxsize=128, typed=False):
    """(functools wrapper, hotcache wrapper) of one recording function each."""
    def make():
        calls = []

        def f(*args, **kwargs):
            calls.append((args, kwargs))
            return (args, tuple(kwargs.items()))

        f.calls = calls
        return f

    return (functools.lru_cache(maxsize=maxsize, typed=typed)(make()),
            hotcache.lru_cache(maxsize=maxsize, typed=typed)(make()))


def same(ref, ours, *args, **kwargs):
    a = ref(*args, **kwargs)
    b = ours(*args, **kwargs)
    assert a == b
    assert ours.cache_info() == ref.cache_info(), (args, kwargs)
    return b


# module-level wrappers (pickled by qualified name)
@hotcache.lru_cache
def pickled_bare(x):
    return x


@hotcache.lru_cache(maxsize=None, typed=True)
def pickled_typed(x):
    return x


# -- same sequences, same cache_info -------------------------------------------------------------

@pytest.mark.parametrize("maxsize", [None, 0, 1, 3, 16])
@pytest.mark.parametrize("typed", [False, True])
def test_random_sequences_match_functools(call_impl, maxsize, typed):
    rng = random.Random(1234 + (maxsize or 99) * 2 + typed)
    ref, ours = both(maxsize, typed)
    values = [0, 1, 2, 3, 1.0, 2.0, True, "a", "b", (1, 2), None, -1]
    for _ in range(600):
        kind = rng.random()
        if kind < 0.6:
            same(ref, ours, rng.choice(values))
        elif kind < 0.8:
            same(ref, ours, rng.choice(values), rng.choice(values))
        elif kind < 0.95:
            same(ref, ours, rng.choice(values), k=rng.choice(values))
        else:
            same(ref, ours, a=rng.choice(values), b=rng.choice(values))
    assert ours.__wrapped__.calls == ref.__wrapped__.calls
    ref.cache_clear()
    ours.cache_clear()
    assert ours.cache_info() == ref.cache_info() == (0, 0, maxsize, 0)


def test_keys_semantics(call_impl):
    ref, ours = both()
    same(ref, ours, a=1, b=2)
    same(ref, ours, b=2, a=1)  # keyword order matters: a miss
    same(ref, ours, 1, 2)
    same(ref, ours, (1, 2))  # f(1, 2) != f((1, 2))
    same(ref, ours, 1)
    same(ref, ours, 1.0)  # untyped: a hit
    same(ref, ours, True)  # a miss: only an exact int or str is its own key
    assert ours.cache_info() == (1, 6, 128, 6)


def test_typed_distinguishes_top_level_types_only(call_impl):
    ref, ours = both(typed=True)
    same(ref, ours, 1)
    same(ref, ours, 1.0)  # typed: a miss
    same(ref, ours, (1,))
    same(ref, ours, (1.0,))  # nested types are not distinguished: a hit
    same(ref, ours, x=1)
    same(ref, ours, x=1.0)  # keyword values are typed too
    assert ours.cache_info() == (1, 5, 128, 5)


def test_info_type_parameters_and_clear(call_impl):
    w = hotcache.lru_cache(maxsize=5, typed=True)(lambda x: x)
    info = w.cache_info()
    assert type(info) is type(functools.lru_cache()(lambda x: x).cache_info())
    assert info._fields == ("hits", "misses", "maxsize", "currsize")
    assert w.cache_parameters() == {"maxsize": 5, "typed": True}
    w(1)
    w(1)
    w.cache_clear()
    assert w.cache_info() == (0, 0, 5, 0)


def test_maxsize_forms(call_impl):
    assert hotcache.lru_cache(None)(lambda x: x).cache_info().maxsize is None
    zero = hotcache.lru_cache(0)(lambda x: x)
    for _ in range(3):
        zero(1)
    assert zero.cache_info() == (0, 3, 0, 0)  # never stores, counts misses
    neg = hotcache.lru_cache(-5)(lambda x: x)
    assert neg.cache_parameters()["maxsize"] == 0 and neg(1) == 1 and neg.cache_info().currsize == 0
    bare = hotcache.lru_cache(lambda x: x)
    assert bare.cache_parameters() == {"maxsize": 128, "typed": False}
    with pytest.raises(TypeError, match="Expected first argument"):
        hotcache.lru_cache("8")
    with pytest.raises(TypeError):
        functools.lru_cache("8")


def test_each_argument_hashed_once_per_call(call_impl):
    class Key:
        def __init__(self, v):
            self.v = v
            self.hashes = 0

        def __hash__(self):
            self.hashes += 1
            return hash(self.v)

        def __eq__(self, other):
            return isinstance(other, Key) and self.v == other.v

    for maxsize, expected in ((None, 2), (128, 2), (0, 0)):  # lru_cache(0) builds no key
        counts = []
        for deco in (functools.lru_cache(maxsize), hotcache.lru_cache(maxsize)):
            f = deco(lambda *a, **k: 1)
            a, b, c = Key(1), Key(2), Key(3)
            f(a, b, k=c)  # miss: hashed once, stored with that hash
            f(a, b, k=c)  # hit
            counts.append((a.hashes, b.hashes, c.hashes))
        assert counts[1] == counts[0] == (expected,) * 3, (maxsize, counts)
    # and lru_cache(0) accepts unhashable arguments, as functools does
    assert hotcache.lru_cache(0)(len)([1, 2]) == functools.lru_cache(0)(len)([1, 2]) == 2


def test_exceptions_propagate_and_are_not_cached(call_impl):
    calls = []

    @hotcache.lru_cache
    def f(x):
        calls.append(x)
        raise ValueError(x)

    for _ in range(2):
        with pytest.raises(ValueError):
            f(1)
    assert calls == [1, 1] and f.cache_info() == (0, 2, 128, 0)
    assert f.cache_stats()["load_errors"] == 2


def test_recursion_never_deadlocks(call_impl):
    @hotcache.lru_cache(maxsize=None)
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(200) == 280571172992510140037611932413038677189525
    assert fib.cache_info().misses == 201

    depth = []

    @hotcache.lru_cache
    def same_args(x):
        depth.append(x)
        return same_args(x) + 1 if len(depth) < 4 else 0  # the same key, re-entered

    assert same_args(7) == 3
    assert same_args.cache_info() == (0, 4, 128, 1)


def test_reentrant_eq_never_deadlocks(call_impl):
    for deco in (functools.lru_cache, hotcache.lru_cache):
        cached = deco(lambda n: n)

        class RecursiveEquals:
            def __init__(self, use_cache):
                self._use_cache = use_cache

            def __hash__(self):
                return hash(self._use_cache)

            def __eq__(self, other):
                if self._use_cache:
                    cached(self)  # runs while the cache is comparing keys
                return self._use_cache == other._use_cache

        cached(RecursiveEquals(False))
        cached(RecursiveEquals(True))
        assert cached(RecursiveEquals(True)) == RecursiveEquals(True)


def test_no_single_flight(call_impl):
    """Like functools: concurrent misses of one key each call the function."""
    inside = threading.Barrier(2)

    @hotcache.lru_cache
    def f(x):
        inside.wait(HANG)  # both callers are in the function at once
        return x

    out = []
    threads = [threading.Thread(target=lambda: out.append(f(1))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert out == [1, 1] and f.cache_info().misses == 2


def test_wrapper_attributes(call_impl):
    def f(x):
        """doc"""
        return x

    f.extra = 1
    w = hotcache.lru_cache(f)
    ref = functools.lru_cache(f)
    for name in functools.WRAPPER_ASSIGNMENTS:
        if hasattr(ref, name):
            assert getattr(w, name) == getattr(ref, name), name
    assert w.__wrapped__ is f and w.extra == 1
    assert weakref.ref(w)() is w
    assert copy.copy(w) is w and copy.deepcopy(w) is w
    assert isinstance(w.cache, hotcache.LRUCache)


def test_pickles_by_qualified_name():
    for w in (pickled_bare, pickled_typed):
        assert pickle.loads(pickle.dumps(w)) is w


def test_binds_like_functools(call_impl):
    class C:
        @hotcache.lru_cache
        def m(self, x):
            return (id(self), x)

        @staticmethod
        @hotcache.lru_cache
        def s(x):
            return x

    c = C()
    assert c.m(1) == (id(c), 1) and C.m(c, 1) == (id(c), 1)
    assert c.m.cache_info() == (1, 1, 128, 1) and C.m.cache_info().hits == 1
    assert c.s(2) == 2 and C.s(2) == 2 and C.s.cache_info().hits == 1


def test_unhashable_argument(call_impl):
    def lookup_user(x):
        return x

    w = hotcache.lru_cache(lookup_user)
    with pytest.raises(TypeError, match="lookup_user: unhashable argument"):
        w([1])
    with pytest.raises(TypeError):
        functools.lru_cache(lookup_user)([1])


def test_cache_stats(call_impl):
    w = hotcache.lru_cache(maxsize=2)(lambda x: x)
    w(1)
    w(1)
    w(2)
    s = w.cache_stats()
    assert (s["hits"], s["misses"], s["loads"], s["load_errors"], s["in_flight"]) == (1, 2, 2, 0, 0)
    assert s["load_seconds"] >= 0.0
