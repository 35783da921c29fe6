# Rule B (core.pyx's docstring): what leaves the cache is released only once the core is consistent.
# Included by core.pyx before Core: moving a key/value word out of (and into) a record, the outbox
# an operation collects its departing entries in, and their release (on_evict, the tier's spill
# hook, then the references). The pure twin's counterpart is hotcache._spec.outbox._Pending.

cdef inline object _take_k(Core self, Py_ssize_t slot):
    """Move the key out of slot's record (it gets NULL); the caller owns it."""
    cdef hc_entry *e = hc_entry_at(self.c, <uint32_t>slot)
    cdef object r = <object>e.key
    e.key = NULL
    Py_DECREF(r)          # the record's former reference; r keeps its own
    return r


cdef inline object _take_v(Core self, Py_ssize_t slot):
    """Move the value out of slot's record (it gets NULL); the caller owns it."""
    cdef hc_entry *e = hc_entry_at(self.c, <uint32_t>slot)
    cdef object r = <object>e.val
    e.val = NULL
    Py_DECREF(r)
    return r


cdef inline void _put_k(Core self, Py_ssize_t slot, object k):
    """Store k in slot's record, whose key word is NULL (no user code runs)."""
    Py_INCREF(k)
    hc_entry_at(self.c, <uint32_t>slot).key = <void *>k


cdef inline void _put_v(Core self, Py_ssize_t slot, object v):
    Py_INCREF(v)
    hc_entry_at(self.c, <uint32_t>slot).val = <void *>v


# ---- the outbox: entries that left the core during one operation ----
# Rule B needs more than "release after": between a core call that frees a slot and the moment its
# key/value leave the record, nothing may allocate a Python object, because an allocation can run
# the garbage collector, hence gc callbacks, __del__ methods and other threads, one of which could
# insert into the freed slot. So payloads are moved into this C buffer (raw memory: no collection)
# right after each core call, and turned into Python-visible things only afterwards.
cdef struct _Outbox:
    size_t n, cap
    PyObject **kv          # 2 * cap: key, value of each entry (owned references)
    int *cause             # cap
    double *exp            # cap: the expiry a policy victim had (+inf: none), for the spill hook
    PyObject *kv0[16]
    int cause0[8]
    double exp0[8]


cdef inline void _out_init(_Outbox *o) noexcept:
    o.n = 0
    o.cap = 8
    o.kv = o.kv0
    o.cause = o.cause0
    o.exp = o.exp0


cdef int _out_grow(_Outbox *o) except -1:
    cdef size_t cap = o.cap * 2
    cdef PyObject **kv = <PyObject **>malloc(2 * cap * sizeof(PyObject *))
    cdef int *cause = <int *>malloc(cap * sizeof(int))
    cdef double *exp = <double *>malloc(cap * sizeof(double))
    if kv == NULL or cause == NULL or exp == NULL:
        free(kv)
        free(cause)
        free(exp)
        raise MemoryError()
    memcpy(kv, o.kv, 2 * o.n * sizeof(PyObject *))
    memcpy(cause, o.cause, o.n * sizeof(int))
    memcpy(exp, o.exp, o.n * sizeof(double))
    if o.kv != o.kv0:
        free(o.kv)
        free(o.cause)
        free(o.exp)
    o.kv = kv
    o.cause = cause
    o.exp = exp
    o.cap = cap
    return 0


cdef inline void _out_push(Core self, _Outbox *o, uint32_t slot, int cause) noexcept:
    """Move slot's key and value (its record was just freed, or is being removed) into o.
    Room must exist (_out_room)."""
    cdef hc_entry *e = hc_entry_at(self.c, slot)
    o.kv[2 * o.n] = <PyObject *>e.key
    o.kv[2 * o.n + 1] = <PyObject *>e.val
    o.cause[o.n] = cause
    o.exp[o.n] = INFINITY
    o.n += 1
    e.key = NULL
    e.val = NULL


cdef inline int _out_room(_Outbox *o, size_t k) except -1:
    """Make room for k more entries (C memory only: no collection can run)."""
    while o.n + k > o.cap:
        _out_grow(o)
    return 0


cdef int _out_release(Core self, _Outbox *o) except -1:
    """(5) then (4): on_evict for each entry in o that was evicted or expired, then drop
    the references. Every callback runs; the first exception is raised afterwards."""
    cdef size_t i
    cb = self._on_evict
    err = None
    try:
        if cb is not None:
            for i in range(o.n):
                if o.cause[i] == HC_CAUSE_NONE:
                    continue
                try:
                    cb(<object>o.kv[2 * i], <object>o.kv[2 * i + 1], _CAUSES[o.cause[i]])
                except BaseException as e:
                    if err is None:
                        err = e
        if self._spill is not None:
            _spill_out(self, o)
    finally:
        n = o.n
        o.n = 0
        for i in range(2 * n):
            Py_XDECREF(o.kv[i])
        if o.kv != o.kv0:
            free(o.kv)
            free(o.cause)
            free(o.exp)
            _out_init(o)
    if err is not None:
        raise err
    return 0

cdef int _spill_out(Core self, _Outbox *o) except -1:
    """The tier hook for each policy victim in o, with the seconds it had left (None: no
    expiry). The hook must not raise; its errors are swallowed so a tier never breaks L1."""
    cdef size_t i
    cdef double now = -INFINITY
    for i in range(o.n):
        if o.cause[i] != HC_CAUSE_SIZE and o.cause[i] != HC_CAUSE_MEMORY:
            continue
        left = None
        if o.exp[i] != INFINITY:
            if now == -INFINITY:
                try:
                    now = self._timer.read_f()
                except Exception:
                    now = NAN
            if not isnan(now):
                left = o.exp[i] - now
        try:
            self._spill(<object>o.kv[2 * i], <object>o.kv[2 * i + 1], _CAUSES[o.cause[i]],
                        left)
        except Exception:
            pass
    return 0

cdef void _spill_one(Core self, object k, object v, int cause) noexcept:
    """The tier hook for one victim that had no expiry (the fast and popitem() paths)."""
    try:
        self._spill(k, v, _CAUSES[cause], None)
    except BaseException:
        pass
