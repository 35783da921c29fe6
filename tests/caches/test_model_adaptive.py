"""Model-based tests of the adaptive policies: S3FIFOCache and TinyLFUCache, C-backed class and
pure twin side by side, op for op (the machinery of test_model.CacheModel: every mapping
operation, ttls on a fake clock, resize, copy/deepcopy/pickle, then _check() on both after
every step).

On top of CacheModel's invariants, these machines compare what only the adaptive policies keep:
the queue weights, lengths and bounds, the ghost's length, the sketch's capacity and the
window/protected split (``_policy_info()``), and the sketch's estimate / the ghost's answer for
every key (``_policy_frequency``). Keys range over three times the capacity, so the ghost and the
sketch decide real admissions; one machine per weighting (counts, getsizeof sizes, maxmemory
byte charges) and one with a subclass that overrides ``__delitem__`` (cachetools' call graph:
popitem and evictions go through it, and must still count as evictions for the policy).
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from helpers import classes
from test_model import MODEL_SETTINGS, CacheModel, value_getsizeof, value_sizeof

wide_keys = st.integers(0, 17)


class AdaptiveModel(CacheModel):
    """CacheModel plus the adaptive policies' own state, with more keys than room."""

    @rule(k=wide_keys, v=st.integers(0, 100))
    def setitem_wide(self, k, v):
        self.both(lambda c: c.__setitem__(k, v))

    @rule(k=wide_keys)
    def get_wide(self, k):
        self.both(lambda c: c.get(k, "dflt"))

    @rule(k=wide_keys, v=st.integers(0, 100))
    def setdefault_wide(self, k, v):
        self.both(lambda c: c.setdefault(k, v))

    @invariant()
    def policy_state_agrees(self):
        a, b = self.a, self.b
        assert a._policy_info() == b._policy_info(), (a._policy_info(), b._policy_info())
        assert a._policy_order() == b._policy_order()
        for k in range(18):
            assert a._policy_frequency(k) == b._policy_frequency(k), k


def _machine(name, build):
    cls = type(name, (AdaptiveModel,), {"build": build})
    test = cls.TestCase
    test.settings = MODEL_SETTINGS
    return cls, test


def _hooked_class(impl, base_name):
    """A subclass overriding __delitem__ (every removal but expiry and clear goes through it),
    defined at module level under its own name so that it pickles."""
    name = "Hooked%s_%s" % (base_name, impl)

    def __delitem__(self, key):
        self.deleted = getattr(self, "deleted", 0) + 1
        super(cls, self).__delitem__(key)

    cls = type(name, (classes(impl)[base_name],), {"__delitem__": __delitem__, "__module__": __name__})
    globals()[name] = cls
    return cls


HOOKED = {(impl, base): _hooked_class(impl, base)
          for impl in ("core", "pure") for base in ("S3FIFOCache", "TinyLFUCache")}


def _hooked(impl, base_name):
    return HOOKED[impl, base_name]


S3FIFOModel, TestS3FIFO = _machine(
    "S3FIFOModel", lambda self, impl, t: classes(impl)["S3FIFOCache"](6, timer=t))
S3FIFOSizedModel, TestS3FIFOSized = _machine(
    "S3FIFOSizedModel", lambda self, impl, t: classes(impl)["S3FIFOCache"](9, value_getsizeof, timer=t))
S3FIFOMemoryModel, TestS3FIFOMemory = _machine(
    "S3FIFOMemoryModel",
    lambda self, impl, t: classes(impl)["S3FIFOCache"](float("inf"), maxmemory=600,
                                                       sizeof=value_sizeof, timer=t))
S3FIFOHookedModel, TestS3FIFOHooked = _machine(
    "S3FIFOHookedModel", lambda self, impl, t: _hooked(impl, "S3FIFOCache")(6, timer=t))

TinyLFUModel, TestTinyLFU = _machine(
    "TinyLFUModel", lambda self, impl, t: classes(impl)["TinyLFUCache"](6, timer=t, seed=3))
TinyLFUSizedModel, TestTinyLFUSized = _machine(
    "TinyLFUSizedModel",
    lambda self, impl, t: classes(impl)["TinyLFUCache"](9, value_getsizeof, timer=t, seed=5))
TinyLFUMemoryModel, TestTinyLFUMemory = _machine(
    "TinyLFUMemoryModel",
    lambda self, impl, t: classes(impl)["TinyLFUCache"](float("inf"), maxmemory=600,
                                                        sizeof=value_sizeof, timer=t, seed=7))
TinyLFUHookedModel, TestTinyLFUHooked = _machine(
    "TinyLFUHookedModel", lambda self, impl, t: _hooked(impl, "TinyLFUCache")(6, timer=t, seed=9))
