"""The native decorator hit path (hotcache._native.core.CachedCall) against its Python twin
(hotcache._spec.call.CachedCall), op for op, plus what only the native type can get wrong:
its replaced tp_call (Python subclasses, explicit ``__call__``, keyword dicts), re-entrant
``__eq__``/``__hash__`` during the lookup, and references (no leaks, cycles collected).
"""
from __future__ import annotations

import gc
import sys
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hotcache
import hotcache.keys as hkeys
from hotcache._native import core as _core
from hotcache._spec.call import CachedCall as PyCachedCall

__all__: list = []

NativeCachedCall = _core.CachedCall


def _pair(mode, maxsize=4, key=None):
    """A native and a twin CachedCall over equal fresh caches, recording their loads."""
    calls = {"native": [], "twin": []}

    def make(impl, cls):
        log = calls[impl]

        def func(*args, **kwargs):
            log.append((args, tuple(sorted(kwargs.items()))))
            return ("r", args, tuple(sorted(kwargs.items())))

        cache = hotcache.LRUCache(maxsize)

        def miss(k, args, kwargs):
            w.misses += 1
            result = func(*args, **kwargs)
            cache[k] = result
            return result

        w = cls(func, cache, None if mode >= 2 else miss, key=key, mode=mode)
        return w

    return make("native", NativeCachedCall), make("twin", PyCachedCall), calls


_ARG = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b"]), st.just(1.0), st.just(True),
                 st.tuples(st.integers(0, 2)))
_CALL = st.tuples(st.lists(_ARG, max_size=2),
                  st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 2), max_size=2))


@settings(max_examples=150, deadline=None)
@given(mode=st.sampled_from([0, 1, 2, 3]), calls=st.lists(_CALL, max_size=30))
def test_native_matches_twin(mode, calls):
    key = hkeys.hashkey if mode == 0 else (hkeys.typedkey if mode == 1 else None)
    native, twin, loads = _pair(mode, key=key)

    def norm(k):  # functools._make_key's keys are lists (_HashedSeq), the native's tuples;
        if isinstance(k, (list, tuple)):  # each has its own keyword marker object
            return tuple("<kwd>" if type(x) is object else x for x in k)
        return k

    def items(cache):
        return [(norm(k), v) for k, v in cache.items()]

    for args, kwargs in calls:
        assert native(*args, **kwargs) == twin(*args, **kwargs)
        assert (native.hits, native.misses) == (twin.hits, twin.misses)
        assert items(native.cache) == items(twin.cache)
    assert loads["native"] == loads["twin"]


def test_python_subclass_keeps_the_native_call():
    class Wrapper(NativeCachedCall):
        pass

    cache = hotcache.LRUCache(8)
    w = Wrapper(lambda x, y=0: x + y, cache, None, mode=2)
    assert w(1) == 1 and w(1) == 1 and w(1, y=2) == 3 and w(1, **{}) == 1
    assert (w.hits, w.misses) == (2, 2)
    # the slot wrapper and the type's call agree
    assert NativeCachedCall.__call__(w, 1) == 1 and Wrapper.__call__(w, 1, y=2) == 3
    assert w.hits == 4


def test_hash_once_per_call_mode_2():
    class K:
        hashes = 0

        def __hash__(self):
            K.hashes += 1
            return 7

        def __eq__(self, other):
            return isinstance(other, K)

    w = NativeCachedCall(lambda k: "v", hotcache.LRUCache(8), None, mode=2)
    k = K()
    w(k)
    assert K.hashes == 1         # miss: lookup and store share the hash
    w(k)
    assert K.hashes == 2         # hit: one more


