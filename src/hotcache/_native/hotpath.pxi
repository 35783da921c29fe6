# The hot path: finding a key's slot, using it, and the plain store. Included by core.pyx after
# Core; Core's mapping methods, CachedCall (call.pxi) and ReadThrough (front.pxi) all go through
# these, so a hit through any of them is the same inlined probe. Rule A (core.pyx's docstring):
# user code (hash, the timer, ==) runs before anything changes, and a probe restarts when an
# __eq__ changed the cache.

cdef int _store_fast_h(Core self, object key, object value, Py_hash_t h) except -1:
    """Core._store_fast with the hash already computed (hash(key) == h; the decorators' hit
    path hashes each key once per call, as functools.lru_cache does). A new key takes the fused
    miss path (hc_insert_probed): the lookup's probe tells the core where the key goes, and a
    victim's record is recycled for it; the victim's key and value come back as raw words that
    are released only after the new pair is stored (4)."""
    cdef Py_ssize_t slot
    cdef hc_probe p
    cdef PyObject *old
    cdef hc_entry *e
    if hc_over(self.c, 1, 0) != HC_CAUSE_NONE:
        # full: start loading what evicting the next victim touches (its index bucket and
        # its key/value pair) while the probe below waits for this key's bucket
        hc_prefetch_victim(self.c)
    slot = _find_impl(self, key, h, False, &p)     # (2): the last user code before the structural work
    if slot >= 0:
        hc_update(self.c, <uint32_t>slot, 1, 0, INFINITY)
        e = hc_entry_at(self.c, <uint32_t>slot)
        old = <PyObject *>e.val
        Py_INCREF(value)
        e.val = <void *>value
        Py_DECREF(<object>old)      # consistent again: the old value may go now (4)
        return 0
    # p ran to its end and nothing changed since (no user code between): the fused insert
    return _store_new(self, key, value, &p, h)


cdef inline int _store_new(Core self, object key, object value, hc_probe *p, Py_hash_t h) except -1:
    """The new-key part of _store_fast_h: p is a probe for h (key's hash) that ran to its end
    with nothing changed in the cache since; the fused insert (hc_insert_probed)."""
    cdef uint32_t s
    cdef hc_evicted ev
    cdef hc_entry *e
    s = hc_insert_probed(self.c, p, <uint64_t>h, &ev)
    if s == HC_NIL:
        if ev.slot != HC_NIL:       # out of memory after the eviction: the victim goes unseen,
            e = hc_entry_at(self.c, ev.slot)        # as it did before the fused path
            e.key = NULL
            e.val = NULL
            Py_XDECREF(<PyObject *>ev.key)
            Py_XDECREF(<PyObject *>ev.val)
        raise MemoryError("hotcache: out of slots or memory")
    _put_k(self, s, key)
    _put_v(self, s, value)
    if ev.slot == HC_NIL:
        return 0
    if self._on_evict is None and self._spill is None:
        # consistent again: the victim's pair may go now (4); the references were the record's
        Py_XDECREF(<PyObject *>ev.key)
        Py_XDECREF(<PyObject *>ev.val)
        return 0
    return _store_fast_evicted(self, <PyObject *>ev.key, <PyObject *>ev.val)


# ---- cache-aside: get(k) missed, then c[k] = v ----
# get()'s miss leaves its finished probe behind (_aside_keep) and a store of the very same key
# object right after takes it (_store_aside): no second hash, no second probe. Exact, not a
# heuristic: only for keys of exact type int or str, whose hash and == run no user code and
# depend on the value alone, and only when the probe compared no key (every key in its run had
# another hash), so hash and probe are pure functions of the key and the index; the index is the
# same while hc_version is (every insert, removal, clear and restore bumps it; a replaced C cache
# goes through _detach_all, which drops the carry). The carry owns a reference to its key, so
# "the very same object" is identity, never a recycled address; an int or str has no finalizer,
# no weak references and no references of its own, so holding it until the next miss or store
# runs no user code and can make no cycle.

