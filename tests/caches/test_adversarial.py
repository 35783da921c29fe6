"""Hostile user code: keys whose __hash__/__eq__ raise or mutate the cache, values whose __del__
touches the cache, and getsizeof/sizeof/on_evict/timer/choice that raise or re-enter.

Every case, for every class x impl: no crash, the original exception propagates (or, for
re-entrant mutation, the operation completes or raises RuntimeError), and afterwards
``cache._check()`` passes with len/currsize consistent."""

from __future__ import annotations

import gc

import pytest

from helpers import FakeTimer, classes, make


class State:
    armed = False
    action = None
    budget = 0


S = State()


@pytest.fixture(autouse=True)
def _reset():
    S.armed, S.action, S.budget = False, None, 0
    yield
    S.armed, S.action, S.budget = False, None, 0


def consistent(c, sizer=None):
    armed, S.armed = S.armed, False
    try:
        c._check()
        keys = list(c)
        assert len(keys) == len(c)
        assert len(set(map(id, keys))) == len(keys)
        sizes = [sizer(c.peek(k)) if sizer else 1 for k in keys]
        assert c.currsize == sum(sizes)
        assert c.currsize <= c.maxsize
        for k in keys:
            assert k in c
    finally:
        S.armed = armed


class Boom(Exception):
    pass


def run_action():
    if S.armed and S.budget > 0 and S.action is not None:
        S.budget -= 1
        S.action()


# --------------------------------------------------------------------------- keys


class BadHash:
    def __hash__(self):
        raise Boom("hash")


def key_ops(k):
    return {
        "setitem": lambda c: c.__setitem__(k, 1),
        "getitem": lambda c: c[k],
        "get": lambda c: c.get(k),
        "contains": lambda c: k in c,
        "delitem": lambda c: c.__delitem__(k),
        "pop": lambda c: c.pop(k),
        "pop_default": lambda c: c.pop(k, None),
        "setdefault": lambda c: c.setdefault(k, 1),
        "peek": lambda c: c.peek(k),
        "set": lambda c: c.set(k, 1),
        "update": lambda c: c.update([(k, 1)]),
        "ttl_left": lambda c: c.ttl_left(k),
    }


OPS = list(key_ops(None))


@pytest.mark.parametrize("op", OPS)
def test_hash_raises(cls, name, op):
    c = make(cls, 10)
    for i in range(5):
        c[i] = i
    before = list(c.items()), c._policy_order()
    with pytest.raises(Boom, match="hash"):
        key_ops(BadHash())[op](c)
    assert (list(c.items()), c._policy_order()) == before
    consistent(c)


class EqKey:
    """Hash collides with every other EqKey; __eq__ runs S.action / raises when armed."""

    def __init__(self, label, h=42):
        self.label = label
        self.h = h

    def __hash__(self):
        return self.h

    def __eq__(self, other):
        if S.armed and other is not self:
            if S.action == "raise":
                raise Boom("eq")
            run_action()
        return self is other

    def __repr__(self):
        return "EqKey(%r)" % (self.label,)


def colliding_cache(cls, n=4):
    c = make(cls, 100)
    keys = [EqKey(i) for i in range(n)]
    for k in keys:
        c[k] = k.label
    for i in range(n):
        c[i] = i  # some ordinary keys too
    return c, keys


@pytest.mark.parametrize("op", OPS)
def test_eq_raises(cls, name, op):
    c, keys = colliding_cache(cls)
    before = list(c.items()), c._policy_order()
    S.armed, S.action = True, "raise"
    with pytest.raises(Boom, match="eq"):
        key_ops(EqKey("new"))[op](c)
    S.armed = False
    assert (list(c.items()), c._policy_order()) == before
    consistent(c)


