"""Time-based expiry with a fake clock: boundaries, invisibility, expire(), reclaim without scans,
ttl through copy/pickle, TLRU's per-entry ttu, datetime timers, and the Timer wrapper."""

from __future__ import annotations

import copy
import datetime
import math
import pickle

import pytest

from helpers import FakeTimer, check, classes

# Three ways to get "expires ttl seconds after it was set" on every entry.
TIMED = ["TTLCache", "LRUCache+ttl", "TLRUCache"]


def timed(impl, kind, maxsize, ttl, timer, getsizeof=None, **kw):
    cl = classes(impl)
    if kind == "TTLCache":
        return cl["TTLCache"](maxsize, ttl, timer, getsizeof, **kw)
    if kind == "TLRUCache":
        return cl["TLRUCache"](maxsize, lambda k, v, now: now + ttl, timer, getsizeof, **kw)
    return cl["LRUCache"](maxsize, getsizeof, ttl=ttl, timer=timer, **kw)


@pytest.fixture(params=TIMED)
def kind(request):
    return request.param


def test_expiry_boundary(impl, kind):
    t = FakeTimer(100.0)
    c = timed(impl, kind, 10, 4, t)
    c[1] = "one"
    t.advance(3.75)
    assert 1 in c and c[1] == "one" and c.get(1) == "one"
    assert c.ttl_left(1) == pytest.approx(0.25)
    t.advance(0.25)  # timer() == set time + ttl: expired
    assert 1 not in c
    assert c.get(1) is None
    with pytest.raises(KeyError):
        c[1]
    with pytest.raises(KeyError):
        c.ttl_left(1)


def test_expired_invisible_everywhere(impl, kind):
    t = FakeTimer()
    c = timed(impl, kind, 100, 4, t, getsizeof=len)
    c["a"] = "xx"
    t.advance(2)
    c["b"] = "yyy"
    assert c.currsize == 5 and len(c) == 2
    t.advance(2)  # "a" is expired, "b" live
    assert "a" not in c and "b" in c
    assert list(c) == ["b"] and list(c.keys()) == ["b"]
    assert list(c.values()) == ["yyy"] and list(c.items()) == [("b", "yyy")]
    assert len(c) == 1 and c.currsize == 3
    assert c == {"b": "yyy"}
    assert c.get("a", "dflt") == "dflt" and c.peek("a") is None
    with pytest.raises(KeyError):
        c["a"]
    with pytest.raises(KeyError):
        del c["a"]
    with pytest.raises(KeyError):
        c.pop("a")
    assert c.pop("a", "d") == "d"
    assert repr(c).startswith(type(c).__name__ + "({'b': 'yyy'}")
    assert c.setdefault("a", "zz") == "zz"  # a fresh entry
    assert c["a"] == "zz" and c.ttl_left("a") == pytest.approx(4)
    assert list(c) == ["b", "a"]
    t.advance(10)
    assert len(c) == 0 and c.currsize == 0 and list(c) == []
    check(c)


def test_expired_missing_subclass(impl):
    class Sub(classes(impl)["TTLCache"]):
        def __missing__(self, key):
            return ("missing", key)

    t = FakeTimer()
    c = Sub(3, 1, t)
    c[1] = 1
    t.advance(1)
    assert c[1] == ("missing", 1)
    assert c.get(1) is None


def test_reassign_resets_expiry(impl, kind):
    t = FakeTimer()
    c = timed(impl, kind, 10, 4, t)
    c[1] = 1
    t.advance(3)
    c[1] = 2
    t.advance(3)
    assert c[1] == 2 and c.ttl_left(1) == pytest.approx(1)
    t.advance(1)
    assert 1 not in c


def test_expire_returns_pairs_in_expiry_order(impl, kind):
    t = FakeTimer()
    c = timed(impl, kind, 100, 10, t)
    for i, key in enumerate("dbca"):
        c[key] = i
        t.advance(1)
    c.set("x", "short", ttl=0.5)  # expires at 4.5, before everybody else
    c.set("y", "inf", ttl=math.inf)
    assert c.expire() == []
    assert c.expire(4.25) == []
    assert c.expire(4.5) == [("x", "short")]
    assert c.expire(11.5) == [("d", 0), ("b", 1)]
    t.advance(100)
    assert c.expire() == [("c", 2), ("a", 3)]
    assert c.expire() == []
    assert list(c) == ["y"]
    assert c.stats().expirations == 5
    check(c)


def test_expire_with_explicit_time_in_past(impl, kind):
    t = FakeTimer(50)
    c = timed(impl, kind, 10, 5, t)
    c[1] = 1
    assert c.expire(0) == [] and 1 in c


