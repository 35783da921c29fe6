# The decorators' hit path: one native call from the caller's arguments to the cached value.
# Included by core.pyx (so the lookup inlines _find and the LRU touch); hotcache.memo.wrappers subclasses it.
#
# HOW IT WORKS
#   wrapper(*args, **kwargs)            a CachedCall (or a Python subclass: tp_call stays native)
#     key   = built from args/kwargs    mode 0: cachetools hashkey (args itself when no kwargs)
#                                       mode 1: the user's key function
#                                       mode 2/3: functools.lru_cache's key (untyped / typed)
#     h     = hash(key), once           an unhashable argument: TypeError naming the function
#     hit   = _find(core, key, h)       a hotcache C cache: no method call, no __missing__
#             or cache[key]             any other mapping (KeyError = miss), as cachetools does
#     miss  -> self._miss(key, args, kwargs)   Python: single-flight, locks, ttl=, unless= ...
#           -> modes 2/3: func(*args, **kwargs) (timed), stored under (key, h) without re-hashing
# Nothing here holds a lock or reads a clock unless the cache is timed; the variant (mode, native
# cache or not) is fixed at construction, never chosen per call.

cimport cython
from types import MethodType as _MethodType

cdef object _KWD_MARK = object()   # separates positional from keyword arguments (functools)

# ---- hashing a key once, without a call through tuplehash ----
# A key in modes 0/2/3 is usually the call's own argument tuple. CPython's tuplehash costs ~55
# instructions for one item beyond the item's own hash (PyObject_Hash -> tuplehash -> loop
# set-up); hc_key_hash computes the same xxHash-based value inline (Objects/tupleobject.c,
# unchanged from 3.8 to 3.14) and calls the items' tp_hash directly. It is used only if it
# agrees with hash() on sample tuples at import (_check_tuple_hash), else hash() is used: a
# key's hash must be exactly what hash(key) gives, since users look keys up with cache[key].
# Returns -1 with an exception set when an item is unhashable (as PyObject_Hash).
cdef extern from *:
    """
    static int hc_tuple_hash_ok = 0;
    #if SIZEOF_PY_UHASH_T > 4
    #define HC_XXPRIME_1 ((Py_uhash_t)11400714785074694791ULL)
    #define HC_XXPRIME_2 ((Py_uhash_t)14029467366897019727ULL)
    #define HC_XXPRIME_5 ((Py_uhash_t)2870177450012600261ULL)
    #define HC_XXROTATE(x) ((x << 31) | (x >> 33))
    #else
    #define HC_XXPRIME_1 ((Py_uhash_t)2654435761UL)
    #define HC_XXPRIME_2 ((Py_uhash_t)2246822519UL)
    #define HC_XXPRIME_5 ((Py_uhash_t)374761393UL)
    #define HC_XXROTATE(x) ((x << 13) | (x >> 19))
    #endif
    static Py_hash_t hc_tuple_hash(PyObject *t)
    {
        Py_ssize_t i, len = PyTuple_GET_SIZE(t);
        Py_uhash_t acc = HC_XXPRIME_5;
        for (i = 0; i < len; i++) {
            PyObject *item = PyTuple_GET_ITEM(t, i);
            hashfunc f = Py_TYPE(item)->tp_hash;
            Py_uhash_t lane = (Py_uhash_t)(f != NULL ? f(item) : PyObject_Hash(item));
            if (lane == (Py_uhash_t)-1)
                return -1;
            acc += lane * HC_XXPRIME_2;
            acc = HC_XXROTATE(acc);
            acc *= HC_XXPRIME_1;
        }
        acc += (Py_uhash_t)len ^ (HC_XXPRIME_5 ^ 3527539UL);
        if (acc == (Py_uhash_t)-1)
            return 1546275796;
        return (Py_hash_t)acc;
    }
    static inline Py_hash_t hc_key_hash(PyObject *key)
    {
        if (PyTuple_CheckExact(key) && hc_tuple_hash_ok)
            return hc_tuple_hash(key);
        return PyObject_Hash(key);
    }
    /* Hands an exception already set to Cython's error handling (the caller's try/except). */
    static int hc_reraise(void) { return -1; }
    """
    int hc_tuple_hash_ok
    Py_hash_t hc_tuple_hash(PyObject *t)
    Py_hash_t hc_key_hash(PyObject *key)
    int hc_reraise() except -1

