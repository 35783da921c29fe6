"""Tests for hotcache.cached / cachedmethod (sync): cachetools semantics, single-flight,
ttl=/unless=/invalidate, the short form, per-instance method caches, refresh-ahead.

Every test that builds a CachedCall-based wrapper runs against both hit-path implementations
(the native ``hotcache._native.core.CachedCall`` when the extension has it, and the Python twin
``hotcache._spec.call.CachedCall``), and the cache-agnostic ones against both cache
implementations (C-backed and pure). No timing asserts: events, barriers and fake clocks.
"""
from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import sys
import threading
import types
import weakref

import pytest

import hotcache
from helpers import AsyncInterrupt, FakeTimer, classes, interrupt_point, raise_at
from hotcache import _flight, cached, cachedmethod, keys
from hotcache.memo import decorators
from hotcache.memo import load as load_mod
from hotcache.memo.load import _Loader
from hotcache._spec.call import CachedCall as TwinCall

try:
    from hotcache._native import core as _core
except ImportError:  # pragma: no cover - pure fallback
    _core = None

NATIVE = getattr(_core, "CachedCall", None)
NATIVE_MISS = getattr(_core, "FlightMiss", None)
# twin: the twin CachedCall and the Python miss (miss_path's closure), the specification;
# native: what ships, the native CachedCall and (plain wrappers) the native FlightMiss;
# native-pymiss: the native CachedCall and the Python miss (what ttl=/unless= wrappers run)
CALL_IMPLS = ["twin"] + (["native", "native-pymiss"] if NATIVE is not None else [])
HANG = 10.0  # seconds: hang guard only


@pytest.fixture(params=CALL_IMPLS)
def call_impl(request, monkeypatch):
    """Run the test with wrappers built on the native CachedCall or on the twin, and with the
    native or the Python single-flight miss."""
    base = TwinCall if request.param == "twin" else NATIVE
    monkeypatch.setattr(decorators, "_CallBase", base)
    if request.param != "native":
        monkeypatch.setattr(load_mod, "_FlightMiss", None)
    return base


def _native_miss(f):
    """Whether the wrapper f misses through the native FlightMiss."""
    return NATIVE_MISS is not None and type(f._w_counts) is NATIVE_MISS


class CountedLock:
    def __init__(self):
        self.count = 0

    def __enter__(self):
        self.count += 1

    def __exit__(self, *exc):
        pass


class CountedCondition(CountedLock):
    def __init__(self):
        super().__init__()
        self.wait_count = 0
        self.notify_count = 0

    def wait(self, timeout=None):
        self.wait_count += 1
        return True

    def notify_all(self):
        self.notify_count += 1


def _await_waiters(flight, key, n):
    """Block until ``n`` threads wait on ``flight``'s call for ``key`` (hang guard only)."""
    for _ in range(int(HANG * 1000)):
        call = flight._calls.get(key)
        if call is not None and call.done is not None and len(call.done._cond._waiters) >= n:
            return
        threading.Event().wait(0.001)
    raise AssertionError("waiters never arrived")


def _run_threads(n, target):
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert not any(t.is_alive() for t in threads), "a thread hung"


# -- module-level wrappers for pickling (pickled by qualified name) -----------------------------

@cached(hotcache.LRUCache(4))
def pickled_plain(x):
    return x


@cached(hotcache.LRUCache(4), lock=threading.Lock())
def pickled_locked(x):
    return x


def pickled_twin(x):
    return x


pickled_twin = decorators._call_classes(TwinCall)["plain"](
    pickled_twin, hotcache.LRUCache(4), keys.hashkey, decorators._Loader())


class Holder:
    @cached(hotcache.LRUCache(4), key=keys.methodkey)
    def method(self, x):
        return x * 2


# -- the hit path ---------------------------------------------------------------------------------

def test_native_cachedcall_is_used_when_the_extension_has_it():
    if _core is None:
        pytest.skip("pure fallback: no extension")
    assert NATIVE is not None, "hotcache._native.core loads but has no CachedCall"
    importlib_default = decorators._NativeCall
    assert importlib_default is NATIVE


def test_sync_wrapper_is_a_cachedcall_without_python_call(call_impl):
    w = cached(hotcache.LRUCache(4))(lambda x: x)
    assert isinstance(w, call_impl)
    # the hit path is the base's __call__: subclasses add attributes, never __call__
    assert type(w).__call__ is call_impl.__call__
    lw = hotcache.lru_cache(4)(lambda x: x)
    assert isinstance(lw, call_impl) and type(lw).__call__ is call_impl.__call__


@pytest.mark.skipif(NATIVE is None, reason="needs the native CachedCall")
def test_native_hit_runs_no_python_frame(monkeypatch):
    monkeypatch.setattr(decorators, "_CallBase", NATIVE)
    for w in (cached(hotcache.LRUCache(4))(lambda x, y: x + y),
              cached(maxsize=4)(lambda x, y: x + y),
              hotcache.lru_cache(4)(lambda x, y: x + y)):
        assert w(1, 2) == 3  # miss: stored
        events = []
        sys.setprofile(lambda frame, event, arg: events.append((event, frame.f_code.co_name)))
        try:
            w(1, 2)
        finally:
            sys.setprofile(None)
        # a hit on the native wrapper runs no Python frame (only the C call that ends profiling)
        assert not [e for e in events if e[0] == "call"], events


