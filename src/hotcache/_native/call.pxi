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

from types import MethodType as _MethodType

cdef object _KWD_MARK = object()   # separates positional from keyword arguments (functools)


cdef class CachedCall:
    """``CachedCall(func, cache, miss, key=None, mode=0)``: the native hit path of hotcache's
    decorators (see hotcache._spec.call.CachedCall, its Python twin and specification)."""

    cdef object _func
    cdef object _cache
    cdef Core _core            # _cache when its plain lookup can run natively, else None
    cdef object _miss
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

    cdef object _call(self, tuple args, dict kwargs):
        """The call: kwargs is None or a non-empty dict."""
        cdef Py_hash_t h
        cdef Py_ssize_t slot
        cdef double now
        cdef Core core = self._core
        cdef int mode = self._mode
        # ---- the key (user code: the key function, hash()) ----
        if mode == 0:
            key = args if kwargs is None else self._key(*args, **kwargs)
        elif mode == 1:
            key = self._key(*args, **kwargs) if kwargs is not None else self._key(*args)
        else:
            key = _functools_key(args, kwargs, mode == 3)
        # ---- the lookup ----
        if core is not None:
            try:
                h = hash(key)
            except TypeError as exc:
                raise TypeError("%s: unhashable argument: %s" % (_name_of(self._func), exc)) \
                    from None
            if hc_rarely(core._sizing is not None):     # the sizing advisor (sizing.pxi), as _use
                (<Sizer>core._sizing)._observe(key, h)
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
            if mode < 2:
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
            return self._miss(key, args, kwargs if kwargs is not None else {})
        self._hits += 1
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
