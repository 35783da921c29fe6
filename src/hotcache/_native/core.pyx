# cython: language_level=3
"""Thin binding of the C core: one extension type, Core, that owns the key/value references.

The C core (csrc/) keeps hashes, sizes, policy order and expiry per slot; this type keeps the key
and value objects as the two payload words of each C record (a hit reads one record; the garbage
collector is shown them by gc.pxi), hashes each key once, compares keys (identity first, then
``==``) and decides nothing about policy.

Reentrancy rules (after CPython's _functoolsmodule.c). User code can run at exactly these points:
  (1) ``hash(key)``, (2) ``key == other`` while probing, (3) ``getsizeof``/``sizeof``/``ttu``/the
  timer, (4) a key's or value's ``__del__`` when its last reference goes, (5) ``on_evict``,
  (6) ``choice``, overridden ``__missing__``/``__setitem__``/``getsizeof`` of subclasses, and every
  hook of a subclass that overrides cachetools' hooks (subclass.pxi: those paths call back into
  Python between steps, exactly where cachetools does, and re-find their slots afterwards).
Rule A: (1)-(3) run before any structural change of an operation; after (2) the probe is restarted
        when the core's version changed.
Rule B: objects leaving the cache are moved out of the records into the operation's outbox first
        and released, (4) and (5), only once the C core and the records agree again.

The module is this file plus the files it includes, one concern each (the pure twin in
hotcache._spec mirrors them where a Python twin makes sense):
  outbox.pxi    payload moves and the outbox (rule B)    _spec/outbox.py
  timer.pxi     the cache's clock                         _spec/timer.py
  core.pyx      Core: the mapping API, lookups, stores    _spec/core.py
  hotpath.pxi   probe, use, plain store (every hit)       _spec/core.py
  config.pxi    constructor, per-class paths, resize      _spec/core.py
  pickle.pxi    copy, deepcopy, pickle                    _spec/core.py
  policy.pxi    adaptive policies' state blob and info    _spec/policy_s3fifo.py, _tinylfu.py
  gc.pxi        bulk references, tp_traverse/tp_clear     (none: Python's own)
  check.pxi     the invariant checker of the tests        Cache._check in _spec/core.py
  subclass.pxi  cachetools' call graph for subclasses     _spec/core.py (the hooked paths)
  call.pxi      CachedCall, the decorators' hit path      _spec/call.py
  front.pxi     ReadThrough, a tier's native L1 front     _spec/front.py
  jsonscan.pxi  json_scan, JSON bytes -> values (subset)  the json module (tests compare)
  sizing.pxi    the sizing advisor's sampler (sizing=R)   hotcache/sizing/sampler.py
"""
from cpython.object cimport PyObject, PyObject_RichCompareBool, Py_EQ
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.list cimport PyList_GET_ITEM, PyList_SET_ITEM, PyList_GET_SIZE
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.tuple cimport PyTuple_GET_SIZE, PyTuple_GET_ITEM
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.math cimport INFINITY, NAN, floor, isnan
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

from hotcache._native.hc cimport *

cdef extern from "Python.h":
    ctypedef int (*visitproc)(PyObject *, void *)
    ctypedef int (*traverseproc)(PyObject *, visitproc, void *)
    ctypedef int (*inquiry)(PyObject *)
    ctypedef PyObject *(*ternaryfunc)(PyObject *, PyObject *, PyObject *)
    ctypedef struct PyTypeObject:
        traverseproc tp_traverse
        inquiry tp_clear
        ternaryfunc tp_call
    void Py_XINCREF(PyObject *o)
    void Py_XDECREF(PyObject *o)
    int Py_ReprEnter(object o) except -1
    void Py_ReprLeave(object o)

cdef extern from "hc_clock.h" nogil:
    double hc_clock_monotonic()

cdef extern from *:
    """
    /* hc_rarely(x): x is almost never true. The hooked-subclass tests in hot methods use it:
     * with a plain unlikely() (90% / 10%) gcc still costs the cold call into the method and,
     * with get()'s budget so spent, stops inlining _use() into get(): +26 instructions per
     * c.get(k) under callgrind. With 1 in 10000 the cold call costs nothing in its model. */
    #if defined(__has_builtin)
    #  if __has_builtin(__builtin_expect_with_probability)
    #    define hc_rarely(x) __builtin_expect_with_probability(!!(x), 0, 0.9999)
    #  endif
    #endif
    #ifndef hc_rarely
    #  define hc_rarely(x) unlikely(x)
    #endif
    """
    bint hc_rarely(bint) nogil