# -- cached: basics and cachetools attributes ----------------------------------------------------

def test_basic_results_and_counters(call_impl, impl):
    cache = classes(impl)["LRUCache"](8)
    calls = []

    @cached(cache)
    def f(x, y=0):
        calls.append((x, y))
        return x + y

    assert f(1) == 1 and f(1) == 1 and f(1.0) == 1  # hashkey: 1 == 1.0
    assert f(1, y=2) == 3 and f(y=2, x=1) == 3  # keyword order does not matter (cachetools)
    assert calls == [(1, 0), (1, 2), (1, 2)]  # f(1, y=2) and f(x=1, y=2) are different keys
    stats = f.cache_stats()
    assert (stats["hits"], stats["misses"], stats["loads"], stats["load_errors"]) == (2, 3, 3, 0)
    assert stats["in_flight"] == 0 and stats["load_seconds"] >= 0.0
    assert keys.hashkey(1) in cache and keys.hashkey(1, y=2) in cache


def test_none_results_are_cached(call_impl):
    calls = []

    @cached(hotcache.LRUCache(4))
    def f(x):
        calls.append(x)
        return None

    assert f(1) is None and f(1) is None
    assert calls == [1]
    assert f.cache_stats()["hits"] == 1


def test_default_key_is_hashkey_and_attributes(call_impl):
    cache = hotcache.LRUCache(2)
    w = cached(cache)(len)
    assert w.cache is cache
    assert w.cache_key is keys.hashkey
    assert w.cache_lock is None and w.cache_condition is None
    assert w.__wrapped__ is len
    assert not hasattr(w, "cache_info")
    assert repr(w) == "<cached %r>" % (len,)
    wi = cached(cache, info=True)(len)
    assert wi.cache_info() == (0, 0, 2, 0)


def test_cache_none_is_a_type_error():
    with pytest.raises(TypeError, match="None"):
        cached(None)
    with pytest.raises(TypeError, match="None"):
        cached(None, info=True)


def test_plain_wrapper_misses_natively_and_keys_stay_hashkeys(call_impl, impl):
    """A plain wrapper's miss is the native FlightMiss (when that is the configuration); the
    keys it stores are what cachetools' hashkey gives, found by hashkey(...) and by equal
    tuples (the hit path's inline tuple hash is hash())."""
    calls = []

    @cached(classes(impl)["LRUCache"](8))
    def f(*args, **kwargs):
        calls.append(args)
        return len(calls)

    if call_impl is NATIVE and load_mod._FlightMiss is not None:
        assert _native_miss(f)
    for args in [(1,), (2 ** 62 + 7,), ("a", 1.5), (), ((1, 2), None), (-1,)]:
        first = f(*args)
        assert f(*args) == first
        assert keys.hashkey(*args) in f.cache and f.cache[tuple(args)] == first
        assert keys.hashkey(*args) in list(f.cache)
    assert f(1.0) == f(1) and f(True) == f(1)        # hashkey(1) == hashkey(1.0) == hashkey(True)
    assert f(1, a=2) == f(1, a=2) and keys.hashkey(1, a=2) in f.cache
    s = f.cache_stats()
    assert (s["misses"], s["loads"], s["in_flight"]) == (7, 7, 0)
    if _core is not None:
        assert _core.TUPLE_HASH == "inline"


def test_native_miss_store_calls_a_subclass_setitem(call_impl):
    """The miss stores through cache[key] = value when a subclass overrides __setitem__ (the
    native store shortcut is for Core's own __setitem__ only), and re-checks through peek."""
    seen = []

    class Logged(hotcache.LRUCache):
        def __setitem__(self, key, value):
            seen.append(key)
            super().__setitem__(key, value)

    @cached(Logged(4))
    def f(x):
        return x * 3

    assert f(2) == 6 and f(2) == 6 and f(3) == 9
    assert seen == [(2,), (3,)]


def test_native_miss_on_a_ttl_cache_reloads_expired_entries(call_impl):
    timer = FakeTimer()

    @cached(hotcache.TTLCache(4, ttl=10, timer=timer))
    def f(x):
        return object()

    a = f(1)
    assert f(1) is a
    timer.advance(10)
    b = f(1)
    assert b is not a and f(1) is b
    assert f.cache_stats()["loads"] == 2


def test_any_mapping_and_value_too_large(call_impl, impl):
    d = {}
    w = cached(d)(lambda x: -x)
    assert w(3) == -3 and d == {(3,): -3}
    # a cache that refuses a value (too large) still returns it, uncached
    cache = classes(impl)["LRUCache"](2, getsizeof=lambda v: v)
    calls = []

    @cached(cache)
    def g(x):
        calls.append(x)
        return x

    assert g(5) == 5 and g(5) == 5
    assert calls == [5, 5] and len(cache) == 0
    assert g(1) == 1 and g(1) == 1 and calls == [5, 5, 1]


def test_pickle_copy_and_class_attribute():
    assert pickle.loads(pickle.dumps(pickled_plain)) is pickled_plain
    assert pickle.loads(pickle.dumps(pickled_locked)) is pickled_locked
    assert pickle.loads(pickle.dumps(pickled_twin)) is pickled_twin
    assert copy.copy(pickled_plain) is pickled_plain
    assert copy.deepcopy(pickled_plain) is pickled_plain
    assert pickle.loads(pickle.dumps(Holder.method)) is Holder.method
    h = Holder()
    assert h.method(2) == 4 and Holder.method(h, 2) == 4
    assert h.method.cache_stats()["hits"] == 1


