# A native read-through front: L1 hits at the L1's own speed; a tiered cache's misses read the
# tier and promote natively too. Included by core.pyx; hotcache.tiers.TieredCache subclasses it
# (and hotcache._spec.front is its twin).
#
# A Python mapping that wraps a cache pays one Python frame per hit (about 2.4x a bare c[k]).
# ReadThrough's __getitem__/get are C slots that a Python subclass inherits as they are
# (typeobject.c takes mp_subscript from the base's slot wrapper), so a hit is the L1's own
# lookup plus one pointer test. A miss calls the subclass's _load(self, key, default), looked up
# once on the class (an unbound function: no reference cycle through a bound method).
#
# THE ARMED MISS PATH (_rt_arm; TieredCache arms it when its class overrides none of the miss
# path's hooks). A disk-tier hit cost ~2.5 us of Python frames around a ~2 us read (issue 15:
# _load, _rkey, encode_key, _begin, _fetch, _settle, _tally, _promote, _cap, _note). Armed,
# a miss runs hotcache.tiers.state._Tiered._load/_settle/_promote here, step for step:
#
#     L1 miss --> rkey      str / small int keys encoded here when the tier's _rkey is the
#                           standard encoder (prefix + encode_key(key), UTF-8), else tier._rkey
#             --> gen = _gen (THE GENERATION RULE of hotcache.tiers.state)
#             --> hit       tier._fetch_counted(rkey) (one frame: read, decode, count), or
#                           tier._tally(tier._fetch(rkey))
#             --> promote   under _lock: refused if out of sync, below _floor or touched after
#                           gen; else _raise (a chain's copy upwards), l1.set (Core._store
#                           directly for a plain Core), the index entry (pruned by _note)
#
# The generation state (_lock, _gen, _floor, _touched, _index, _index_limit, _insync, _raise)
# lives in this type so the miss path reads it as C fields; _Tiered's Python code reads and
# writes the same fields through their descriptors. A miss while the subscription is lost
# (_insync false) takes the Python path (_load), which restarts the subscriber.

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem
from cpython.unicode cimport PyUnicode_AsEncodedString

cdef extern from "Python.h":
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1

cdef long long _RT_SMALL = 1LL << 62   # encode_key's "i%d" range (larger ints: tier._rkey)


cdef class ReadThrough:
    """``ReadThrough(l1)``: ``self[key]`` and ``self.get(key, default)`` read ``l1``; a miss
    returns ``type(self)._load(self, key, default)`` (``__getitem__`` raises KeyError when that
    returns the private sentinel it passed as default), or, once armed (``_rt_arm``), runs the
    tiered cache's miss path natively."""

    cdef object _rt_l1
    cdef Core _rt_core          # l1 when its plain lookup can run natively, else None
    cdef object _rt_load        # type(self)._load, a plain function
    # the armed miss path (_rt_tier None: not armed)
    cdef object _rt_tier
    cdef object _rt_rkey        # tier._rkey when armed (the native encoding applies while it is)
    cdef bytes _rt_str          # prefix + b"s" (None: no native key encoding)
    cdef bytes _rt_int          # prefix + b"i"
    cdef object _rt_counted     # tier._fetch_counted, or None
    cdef bint _rt_core_set      # l1 is a Core whose set is Core.set: promote via Core._store
    # the generation state of hotcache.tiers.state._Tiered (see above)
    cdef public object _lock, _gen, _floor, _touched, _index, _index_limit, _insync, _raise

    def __init__(self, l1):
        load = getattr(type(self), "_load", None)
        if not callable(load):
            raise TypeError("a ReadThrough subclass must define _load(self, key, default)")
        self._rt_l1 = l1
        self._rt_load = load
        self._rt_core = None
        self._rt_tier = None
        if isinstance(l1, Core) and not (<Core>l1)._has_missing and \
                type(l1).__getitem__ is Core.__getitem__:
            self._rt_core = <Core>l1

    def _rt_arm(self, tier, prefix=None):
        """Run misses natively against ``tier`` (None: disarm, misses call _load again). The
        generation state must be set up first (hotcache.tiers.state._Tiered._setup).
        ``prefix``: bytes such that ``tier._rkey(key) == prefix + encode_key(key)`` in UTF-8
        (surrogatepass) for every key, or None."""
        if tier is None:
            self._rt_tier = None
            return
        if prefix is not None and not isinstance(prefix, bytes):
            raise TypeError("prefix must be bytes or None")
        self._rt_rkey = tier._rkey
        self._rt_str = None if prefix is None else prefix + b"s"
        self._rt_int = None if prefix is None else prefix + b"i"
        self._rt_counted = getattr(tier, "_fetch_counted", None)
        l1 = self._rt_l1
        self._rt_core_set = isinstance(l1, Core) and type(l1).set is Core.set and \
            type(l1).default_ttl is Core.default_ttl
        self._rt_tier = tier

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
        return _rt_missed(self, key, _MISSING)

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
        return _rt_missed(self, key, default)


