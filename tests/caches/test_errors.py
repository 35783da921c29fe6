"""Bad input gives a clear exception and leaves the cache unchanged, for every class x impl."""

from __future__ import annotations

import math

import pytest

from helpers import FakeTimer, check, classes, make

NAN = float("nan")


def snapshot(c):
    return list(c.items()), c._policy_order(), c.currsize, len(c)


def test_unhashable_key(cls, name):
    c = make(cls, 3)
    c[1] = 1
    before = snapshot(c)
    for op in (
        lambda: c.__setitem__([], 1),
        lambda: c[[]],
        lambda: c.get([]),
        lambda: [] in c,
        lambda: c.__delitem__({}),
        lambda: c.pop([]),
        lambda: c.pop([], None),
        lambda: c.setdefault([], 1),
        lambda: c.peek([]),
        lambda: c.set([], 1),
    ):
        with pytest.raises(TypeError, match="unhashable"):
            op()
    assert snapshot(c) == before
    check(c)


@pytest.mark.parametrize("bad", [-1, -0.5, -math.inf])
def test_negative_maxsize(cls, name, bad):
    with pytest.raises(ValueError, match="maxsize"):
        make(cls, bad)


def test_nan_maxsize(cls, name):
    with pytest.raises(ValueError, match="maxsize"):
        make(cls, NAN)


@pytest.mark.parametrize("bad", ["10", None, [3], object()])
def test_maxsize_wrong_type(cls, name, bad):
    with pytest.raises(TypeError):
        make(cls, bad)


def test_maxsize_float_allowed(cls, name):
    c = make(cls, 2.5)
    c[1] = c[2] = c[3] = 1
    assert len(c) == 2 and c.maxsize == 2.5


@pytest.mark.parametrize("bad", [0, -1, -0.001, NAN, -math.inf])
@pytest.mark.parametrize("name", ["Cache", "LRUCache", "LFUCache", "FIFOCache", "RRCache", "TLRUCache"])
def test_bad_extension_ttl(impl, name, bad):
    cls = classes(impl)[name]
    with pytest.raises(ValueError, match="ttl"):
        make(cls, 3, ttl=bad)


@pytest.mark.parametrize("ok", [None, math.inf, 0.001, 5, 2.5])
@pytest.mark.parametrize("name", ["Cache", "LRUCache", "LFUCache", "FIFOCache", "RRCache"])
def test_good_extension_ttl(impl, name, ok):
    c = make(classes(impl)[name], 3, ttl=ok, timer=FakeTimer())
    c[1] = 1
    assert c[1] == 1


@pytest.mark.parametrize("bad", ["10", [1], object()])
def test_extension_ttl_wrong_type(impl, bad):
    with pytest.raises(TypeError):
        classes(impl)["LRUCache"](3, ttl=bad)


@pytest.mark.parametrize("bad", [0, -1, NAN])
def test_set_bad_ttl(cls, name, bad):
    c = make(cls, 3, timer=FakeTimer())
    c[1] = 1
    before = snapshot(c)
    with pytest.raises(ValueError):
        c.set(2, 2, ttl=bad)
    with pytest.raises(ValueError):
        c.set(1, 5, ttl=bad)
    assert snapshot(c) == before
    with pytest.raises(TypeError):
        c.set(2, 2, ttl="5")
    assert snapshot(c) == before


@pytest.mark.parametrize("bad", ["64XB", "", "-1MB", "MB", "1.2.3MB", "12 34", "1e", "inf", "nan", "10 bytes"])
def test_bad_maxmemory_string(cls, name, bad):
    with pytest.raises(ValueError) as info:
        make(cls, 3, maxmemory=bad)
    msg = str(info.value)
    assert repr(bad) in msg or (bad and bad in msg), msg  # names the bad value


@pytest.mark.parametrize("bad", [-1, NAN, -0.5, math.inf * -1])
def test_bad_maxmemory_number(impl, bad):
    with pytest.raises(ValueError) as info:
        classes(impl)["LRUCache"](3, maxmemory=bad)
    assert "maxmemory" in str(info.value) or repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [[1], object(), b"64MB", {}])