def test_weakref_and_update_wrapper(call_impl):
    def f(x):
        """doc"""
        return x

    f.extra = "kept"
    w = cached(hotcache.LRUCache(2))(f)
    assert weakref.ref(w)() is w
    assert (w.__name__, w.__qualname__, w.__doc__, w.extra) == (f.__name__, f.__qualname__, "doc", "kept")


def test_stacked_wrappers_keep_their_own_state(call_impl):
    inner = cached(hotcache.LRUCache(2), info=True)(lambda n: n)
    outer = cached(hotcache.LRUCache(3), info=True)(inner)
    assert outer(1) == 1 and outer(1) == 1
    assert outer.__wrapped__ is inner
    assert outer.cache_info() == (1, 1, 3, 1) and inner.cache_info() == (0, 1, 2, 1)
    plain_outer = cached(hotcache.LRUCache(3))(inner)
    assert not hasattr(plain_outer, "cache_info")


def test_unhashable_argument_names_the_function(call_impl, impl):
    def lookup_user(x):
        return x

    class Obj:
        @cachedmethod(lambda self: {})
        def lookup_user(self, x):
            return x

    for w in (cached(classes(impl)["LRUCache"](2))(lookup_user),
              cached({})(lookup_user),
              cached(hotcache.LRUCache(2), lock=threading.Lock())(lookup_user),
              Obj().lookup_user,
              cachedmethod(maxsize=2)(lookup_user).__get__(Obj())):
        with pytest.raises(TypeError, match=r"lookup_user: unhashable argument: .*unhashable type: 'list'"):
            w([1])
        with pytest.raises(TypeError, match="lookup_user: unhashable argument"):
            w.invalidate([1])


def test_key_function_errors_propagate(call_impl):
    def key(*args):
        raise LookupError("bad key")

    w = cached(hotcache.LRUCache(2), key=key)(lambda x: x)
    with pytest.raises(LookupError):
        w(1)


# -- cachetools' lock / condition protocols ------------------------------------------------------

def test_lock_protocol_counts():
    lock = CountedLock()
    w = cached(hotcache.LRUCache(2), lock=lock)(lambda x: x)
    assert w(0) == 0 and lock.count == 2  # miss: lookup + setdefault
    assert w(0) == 0 and lock.count == 3  # hit: lookup
    w.cache_clear()
    assert lock.count == 4
    assert w.invalidate(0) is False and lock.count == 5


def test_condition_protocol_counts_and_error_cleanup():
    cond = CountedCondition()
    w = cached(hotcache.LRUCache(2), condition=cond, info=True)(lambda x: x)
    assert w(0) == 0 and (cond.count, cond.wait_count, cond.notify_count) == (3, 0, 1)
    assert w(0) == 0 and cond.count == 4
    assert w.cache_info() == (1, 1, 2, 1) and cond.count == 5

    def boom(x):
        raise ValueError(x)

    cond2 = CountedCondition()
    e = cached(hotcache.LRUCache(2), condition=cond2)(boom)
    for n in (2, 4):
        with pytest.raises(ValueError):
            e(0)
        assert cond2.count == n and cond2.notify_count == n // 2
    assert e.cache_stats()["load_errors"] == 2


def test_lock_protocol_first_stored_value_wins():
    cache = hotcache.LRUCache(4)
    lock = threading.Lock()
    n = 8
    barrier = threading.Barrier(n)

    @cached(cache, lock=lock)
    def f():
        value = object()
        barrier.wait(HANG)  # all n threads run the function: no single-flight with lock=
        return value

    results = [None] * n
    _run_threads(n, lambda i: results.__setitem__(i, f()))
    assert len(cache) == 1
    stored = next(iter(cache.values()))
    assert all(r is stored for r in results)
    assert f.cache_stats()["loads"] == n


def test_lock_with_ttl_and_unless():
    cache = hotcache.LRUCache(4, timer=FakeTimer())
    w = cached(cache, lock=threading.Lock(), ttl=5, unless=lambda r: r < 0)(lambda x: x)
    assert w(3) == 3 and cache.ttl_left((3,)) == 5
    assert w(-1) == -1 and (-1,) not in cache


# -- single-flight --------------------------------------------------------------------------------

@pytest.mark.parametrize("run", range(3))
def test_single_flight_16_threads_exactly_once(call_impl, impl, run):
    n = 16
    calls = []
    barrier = threading.Barrier(n)

    @cached(classes(impl)["LRUCache"](8))
    def f(x):
        calls.append(x)
        _await_waiters(f._w_loader.flight, (x,), n - 1)
        return object()

    results = [None] * n

    def worker(i):
        barrier.wait(HANG)
        results[i] = f(7)

    _run_threads(n, worker)
    assert calls == [7]
    assert all(r is results[0] for r in results)
    s = f.cache_stats()
    assert (s["misses"], s["loads"], s["hits"], s["in_flight"]) == (n, 1, 0, 0)
    assert f(7) is results[0]