def mutations(c):
    return {
        "insert": lambda: c.__setitem__(("ins", S.budget), 1),
        "delete": lambda: c.pop(next((k for k in list(c) if isinstance(k, int)), None), None),
        "delete_colliding": lambda: c.pop(next((k for k in list(c) if isinstance(k, EqKey)), None), None),
        "clear": lambda: c.clear(),
    }


MUTATIONS = ["insert", "delete", "delete_colliding", "clear"]
MUT_OPS = ["setitem", "getitem", "get", "contains", "delitem", "pop_default", "setdefault", "peek"]


def run_tolerant(fn, c):
    try:
        fn(c)
    except (RuntimeError, KeyError):
        pass


@pytest.mark.parametrize("op", MUT_OPS)
@pytest.mark.parametrize("mutation", MUTATIONS)
def test_eq_mutates_cache(cls, name, op, mutation):
    c, keys = colliding_cache(cls)
    S.action = mutations(c)[mutation]
    S.budget = 3
    S.armed = True
    new = EqKey("new")
    run_tolerant(key_ops(new)[op], c)
    S.armed = False
    consistent(c)
    if op in ("setitem", "setdefault") and new in c:
        assert c.peek(new) == 1
    # the cache keeps working
    c["after"] = 1
    assert c["after"] == 1
    consistent(c)


class HashMut:
    def __hash__(self):
        run_action()
        return 7

    def __eq__(self, other):
        return self is other


@pytest.mark.parametrize("op", MUT_OPS)
@pytest.mark.parametrize("mutation", ["insert", "delete", "clear"])
def test_hash_mutates_cache(cls, name, op, mutation):
    c = make(cls, 6)
    for i in range(5):
        c[i] = i
    S.action = mutations(c)[mutation]
    S.budget = 5
    S.armed = True
    k = HashMut()
    run_tolerant(key_ops(k)[op], c)
    S.armed = False
    consistent(c)
    if op in ("setitem", "setdefault") and k in c:
        assert c.peek(k) == 1
    c[k] = 2
    assert c[k] == 2
    consistent(c)


# --------------------------------------------------------------------------- values with __del__


class DelVal:
    """Runs `action(cache)` once, from __del__."""

    ran = 0
    errors: list = []

    def __init__(self, cache, action):
        self.cache = cache
        self.action = action

    def __del__(self):
        DelVal.ran += 1
        cache, action = self.cache, self.action
        self.cache = self.action = None
        if cache is not None:
            try:
                action(cache)
            except RuntimeError:
                pass  # refusing re-entrant mutation is allowed
            except BaseException as exc:  # swallowed by Python: record it for the test
                DelVal.errors.append(exc)


DEL_ACTIONS = {
    "read": lambda c: (len(c), list(c), c.get(0), 0 in c, c.currsize, repr(c)),
    "write": lambda c: c.__setitem__(("w", len(c)), "plain"),
    "delete": lambda c: [c.pop(k, None) for k in list(c)[:1]],
    "clear": lambda c: c.clear(),
    "popitem": lambda c: c.popitem() if len(c) else None,
}


def _trig_evict(c, t):
    for i in range(40):  # enough that even random replacement hits a DelVal
        c[("newcomer", i)] = "plain"


def _trig_del(c, t):
    del c["v0"]


def _trig_pop(c, t):
    c.pop("v1")


def _trig_popitem(c, t):
    c.popitem()


def _trig_clear(c, t):
    c.clear()


def _trig_overwrite(c, t):
    c["v2"] = "plain"


def _trig_expire(c, t):
    t.advance(1000)
    c.expire()


def _trig_expire_lazy(c, t):
    t.advance(1000)
    len(c)
    c["x"] = 1
    list(c)
    c.expire()


def _trig_resize(c, t):
    c.resize(1)


TRIGGERS = {
    "evict": _trig_evict,
    "del": _trig_del,
    "pop": _trig_pop,
    "popitem": _trig_popitem,
    "clear": _trig_clear,
    "overwrite": _trig_overwrite,
    "expire": _trig_expire,
    "expire_lazy": _trig_expire_lazy,
    "resize": _trig_resize,
}