cdef object _rt_missed(ReadThrough self, object key, object default):
    """An L1 miss: the armed path, else type(self)._load; ``default`` _MISSING (``self[key]``):
    KeyError when nothing was found."""
    if self._rt_tier is not None and self._insync:
        value = _rt_miss(self, key, default)
    else:
        value = self._rt_load(self, key, default)
    if value is _MISSING:
        raise KeyError(key)
    return value


cdef object _rt_key(ReadThrough self, object tier, object key):
    """The tier's key of ``key``: natively for str and small int keys while the tier's _rkey
    is the one armed with a prefix (exactly what encode_key makes: "s" + text, "i%d"), else
    ``tier._rkey(key)`` (its TypeError for keys it cannot encode)."""
    cdef long long n
    cdef unsigned long long u
    cdef int overflow = 0
    cdef char buf[24]
    cdef int pos = 24
    rkey = tier._rkey
    if self._rt_str is not None and rkey is self._rt_rkey:
        if type(key) is str:
            return self._rt_str + PyUnicode_AsEncodedString(key, b"utf-8", b"surrogatepass")
        if type(key) is int:
            n = PyLong_AsLongLongAndOverflow(key, &overflow)
            if overflow == 0 and -_RT_SMALL < n < _RT_SMALL:
                # decimal digits by hand: glibc's snprintf cost ~700 instructions a key
                u = <unsigned long long>(-n if n < 0 else n)
                while True:
                    pos -= 1
                    buf[pos] = <char>(48 + u % 10)
                    u //= 10
                    if u == 0:
                        break
                if n < 0:
                    pos -= 1
                    buf[pos] = 45  # "-"
                return self._rt_int + PyBytes_FromStringAndSize(buf + pos, 24 - pos)
    return rkey(key)


cdef object _rt_miss(ReadThrough self, object key, object default):
    """An armed L1 miss: TieredCache._load -> _Tiered._settle -> _promote, natively (see THE
    ARMED MISS PATH above). Returns the value found in the tier, else ``default``."""
    cdef object tier = self._rt_tier
    cdef Core core
    cdef PyObject *found
    rkey = _rt_key(self, tier, key)
    gen = self._gen                                    # _begin (in sync: nothing to restart)
    counted = self._rt_counted
    if counted is not None:
        hit = counted(rkey)
    else:
        hit = tier._tally(tier._fetch(rkey))
    if hit is None:                                    # MISS
        return default
    value, left = hit
    ttl = left
    if ttl is not None:                                # _cap: an L1 copy never outlives the tier's
        own = (<Core>self._rt_l1)._ttl if self._rt_core_set else getattr(self._rt_l1, "default_ttl", None)
        if isinstance(own, (int, float)) and own < ttl:
            ttl = None
    with self._lock:
        if not self._insync or gen < self._floor:
            return value
        touched = self._touched
        if type(touched) is dict:
            found = PyDict_GetItem(touched, rkey)     # bytes keys: no error to swallow
            seen = <object>found if found != NULL else None
        else:
            seen = touched.get(rkey)
        if seen is not None and seen > gen:
            return value                               # a write raced this read: its value wins
        if self._raise is not None:
            self._raise(rkey, value, left)
        try:
            if self._rt_core_set:                      # Core.set, without its call
                core = <Core>self._rt_l1
                if ttl is None:
                    core._store(key, value, core._ttl, True)
                else:
                    core._store(key, value, _ttl_arg(ttl), False)
            else:
                self._rt_l1.set(key, value, ttl)
        except ValueError:                             # larger than the L1 can hold: serve it
            return value
        index = self._index                            # _note
        index[rkey] = (key, value)
        if len(index) > self._index_limit:
            self._note(rkey, key, value)
    return value