cdef extern from "Python.h":
    PyObject *PyErr_Occurred()


cdef bint _check_tuple_hash():
    """Whether hc_tuple_hash equals hash() on sample tuples (checked once, at import)."""
    samples = [(), (1,), (-1,), (0, 1), (2 ** 62 + 7,), ("a", b"b", 1.5, None),
               ((1, 2), frozenset([3]), -2), tuple(range(20)), (True, 10 ** 30, -(2 ** 61))]
    cdef Py_hash_t h
    for t in samples:
        h = hc_tuple_hash(<PyObject *>t)
        if h != hash(t):
            return False
    return True


hc_tuple_hash_ok = _check_tuple_hash()
TUPLE_HASH = "inline" if hc_tuple_hash_ok else "hash()"


cdef int _raise_unhashable(func) except -1:
    """PyObject_Hash failed (an exception is set): raise it, a TypeError as the decorators'
    "<qualname>: unhashable argument: ..." (from None)."""
    try:
        hc_reraise()
    except TypeError as exc:
        raise TypeError("%s: unhashable argument: %s" % (_name_of(func), exc)) from None
    return -1


cdef class FlightMiss


cdef class CachedCall:
    """``CachedCall(func, cache, miss, key=None, mode=0)``: the native hit path of hotcache's
    decorators (see hotcache._spec.call.CachedCall, its Python twin and specification)."""

    cdef object _func
    cdef object _cache
    cdef Core _core            # _cache when its plain lookup can run natively, else None
    cdef object _miss
    cdef FlightMiss _flight    # _miss when it is the native single-flight miss, else None
    cdef object _key
    cdef int _mode
    cdef bint _never_store     # modes 2/3 with maxsize 0: count misses, store nothing
    cdef Py_ssize_t _hits, _misses
    cdef Py_ssize_t _load_errors      # modes 2/3: calls of func that raised
    cdef double _load_seconds         # modes 2/3: monotonic seconds spent in func on misses
    cdef dict __dict__
    cdef object __weakref__

    def __init__(self, func, cache, miss, key=None, mode=0):
        if not callable(func):
            raise TypeError("the cached function must be callable")
        if mode not in (0, 1, 2, 3):
            raise ValueError("mode must be 0, 1, 2 or 3")
        if mode == 1 and not callable(key):
            raise TypeError("key must be callable")
        if mode < 2 and not callable(miss):
            raise TypeError("miss must be callable")
        self._func = func
        self._cache = cache
        self._miss = miss
        self._flight = miss if type(miss) is FlightMiss else None
        self._key = key
        self._mode = mode
        self._core = None
        if isinstance(cache, Core) and not (<Core>cache)._has_missing and \
                type(cache).__getitem__ is Core.__getitem__:
            self._core = <Core>cache
        if mode >= 2 and self._core is None:
            raise TypeError("modes 2 and 3 need a hotcache cache")
        self._never_store = mode >= 2 and self._core is not None and \
            hc_max_size(self._core.c) == 0
        setattr(self, "__wrapped__", func)

    @property
    def cache(self):
        """The mapping the results are stored in."""
        return self._cache

    property hits:
        """Calls answered from the cache."""
        def __get__(self):
            return self._hits

        def __set__(self, value):
            self._hits = value

    property misses:
        """Calls that missed (modes 2/3 count them here; modes 0/1 leave it to `miss`)."""
        def __get__(self):
            return self._misses

        def __set__(self, value):
            self._misses = value

    property load_errors:
        """Modes 2/3: misses whose call of func raised (modes 0/1: 0, the miss callable counts)."""
        def __get__(self):
            return self._load_errors

        def __set__(self, value):
            self._load_errors = value

    property load_seconds:
        """Modes 2/3: seconds spent in func on misses, failed calls included."""
        def __get__(self):
            return self._load_seconds

        def __set__(self, value):
            self._load_seconds = value

    def __get__(self, obj, objtype):
        if obj is None:
            return self
        return _MethodType(self, obj)

    def __call__(self, *args, **kwargs):
        return self._call(args, kwargs if kwargs else None)

    @cython.final   # a direct C call from the tp_call slot, no vtable
    cdef object _call(self, tuple args, dict kwargs):
        """The call: kwargs is None or a non-empty dict. The hit path is this function alone;
        keys needing a function call, other mappings and misses are out of line (fewer
        temporaries to set up per hit)."""
        cdef Py_hash_t h
        cdef Py_ssize_t slot
        cdef double now
        cdef Core core = self._core
        cdef object key
        if core is None:
            return self._call_mapping(args, kwargs)
        # ---- the key (user code: the key function) ----
        if kwargs is None and self._mode == 0:
            key = args              # cachetools' hashkey(*args) is args itself
        elif self._mode >= 2:
            key = _functools_key(args, kwargs, self._mode == 3)
        else:
            key = self._make_key(args, kwargs)
        # ---- the hash, once (user code: __hash__) ----
        h = hc_key_hash(<PyObject *>key)    # no try block: ~20 instructions per hit
        if h == -1 and PyErr_Occurred() != NULL:
            _raise_unhashable(self._func)
        if hc_rarely(core._sizing is not None):     # the sizing advisor (sizing.pxi), as _use
            (<Sizer>core._sizing)._observe(key, h)
        # ---- the lookup (user code: __eq__) ----
        now = _now_if_timed(core)
        if type(key) is tuple:
            slot = _find_tuple(core, <tuple>key, h)
        else:
            slot = _find(core, key, h)
        if slot >= 0 and not hc_expired(core.c, <uint32_t>slot, now):
            hc_touch(core.c, <uint32_t>slot)
            self._hits += 1
            return <object>hc_entry_at(core.c, slot).val
        hc_miss(core.c, <uint64_t>h)   # TINYLFU counts the key's frequency
        return self._call_miss(core, key, h, args, kwargs)

    cdef object _make_key(self, tuple args, dict kwargs):
        if self._mode == 0:
            return self._key(*args, **kwargs)
        if self._mode == 1:
            return self._key(*args, **kwargs) if kwargs is not None else self._key(*args)
        return _functools_key(args, kwargs, self._mode == 3)

    cdef object _call_miss(self, Core core, object key, Py_hash_t h, tuple args, dict kwargs):
        """A miss on a hotcache cache (hash h of key already computed)."""
        if self._mode < 2:
            if self._flight is not None:
                return self._flight._run(key, h, True, args, kwargs)
            return self._miss(key, args, kwargs if kwargs is not None else {})
        # ---- functools.lru_cache: load and store under the hash already computed ----
        self._misses += 1
        t0 = hc_clock_monotonic()
        try:
            result = self._func(*args, **kwargs) if kwargs is not None else self._func(*args)
        except BaseException:
            self._load_errors += 1
            self._load_seconds += hc_clock_monotonic() - t0
            raise
        self._load_seconds += hc_clock_monotonic() - t0
        if not self._never_store:
            if core._fast and not hc_timed(core.c):
                _store_fast_h(core, key, result, h)
            else:
                core[key] = result
        return result

    cdef object _call_mapping(self, tuple args, dict kwargs):
        """Any other mapping: cache[key] (KeyError = miss), as cachetools does."""
        if kwargs is None and self._mode == 0:
            key = args
        else:
            key = self._make_key(args, kwargs)
        try:
            value = self._cache[key]
        except KeyError:
            value = _MISSING    # the miss runs below, outside the handler: no KeyError context
        except TypeError as exc:
            if _unhashable(key):
                raise TypeError("%s: unhashable argument: %s" % (_name_of(self._func), exc)) \
                    from None
            raise
        if value is _MISSING:
            if self._flight is not None:
                return self._flight._run(key, 0, False, args, kwargs)
            return self._miss(key, args, kwargs if kwargs is not None else {})
        self._hits += 1
        return value