@pytest.mark.parametrize("run", range(3))
def test_single_flight_exactly_once_with_racing_callers(call_impl, run):
    """No waiter synchronisation at all: callers that miss just after a flight ended find the
    stored value through the leader's re-check, so the count is exact in every run."""
    n = 16
    calls = []
    barrier = threading.Barrier(n)

    @cached(hotcache.LRUCache(64))
    def f(x):
        calls.append(x)
        return x * 10

    def worker(i):
        barrier.wait(HANG)
        for k in range(32):
            assert f(k) == k * 10

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _run_threads(n, worker)
    finally:
        sys.setswitchinterval(old)
    assert sorted(calls) == list(range(32))


# the cached wrapper's miss (SingleFlight.do with the leader inlined, a closure of miss_path)
_MISS_CODE = next(c for c in _Loader.miss_path.__code__.co_consts
                  if isinstance(c, types.CodeType) and c.co_name == "miss")


def _in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(HANG)
    assert not t.is_alive(), "a later caller hung"
    return out[0]


def test_interrupt_right_after_registration_does_not_leak_the_flight(call_impl):
    """A KeyboardInterrupt (here: AsyncInterrupt) landing just after the miss registered its
    flight, before the leader's ``try`` used to begin: the flight is unregistered, so a later
    caller of the key on another thread loads it instead of waiting forever."""

    @cached(hotcache.LRUCache(8))
    def f(x):
        return x * 2

    # the native miss runs no Python line between registering and its try: the first place an
    # asynchronous exception can land after the registration is the function itself
    code = f.__wrapped__.__code__ if _native_miss(f) else _MISS_CODE
    where = None if _native_miss(f) else interrupt_point(_MISS_CODE, "registered")
    with raise_at(code, where) as inject:
        with pytest.raises(AsyncInterrupt):
            f(1)
    assert inject.fired
    assert f._w_loader.flight.in_flight() == 0
    assert f.cache_stats()["load_errors"] == (1 if _native_miss(f) else 0)
    assert _in_thread(lambda: f(1)) == 2


@pytest.mark.parametrize("outcome", ["value", "error"])
def test_interrupt_entering_finish_still_wakes_waiters(call_impl, outcome):
    """The leader is interrupted on entering ``_finish`` (what a real SIGINT hits at random):
    the waiter still gets the leader's outcome and later callers do not hang. The native miss
    ends a flight in C; the Python code it runs there is the waiters' ``Event.set``: the
    interrupt lands on entering that instead."""
    entered = threading.Semaphore(0)  # not an Event: Event.set is where the native miss is hit
    calls = []

    @cached(hotcache.LRUCache(8))
    def f(x):
        calls.append(x)
        if len(calls) == 1:
            entered.release()
            _await_waiters(f._w_loader.flight, (x,), 1)
            if outcome == "error":
                raise ValueError("load failed")  # nothing stored: later callers load again
        return "value"

    got = []

    def waiter():
        assert entered.acquire(timeout=HANG)
        try:
            got.append(f(1))
        except ValueError as exc:
            got.append(repr(exc))

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    code = threading.Event.set.__code__ if _native_miss(f) else _flight._finish.__code__
    try:
        with raise_at(code) as inject:
            with pytest.raises(AsyncInterrupt):
                f(1)
    finally:
        entered.release()
        t.join(HANG)
    assert inject.fired
    assert not t.is_alive(), "the waiter was never woken"
    assert got == (["value"] if outcome == "value" else ["ValueError('load failed')"])
    assert f._w_loader.flight.in_flight() == 0
    assert _in_thread(lambda: f(1)) == "value"
    assert len(calls) == (1 if outcome == "value" else 2)


def test_exception_reaches_every_waiter_and_is_not_cached(call_impl):
    n = 8
    boom = RuntimeError("boom")
    calls = []
    barrier = threading.Barrier(n)

    @cached(hotcache.LRUCache(4))
    def f(x):
        calls.append(x)
        if len(calls) == 1:
            _await_waiters(f._w_loader.flight, (x,), n - 1)
        raise boom

    errors = [None] * n

    def worker(i):
        barrier.wait(HANG)
        try:
            f(1)
        except RuntimeError as exc:
            errors[i] = exc

    _run_threads(n, worker)
    assert calls == [1]
    assert all(e is boom for e in errors)
    assert len(f.cache) == 0
    assert f.cache_stats()["load_errors"] == 1
    with pytest.raises(RuntimeError):
        f(1)
    assert calls == [1, 1]


def test_no_cross_key_blocking(call_impl):
    started = threading.Event()
    release = threading.Event()

    @cached(hotcache.LRUCache(4))
    def f(x):
        if x == "slow":
            started.set()
            assert release.wait(HANG)
        return x

    out = {}
    t = threading.Thread(target=lambda: out.setdefault("slow", f("slow")))
    t.start()
    assert started.wait(HANG)
    done = threading.Event()
    t2 = threading.Thread(target=lambda: (out.setdefault("fast", f("fast")), done.set()))
    t2.start()
    assert done.wait(HANG), "a fast key waited for a slow one"
    assert "slow" not in out and f.cache_stats()["in_flight"] == 1
    release.set()
    t.join(HANG)
    t2.join(HANG)
    assert out == {"slow": "slow", "fast": "fast"}


def test_no_lock_held_while_the_function_runs(call_impl):
    seen = []

    @cached(hotcache.LRUCache(4))
    def f(x):
        if x == 0:
            # another thread completes a call through the same wrapper (another key) while
            # this one is inside the function: nothing is held
            t = threading.Thread(target=lambda: seen.append(f(1)))
            t.start()
            t.join(HANG)
            assert seen == [1], "another caller was blocked while f(0) ran"
        return x

    assert f(0) == 0