import collections.abc as _abc
import datetime as _dt
import math as _math
from operator import index as _operator_index
import random as _random
import time as _time
import types as _types

from hotcache._config import (
    ENTRY_OVERHEAD as _ENTRY_OVERHEAD,
    default_sizeof as _default_sizeof,
    parse_maxsize as _parse_maxsize,
    parse_memory as _parse_memory,
    parse_ttl as _parse_ttl,
)
from hotcache.stats import CacheStats as _CacheStats

DEF RECLAIM_BUDGET = 8
DEF EXPIRE_CHUNK = 64

# What a class overrides (bits of _type_flags' first item; see subclass.pxi) and which of
# cachetools' timed classes it is (the second item)
cdef enum:
    _OVERRIDES_HOOK = 1         # one of _HOOKS: the class takes cachetools' call graph
    _OVERRIDES_MISSING = 2
    _OVERRIDES_GETSIZEOF = 4
    _KIND_TTL = 1               # TTLCache: expire() is part of the call graph
    _KIND_TLRU = 2              # TLRUCache: the same

cdef tuple _CAUSES = (None, "size", "memory", "expired")
cdef object _EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
cdef object _EPOCH_AWARE = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
cdef object _MONOTONIC = _time.monotonic
cdef object _RANDOM_CHOICE = _random.choice
cdef object _MISSING = object()

_POLICIES = {
    "insertion": HC_POLICY_INSERTION,
    "lru": HC_POLICY_LRU,
    "lfu": HC_POLICY_LFU,
    "fifo": HC_POLICY_FIFO,
    "random": HC_POLICY_RANDOM,
    "s3fifo": HC_POLICY_S3FIFO,
    "tinylfu": HC_POLICY_TINYLFU,
}


cdef object _index(object value, str what):
    try:
        return _operator_index(value)
    except TypeError:
        raise TypeError("%s must return an int, not %s" % (what, type(value).__name__)) from None


cdef double _to_f(object t) except? -1.0:
    """A timer value as a double (seconds for datetimes)."""
    if type(t) is float:
        return PyFloat_AS_DOUBLE(t)
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            return (t - _EPOCH_NAIVE).total_seconds()
        return (t - _EPOCH_AWARE).total_seconds()
    if isinstance(t, (int, float)) or hasattr(t, "__float__"):
        return float(t)
    raise TypeError("the timer must return a number or a datetime, not %s" % type(t).__name__)


include "outbox.pxi"
include "timer.pxi"


def _unit_size(value):
    """The default getsizeof: every value counts 1."""
    return 1