@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize("action", list(DEL_ACTIONS))
def test_value_del_touches_cache(cls, name, action, trigger):
    t = FakeTimer()
    c = make(cls, 4, timer=t)
    DelVal.ran = 0
    DelVal.errors = []
    for i in range(4):  # only DelVals, so that any victim (even a random one) runs __del__
        c.set("v%d" % i, DelVal(c, DEL_ACTIONS[action]), ttl=10)
    TRIGGERS[trigger](c, t)
    gc.collect()
    assert DelVal.ran >= 1
    consistent(c)
    c.clear()
    gc.collect()
    consistent(c)
    c["after"] = 1  # every DelVal is gone: nothing can evict it behind our back
    assert c["after"] == 1
    consistent(c)
    # the cache was consistent whenever __del__ ran: its operations worked there too
    assert DelVal.errors == []


# --------------------------------------------------------------------------- callbacks


def test_getsizeof_reenters(cls, name):
    c = make(cls, 20, getsizeof=lambda v: sizer(v))

    def sizer(v):
        if isinstance(v, str) and v.startswith("big") and S.armed:
            S.armed = False
            len(c), list(c), c.get(0)  # reads
            c.pop(0, None)  # a delete
            c["side"] = 1  # a write (its own size is 1)
        return len(v) if isinstance(v, str) else 1

    for i in range(5):
        c[i] = i
    S.armed = True
    run_tolerant(lambda c: c.__setitem__("k", "big" + "x" * 10), c)
    consistent(c, sizer)
    S.armed = True
    run_tolerant(lambda c: c.__setitem__("k", "big"), c)  # replace an existing entry
    consistent(c, sizer)
    if "k" in c:
        assert c.peek("k") == "big"


def test_getsizeof_clears_cache(cls, name):
    def sizer(v):
        if v == "clear" and S.armed:
            S.armed = False
            c.clear()
        return 1

    c = make(cls, 5, getsizeof=sizer)
    for i in range(5):
        c[i] = i
    S.armed = True
    run_tolerant(lambda c: c.__setitem__(0, "clear"), c)
    consistent(c, sizer)
    assert len(c) <= 1


def test_sizeof_reenters(cls, name):
    def sizeof(k, v):
        if v == "reenter" and S.armed:
            S.armed = False
            c["side"] = "s"
            c.pop(0, None)
        return 10

    c = make(cls, 100, maxmemory=5 * (64 + 10), sizeof=sizeof)
    for i in range(5):
        c[i] = i
    S.armed = True
    run_tolerant(lambda c: c.__setitem__("r", "reenter"), c)
    consistent(c)
    assert c.stats().memory_used == len(c) * 74 <= 5 * 74