def test_recursion_does_not_deadlock(call_impl):
    @cached(hotcache.LRUCache(256))
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(80) == 23416728348467685

    depth = []

    @cached(hotcache.LRUCache(4))
    def same(x):
        depth.append(x)
        return same(x) if len(depth) < 3 else "bottom"  # same key, on the leader's thread

    assert same(1) == "bottom" and len(depth) == 3


# -- the short form ------------------------------------------------------------------------------

def test_bare_and_empty_call_build_an_lru_of_128(call_impl):
    @cached
    def f(x):
        return x

    @cached()
    def g(x):
        return x

    for w in (f, g):
        assert type(w.cache) is hotcache.LRUCache and w.cache.maxsize == 128
        assert w(1) == 1 and w(1) == 1 and w.cache_stats()["hits"] == 1


def test_short_form_factory_gives_each_function_its_own_cache(call_impl):
    memo = cached(maxsize=4)  # like functools.lru_cache(4): one cache per decorated function
    a = memo(lambda x: ("a", x))
    b = memo(lambda x: ("b", x))
    assert a(1) == ("a", 1) and b(1) == ("b", 1)
    assert a.cache is not b.cache and len(a.cache) == len(b.cache) == 1
    shared = hotcache.LRUCache(4)  # a given cache is shared, as in cachetools
    c = cached(shared)(lambda x: ("c", x))
    d = cached(shared)(lambda x: ("d", x))
    assert c(1) == ("c", 1) and d(1) == ("c", 1)


@pytest.mark.parametrize("policy, name", [("lru", "LRUCache"), ("lfu", "LFUCache"),
                                          ("fifo", "FIFOCache"), ("random", "RRCache"),
                                          ("s3fifo", "S3FIFOCache"), ("tinylfu", "TinyLFUCache")])
def test_short_form_policies(policy, name):
    w = cached(maxsize=3, policy=policy, maxmemory=1 << 20)(lambda x: x)
    assert type(w.cache) is getattr(hotcache, name)
    assert w.cache.maxsize == 3 and w.cache.stats().maxmemory == 1 << 20
    for i in range(10):
        w(i)
    assert len(w.cache) == 3


def test_short_form_default_stays_lru():
    assert type(cached(maxsize=3)(lambda x: x).cache) is hotcache.LRUCache
    assert type(cached(lambda x: x).cache) is hotcache.LRUCache


def test_tinylfu_decorator_misses_feed_the_sketch(call_impl):
    """The decorator's miss path tells TinyLFU about the key (hc_miss), as a lookup does: a
    result that is never stored (``unless``) still builds up its key's frequency."""
    w = cached(maxsize=64, policy="tinylfu", unless=lambda r: r is None)(
        lambda x: None if x == "skip" else x)
    for i in range(64):
        w(i)                        # the sketch is sized once the cache is half full
    for _ in range(3):
        assert w("skip") is None
    key = hotcache.keys.hashkey("skip")
    assert key not in w.cache and w.cache.frequency(key) == 3


def test_short_form_errors():
    with pytest.raises(ValueError, match="policy"):
        cached(maxsize=3, policy="mru")
    with pytest.raises(TypeError, match="not both"):
        cached(hotcache.LRUCache(3), maxsize=3)
    with pytest.raises(TypeError, match="set"):
        cached({}, ttl=5)
    with pytest.raises(ValueError):
        cached(maxsize=3, ttl=-1)
    assert cached(maxsize=None)(lambda: 1).cache.maxsize == float("inf")


def test_ttl_number_and_callable_with_fake_clock(call_impl):
    timer = FakeTimer()
    calls = []

    @cached(maxsize=8, ttl=10, timer=timer)
    def f(x):
        calls.append(x)
        return x

    assert f(1) == 1 and f(1) == 1 and calls == [1]
    timer.advance(10)
    assert f(1) == 1 and calls == [1, 1]

    @cached(maxsize=8, timer=timer, ttl=lambda r: r)  # result -> seconds
    def g(x):
        calls.append(("g", x))
        return x

    g(5)
    g(0)  # ttl 0: not cached
    assert g.cache.ttl_left((5,)) == 5 and (0,) not in g.cache
    timer.advance(5)
    assert (5,) not in g.cache


def test_ttl_callable_none_means_cache_default_and_given_cache(call_impl, impl):
    timer = FakeTimer()
    cache = classes(impl)["LRUCache"](8, ttl=3, timer=timer)
    w = cached(cache, ttl=lambda r: None if r == "default" else 100)(lambda x: x)
    w("default")
    w("long")
    assert cache.ttl_left(("default",)) == 3 and cache.ttl_left(("long",)) == 100
    fixed = cached(classes(impl)["LRUCache"](8, timer=timer), ttl=7)(lambda x: x)
    fixed(1)
    assert fixed.cache.ttl_left((1,)) == 7


def test_unless_skips_caching(call_impl):
    calls = []

    @cached(maxsize=8, unless=lambda r: r is None)
    def f(x):
        calls.append(x)
        return None if x < 0 else x

    f(-1)
    f(-1)
    f(1)
    f(1)
    assert calls == [-1, -1, 1]


