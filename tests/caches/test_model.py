"""Model-based tests: the C-backed class and the pure twin run side by side, op for op.

One Hypothesis RuleBasedStateMachine per policy. After every step both caches must agree on
results, len, currsize, iteration order and policy order (restricted to live keys: expired
entries may be reclaimed at different moments), and both must pass ``_check()``. Every machine
runs with a fake clock and per-entry ttls, so expiry is exercised under every policy. RRCache
victims come from different PRNGs, so for RR only sizes and bounds are compared.
"""

from __future__ import annotations

import copy
import math
import pickle

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from helpers import FakeTimer, classes, module

SUBJECT = "core"  # the implementation under test; the oracle is always "pure"
ORACLE = "pure"

keys = st.integers(0, 9)
values = st.integers(0, 100)
ttls = st.sampled_from([None, 0.5, 1, 2, 3, 7, math.inf])
steps = st.sampled_from([0.25, 0.5, 1, 2, 5])

# ~5000 steps per machine, 7 machines: a few seconds each on a 2-core box
MODEL_SETTINGS = settings(max_examples=100, stateful_step_count=50, deadline=None)


def outcome(fn):
    try:
        return ("ok", fn())
    except (KeyError, ValueError, TypeError) as exc:
        return ("err", type(exc).__name__)


def value_sizeof(key, value):
    return value


def value_getsizeof(value):
    return value % 4


class CacheModel(RuleBasedStateMachine):
    """Subclasses set `build(impl, timer)` and `exact` (False for RR)."""

    exact = True

    def build(self, impl, timer):  # pragma: no cover - abstract
        raise NotImplementedError

    @initialize()
    def setup(self):
        self.a = self.build(SUBJECT, FakeTimer())
        self.b = self.build(ORACLE, FakeTimer())

    # -- helpers

    def both(self, fn, compare=True):
        ra, rb = outcome(lambda: fn(self.a)), outcome(lambda: fn(self.b))
        if compare and self.exact:
            assert ra == rb, (ra, rb)
        else:
            assert ra[0] == rb[0] or not self.exact or ra[0] == "err" or rb[0] == "err"
        return ra, rb

    # -- rules

    @rule(k=keys, v=values)
    def setitem(self, k, v):
        self.both(lambda c: c.__setitem__(k, v))

    @rule(k=keys, v=values, ttl=ttls)
    def set_ttl(self, k, v, ttl):
        self.both(lambda c: c.set(k, v, ttl=ttl))

    @rule(k=keys)
    def getitem(self, k):
        self.both(lambda c: c[k])

    @rule(k=keys)
    def get(self, k):
        self.both(lambda c: c.get(k, "dflt"))

    @rule(k=keys)
    def peek(self, k):
        self.both(lambda c: c.peek(k))

    @rule(k=keys)
    def contains(self, k):
        self.both(lambda c: k in c)

    @rule(k=keys)
    def delitem(self, k):
        self.both(lambda c: c.__delitem__(k))

    @rule(k=keys, default=st.booleans())
    def pop(self, k, default):
        if default:
            self.both(lambda c: c.pop(k, "dflt"))
        else:
            self.both(lambda c: c.pop(k))

    @rule()
    def popitem(self):
        self.both(lambda c: c.popitem())

    @rule(k=keys, v=values)
    def setdefault(self, k, v):
        self.both(lambda c: c.setdefault(k, v))

    @rule(v=values, data=st.data())
    def update_existing(self, v, data):
        live = [k for k in self.b]
        if not live:
            return
        k = data.draw(st.sampled_from(live))
        if self.exact:
            self.both(lambda c: c.update({k: v}))
        else:
            self.both(lambda c: c.update({k: v}) if k in c else None, compare=False)

    @rule(k=keys)
    def ttl_left(self, k):
        self.both(lambda c: c.ttl_left(k))

    @rule()
    def clear(self):
        self.both(lambda c: c.clear())

    @rule(dt=steps)
    def advance(self, dt):
        self.a.timer.advance(dt)  # forwarded to each cache's own FakeTimer
        self.b.timer.advance(dt)

    @rule()
    def expire(self):
        ra, rb = self.both(lambda c: c.expire(), compare=False)
        for (tag, pairs), c in ((ra, self.a), (rb, self.b)):
            assert tag == "ok"
            assert all(k not in c for k, _ in pairs)

    @rule(maxsize=st.integers(0, 8))
    def resize(self, maxsize):
        self.both(lambda c: c.resize(maxsize))

    @rule(how=st.sampled_from(["copy", "deepcopy", "pickle"]))
    def copy_and_continue(self, how):
        if how == "copy":
            fn = copy.copy
        elif how == "deepcopy":
            fn = copy.deepcopy
        else:
            def fn(c):
                return pickle.loads(pickle.dumps(c))
        old_a, old_b = self.a, self.b
        self.a, self.b = fn(self.a), fn(self.b)
        assert list(self.a) == list(old_a) and list(self.b) == list(old_b)

    # -- invariants

    @invariant()
    def agree(self):
        a, b = self.a, self.b
        a._check()
        b._check()
        assert a.maxsize == b.maxsize
        assert a.currsize <= a.maxsize and b.currsize <= b.maxsize
        assert len(a) == len(set(a)) and len(b) == len(set(b))
        if self.exact:  # RR: different victims, so a later pop/del can leave different sizes
            assert len(a) == len(b)
            assert a.currsize == b.currsize
        sa, sb = a.stats(), b.stats()
        assert (sa.memory_used is None) == (sb.memory_used is None)
        if sa.memory_used is not None:
            assert sa.memory_used <= a.maxmemory
        if not self.exact:
            return
        assert sa.memory_used == sb.memory_used
        assert list(a) == list(b)
        assert [k for k in a._policy_order() if k in a] == [k for k in b._policy_order() if k in b]
        assert (sa.hits, sa.misses) == (sb.hits, sb.misses)
        assert (sa.evictions_size, sa.evictions_memory) == (sb.evictions_size, sb.evictions_memory)