def test_maxmemory_wrong_type(impl, bad):
    with pytest.raises(TypeError):
        classes(impl)["LRUCache"](3, maxmemory=bad)


def test_resize_bad(cls, name):
    c = make(cls, 3)
    c[1] = 1
    before = snapshot(c)
    with pytest.raises(ValueError):
        c.resize(-1)
    with pytest.raises(ValueError):
        c.resize(NAN)
    with pytest.raises(ValueError):
        c.resize(maxmemory="64XB")
    with pytest.raises(TypeError):
        c.resize("3")
    assert snapshot(c) == before and c.maxsize == 3 and c.maxmemory is None


@pytest.mark.parametrize("bad_size, exc, msg", [(-1, ValueError, "non-negative"), (11, ValueError, "too large")])
def test_getsizeof_bad_values(cls, name, bad_size, exc, msg):
    sizes = {}
    c = make(cls, 10, getsizeof=lambda v: sizes.get(v, 1))
    c["a"] = "a"
    c["b"] = "b"
    before = snapshot(c)
    sizes["bad"] = bad_size
    with pytest.raises(exc, match=msg):
        c["new"] = "bad"
    with pytest.raises(exc, match=msg):
        c["a"] = "bad"  # replacing an existing value
    with pytest.raises(exc, match=msg):
        c.setdefault("x", "bad")
    with pytest.raises(exc, match=msg):
        c.update({"y": "bad"})
    assert snapshot(c) == before
    assert c.peek("a") == "a"
    check(c)


@pytest.mark.parametrize("bad_size", ["3", 2.5j, None])
def test_getsizeof_wrong_type(cls, name, bad_size):
    c = make(cls, 10, getsizeof=lambda v: bad_size if v == "bad" else 1)
    c["a"] = "a"
    before = snapshot(c)
    with pytest.raises(TypeError):
        c["new"] = "bad"
    with pytest.raises(TypeError):
        c["a"] = "bad"
    assert snapshot(c) == before
    check(c)


def test_getsizeof_raises(cls, name):
    def getsizeof(v):
        if v == "bad":
            raise ZeroDivisionError("sizing")
        return 1

    c = make(cls, 10, getsizeof=getsizeof)
    c["a"] = "a"
    before = snapshot(c)
    with pytest.raises(ZeroDivisionError, match="sizing"):
        c["new"] = "bad"
    with pytest.raises(ZeroDivisionError):
        c["a"] = "bad"
    assert snapshot(c) == before
    check(c)


@pytest.mark.parametrize("bad", [-1, "big", None])
def test_sizeof_bad(cls, name, bad):
    c = make(cls, 10, maxmemory="1KB", sizeof=lambda k, v: bad if v == "bad" else 1)
    c["a"] = "a"
    before = snapshot(c), c.stats().memory_used
    with pytest.raises((ValueError, TypeError)):
        c["new"] = "bad"
    with pytest.raises((ValueError, TypeError)):
        c["a"] = "bad"
    assert (snapshot(c), c.stats().memory_used) == before
    check(c)


def test_on_evict_not_callable(impl):
    with pytest.raises(TypeError):
        classes(impl)["LRUCache"](3, on_evict=5)


def test_bad_timer_value(cls, name):
    """A timer that returns a non-number is a TypeError from the operation; nothing changes."""
    t = FakeTimer()
    c = make(cls, 5, timer=t, ttl=10) if name not in ("TTLCache", "TLRUCache") else make(cls, 5, timer=t)
    c[1] = 1
    before = snapshot(c)
    t.time = "not a time"
    with pytest.raises(TypeError):
        c[2] = 2
    t.time = 0.0
    assert snapshot(c) == before
    check(c)


def test_ttl_left_missing(cls, name):
    c = make(cls, 3)
    with pytest.raises(KeyError):
        c.ttl_left(1)


def test_delete_missing(cls, name):
    c = make(cls, 3)
    c[1] = 1
    with pytest.raises(KeyError):
        del c[2]
    with pytest.raises(KeyError):
        c.pop(2)
    assert list(c) == [1]