def test_invalidate(call_impl, impl):
    calls = []

    @cached(classes(impl)["LRUCache"](8))
    def f(x, *, flag=False):
        calls.append((x, flag))
        return x

    f(1)
    f(1, flag=True)
    assert f.invalidate(1) is True and f.invalidate(1) is False
    assert f.invalidate(1, flag=True) is True
    f(1)
    f(1, flag=True)
    assert calls == [(1, False), (1, True)] * 2


def test_cache_clear_resets_counters(call_impl):
    w = cached(maxsize=4, info=True)(lambda x: x)
    w(1)
    w(1)
    w.cache_clear()
    assert len(w.cache) == 0 and w.cache_info() == (0, 0, 4, 0)
    assert w.cache_stats() == {"hits": 0, "misses": 0, "loads": 0, "load_errors": 0,
                               "load_seconds": 0.0, "in_flight": 0}


def test_static_and_class_methods_in_either_order(call_impl):
    calls = []

    class C:
        @staticmethod
        @cached(maxsize=8)
        def s1(x):
            calls.append(("s1", x))
            return x

        @cached(maxsize=8)
        @staticmethod
        def s2(x):
            calls.append(("s2", x))
            return x

        @classmethod
        @cached(maxsize=8)
        def c1(cls, x):
            calls.append(("c1", cls.__name__, x))
            return x

        @cached(maxsize=8)
        @classmethod
        def c2(cls, x):
            calls.append(("c2", cls.__name__, x))
            return x

    class D(C):
        pass

    for _ in range(2):
        assert C.s1(1) == C().s1(1) == 1
        assert C.s2(1) == C().s2(1) == 1
        assert C.c1(1) == C().c1(1) == D.c1(1) == 1
        assert C.c2(1) == C().c2(1) == D.c2(1) == 1
    assert calls == [("s1", 1), ("s2", 1), ("c1", "C", 1), ("c1", "D", 1), ("c2", "C", 1), ("c2", "D", 1)]


# -- refresh-ahead / stale-if-error (through patterns.LoadingCache) -----------------------------

def _wait_until(predicate):
    for _ in range(int(HANG * 1000)):
        if predicate():
            return
        threading.Event().wait(0.001)
    raise AssertionError("condition never became true")


def test_refresh_ahead_with_fake_clock():
    timer = FakeTimer()
    version = [0]

    @cached(maxsize=8, ttl=10, refresh_ahead=0.5, timer=timer, info=True)
    def f(x):
        version[0] += 1
        return (x, version[0])

    assert f(1) == (1, 1)
    timer.advance(4)
    assert f(1) == (1, 1)  # fresh: no refresh
    timer.advance(2)  # 6 s old: in the last 50 % of the ttl
    assert f(1) == (1, 1)  # the current value at once, one refresh in the background
    _wait_until(lambda: f.loading_cache.stats()["refreshing"] == 0 and version[0] == 2)
    assert f(1) == (1, 2)
    assert f.cache_info().currsize == 1
    assert f.invalidate(1) is True and f.invalidate(1) is False
    s = f.cache_stats()
    assert s["loads"] >= 2 and s["misses"] == 1


def test_stale_if_error_serves_the_old_value():
    timer = FakeTimer()
    fail = [False]

    @cached(maxsize=8, ttl=10, stale_if_error=30, timer=timer)
    def f(x):
        if fail[0]:
            raise ConnectionError("backend down")
        return "fresh"

    assert f(1) == "fresh"
    fail[0] = True
    timer.advance(15)  # past ttl, within stale_if_error
    assert f(1) == "fresh"
    timer.advance(30)  # past both
    with pytest.raises(ConnectionError):
        f(1)


def test_refresh_ahead_argument_errors():
    with pytest.raises(TypeError):
        cached(maxsize=3, ttl=10, refresh_ahead=0.5, lock=threading.Lock())
    with pytest.raises(TypeError):
        cached(maxsize=3, ttl=lambda r: 1, refresh_ahead=0.5)
    with pytest.raises(ValueError):
        cached(maxsize=3, refresh_ahead=0.5)  # needs a ttl


# -- cachedmethod: cachetools form ----------------------------------------------------------------

class Service:
    def __init__(self):
        self.cache = hotcache.LRUCache(8)
        self.lock = CountedLock()
        self.calls = []

    @cachedmethod(lambda self: self.cache)
    def get(self, x):
        self.calls.append(x)
        return x * 2

    @cachedmethod(lambda self: self.cache, key=keys.typedmethodkey, lock=lambda self: self.lock, info=True)
    def get_locked(self, x):
        self.calls.append(("locked", x))
        return x * 3


def test_cachedmethod_cachetools_form():
    s = Service()
    assert s.get(2) == 4 and s.get(2) == 4 and s.calls == [2]
    assert s.get.cache is s.cache and s.get.cache_key(5) == keys.methodkey(s, 5)
    assert "get" in vars(s)  # the wrapper lives in the instance dict, as in cachetools
    assert s.get_locked(1) == 3 and s.lock.count == 2
    assert s.get_locked(1) == 3 and s.lock.count == 3
    assert s.get_locked.cache_info() == (1, 1, 8, 2)
    assert s.get.invalidate(2) is True and s.get(2) == 4 and s.calls[-1] == 2
    assert Service.get(s, 7) == 14
    assert repr(s.get) == "<cachedmethod %r of %s>" % (Service.get.__wrapped__, object.__repr__(s))
    clone = pickle.loads(pickle.dumps(s))
    assert clone.get(2) == 4 and clone.calls == s.calls  # the cache came along: a hit