# ---- the miss of a plain ``cached`` wrapper: single-flight, natively ----
# hotcache.memo.load._Loader.counted_miss builds a FlightMiss for a wrapper without ttl=, unless=,
# lock= or condition=; otherwise the miss is the Python closure of _Loader.miss_path, which this
# does exactly (the tests run both), with these differences that are not observable:
#   - it is C from the cache miss to the call of func and from func's return to the waiters'
#     wake-up, so an asynchronous exception (a signal handler's KeyboardInterrupt) can land only
#     inside user code it calls (func, a key's __hash__/__eq__, threading.Event.set, a __del__);
#     ending a flight is still _finish's order and, if interrupted, _finish_again's retry;
#   - the counters are C fields of this object, which is also the wrapper's _Counts;
#   - on a native cache (a Core whose peek and __setitem__ are Core's) the leader's re-check is
#     _find under the hash the hit path computed, and the store is _store_fast_h (as lru_cache's
#     miss) when the cache allows it, else cache[key] = value.
#
#   _run(key, h)      misses += 1; call = _FlightCall(owner=this thread)
#                     calls.setdefault(key, call) is call ?  (one dict call: the registration)
#        no  -> flight.do(key, partial(self._lead_py, key, args, kwargs))   wait, or recursion
#        yes -> value = _lead(...)      re-check (no stats), else func() timed, store
#               call.state/result/exc = the outcome; _end: unregister, finished, wake; return
# Measured (benchmarks/callgrind_decorators.py, miss, 1 int arg, LRUCache(4096) full): the
# Python closure 10,010 instructions per call, this 3,609 (functools.lru_cache: 1,743).