def test_sizeof_raises(cls, name):
    c = make(cls, 100, maxmemory="1MB", sizeof=lambda k, v: 1 // 0 if v == "bad" else 1)
    c[1] = 1
    before = list(c.items())
    with pytest.raises(ZeroDivisionError):
        c[2] = "bad"
    assert list(c.items()) == before
    consistent(c)


ON_EVICT_ACTIONS = {
    "read": lambda c, k: (len(c), list(c), k in c, c.get(k)),
    "reinsert": lambda c, k: c.__setitem__(("again", k), 1),
    "delete": lambda c, k: [c.pop(x, None) for x in list(c)[:1]],
    "clear": lambda c, k: c.clear(),
    "raise": lambda c, k: 1 // 0,
}


@pytest.mark.parametrize("action", list(ON_EVICT_ACTIONS))
def test_on_evict_reenters(cls, name, action):
    calls = []

    def on_evict(k, v, cause):
        calls.append(k)
        if len(calls) <= 3:  # re-entrant inserts cause more evictions: bound the chain
            ON_EVICT_ACTIONS[action](c, k)

    c = make(cls, 3, on_evict=on_evict)
    for i in range(3):
        c[i] = i
    try:
        c[10] = 10
    except ZeroDivisionError:
        assert action == "raise"
    consistent(c)
    assert calls
    c.resize(1) if action != "raise" else run_raise(c.resize, 1)
    consistent(c)
    assert len(c) <= 1


def run_raise(fn, *args):
    try:
        fn(*args)
    except ZeroDivisionError:
        pass


def timed_make(cls, name, maxsize, timer, ttl):
    """Every entry expires `ttl` after it was set, whatever the class."""
    if name == "TLRUCache":
        return make(cls, maxsize, timer=timer, ttu=lambda k, v, now: now + ttl)
    return make(cls, maxsize, timer=timer, ttl=ttl)


class RaisingTimer:
    def __init__(self):
        self.time = 0.0
        self.fail = False

    def __call__(self):
        if self.fail:
            raise Boom("timer")
        return self.time


TIMER_OPS = ["setitem", "getitem", "get", "contains", "delitem", "pop", "setdefault", "set"]


@pytest.mark.parametrize("op", TIMER_OPS + ["len", "iter", "expire", "popitem"])
def test_timer_raises(cls, name, op):
    t = RaisingTimer()
    c = timed_make(cls, name, 5, t, 100)
    for i in range(4):
        c[i] = i
    before = list(c.items()), c._policy_order()
    t.fail = True
    fn = {
        "len": lambda c: len(c),
        "iter": lambda c: list(c),
        "expire": lambda c: c.expire(),
        "popitem": lambda c: c.popitem(),
    }.get(op) or key_ops(1)[op]
    with pytest.raises(Boom, match="timer"):
        fn(c)
    t.fail = False
    assert (list(c.items()), c._policy_order()) == before
    consistent(c)


@pytest.mark.parametrize("what", ["read", "write", "clear"])
def test_timer_reenters(cls, name, what):
    t = FakeTimer()
    inside = []

    def timer():
        if not inside:
            inside.append(1)
            try:
                if what == "read":
                    len(c), list(c), c.get(1)
                elif what == "write" and S.budget > 0:
                    S.budget -= 1
                    c[("t", S.budget)] = 1
                elif what == "clear" and S.budget > 0:
                    S.budget -= 1
                    c.clear()
            except RuntimeError:
                pass
            finally:
                inside.pop()
        return t()

    c = timed_make(cls, name, 5, timer, 100)
    S.budget = 3
    for i in range(4):
        run_tolerant(lambda c: c.__setitem__(i, i), c)
    for op in TIMER_OPS:
        run_tolerant(key_ops(2)[op], c)
        consistent(c)
    t.advance(1000)
    run_tolerant(lambda c: c.expire(), c)
    consistent(c)
    assert len(c) == 0 or all(k not in range(4) for k in c)


@pytest.mark.parametrize("what", ["delete", "clear", "insert"])
def test_rr_choice_reenters(impl, what):
    def choice(seq):
        seq = list(seq)
        if S.budget > 0:
            S.budget -= 1
            if what == "delete":
                c.pop(seq[0], None)
            elif what == "clear":
                c.clear()
            else:
                c[("c", S.budget)] = 1
        return seq[-1]

    c = classes(impl)["RRCache"](3, choice=choice)
    for i in range(3):
        c[i] = i
    S.budget = 2
    run_tolerant(lambda c: c.__setitem__(10, 10), c)
    consistent(c)
    assert len(c) <= 3
    run_tolerant(lambda c: c.popitem(), c)
    consistent(c)


def test_missing_reenters(cls, name):
    class Sub(cls):
        def __missing__(self, key):
            self.clear()
            self[key] = "m"
            return "m"

    c = make(Sub, 3, name=name)
    c[1] = 1
    assert c[2] == "m" and list(c) == [2]
    consistent(c)