def _machine(name, build, exact=True):
    cls = type(name, (CacheModel,), {"build": build, "exact": exact})
    test = cls.TestCase
    test.settings = MODEL_SETTINGS
    return cls, test


LRUModel, TestLRU = _machine("LRUModel", lambda self, impl, t: classes(impl)["LRUCache"](5, timer=t))
LFUModel, TestLFU = _machine("LFUModel", lambda self, impl, t: classes(impl)["LFUCache"](5, timer=t))
FIFOModel, TestFIFO = _machine("FIFOModel", lambda self, impl, t: classes(impl)["FIFOCache"](5, timer=t))
InsertionModel, TestInsertion = _machine(
    "InsertionModel", lambda self, impl, t: classes(impl)["Cache"](6, value_getsizeof, timer=t)
)
TTLModel, TestTTL = _machine("TTLModel", lambda self, impl, t: classes(impl)["TTLCache"](5, 3, t))
MemoryModel, TestMemory = _machine(
    "MemoryModel",
    lambda self, impl, t: classes(impl)["LRUCache"](50, maxmemory=500, sizeof=value_sizeof, timer=t),
)
RRModel, TestRR = _machine(
    "RRModel", lambda self, impl, t: classes(impl)["RRCache"](5, seed=11, timer=t), exact=False
)

# The sizing advisor (sizing=R) only watches: the subject runs with it on (rate 1: every lookup
# goes through the sampler and all its miniature caches), the oracle with it off, and they must
# still agree op for op; the subject's report must stay readable after any sequence.


def _sized(name):
    def build(self, impl, t):
        kw = {"sizing": 1.0} if impl == SUBJECT else {}
        if name == "TTLCache":
            return classes(impl)["TTLCache"](5, 3, t, **kw)
        cls = getattr(module(impl), name)
        return cls(5, timer=t, **kw)
    return build


class _SizedModel(CacheModel):
    @invariant()
    def report_reads(self):
        first = self.__dict__.setdefault("first", self.a)   # the invariants run first after setup
        if self.a is not first:     # copy_and_continue: copies start without the advisor
            with pytest.raises(ValueError, match="sizing is off"):
                self.a.sizing()
            return
        rep = self.a.sizing()
        assert rep.sizes == [1, 2, 5, 10, 20, 40]  # default_sizes(5), kept across resize()
        assert all(0.0 <= r <= 1.0 for v in rep.hit_ratio.values() for r in v)


def _sized_machine(name, cls_name):
    cls = type(name, (_SizedModel,), {"build": _sized(cls_name)})
    test = cls.TestCase
    test.settings = MODEL_SETTINGS
    return cls, test


SizedLRUModel, TestSizedLRU = _sized_machine("SizedLRUModel", "LRUCache")
SizedTTLModel, TestSizedTTL = _sized_machine("SizedTTLModel", "TTLCache")
SizedS3FIFOModel, TestSizedS3FIFO = _sized_machine("SizedS3FIFOModel", "S3FIFOCache")