cdef extern from "Python.h":
    PyObject *PyDict_SetDefault(object d, object key, object default) except NULL
    PyObject *PyDict_GetItemWithError(object d, object key)
    int PyDict_DelItem(object d, object key) except -1
    unsigned long PyThread_get_thread_ident()

from functools import partial as _partial
from hotcache._flight import _ERROR as _F_ERROR, _OK as _F_OK, _RETRY as _F_RETRY
from hotcache._flight import _finish as _f_finish, _finish_again as _f_finish_again


cdef class _FlightCall(list):
    """One flight of a FlightMiss: hotcache._flight._Call's interface (a list of the waiters'
    Events, owner, finished, state, result, exc), so SingleFlight.do's waiters and _finish
    handle it as one of their own."""

    cdef public object owner, finished, state, result, exc

    @property
    def done(self):
        """The Event the waiters wait on (None until the first waiter arrives)."""
        return self[0] if len(self) else None


cdef class FlightMiss:
    """``FlightMiss(func, cache, flight, recheck, missing)``: the single-flight miss of a plain
    ``cached`` wrapper (see above), called by CachedCall natively or as
    ``miss(key, args, kwargs)``; it is also the wrapper's counters (hotcache.memo.load._Counts'
    interface: hits, misses, loads, load_errors, load_seconds, receiver, reset(), stats()).

    ``flight`` is the wrapper's SingleFlight (its table holds the flights, its ``do`` runs
    waiters); ``recheck(key)`` is the leader's second look for caches that are not native
    (``missing`` if absent)."""

    cdef object _func
    cdef object _cache
    cdef Core _core            # cache, when peek and store can run natively here
    cdef bint _store_native    # _core's __setitem__ is Core's: _store_fast_h may replace it
    cdef dict _calls
    cdef object _do
    cdef object _recheck
    cdef object _missing
    cdef public Py_ssize_t hits, misses, loads, load_errors
    cdef public double load_seconds
    cdef public object receiver

    def __init__(self, func, cache, flight, recheck, missing):
        if not callable(func) or not callable(recheck):
            raise TypeError("func and recheck must be callable")
        self._func = func
        self._cache = cache
        self._calls = flight._calls
        self._do = flight.do
        self._recheck = recheck
        self._missing = missing
        self.receiver = None
        cls = type(cache)
        self._core = None
        if isinstance(cache, Core) and cls.peek is Core.peek:
            self._core = <Core>cache
            self._store_native = cls.__setitem__ is Core.__setitem__

    def reset(self):
        self.hits = self.misses = self.loads = self.load_errors = 0
        self.load_seconds = 0.0

    def stats(self, flight, hits=None):
        return {"hits": self.hits if hits is None else hits, "misses": self.misses,
                "loads": self.loads, "load_errors": self.load_errors,
                "load_seconds": self.load_seconds,
                "in_flight": flight.in_flight() if flight is not None else 0}

    def __call__(self, key, args, kwargs):
        return self._run(key, 0, False, args, kwargs if kwargs else None)

    def _lead_py(self, key, args, kwargs):
        """The leader's work for a flight SingleFlight.do runs (a waiter that leads a retry, or
        recursion on the leader's thread)."""
        return self._lead(key, 0, False, args, kwargs)

    cdef object _run(self, object key, Py_hash_t h, bint have_h, tuple args, dict kwargs):
        cdef _FlightCall call
        cdef PyObject *got
        self.misses += 1
        call = _FlightCall.__new__(_FlightCall)
        call.owner = PyThread_get_thread_ident()
        call.finished = False
        got = PyDict_SetDefault(self._calls, key, call)   # the registration (may run __eq__)
        if got != <PyObject *>call:
            # in flight: wait, or recursion on the leader's thread
            return self._do(key, _partial(self._lead_py, key, args, kwargs))
        try:
            value = self._lead(key, h, have_h, args, kwargs)
        except Exception as exc:
            call.exc = exc
            call.state = _F_ERROR
            self._end(key, call)
            raise
        except BaseException:
            call.state = _F_RETRY
            self._end(key, call)
            raise
        call.result = value
        call.state = _F_OK
        self._end(key, call)
        return value

    cdef int _end(self, object key, _FlightCall call) except -1:
        """_finish: unregister the flight (it is call), mark it finished, wake the
        waiters. An exception on the way (a key's __eq__, an asynchronous one inside Event.set)
        runs _finish_again, then propagates."""
        try:
            # only this leader removes its registration (waiters register only an absent key,
            # _finish removes only its own call): one lookup, not _finish's get-then-del
            try:
                PyDict_DelItem(self._calls, key)
            except KeyError:
                pass
            call.finished = True
            if len(call):
                call[0].set()
        except BaseException:
            _f_finish_again(_f_finish, self._calls, key, call)
            raise
        return 0

    cdef object _lead(self, object key, Py_hash_t h, bint have_h, tuple args, dict kwargs):
        """A flight leader's work: re-check (no stats, no use), call func (timed, counted),
        store (a ValueError from storing: not cached)."""
        cdef Core core = self._core
        cdef Py_ssize_t slot
        cdef double now, t0
        if core is not None:
            if not have_h:
                h = hc_key_hash(<PyObject *>key)
                if h == -1 and PyErr_Occurred() != NULL:
                    _raise_unhashable(self._func)
            now = _now_if_timed(core)
            if type(key) is tuple:
                slot = _find_tuple(core, <tuple>key, h)
            else:
                slot = _find(core, key, h)
            if slot >= 0 and not hc_expired(core.c, <uint32_t>slot, now):
                return <object>hc_entry_at(core.c, slot).val
        else:
            value = self._recheck(key)
            if value is not self._missing:
                return value
        t0 = hc_clock_monotonic()
        try:
            value = self._func(*args, **kwargs) if kwargs is not None else self._func(*args)
        except BaseException:
            self.load_errors += 1
            self.loads += 1
            self.load_seconds += hc_clock_monotonic() - t0
            raise
        self.loads += 1
        self.load_seconds += hc_clock_monotonic() - t0
        if core is not None and self._store_native and core._fast and not hc_timed(core.c):
            _store_fast_h(core, key, value, h)
        else:
            try:
                self._cache[key] = value
            except ValueError:
                pass    # too large for the cache
        return value