cdef inline Py_ssize_t _use_get(Core self, object key) except -2:
    """_use() for Core.get(), its one caller (so gcc inlines it whatever its size: another call
    site of _use() itself would push _use() past gcc's inlining budget, +26 instructions per
    c.get(k) hit). The same lookup, whose miss leaves the finished probe to a following store
    (_aside_keep) when the probe compared no key: _find_impl's loop, spelt out with that count."""
    cdef Py_hash_t h = hash(key)
    cdef double now = _now_if_timed(self)
    cdef hc_probe p
    cdef uint32_t slot
    cdef PyObject *k
    cdef uint64_t ver
    cdef bint restart, compared = False
    cdef int eq
    p.empty = <size_t>-1            # stays so when the index has no buckets (nothing to carry)
    while True:
        restart = False
        hc_probe_init(self.c, <uint64_t>h, &p)
        slot = hc_probe_next(self.c, &p)
        while slot != HC_NIL:
            k = <PyObject *>hc_entry_at(self.c, slot).key
            if k == <PyObject *>key:
                break
            if hc_hash_at(self.c, slot) != <uint64_t>h:   # same fragment, other hash
                slot = hc_probe_next(self.c, &p)
                continue
            compared = True
            ver = hc_version(self.c)
            other = <object>k
            eq = PyObject_RichCompareBool(other, key, Py_EQ)
            if hc_version(self.c) != ver:
                restart = True
                compared = False        # the run that counts is the next one
                break
            if eq:
                break
            slot = hc_probe_next(self.c, &p)
        if not restart:
            break
    if slot != HC_NIL:
        if not hc_expired(self.c, slot, now):
            hc_touch(self.c, slot)
            return slot
        hc_miss(self.c, <uint64_t>h)
        return -1
    hc_miss(self.c, <uint64_t>h)
    if not compared and self._fast and (type(key) is int or type(key) is str):
        _aside_keep(self, key, h, &p)   # p ran to its end: a c[key] = v next may reuse it
    return -1


cdef void _aside_keep(Core self, object key, Py_hash_t h, hc_probe *p) noexcept:
    """Remember get()'s miss of key (an exact int or str), whose probe p ran to its end comparing
    no key: a store of key before the cache changes may insert where p ended."""
    cdef PyObject *old = self._aside_key
    Py_INCREF(key)
    self._aside_key = <PyObject *>key
    self._aside_hash = <uint64_t>h
    self._aside_ver = hc_version(self.c)
    self._aside_probe = p[0]
    if old != NULL:
        Py_DECREF(<object>old)      # an int or str: no user code runs


cdef inline void _aside_drop(Core self) noexcept:
    """Forget the carried miss (dealloc; the C cache is about to be replaced or cleared)."""
    cdef PyObject *old = self._aside_key
    if old != NULL:
        self._aside_key = NULL
        Py_DECREF(<object>old)


cdef int _store_aside(Core self, object key, object value) except -1:
    """Core.__setitem__ of the fast path when key is the carried key (the very object): the
    carried hash is key's (same object, pure hash); its probe is valid while hc_version is."""
    cdef Py_hash_t h = <Py_hash_t>self._aside_hash
    self._aside_key = NULL
    Py_DECREF(key)                  # the carry's reference (the caller holds key)
    if hc_version(self.c) != self._aside_ver:
        return _store_fast_h(self, key, value, h)
    return _store_new(self, key, value, &self._aside_probe, h)


cdef int _store_fast_evicted(Core self, PyObject *k, PyObject *v) except -1:
    """Hand a victim of _store_fast_h (its key/value words: references the record held, now
    ours) to on_evict and the second tier, then drop them (5)."""
    cdef object vk = <object>k
    cdef object vv = <object>v
    Py_DECREF(vk)                   # vk and vv hold the record's former references now
    Py_DECREF(vv)
    if self._on_evict is not None:
        try:
            self._on_evict(vk, vv, "size")      # (5)
        finally:
            if self._spill is not None:
                _spill_one(self, vk, vv, HC_CAUSE_SIZE)
    elif self._spill is not None:
        _spill_one(self, vk, vv, HC_CAUSE_SIZE)
    return 0


