# The references the records hold, in bulk: taken after hc_clone, dropped on dealloc and by the
# garbage collector's tp_clear, and shown to its tp_traverse. Included by core.pyx after Core
# (the type slots are wrapped at import, once Core exists).

cdef void _own_payloads(hc_cache *c) noexcept:
    """INCREF every key and value held by c's live records (after hc_clone)."""
    cdef uint32_t s = hc_order_first(c)
    cdef hc_entry *e
    while s != HC_NIL:
        e = hc_entry_at(c, s)
        Py_XINCREF(<PyObject *>e.key)
        Py_XINCREF(<PyObject *>e.val)
        s = hc_order_next(c, s)


cdef void _drop_payloads(hc_cache *c) noexcept:
    """Release every key and value of c's live records and empty the core (dealloc, tp_clear).
    The pointers are moved out first, so a __del__ they trigger sees an empty cache."""
    cdef size_t n = hc_len(c), i = 0
    cdef PyObject **objs = <PyObject **>malloc((2 * n + 1) * sizeof(PyObject *))
    cdef uint32_t s = hc_order_first(c)
    cdef hc_entry *e
    while s != HC_NIL:
        e = hc_entry_at(c, s)
        if objs != NULL:
            objs[i] = <PyObject *>e.key
            objs[i + 1] = <PyObject *>e.val
            i += 2
        else:                            # out of memory: release in place
            Py_XDECREF(<PyObject *>e.key)
            Py_XDECREF(<PyObject *>e.val)
        e.key = NULL
        e.val = NULL
        s = hc_order_next(c, s)
    hc_clear(c)
    if objs != NULL:
        while i > 0:
            i -= 1
            Py_XDECREF(objs[i])
        free(objs)


# The keys and values live in the C records, so the garbage collector must be told about them:
# Core's tp_traverse / tp_clear are wrapped once at import (before any subclass exists; CPython's
# subtype_traverse/subtype_clear of Python subclasses call these).
cdef traverseproc _base_traverse = (<PyTypeObject *>Core).tp_traverse
cdef inquiry _base_clear = (<PyTypeObject *>Core).tp_clear


cdef int _core_traverse(PyObject *o, visitproc visit, void *arg) noexcept:
    cdef int r
    cdef hc_cache *c = (<Core>o).c
    cdef uint32_t s
    cdef hc_entry *e
    if _base_traverse != NULL:
        r = _base_traverse(o, visit, arg)
        if r:
            return r
    if c == NULL:
        return 0
    s = hc_order_first(c)
    while s != HC_NIL:
        e = hc_entry_at(c, s)
        if e.key != NULL:
            r = visit(<PyObject *>e.key, arg)
            if r:
                return r
        if e.val != NULL:
            r = visit(<PyObject *>e.val, arg)
            if r:
                return r
        s = hc_order_next(c, s)
    return 0


cdef int _core_clear(PyObject *o) noexcept:
    cdef hc_cache *c = (<Core>o).c
    if c != NULL:
        _drop_payloads(c)
    if _base_clear != NULL:
        return _base_clear(o)
    return 0


(<PyTypeObject *>Core).tp_traverse = <traverseproc>_core_traverse
(<PyTypeObject *>Core).tp_clear = <inquiry>_core_clear