cdef inline object _functools_key(tuple args, dict kwargs, bint typed):
    """functools.lru_cache's key rule: a lone int/str argument is its own key; else a flat tuple."""
    cdef Py_ssize_t n = PyTuple_GET_SIZE(args)
    if kwargs is None:
        if not typed:
            if n == 1:
                a = <object>PyTuple_GET_ITEM(args, 0)
                if type(a) is int or type(a) is str:
                    return a
            return args
        return args + tuple([type(a) for a in args])
    key = list(args)
    key.append(_KWD_MARK)
    for k, v in kwargs.items():
        key.append(k)
        key.append(v)
    if typed:
        key.extend([type(a) for a in args])
        key.extend([type(v) for v in kwargs.values()])
    return tuple(key)


cdef object _name_of(func):
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


cdef bint _unhashable(key):
    try:
        hash(key)
    except TypeError:
        return True
    return False


# ---- a tp_call without the empty **kwargs dict Cython builds for every call ----
# Cython's def __call__(self, *args, **kwargs) allocates a dict per call even without keywords
# (~10 ns, a quarter of a functools.lru_cache hit). The type's tp_call goes straight to _call;
# the __call__ slot wrapper is pointed at it too, because a Python subclass takes its tp_call from
# that wrapper (typeobject.c update_one_slot), not from the base's slot.
#
# Two CPython implementation details are relied on, each checked at import before anything is
# changed, with a slower but equal path when a check fails:
#   (a) the layout of the __call__ slot wrapper: PyWrapperDescrObject.d_wrapped, a field of the
#       non-limited C API (Include/cpython/descrobject.h, 3.9 to at least 3.14). Build time: the
#       field is only named where the header is known to have it (CPython, not the limited API,
#       PY_VERSION_HEX below 3.15); import time: the field must hold this type's own tp_call.
#   (b) typeobject.c taking a Python subclass's tp_call from that field: a probe subclass, made
#       after the change, must get _cached_call_slot as its tp_call (else everything is undone).
# The fallback is Cython's own tp_call (-> def __call__ -> _call): the same calls and results,
# the keyword dict allocated per call. HOTCACHE_GENERIC_CALL=1 in the environment at import
# forces it (the tests run the decorator suites that way too). CALL_PATH tells which is in use:
# "native", or "generic: <why>".
cdef extern from *:
    """
    #if !defined(Py_LIMITED_API) && !defined(PYPY_VERSION) && PY_VERSION_HEX < 0x030F0000
    #define HC_WRAPPER_DESCR_WRAPPED(descr) (&((PyWrapperDescrObject *)(descr))->d_wrapped)
    #else
    #define HC_WRAPPER_DESCR_WRAPPED(descr) ((void **)NULL)
    #endif
    """
    void **HC_WRAPPER_DESCR_WRAPPED(PyObject *descr)