def test_cachedmethod_cachetools_form_single_flight():
    n = 8
    calls = []
    barrier = threading.Barrier(n)
    shared = hotcache.LRUCache(8)

    class S:
        @cachedmethod(lambda self: shared)
        def get(self, x):
            calls.append(x)
            # the flight is shared by all instances, keyed by (cache id, key)
            _await_waiters(self.get._w_loader.flight, (id(shared), (x,)), n - 1)
            return object()

    instances = [S() for _ in range(n)]
    results = [None] * n

    def worker(i):
        barrier.wait(HANG)
        results[i] = instances[i].get(3)  # different instances, one shared cache and key

    _run_threads(n, worker)
    assert calls == [3]
    assert all(r is results[0] for r in results)


def test_cachedmethod_requires_a_callable_cache():
    with pytest.raises(TypeError, match="callable"):
        cachedmethod(None)
    with pytest.raises(TypeError, match="callable"):
        cachedmethod(hotcache.LRUCache(2))
    with pytest.raises(TypeError, match="not both"):
        cachedmethod(lambda self: {}, maxsize=3)


# -- cachedmethod: per-instance form --------------------------------------------------------------

class PerInstance:
    def __init__(self, factor):
        self.factor = factor
        self.calls = []

    @cachedmethod(maxsize=16, info=True)
    def scale(self, x):
        self.calls.append(x)
        return x * self.factor

    @cachedmethod(maxsize=4, ttl=5, timer=FakeTimer())
    def timed(self, x):
        return x


def test_per_instance_caches_are_separate(call_impl):
    a, b = PerInstance(2), PerInstance(3)
    assert a.scale(5) == 10 and a.scale(5) == 10 and b.scale(5) == 15
    assert a.calls == [5] and b.calls == [5]
    assert a.scale.cache is not b.scale.cache
    assert a.scale.cache_info() == (1, 1, 16, 1) and b.scale.cache_info() == (0, 1, 16, 1)
    assert PerInstance.scale(a, 5) == 10 and a.calls == [5]
    assert a.scale.invalidate(5) is True and a.scale(5) == 10 and a.calls == [5, 5]
    assert a.scale.cache_stats()["loads"] == 2
    PerInstance.scale.cache_clear()  # every live instance
    assert len(a.scale.cache) == 0 and len(b.scale.cache) == 0
    a.timed(1)
    assert a.timed.cache.ttl_left((1,)) == 5


def test_per_instance_cache_does_not_keep_the_instance_alive(call_impl):
    obj = PerInstance(2)
    obj.scale(1)
    cache_ref = weakref.ref(obj.scale.cache)
    ref = weakref.ref(obj)
    descriptor = PerInstance.__dict__["scale"]
    before = len(descriptor._PerInstanceMethod__wrappers)
    del obj
    # no reference cycle: freed by reference counting alone, cache included
    assert ref() is None
    assert cache_ref() is None
    assert len(descriptor._PerInstanceMethod__wrappers) == before - 1
    gc.collect()
    assert ref() is None


class Node:
    """Cached values that refer back to the instance (``Child(parent=self)``)."""

    @cachedmethod(maxsize=16)
    def wrapped(self):
        return [self]

    @cachedmethod(maxsize=16)
    def plain(self):
        return 42


def test_per_instance_value_referring_to_the_instance_is_collected(call_impl):
    """instance -> its __dict__ -> wrapper -> cache -> value -> instance is a cycle nothing
    outside reaches (the class holds no strong reference to the wrapper): gc frees it."""
    obj = Node()
    assert obj.wrapped()[0] is obj and obj.plain() == 42
    ref, cache_ref = weakref.ref(obj), weakref.ref(obj.wrapped.cache)
    del obj
    gc.collect()
    assert ref() is None and cache_ref() is None
    obj = Node()
    obj.plain()  # no back-reference: reference counting alone, as ever
    ref = weakref.ref(obj)
    del obj
    assert ref() is None


def test_per_instance_copies_and_pickles_rebuild_their_own_cache(call_impl):
    a = PerInstance(2)
    a.scale(1)
    for b in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert len(b.scale.cache) == 0  # the copied __dict__ entry belongs to `a`
        assert b.scale.cache is not a.scale.cache
        b.scale(3)
        assert b.scale.cache_info().currsize == 1 and b.scale(3) == 6
    assert a.scale.cache_info().currsize == 1 and len(a.scale.cache) == 1
    PerInstance.scale.cache_clear()  # reaches `a` and every copy still alive
    assert len(a.scale.cache) == 0


def test_per_instance_overriding_cached_method_calling_super(call_impl):
    class Child(PerInstance):
        @cachedmethod(maxsize=4)
        def scale(self, x):
            return super().scale(x) + 1

    c = Child(3)
    assert c.scale(2) == 7 and c.scale(2) == 7
    assert PerInstance.scale.__get__(c).cache is not c.scale.cache
    assert c.calls == [2]