def test_full_cache_prefers_expired_victims(impl, kind):
    t = FakeTimer()
    log = []
    c = timed(impl, kind, 3, 10, t, on_evict=lambda k, v, cause: log.append((k, cause)))
    c[1] = 1
    t.advance(5)
    c[2] = 2
    c[3] = 3
    c[2]  # LRU order now 1, 3, 2
    t.advance(5)  # 1 expired
    c[4] = 4
    assert sorted(c) == [2, 3, 4]
    assert log == [(1, "expired")]
    c[5] = 5  # now a real LRU eviction: 3
    assert sorted(c) == [2, 4, 5] and log[-1] == (3, "size")
    s = c.stats()
    assert s.expirations == 1 and s.evictions_size == 1
    check(c)


def test_reclaim_without_scans(impl):
    n, due = 40_000, 10
    t = FakeTimer()
    c = classes(impl)["TTLCache"](math.inf, 100, t)
    for i in range(due):
        c[("due", i)] = i
    t.advance(50)
    for i in range(n):
        c[i] = i
    t.advance(55)  # the first `due` entries are past their time, nobody else is
    visited = getattr(c, "_wheel_visited", None)
    before = visited() if visited else None
    got = c.expire()
    assert got == [(("due", i), i) for i in range(due)]
    assert len(c) == n and c.stats().expirations == due
    if visited:
        # a scan would visit all n entries; the wheel only looks at what is due
        assert visited() - before < n // 4
    # a write with nothing due does not remove anything
    c["new"] = 1
    assert len(c) == n + 1 and c.stats().expirations == due


def test_lazy_reclaim_counts(impl):
    t = FakeTimer()
    c = classes(impl)["TTLCache"](math.inf, 10, t)
    for i in range(100):
        c[i] = i
    t.advance(5)
    for i in range(100, 150):
        c[i] = i
    t.advance(5)  # the first 100 are due
    for i in range(150, 160):
        c[i] = i  # writes may reclaim some due entries as they go
    assert len(c) == 60
    s = c.stats()
    assert s.expirations <= 100
    rest = c.expire()
    assert len(rest) + s.expirations == 100
    keys = [k for k, _ in rest]
    assert len(set(keys)) == len(keys) and set(keys) <= set(range(100))
    assert c.stats().expirations == 100 and len(c) == 60
    check(c)


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_ttl_carried_by_copy(impl, kind, how):
    if kind == "TLRUCache" and how == "pickle":
        pytest.skip("a lambda ttu cannot be pickled; TLRU pickling is covered below")
    t = FakeTimer()
    c = timed(impl, kind, 10, 10, t)
    c[1] = 1
    t.advance(2)
    c[2] = 2
    c.set(3, 3, ttl=1)
    c.set(4, 4, ttl=math.inf)
    if how == "copy":
        d = copy.copy(c)
        assert d.timer is not c.timer  # a fresh wrapper around the same clock
    elif how == "deepcopy":
        d = copy.deepcopy(c)
    else:
        d = pickle.loads(pickle.dumps(c))
    own_clock = how != "copy"
    if own_clock:
        t.advance(1000)  # the copy has its own clock: nothing expires there
        assert list(d) == [1, 2, 3, 4]
        t.advance(-1000)
    for key in (1, 2, 3, 4):
        assert d.ttl_left(key) == c.ttl_left(key)
    for step in (1, 7, 2):
        t.advance(step)
        if own_clock:
            d.timer.advance(step)  # forwarded to the copy's own FakeTimer
        assert list(d) == list(c)
        assert d.expire() == c.expire()
    assert list(d) == list(c) == [4]


def _ttu_by_value(key, value, now):
    return now + value


def test_tlru_per_entry_ttu(impl):
    t = FakeTimer()
    c = classes(impl)["TLRUCache"](10, _ttu_by_value, t)
    assert c.ttu is _ttu_by_value
    c["a"] = 3
    c["b"] = 1
    c["c"] = 2
    assert c.ttl_left("a") == pytest.approx(3)
    t.advance(1)
    assert list(c) == ["a", "c"]
    t.advance(1)
    assert list(c) == ["a"]
    c["a"] = 5  # re-assign: new ttu from now
    t.advance(4)
    assert list(c) == ["a"]
    t.advance(1)
    assert list(c) == []
    assert c.stats().expirations + len(c.expire()) == 3
    check(c)


def test_tlru_already_expired_item_is_not_stored(impl):
    t = FakeTimer()
    c = classes(impl)["TLRUCache"](10, _ttu_by_value, t)
    c["a"] = 5
    c["x"] = 0  # expires immediately: not stored
    assert "x" not in c and len(c) == 1
    c["a"] = -1  # updating with an already expired item removes the existing one
    assert "a" not in c and len(c) == 0
    check(c)


