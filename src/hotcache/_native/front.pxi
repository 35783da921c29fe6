# A native read-through front: L1 hits at the L1's own speed, misses handed to Python.
# Included by core.pyx; hotcache.tiers.TieredCache subclasses it (and hotcache._spec.front is its twin).
#
# A Python mapping that wraps a cache pays one Python frame per hit (about 2.4x a bare c[k]).
# ReadThrough's __getitem__/get are C slots that a Python subclass inherits as they are
# (typeobject.c takes mp_subscript from the base's slot wrapper), so a hit is the L1's own
# lookup plus one pointer test. A miss calls the subclass's _load(self, key, default), looked up
# once on the class (an unbound function: no reference cycle through a bound method).

cdef class ReadThrough:
    """``ReadThrough(l1)``: ``self[key]`` and ``self.get(key, default)`` read ``l1``; a miss
    returns ``type(self)._load(self, key, default)`` (``__getitem__`` raises KeyError when that
    returns the private sentinel it passed as default)."""

    cdef object _rt_l1
    cdef Core _rt_core          # l1 when its plain lookup can run natively, else None
    cdef object _rt_load        # type(self)._load, a plain function

    def __init__(self, l1):
        load = getattr(type(self), "_load", None)
        if not callable(load):
            raise TypeError("a ReadThrough subclass must define _load(self, key, default)")
        self._rt_l1 = l1
        self._rt_load = load
        self._rt_core = None
        if isinstance(l1, Core) and not (<Core>l1)._has_missing and \
                type(l1).__getitem__ is Core.__getitem__:
            self._rt_core = <Core>l1

    def __getitem__(self, key):
        cdef Py_ssize_t slot
        cdef Core core = self._rt_core
        if core is not None:
            if hc_rarely(core._sizing is not None):     # the sizing advisor (sizing.pxi)
                core._observe_sized(key)
            slot = _use(core, key)
            if slot >= 0:
                return <object>hc_entry_at(core.c, slot).val
        else:
            try:
                return self._rt_l1[key]
            except KeyError:
                pass
        value = self._rt_load(self, key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key, default=None):
        cdef Py_ssize_t slot
        cdef Core core = self._rt_core
        if core is not None:
            if hc_rarely(core._sizing is not None):     # the sizing advisor (sizing.pxi)
                core._observe_sized(key)
            slot = _use(core, key)
            if slot >= 0:
                return <object>hc_entry_at(core.c, slot).val
        else:
            try:
                return self._rt_l1[key]
            except KeyError:
                pass
        return self._rt_load(self, key, default)