def test_per_instance_slots_without_dict(call_impl):
    """Instances without a __dict__ keep the descriptor-held caches: freed with the instance
    by reference counting; a value referring back to the instance keeps it alive (documented)
    until the cache is cleared. With "__dict__" in __slots__ the instance holds its cache."""

    class Slotted:
        __slots__ = ("__weakref__",)

        @cachedmethod(maxsize=4)
        def plain(self):
            return 1

        @cachedmethod(maxsize=4)
        def wrapped(self):
            return [self]

    obj = Slotted()
    assert obj.plain() == 1 and obj.plain() == 1
    assert obj.plain.cache_stats()["hits"] == 1
    ref = weakref.ref(obj)
    del obj
    assert ref() is None
    obj = Slotted()
    obj.wrapped()
    ref = weakref.ref(obj)
    del obj
    gc.collect()
    assert ref() is not None  # the documented limit of __slots__ without __dict__
    Slotted.wrapped.cache_clear()
    gc.collect()
    assert ref() is None

    class WithDict:
        __slots__ = ("__dict__", "__weakref__")

        @cachedmethod(maxsize=4)
        def wrapped(self):
            return [self]

    obj = WithDict()
    obj.wrapped()
    ref = weakref.ref(obj)
    del obj
    gc.collect()
    assert ref() is None


def test_per_instance_bound_method_keeps_its_instance(call_impl):
    bound = PerInstance(4).scale  # like any bound method, it holds the instance
    gc.collect()
    assert bound(2) == 8 and bound(2) == 8
    assert bound.__self__.calls == [2]


def test_per_instance_equal_and_unhashable_instances(call_impl):
    @dataclasses.dataclass
    class Point:  # eq=True, unhashable; equal instances must not share a cache
        x: int

        @cachedmethod(maxsize=4)
        def norm(self, scale):
            return self.x * scale

    p, q = Point(1), Point(1)
    assert p.norm(2) == 2 and q.norm(2) == 2
    assert p.norm.cache is not q.norm.cache
    p.x = 5
    assert p.norm(2) == 2  # cached for p
    assert Point(5).norm(2) == 10


def test_per_instance_copies_and_pickles_start_empty():
    a = PerInstance(2)
    a.scale(1)
    b = copy.copy(a)
    c = pickle.loads(pickle.dumps(a))
    assert len(b.scale.cache) == 0 and len(c.scale.cache) == 0
    assert b.scale(1) == 2 and b.calls == [1, 1]  # the shallow copy shares `calls`


def test_per_instance_classmethod_both_orders():
    class C:
        calls = []

        @classmethod
        @cachedmethod(maxsize=4)
        def outer(cls, x):
            cls.calls.append(("outer", cls.__name__, x))
            return x

        @cachedmethod(maxsize=4)
        @classmethod
        def inner(cls, x):
            cls.calls.append(("inner", cls.__name__, x))
            return x

    class D(C):
        pass

    for _ in range(2):
        assert C.outer(1) == C().outer(1) == D.outer(1) == 1
        assert C.inner(1) == C().inner(1) == D.inner(1) == 1
    assert C.calls == [("outer", "C", 1), ("outer", "D", 1), ("inner", "C", 1), ("inner", "D", 1)]


def test_per_instance_errors():
    with pytest.raises(TypeError, match="static"):
        cachedmethod(maxsize=2)(staticmethod(lambda x: x))
    with pytest.raises(TypeError, match="lock"):
        cachedmethod(maxsize=2, lock=threading.Lock())

    class Slotted:
        __slots__ = ()

        @cachedmethod(maxsize=2)
        def m(self):
            return 1

    with pytest.raises(TypeError, match="weak-referenceable"):
        Slotted().m()
    with pytest.raises(ValueError):
        cachedmethod(maxsize=2, policy="nope")


def test_per_instance_single_flight(call_impl):
    n = 8
    barrier = threading.Barrier(n)
    calls = []

    class S:
        @cachedmethod(maxsize=4)
        def get(self, x):
            calls.append(x)
            _await_waiters(self.get._w_loader.flight, (x,), n - 1)
            return object()

    s = S()
    results = [None] * n

    def worker(i):
        barrier.wait(HANG)
        results[i] = s.get(1)

    _run_threads(n, worker)
    assert calls == [1] and all(r is results[0] for r in results)


# -- hotcache.func ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fifo_cache", "lfu_cache", "lru_cache", "rr_cache", "ttl_cache",
                                  "s3fifo_cache", "tinylfu_cache"])
def test_func_decorators(call_impl, name):
    deco = getattr(hotcache.func, name)
    w = deco(maxsize=2)(lambda n: n)
    assert w.cache_parameters() == {"maxsize": 2, "typed": False}
    assert w(1) == 1 and w(1.0) == 1 and w.cache_info() == (1, 1, 2, 1)
    assert deco(maxsize=None)(lambda n: n).cache_info().maxsize is None
    typed = deco(maxsize=4, typed=True)(lambda n: n)
    assert typed(1) == 1 and typed(1.0) == 1.0 and typed.cache_info().misses == 2
    bare = deco(lambda n: n)
    assert bare.cache_parameters()["maxsize"] == 128
    assert isinstance(w, decorators._CallBase)  # native hit path


def test_func_decorators_are_single_flight(call_impl):
    n = 8
    calls = []
    barrier = threading.Barrier(n)

    @hotcache.func.lru_cache(maxsize=8)
    def f(x):
        calls.append(x)
        _await_waiters(f._w_loader.flight, (x,), n - 1)
        return x

    def worker(i):
        barrier.wait(HANG)
        f(1)

    _run_threads(n, worker)
    assert calls == [1] and f.cache_info() == (0, n, 8, 1)