cdef class Core:
    """Shared implementation of every hotcache cache class (see hotcache.cache)."""
    cdef hc_cache *c
    # configuration
    cdef int _policy
    cdef object _maxsize          # as given (int or float, e.g. math.inf)
    cdef object _maxmemory        # int or None
    cdef object _sizer            # getsizeof(value) or None (every size is 1)
    cdef object _given_sizer      # the getsizeof given to the constructor, or None
    cdef object _sizeof           # sizeof(key, value) for byte charges, or None (sys.getsizeof)
    cdef bint _bytes_on           # maxmemory given: keep byte charges
    cdef object _on_evict
    cdef object _spill            # a second tier's hook (key, value, cause, ttl_left) or None
    cdef Timer _timer
    cdef object _ttl              # default time to live (object, may be timedelta) or None
    cdef object _ttu              # TLRU time-to-use function or None
    cdef object _choice           # RRCache choice (random.choice = native PRNG)
    cdef object _seed
    cdef bint _slow_evict         # stores evict through self.popitem() (hooked, or custom choice)
    cdef bint _has_missing        # a subclass defines __missing__
    cdef bint _hooked             # a subclass overrides a hook: cachetools' call graph (subclass.pxi)
    cdef int _kind                # _KIND_TTL / _KIND_TLRU: cachetools' timed classes (call expire())
    cdef bint _fast               # stores need no sizes, bytes, clock or popitem(): _store_fast
    cdef Py_ssize_t _popping      # slot a hooked popitem() is deleting via del self[key], or -1
    cdef uint64_t _popping_version    # hc_version when _popping was set (the slot is still it)
    cdef object _sizing           # the sizing advisor's Sizer (sizing.pxi), None when off
    # get()'s carried miss (hotpath.pxi, _aside_keep): its key (an owned exact int or str, or
    # NULL), hash, finished probe and hc_version, for a following c[key] = v of the very key
    cdef PyObject *_aside_key
    cdef uint64_t _aside_hash
    cdef uint64_t _aside_ver
    cdef hc_probe _aside_probe

    def __cinit__(self, *args, **kwargs):
        cdef hc_config cfg
        cfg.policy = HC_POLICY_INSERTION
        cfg.max_size = HC_UNBOUNDED
        cfg.max_bytes = HC_UNBOUNDED
        cfg.seed = 0
        cfg.tick = 0.0
        self.c = hc_new(&cfg)
        if self.c == NULL:
            raise MemoryError()
        self._maxsize = _math.inf
        self._timer = Timer(_MONOTONIC)
        self._choice = _RANDOM_CHOICE
        self._popping = -1

    def __dealloc__(self):
        _aside_drop(self)
        if self.c != NULL:
            _drop_payloads(self.c)
            hc_free(self.c)
            self.c = NULL

    def __init__(self, maxsize, getsizeof=None, *, policy="lru", ttl=None, ttu=None,
                 timer=_MONOTONIC, maxmemory=None, sizeof_fn=None, on_evict=None,
                 choice=_RANDOM_CHOICE, seed=None, sizing=None):
        _configure(self, maxsize, getsizeof, policy, ttl, ttu, timer, maxmemory, sizeof_fn,
                   on_evict, choice, seed)
        self._sizing = None if sizing is None else _sizing_for(self, sizing)

    def sizing(self):
        """The sizing advisor's SizingReport of the lookups seen so far (``sizing=R`` given to
        the constructor; ValueError otherwise)."""
        if self._sizing is None:
            raise ValueError("sizing is off: construct the cache with sizing=R (a sample rate "
                             "in (0, 1], e.g. 0.01) to get its sizing report")
        return (<Sizer>self._sizing).report()

    # ---------------------------------------------------------- hooked subclasses
    # The paths of classes that override cachetools' hooks (subclass.pxi). Called as methods,
    # through the type's vtable, so the C compiler cannot inline these cold paths into the hot
    # methods that test _hooked: it then stopped inlining _use() into get() (+29 instructions
    # per c.get(k) under callgrind; +5 with direct calls and hc_rarely; +1, the test itself,
    # this way).
    cdef object _hook_get(self, object key, object default):
        return _hooked_get(self, key, default)

    cdef object _hook_pop(self, object key, object default):
        return _hooked_pop(self, key, default)

    cdef object _hook_setdefault(self, object key, object default):
        return _hooked_setdefault(self, key, default)

    cdef object _hook_popitem(self):
        return _hooked_popitem(self)

    cdef object _hook_missing(self, object key):
        return _call_missing(self, key)

    cdef int _hook_store(self, object key, object value, object ttl, bint default_ttl) except -1:
        return _store_hooked(self, key, value, ttl, default_ttl)

    cdef int _hook_expire_now(self) except -1:
        return _hooked_expire_now(self)

    cdef int _observe_sized(self, object key) except -1:
        # The sizing advisor's look at one lookup (sizing.pxi), a method for the reason above.
        # The callers (__getitem__, get, ReadThrough, CachedCall) test _sizing, then call this,
        # then run their usual inlined _use(): every other copy of _use() (here, or in the
        # sampler) made gcc stop inlining it into get(): +25..29 instructions per c.get(k) hit
        # with sizing OFF (callgrind_ops.py). Hashes the key a second time, before anything
        # changes (rule A).
        return (<Sizer>self._sizing)._observe(key, hash(key))

    cdef object _sized_getitem(self, object key, Py_ssize_t slot):
        # __getitem__'s end when the sizing advisor watches (sizing.pxi's _sz_after): the slot
        # _use() found read first, then the sampler told. A method for the reason above.
        if slot < 0:
            _sz_after(self, key, slot)
            return self._miss(key)
        return _sz_after(self, key, slot)

    cdef object _sized_get(self, object key, Py_ssize_t slot, object default):
        # get()'s end when the sizing advisor watches, as _sized_getitem.
        if slot < 0:
            _sz_after(self, key, slot)
            return default
        return _sz_after(self, key, slot)

    # ------------------------------------------------------------------ lookup
    cdef inline double _now(self) except? -1.0:
        return self._timer.read_f()

    # Lookups run user code in this order: hash(key), the timer (only once anything is timed),
    # then == while probing; so the slot found is still valid when it is used (rule A).
    cdef inline Py_ssize_t _find_live(self, object key, double *now) except -2:
        """Slot of a live (unexpired) key or -1; reads the clock once if anything is timed."""
        cdef Py_hash_t h = hash(key)
        cdef Py_ssize_t slot
        now[0] = _now_if_timed(self)
        slot = _find(self, key, h)
        if slot >= 0 and hc_expired(self.c, <uint32_t>slot, now[0]):
            return -1
        return slot

    def __getitem__(self, key):
        cdef Py_ssize_t slot = _use(self, key)
        if hc_rarely(self._sizing is not None):     # the sizing advisor watches (sizing.pxi)
            return self._sized_getitem(key, slot)
        if slot < 0:
            return self._miss(key)
        return <object>hc_entry_at(self.c, slot).val

    cdef object _miss(self, key):
        if self._has_missing:
            return self._hook_missing(key)
        raise KeyError(key)

    def __missing__(self, key):
        raise KeyError(key)

    def get(self, key, default=None):
        if hc_rarely(self._hooked):
            return self._hook_get(key, default)
        cdef Py_ssize_t slot = _use_get(self, key)
        if hc_rarely(self._sizing is not None):     # the sizing advisor watches (sizing.pxi)
            return self._sized_get(key, slot, default)
        if slot < 0:
            return default
        return <object>hc_entry_at(self.c, slot).val

    def __contains__(self, key):
        cdef double now
        return self._find_live(key, &now) >= 0

    def peek(self, key, default=None):
        """The value of key without counting a use or a hit (default if absent or expired)."""
        cdef double now
        cdef Py_ssize_t slot = self._find_live(key, &now)
        if slot < 0:
            return default
        return <object>hc_entry_at(self.c, slot).val

    # ------------------------------------------------------------------ storing
    cdef uint64_t _size_of(self, object value) except? 0xFFFFFFFFFFFFFFFF:
        s = _index(self._sizer(value), "getsizeof()")
        if self._maxsize < s or hc_max_size(self.c) == 0:
            raise ValueError("value too large")
        if s < 0:
            raise ValueError("value size must be non-negative")
        return <uint64_t>s

    cdef uint64_t _charge(self, object key, object value) except? 0xFFFFFFFFFFFFFFFF:
        if self._sizeof is None:
            b = _default_sizeof(key, value)
        else:
            b = _index(self._sizeof(key, value), "sizeof()")
            if b < 0:
                raise ValueError("sizeof() must return a non-negative int")
        b = b + _ENTRY_OVERHEAD
        if b > self._maxmemory:
            raise ValueError("value too large for maxmemory")
        return <uint64_t>b

    cdef double _expiry(self, object key, object value, object now_obj, double now_f,
                        object ttl, bint use_ttu) except? -1.0:
        """Expiry time (+inf: none; NaN: already expired per ttu)."""
        if use_ttu:
            e = self._ttu(key, value, now_obj)
            if ttl is not None:
                cap = now_obj + ttl
                if cap < e:
                    e = cap
            if not (now_obj < e):
                return <double>_math.nan
            return _to_f(e)
        if ttl is None:
            return INFINITY
        if type(ttl) is float and type(now_obj) is float:
            return now_f + PyFloat_AS_DOUBLE(ttl)
        return _to_f(now_obj + ttl)

    def __setitem__(self, key, value):
        if self._fast and not hc_timed(self.c):
            self._store_fast(key, value)
        else:
            self._store(key, value, self._ttl, True)

    cdef int _store_aside(self, object key, object value) except -1:
        # hotpath.pxi's _store_aside, a method: inlined into __setitem__ it cost every store
        # +16 instructions (callgrind_ops.py lru_set_evict)
        return _store_aside(self, key, value)

    cdef int _store_fast(self, object key, object value) except -1:
        """_store for the plain case: sizes 1, no bytes, nothing timed, native eviction."""
        if <PyObject *>key == self._aside_key:     # get() just missed this very key
            return self._store_aside(key, value)
        return _store_fast_h(self, key, value, hash(key))

    def set(self, key, value, ttl=None):
        """Store value under key; ttl (seconds, math.inf: never) overrides the cache's default
        (and a TLRUCache's ttu) for this entry."""
        if ttl is None:
            self._store(key, value, self._ttl, True)
        else:
            self._store(key, value, _ttl_arg(ttl), False)

    cdef int _store(self, object key, object value, object ttl, bint default_ttl) except -1:
        if hc_rarely(self._slow_evict):      # cachetools' order, evicting through self.popitem()
            return self._hook_store(key, value, ttl, default_ttl)
        cdef Py_hash_t h = hash(key)
        cdef uint64_t size = 1, nbytes = 0, dsize, dbytes, osize, obytes
        cdef double now_f = -INFINITY, exp = INFINITY
        cdef Py_ssize_t slot
        cdef uint32_t s
        cdef object old = None
        cdef size_t n, i
        cdef uint32_t buf[RECLAIM_BUDGET]
        cdef _Outbox out
        now_obj = None
        # (3) user code first: sizes, clock, time-to-use
        if self._sizer is not None:
            size = self._size_of(value)
        elif self._maxsize < 1:
            raise ValueError("value too large")
        if self._bytes_on:
            nbytes = self._charge(key, value)
        use_ttu = default_ttl and self._ttu is not None
        if hc_timed(self.c) or ttl is not None or use_ttu:
            if not use_ttu and (ttl is None or type(ttl) is float):
                now_f = self._timer.read_f()
                if ttl is not None:
                    exp = now_f + PyFloat_AS_DOUBLE(ttl)
            else:
                now_obj = self._timer.read()
                now_f = _to_f(now_obj)
                exp = self._expiry(key, value, now_obj, now_f, ttl, use_ttu)
            if exp <= now_f:
                exp = <double>_math.nan     # dead on arrival: store nothing, drop an old entry
        slot = _find(self, key, h)           # (2) last user code before the structural work
        _out_init(&out)
        try:
            if slot >= 0 and hc_timed(self.c) and hc_expired(self.c, <uint32_t>slot, now_f):
                hc_expire_slot(self.c, <uint32_t>slot)
                _out_push(self, &out, <uint32_t>slot, HC_CAUSE_EXPIRED)
                slot = -1
            if isnan(exp):                  # ttu says it is already expired: drop any old entry
                if slot >= 0:
                    hc_remove(self.c, <uint32_t>slot)
                    _out_push(self, &out, <uint32_t>slot, HC_CAUSE_NONE)
                return 0
            if now_f != -INFINITY and hc_timed(self.c):
                _out_room(&out, RECLAIM_BUDGET)
                n = hc_reclaim(self.c, now_f, buf, RECLAIM_BUDGET)
                for i in range(n):
                    _out_push(self, &out, buf[i], HC_CAUSE_EXPIRED)
            if slot >= 0:
                # a re-assigned key is never its own victim: evict others until the growth fits
                s = <uint32_t>slot
                if hc_prepare_update(self.c, size, nbytes, exp) < 0:
                    raise MemoryError()
                osize = hc_entry_size(self.c, s)
                obytes = hc_entry_bytes(self.c, s)
                dsize = size - osize if size > osize else 0
                dbytes = nbytes - obytes if nbytes > obytes else 0
                self._evict_until_fits(&out, dsize, dbytes, now_f, s)
                hc_update(self.c, s, size, nbytes, exp)
                old = _take_v(self, s)
                _put_v(self, s, value)
                return 0
            self._evict_until_fits(&out, size, nbytes, now_f, HC_NIL)
            s = hc_insert(self.c, <uint64_t>h, size, nbytes, exp)
            if s == HC_NIL:
                raise MemoryError("hotcache: out of slots or memory")
            _put_k(self, s, key)
            _put_v(self, s, value)
            return 0
        finally:
            # (4)(5): the core and the records agree again; now objects may go, callbacks run
            if out.n:
                _out_release(self, &out)

    cdef list _detach_all(self):
        """Move every stored key and value out of the records into a list (for the caller to
        drop once the core is consistent); the records keep NULLs."""
        cdef list out = []
        cdef uint32_t s = hc_order_first(self.c)
        _aside_drop(self)               # the callers replace or clear the C cache next
        while s != HC_NIL:
            out.append(_take_k(self, s))
            out.append(_take_v(self, s))
            s = hc_order_next(self.c, s)
        return out

    cdef int _evict_until_fits(self, _Outbox *out, uint64_t add_size, uint64_t add_bytes,
                               double now, uint32_t keep) except -1:
        """Evict (due-expired entries first, then policy victims, never `keep`) until an entry
        of (add_size, add_bytes) fits both bounds; each victim goes to the outbox at once."""
        cdef int pressure, cause
        cdef uint32_t v
        while True:
            pressure = hc_over(self.c, add_size, add_bytes)
            if pressure == HC_CAUSE_NONE:
                return 0
            _out_room(out, 1)
            v = hc_evict_keep(self.c, now, pressure, &cause, keep)
            if v == HC_NIL:
                return 0
            _out_push(self, out, v, cause)
            if cause != HC_CAUSE_EXPIRED:
                out.exp[out.n - 1] = hc_victim_expire_at(self.c)

    # ------------------------------------------------------------------ removing
    def __delitem__(self, key):
        if not self._remove_key(key):
            raise KeyError(key)

    cdef bint _remove_key(self, object key, PyObject **value=NULL) except -1:
        """Remove key: True if it was live (its value to *value), False if absent or expired
        (an expired entry is removed too, as an expiration)."""
        cdef Py_hash_t h = hash(key)
        cdef double now = _now_if_timed(self)
        cdef Py_ssize_t slot = _find(self, key, h)
        if slot < 0:
            return False
        cdef _Outbox out
        _out_init(&out)
        if hc_expired(self.c, <uint32_t>slot, now):
            hc_expire_slot(self.c, <uint32_t>slot)
            _out_push(self, &out, <uint32_t>slot, HC_CAUSE_EXPIRED)
            _out_release(self, &out)
            return False
        if hc_rarely(slot == self._popping) and hc_version(self.c) == self._popping_version:
            hc_remove_victim(self.c, <uint32_t>slot)    # a hooked popitem's ``del self[key]``
        else:
            hc_remove(self.c, <uint32_t>slot)
        k = _take_k(self, slot)     # the freed record keeps its words until the next insert
        v = _take_v(self, slot)
        if value != NULL:
            value[0] = <PyObject *>v
            Py_INCREF(v)
        return True

    def pop(self, key, default=_MISSING):
        if hc_rarely(self._hooked):
            return self._hook_pop(key, default)
        cdef PyObject *v = NULL
        if self._remove_key(key, &v):
            r = <object>v
            Py_DECREF(r)
            return r
        if default is _MISSING:
            raise KeyError(key)
        return default

    def setdefault(self, key, default=None):
        if hc_rarely(self._hooked):
            return self._hook_setdefault(key, default)
        if hc_timed(self.c):
            with self._timer:           # one clock read for the lookup and the store
                return self._setdefault(key, default)
        return self._setdefault(key, default)

    cdef object _setdefault(self, object key, object default):
        cdef Py_hash_t h = hash(key)
        cdef double now = _now_if_timed(self)
        cdef Py_ssize_t slot = _find(self, key, h)
        if slot >= 0 and not hc_expired(self.c, <uint32_t>slot, now):
            hc_touch(self.c, <uint32_t>slot)
            return <object>hc_entry_at(self.c, slot).val
        hc_miss(self.c, <uint64_t>h)
        self[key] = default             # a subclass's __setitem__ is honoured
        return default

    def popitem(self):
        """Remove and return the (key, value) pair the policy would evict next."""
        cdef uint32_t slot
        if hc_rarely(self._hooked):
            return self._hook_popitem()
        if hc_timed(self.c):
            self._expire_all(self._now())
        if self._policy == HC_POLICY_RANDOM and self._choice is not _RANDOM_CHOICE:
            return _popitem_chosen(self)    # expired ones are gone: no clock needed
        slot = hc_victim(self.c)
        if slot == HC_NIL:
            raise KeyError("%s is empty" % type(self).__name__) from None
        k = _take_k(self, slot)
        v = _take_v(self, slot)
        hc_remove_victim(self.c, slot)     # S3FIFO's ghost / TINYLFU's jitter see an eviction
        return (k, v)

    def clear(self):
        """Remove every entry and reset the policy state (statistics are kept)."""
        old = self._detach_all()
        hc_clear(self.c)
        del old                         # (4) only now may __del__ run

    cdef list _expire_all(self, double now):
        """Remove every entry expired at now; on_evict("expired") for each; return the pairs."""
        cdef uint32_t buf[EXPIRE_CHUNK]
        cdef size_t n, i
        cdef _Outbox out
        _out_init(&out)
        try:
            while True:
                _out_room(&out, EXPIRE_CHUNK)
                n = hc_expire(self.c, now, buf, EXPIRE_CHUNK)
                for i in range(n):
                    _out_push(self, &out, buf[i], HC_CAUSE_EXPIRED)
                if n < EXPIRE_CHUNK:
                    break
            # everything is out of the core: Python objects may be made now
            return [(<object>out.kv[2 * i], <object>out.kv[2 * i + 1]) for i in range(out.n)]
        finally:
            if out.n:
                _out_release(self, &out)

    def expire(self, time=None):
        """Remove expired entries and return their (key, value) pairs in expiry order."""
        if time is None:
            time = self._timer.read()
        if not hc_timed(self.c):
            return []
        return self._expire_all(_to_f(time))

    def resize(self, maxsize=None, maxmemory=None):
        """Change the bounds (None keeps one) and evict per policy until the cache fits."""
        _resize(self, maxsize, maxmemory)

    # ------------------------------------------------------------------ size and iteration
    cdef inline void _settle(self) except *:
        """Reclaim everything expired now (len/currsize count live entries only); a hooked
        TTLCache/TLRUCache calls self.expire(now), as cachetools' len/currsize/repr do."""
        if hc_rarely(self._hooked and self._kind):
            self._hook_expire_now()
        elif hc_timed(self.c):
            self._expire_all(self._now())

    def __len__(self):
        self._settle()
        return hc_len(self.c)

    @property
    def currsize(self):
        """Sum of the sizes (getsizeof) of the live entries."""
        self._settle()
        return hc_size_used(self.c)

    @property
    def maxsize(self):
        """The bound on currsize."""
        return self._maxsize

    @property
    def maxmemory(self):
        """The bound on the sum of entry charges in bytes, or None."""
        return self._maxmemory

    @property
    def memory_used(self):
        """Sum of the byte charges of the entries (None without maxmemory)."""
        if not self._bytes_on:
            return None
        self._settle()
        return hc_bytes_used(self.c)

    @property
    def timer(self):
        """The timer wrapper: call it for the time; ``with cache.timer as t`` freezes time."""
        return self._timer

    @property
    def on_evict(self):
        """``on_evict(key, value, cause)`` or None; may be replaced at any time."""
        return self._on_evict

    @on_evict.setter
    def on_evict(self, fn):
        if fn is not None and not callable(fn):
            raise TypeError("on_evict must be callable or None")
        self._on_evict = fn

    def _set_spill_hook(self, fn):
        """Install (None: remove) ``fn(key, value, cause, ttl_left)``, called for entries evicted
        for "size" or "memory" only, after on_evict, with the seconds they had left (None: no
        expiry). For a second tier (hotcache.tiers); errors are swallowed; not copied or
        pickled."""
        if fn is not None and not callable(fn):
            raise TypeError("the spill hook must be callable or None")
        self._spill = fn

    @property
    def default_ttl(self):
        """Default time to live of new entries (None: no expiry)."""
        return self._ttl

    def _get_choice(self):
        return self._choice

    def _get_ttu(self):
        return self._ttu

    @property
    def getsizeof(self):
        """Size of a value for maxsize accounting: the getsizeof given to the constructor, else a
        function returning 1 (subclasses may override it with a method or staticmethod)."""
        return _unit_size if self._given_sizer is None else self._given_sizer

    cdef list _keys_in_order(self):
        cdef list out = []
        cdef uint32_t s = hc_order_first(self.c)
        while s != HC_NIL:
            out.append(<object>hc_entry_at(self.c, s).key)
            s = hc_order_next(self.c, s)
        return out

    def __iter__(self):
        return _CoreIter(self, self._keys_in_order())

    def keys(self):
        return _abc.KeysView(self)

    def values(self):
        return _abc.ValuesView(self)

    def items(self):
        return _abc.ItemsView(self)

    def update(self, other=(), /, **kwds):
        if isinstance(other, _abc.Mapping):
            for key in other:
                self[key] = other[key]
        elif hasattr(other, "keys"):
            for key in other.keys():
                self[key] = other[key]
        else:
            for key, value in other:
                self[key] = value
        for key, value in kwds.items():
            self[key] = value

    def __eq__(self, other):
        if not isinstance(other, _abc.Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    def __ne__(self, other):
        r = self.__eq__(other)
        if r is NotImplemented:
            return r
        return not r

    __hash__ = None

    def __repr__(self):
        if Py_ReprEnter(self) != 0:     # a cache that contains itself: like dict, "{...}"
            return "%s({...}, maxsize=%r, currsize=%r)" % (
                type(self).__name__, self._maxsize, hc_size_used(self.c))
        try:
            return self._repr()
        finally:
            Py_ReprLeave(self)

    cdef str _repr(self):
        cdef uint32_t s
        self._settle()
        d = {}
        s = hc_order_first(self.c)
        while s != HC_NIL:
            d[<object>hc_entry_at(self.c, s).key] = <object>hc_entry_at(self.c, s).val
            s = hc_order_next(self.c, s)
        return "%s(%s, maxsize=%r, currsize=%r)" % (
            type(self).__name__, repr(d), self._maxsize, hc_size_used(self.c))

    @classmethod
    def __class_getitem__(cls, item):
        return _types.GenericAlias(cls, item)

    # ------------------------------------------------------------------ extensions
    def ttl_left(self, key):
        """Seconds until key expires, None if it never does; KeyError if absent or expired."""
        cdef double now = -INFINITY
        cdef Py_ssize_t slot = self._find_live(key, &now)
        cdef double e
        if slot < 0:
            raise KeyError(key)
        e = hc_expire_at(self.c, <uint32_t>slot)
        if e == INFINITY:
            return None
        return e - now

    def stats(self):
        """A snapshot of the counters (hits, misses, evictions by cause, sizes, memory)."""
        cdef const hc_stats *st = hc_stats_of(self.c)
        self._settle()
        return _CacheStats(
            hits=st.hits, misses=st.misses, inserts=st.inserts, updates=st.updates,
            evictions=st.evictions_size + st.evictions_memory,
            evictions_size=st.evictions_size, evictions_memory=st.evictions_memory,
            expirations=st.expirations, currsize=hc_size_used(self.c), maxsize=self._maxsize,
            memory_used=hc_bytes_used(self.c) if self._bytes_on else None,
            maxmemory=self._maxmemory, len=hc_len(self.c))

    def cache_overhead_bytes(self):
        """Bytes the C core has allocated (records, index, policy, wheel), not the keys/values."""
        return hc_overhead_bytes(self.c)

    def _check(self):
        """Raise AssertionError if an internal invariant is broken (for tests; check.pxi)."""
        _check_core(self)

    def _policy_order(self):
        """Keys in the policy's eviction order, next victim first (for tests; subclass.pxi)."""
        return _policy_keys(self)

    def _policy_info(self):
        """The adaptive policies' queue weights, bounds, ghost and sketch (policy.pxi)."""
        return _policy_info(self)

    def _policy_frequency(self, key):
        """TINYLFU: the sketch's estimate for key; S3FIFO: 1 if the ghost remembers it."""
        return _policy_frequency(self, key)

    # ------------------------------------------------------------------ copy and pickle (pickle.pxi)
    def __copy__(self):
        return _copy(self)

    def copy(self):
        """A shallow copy with the same items and the same policy state."""
        return self.__copy__()

    def __reduce__(self):
        return (_new_instance, (type(self),), self.__getstate__())

    def __getstate__(self):
        return _getstate(self)

    def __setstate__(self, state):
        _setstate(self, state)


cdef class _CoreIter:
    """Iterates a snapshot of the keys (first-insertion order), skipping keys gone since."""
    cdef Core cache
    cdef list keys
    cdef Py_ssize_t i
    cdef uint64_t version

    def __cinit__(self, Core cache, list keys):
        self.cache = cache
        self.keys = keys
        self.i = 0
        self.version = hc_version(cache.c)

    def __iter__(self):
        return self

    def __next__(self):
        cdef double now
        while self.i < PyList_GET_SIZE(self.keys):
            key = <object>PyList_GET_ITEM(self.keys, self.i)
            self.i += 1
            if hc_version(self.cache.c) == self.version and not hc_timed(self.cache.c):
                return key
            if self.cache._find_live(key, &now) >= 0:
                return key
        raise StopIteration


_abc.MutableMapping.register(Core)


include "sizing.pxi"
include "hotpath.pxi"
include "config.pxi"
include "pickle.pxi"
include "policy.pxi"
include "gc.pxi"
include "check.pxi"
include "subclass.pxi"
include "call.pxi"
include "front.pxi"
include "jsonscan.pxi"