cdef inline Py_ssize_t _use(Core self, object key) except -2:
    """The lookup of [] and get(): the slot of a live key (counted as a hit and a use), or -1
    after counting a miss (which the adaptive policies hear: TINYLFU counts the key's frequency,
    as Caffeine's getIfPresent records a miss). Shared by Core and ReadThrough (TieredCache)."""
    cdef Py_hash_t h = hash(key)
    cdef double now = _now_if_timed(self)
    cdef Py_ssize_t slot = _find(self, key, h)
    if slot >= 0 and not hc_expired(self.c, <uint32_t>slot, now):
        hc_touch(self.c, <uint32_t>slot)
        return slot
    hc_miss(self.c, <uint64_t>h)
    return -1


cdef inline Py_ssize_t _find(Core self, object key, Py_hash_t h) except -2:
    """Slot of key (live or expired), or -1. Restarts when user __eq__ changed the cache."""
    cdef hc_probe p
    return _find_impl(self, key, h, False, &p)


cdef inline Py_ssize_t _find_tuple(Core self, tuple key, Py_hash_t h) except -2:
    """_find for a tuple key (the decorators' argument tuples): a stored tuple whose items are
    the very same objects is equal without calling ==, which a tuple == would do per item."""
    cdef hc_probe p
    return _find_impl(self, key, h, True, &p)


cdef inline bint _same_items(PyObject *stored, object key) noexcept:
    """stored is an exact tuple with key's length whose items are identical to key's."""
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(key)
    if type(<object>stored) is not tuple or PyTuple_GET_SIZE(<object>stored) != n:
        return False
    for i in range(n):
        if PyTuple_GET_ITEM(<object>stored, i) != PyTuple_GET_ITEM(key, i):
            return False
    return True


cdef inline Py_ssize_t _find_impl(Core self, object key, Py_hash_t h, bint tuple_key,
                                  hc_probe *p) except -2:
    """_find's loop on the caller's probe p: after -1, p has run to its end (p.empty is where
    the key would be inserted, valid until the cache next changes)."""
    cdef uint32_t slot
    cdef PyObject *k
    cdef uint64_t ver
    cdef bint restart
    cdef int eq
    while True:
        restart = False
        hc_probe_init(self.c, <uint64_t>h, p)
        slot = hc_probe_next(self.c, p)
        while slot != HC_NIL:
            k = <PyObject *>hc_entry_at(self.c, slot).key
            if k == <PyObject *>key:
                return slot
            if hc_hash_at(self.c, slot) != <uint64_t>h:   # same fragment, other hash
                slot = hc_probe_next(self.c, p)
                continue
            if tuple_key and _same_items(k, key):
                return slot
            ver = hc_version(self.c)
            other = <object>k
            eq = PyObject_RichCompareBool(other, key, Py_EQ)
            if hc_version(self.c) != ver:
                restart = True
                break
            if eq:
                return slot
            slot = hc_probe_next(self.c, p)
        if not restart:
            return -1


cdef inline object _ttl_arg(object ttl):
    """parse_ttl for a per-call ttl: a finite positive float or int is taken as is (the common
    case, without parse_ttl's ABC checks, ~300 ns); anything else goes through parse_ttl for
    its None/inf handling and its errors."""
    cdef double d
    if type(ttl) is float:
        d = PyFloat_AS_DOUBLE(ttl)
        if d > 0 and d != INFINITY:
            return ttl
    elif type(ttl) is int:
        d = ttl
        if d > 0 and d != INFINITY:
            return float(d)
    return _parse_ttl(ttl)


cdef inline double _now_if_timed(Core self) except? -1.0:
    """The time if any entry is timed, else -inf (then nothing counts as expired)."""
    if hc_timed(self.c):
        return self._timer.read_f()
    return -INFINITY
