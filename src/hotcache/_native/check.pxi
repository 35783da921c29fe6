# The invariant checker the tests run after every step (the C side is csrc/hc_check.c): the core's
# own structures, then what the binding adds (every live record holds a key and a value). Included
# by core.pyx after Core.


cdef int _check_core(Core self) except -1:
    """Core._check: hc_check() on the C structures, then every live record holds a key and a
    value, and the insertion order has as many entries as the core counts."""
    cdef char msg[256]
    cdef uint32_t s
    cdef Py_ssize_t i, live = 0
    if hc_check(self.c, msg, sizeof(msg)) != 0:
        raise AssertionError("hc_check: " + msg.decode("utf-8", "replace"))
    s = hc_order_first(self.c)
    while s != HC_NIL:
        live += 1
        if hc_entry_at(self.c, s).key == NULL or hc_entry_at(self.c, s).val == NULL:
            raise AssertionError("live slot %d holds no key or no value" % s)
        s = hc_order_next(self.c, s)
    if live != <Py_ssize_t>hc_len(self.c):
        raise AssertionError("insertion order has %d entries, core says %d" % (live, hc_len(self.c)))
    return 0

