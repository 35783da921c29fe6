"""ReadThrough, the native front of TieredCache (hotcache._native.core) and its twin (hotcache._spec.front):
hits come from the L1 (counted there), misses go to ``type(self)._load(self, key, default)``.
"""
from __future__ import annotations

import gc
import weakref

import pytest

import hotcache
import hotcache._spec as pure
from hotcache._native import core as _core
from hotcache._spec.front import ReadThrough as PyReadThrough

__all__: list = []


def _front(base):
    class Front(base):
        def __init__(self, l1, backing):
            base.__init__(self, l1)
            self.backing = backing
            self.loads = []

        def _load(self, key, default):
            self.loads.append(key)
            return self.backing.get(key, default)

    return Front


@pytest.fixture(params=["native", "twin"])
def Front(request):
    return _front(_core.ReadThrough if request.param == "native" else PyReadThrough)


@pytest.mark.parametrize("l1_cls", [hotcache.LRUCache, pure.LRUCache])
def test_hits_from_l1_misses_to_load(Front, l1_cls):
    l1 = l1_cls(4)
    f = Front(l1, {"b": 2, "n": None})
    l1["a"] = 1
    assert f["a"] == 1 and f.get("a") == 1
    assert f["b"] == 2 and f.get("b", 0) == 2
    assert f["n"] is None                      # a stored None is a value, not a miss
    with pytest.raises(KeyError):
        f["zzz"]
    assert f.get("zzz") is None and f.get("zzz", 7) == 7
    assert f.loads == ["b", "b", "n", "zzz", "zzz", "zzz"]
    st = l1.stats()
    assert (st.hits, st.misses) == (2, 6)


def test_ttl_expired_entries_are_misses(Front):
    t = [0.0]
    l1 = hotcache.LRUCache(4, ttl=10, timer=lambda: t[0])
    f = Front(l1, {})
    l1["k"] = "v"
    assert f["k"] == "v"
    t[0] = 10.0
    assert f.get("k", "gone") == "gone" and f.loads == ["k"]


def test_l1_with_missing_takes_the_generic_path(Front):
    class WithMissing(hotcache.LRUCache):
        def __missing__(self, key):
            raise KeyError(key)

    l1 = WithMissing(4)
    l1["x"] = 1
    f = Front(l1, {"y": 2})
    assert f["x"] == 1 and f["y"] == 2 and f.loads == ["y"]


def test_needs_load_and_no_cycle(Front):
    class NoLoad(Front.__mro__[1]):
        pass

    with pytest.raises(TypeError, match="_load"):
        NoLoad(hotcache.LRUCache(1))
    gc.disable()  # no bound-method cycle: freed by reference counting alone
    try:
        f = Front(hotcache.LRUCache(2), {})
        f.get("miss")
        ref = weakref.ref(f)
        del f
        assert ref() is None
    finally:
        gc.enable()


def test_unhashable_key(Front):
    f = Front(hotcache.LRUCache(2), {})
    with pytest.raises(TypeError):
        f[[1]]