def test_tlru_pickle_keeps_expiry(impl):
    t = FakeTimer()
    c = classes(impl)["TLRUCache"](10, _ttu_by_value, t)
    c["a"] = 3
    c["b"] = 1
    d = pickle.loads(pickle.dumps(c))
    assert d.ttu is _ttu_by_value
    d.timer.advance(1)
    assert list(d) == ["a"] and list(c) == ["a", "b"]


class DateTimer:
    """A fake datetime clock."""

    def __init__(self):
        self.now = datetime.datetime(2024, 1, 1, 12, 0, 0)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


def test_datetime_timer_timedelta_ttl(impl):
    clock = DateTimer()
    c = classes(impl)["TTLCache"](5, datetime.timedelta(seconds=10), clock)
    assert c.ttl == datetime.timedelta(seconds=10)
    c[1] = 1
    clock.advance(5)
    c[2] = 2
    clock.advance(4)
    assert list(c) == [1, 2] and c[1] == 1
    clock.advance(1)
    assert list(c) == [2] and 1 not in c
    assert c.expire() in ([(1, 1)], [])
    clock.advance(5)
    assert len(c) == 0
    with c.timer as now:
        assert now == clock.now
    check(c)


def test_datetime_real_clock(impl):
    c = classes(impl)["TTLCache"](5, datetime.timedelta(hours=1), datetime.datetime.now)
    c[1] = 1
    assert c[1] == 1 and len(c) == 1


def test_datetime_tlru(impl):
    clock = DateTimer()
    c = classes(impl)["TLRUCache"](5, lambda k, v, now: now + datetime.timedelta(seconds=v), clock)
    c["a"] = 2
    c["b"] = 4
    clock.advance(2)
    assert list(c) == ["b"]


def test_timer_wrapper(impl, kind):
    t = FakeTimer(7)
    c = timed(impl, kind, 10, 5, t)
    assert c.timer() == 7
    assert c.timer.time == 7  # unknown attributes forward to the wrapped timer
    with c.timer as now:
        assert now == 7
        t.advance(10)
        assert c.timer() == 7
        with c.timer as inner:
            assert inner == 7
        assert c.timer() == 7  # still frozen after the inner block: nesting counts
        c[1] = 1
    assert c.timer() == 17
    assert 1 not in c  # set at frozen time 7 with ttl 5, now 17
    d = copy.copy(c)
    assert d.timer is not c.timer and d.timer() == c.timer() == 17
    t.advance(1)
    assert d.timer() == 18  # a fresh wrapper around the same timer
    e = copy.deepcopy(c)
    t.advance(1)
    assert e.timer() == 18 and c.timer() == 19


def test_timer_wrapper_pickles(impl):
    t = FakeTimer(3)
    c = classes(impl)["TTLCache"](10, 5, t)
    w = pickle.loads(pickle.dumps(c.timer))
    assert w() == 3 and type(w) is type(c.timer)


def test_frozen_timer_isolates_ops(impl, kind):
    t = FakeTimer()
    c = timed(impl, kind, 10, 5, t)
    c[1] = 1
    with c.timer:
        calls = t.calls
        c[2] = 2
        c[1]
        c.get(3)
        3 in c
        len(c)
        list(c)
        c.pop(2)
        c.setdefault(4, 4)
        assert t.calls == calls  # everything used the frozen time


@pytest.mark.parametrize(
    "op",
    [
        lambda c: c.__setitem__(9, 9),
        lambda c: c.__setitem__(1, 2),
        lambda c: c[1],
        lambda c: c.get(1),
        lambda c: c.get(99),
        lambda c: 1 in c,
        lambda c: len(c),
        lambda c: c.__delitem__(1),
        lambda c: c.pop(1),
        lambda c: c.setdefault(1, 0),
        lambda c: c.setdefault(8, 0),
        lambda c: c.peek(1),
        lambda c: c.ttl_left(1),
        lambda c: c.currsize,
        lambda c: c.expire(),
        lambda c: c.popitem(),
    ],
)
def test_clock_read_once_per_operation(impl, kind, op):
    t = FakeTimer()
    c = timed(impl, kind, 10, 5, t)
    for i in range(5):
        c[i] = i
        t.advance(0.5)
    calls = t.calls
    op(c)
    assert t.calls - calls <= 1


def test_ttl_property(impl):
    c = classes(impl)["TTLCache"](10, 4.5, FakeTimer())
    assert c.ttl == 4.5


@pytest.mark.parametrize("ttl", [0, -1])
def test_ttlcache_positional_ttl_follows_cachetools(impl, ttl):
    t = FakeTimer()
    c = classes(impl)["TTLCache"](10, ttl, t)  # accepted, like cachetools
    c[1] = 1
    assert 1 not in c and len(c) == 0
