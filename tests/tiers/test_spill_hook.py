"""The second-tier hook (``_set_spill_hook``) and the ``on_evict`` setter, over core and twin.

The hook sees policy victims only (causes "size" and "memory"), with the seconds they had left;
never expirations, deletes, pops or clears; errors in it never reach the cache's caller.
"""
from __future__ import annotations

import copy
import pickle

import pytest

from helpers import FakeTimer

__all__: list = []


def test_policy_victims_reach_the_hook_with_ttl_left(mod):
    t = FakeTimer()
    got = []
    c = mod.LRUCache(2, ttl=10, timer=t)
    c._set_spill_hook(lambda *a: got.append(a))
    c["a"] = 1
    t.advance(3)
    c["b"] = 2
    c["c"] = 3                            # evicts "a", which had 7 s left
    assert got == [("a", 1, "size", 7.0)]


def test_no_expiry_gives_none_fast_path(mod):
    got = []
    c = mod.LRUCache(2)
    c._set_spill_hook(lambda *a: got.append(a))
    for i in range(4):
        c[i] = i * 10
    assert got == [(0, 0, "size", None), (1, 10, "size", None)]


def test_memory_victims(mod):
    got = []
    c = mod.LRUCache(100, maxmemory=3 * (64 + 10), sizeof=lambda k, v: 10)
    c._set_spill_hook(lambda *a: got.append(a[:3]))
    for i in range(5):
        c[i] = i
    assert got == [(0, 0, "memory"), (1, 1, "memory")]


def test_not_for_expired_deleted_popped_cleared(mod):
    t = FakeTimer()
    got = []
    c = mod.LRUCache(10, ttl=5, timer=t)
    c._set_spill_hook(lambda *a: got.append(a))
    c["x"] = 1
    c["y"] = 2
    c["z"] = 3
    del c["x"]
    c.pop("y")
    t.advance(10)
    c.expire()
    c["w"] = 4
    c.clear()
    c["v"] = 5
    c.popitem()
    assert got == []


def test_resize_victims(mod):
    got = []
    c = mod.FIFOCache(5)
    c._set_spill_hook(lambda *a: got.append(a[:3]))
    for i in range(5):
        c[i] = i
    c.resize(2)
    assert got == [(0, 0, "size"), (1, 1, "size"), (2, 2, "size")]


def test_on_evict_runs_first_and_hook_errors_are_swallowed(mod):
    order = []
    c = mod.LRUCache(1)
    c.on_evict = lambda k, v, cause: order.append(("on_evict", k))

    def hook(k, v, cause, left):
        order.append(("spill", k))
        raise RuntimeError("tier down")

    c._set_spill_hook(hook)
    c[1] = 1
    c[2] = 2                              # no exception reaches the caller
    assert order == [("on_evict", 1), ("spill", 1)]
    assert dict(c) == {2: 2}


def test_hook_not_copied_or_pickled(mod):
    got = []
    c = mod.LRUCache(1)
    c._set_spill_hook(lambda *a: got.append(a))
    c[1] = 1
    for clone in (copy.copy(c), copy.deepcopy(c), pickle.loads(pickle.dumps(c))):
        clone[2] = 2
    assert got == []
    c._set_spill_hook(None)
    c[3] = 3
    assert got == []


def test_setters_validate(mod):
    c = mod.LRUCache(1)
    with pytest.raises(TypeError):
        c.on_evict = 42
    with pytest.raises(TypeError):
        c._set_spill_hook("nope")
    assert c.on_evict is None
    fn = lambda k, v, cause: None  # noqa: E731
    c.on_evict = fn
    assert c.on_evict is fn
    c.on_evict = None
    assert c.on_evict is None