def test_reentrant_eq_calls_the_wrapper():
    """An __eq__ that calls the cached function (and so stores into the cache, evicting) while
    the lookup probes: no crash, a correct answer, a consistent cache."""
    w = None
    busy = []

    class K:
        def __init__(self, n):
            self.n = n

        def __hash__(self):
            return 1                      # every K collides

        def __eq__(self, other):
            if not busy and w is not None:
                busy.append(1)
                try:
                    for j in range(20):   # re-enter: stores and evictions during the probe
                        w(("other", self.n, j))
                finally:
                    busy.pop()
            return isinstance(other, K) and other.n == self.n

    w = NativeCachedCall(lambda k: k.n * 2 if isinstance(k, K) else k, hotcache.LRUCache(16),
                         None, mode=2)
    for _ in range(2):
        for i in range(10):
            assert w(K(i)) == i * 2
            w.cache._check()


def test_unhashable_argument_names_the_function():
    def fetch(x):
        return x

    for mode in (0, 2):
        w = NativeCachedCall(fetch, hotcache.LRUCache(8), lambda k, a, kw: None, mode=mode)
        with pytest.raises(TypeError, match="fetch: unhashable argument"):
            w([1])
    w = NativeCachedCall(fetch, {}, lambda k, a, kw: None, mode=0)
    with pytest.raises(TypeError, match="fetch: unhashable argument"):
        w([1])


def test_no_leaks_and_cycles_are_collected():
    class Obj:
        pass

    result = Obj()
    arg = Obj()
    w = NativeCachedCall(lambda a, b=None: result, hotcache.LRUCache(8), None, mode=2)
    w(arg)
    before = (sys.getrefcount(arg), sys.getrefcount(result))
    for _ in range(1000):
        w(arg)
        w(arg, b=1)
    w.cache.clear()
    w(arg)
    after = (sys.getrefcount(arg), sys.getrefcount(result))
    assert after == before

    # a miss callable that refers back to the wrapper forms a cycle: the collector frees it
    class Box:
        pass

    box = Box()

    def miss(k, a, kw, box=box):      # wrapper -> miss -> its defaults -> box -> wrapper
        return box.w

    box.w = NativeCachedCall(lambda x: x, hotcache.LRUCache(8), miss, mode=0)
    ref = weakref.ref(box.w)
    box.w(1)
    del box, miss
    gc.collect()
    assert ref() is None


def test_dict_and_weakref_and_binding():
    w = NativeCachedCall(lambda self, x: (self, x), hotcache.LRUCache(8), None, mode=2)
    w.__doc__ = "doc"
    w.extra = 1
    assert w.__dict__["extra"] == 1 and w.__wrapped__ is not None
    assert weakref.ref(w)() is w

    class C:
        meth = w

    c = C()
    assert c.meth(3) == (c, 3)
    assert C.meth is w


@pytest.mark.parametrize("cls", [NativeCachedCall, PyCachedCall])
def test_modes_2_3_time_and_count_failed_loads(cls):
    def load(x):
        if x < 0:
            raise ValueError(x)
        return x

    w = cls(load, hotcache.LRUCache(8), None, mode=3)
    assert (w.load_errors, w.load_seconds) == (0, 0.0)
    w(1)
    w(1)
    with pytest.raises(ValueError):
        w(-1)
    assert (w.hits, w.misses, w.load_errors) == (1, 2, 1)
    assert w.load_seconds >= 0.0 and isinstance(w.load_seconds, float)
    assert -1 not in w.cache and len(w.cache) == 1
    w.load_errors = 0
    w.load_seconds = 0.0
    assert (w.load_errors, w.load_seconds) == (0, 0.0)


@pytest.mark.parametrize("cls", [NativeCachedCall, PyCachedCall])
def test_miss_on_a_plain_mapping_runs_outside_the_keyerror_handler(cls):
    """A function raising on a miss through a dict cache: no KeyError as __context__, and no
    exception is being handled inside the function (as with cachetools.cached)."""
    import sys as _sys

    seen = []

    def func(x):
        seen.append(_sys.exc_info()[0])
        raise ValueError(x)

    def miss(key, args, kwargs):
        return func(*args, **kwargs)

    w = cls(func, {}, miss, mode=0)
    with pytest.raises(ValueError) as info:
        w(1)
    assert info.value.__context__ is None and seen == [None]