cdef extern from "Python.h":
    void PyType_Modified(PyTypeObject *t)


cdef object _cached_call_slot(object self, object args, PyObject *kwds):
    if kwds != NULL and len(<dict>kwds) != 0:
        return (<CachedCall>self)._call(<tuple>args, <dict>kwds)
    return (<CachedCall>self)._call(<tuple>args, None)


def _has_native_call(cls):
    """True if instances of the type ``cls`` are called through the native tp_call."""
    if not isinstance(cls, type):
        raise TypeError("a type is required")
    return (<PyTypeObject *>cls).tp_call == <ternaryfunc><void *>_cached_call_slot


cdef str _install_call_slot():
    """Point CachedCall's tp_call and its __call__ slot wrapper at _cached_call_slot after the
    checks above; returns CALL_PATH. Changes nothing unless every check passes (a failed probe
    restores both fields)."""
    import os
    if os.environ.get("HOTCACHE_GENERIC_CALL", "") not in ("", "0"):
        return "generic: HOTCACHE_GENERIC_CALL is set"
    cdef PyTypeObject *tp = <PyTypeObject *>CachedCall
    cdef ternaryfunc generic = tp.tp_call
    descr = CachedCall.__dict__.get("__call__")
    if type(descr) is not type(type.__call__):   # the slot wrapper type ("wrapper_descriptor")
        return "generic: CachedCall.__call__ is a %s, not a slot wrapper" % type(descr).__name__
    cdef void **wrapped = HC_WRAPPER_DESCR_WRAPPED(<PyObject *>descr)
    if wrapped == NULL:
        return "generic: the slot wrapper's layout is not known for this Python build"
    if generic == NULL or wrapped[0] != <void *>generic:
        return "generic: the slot wrapper does not hold CachedCall's tp_call"
    tp.tp_call = <ternaryfunc><void *>_cached_call_slot
    wrapped[0] = <void *>_cached_call_slot
    PyType_Modified(tp)
    probe = type("_CallProbe", (CachedCall,), {"__slots__": ()})
    if _has_native_call(probe):
        return "native"
    tp.tp_call = generic
    wrapped[0] = <void *>generic
    PyType_Modified(tp)
    return "generic: a Python subclass does not inherit the replaced tp_call"


CALL_PATH = _install_call_slot()
