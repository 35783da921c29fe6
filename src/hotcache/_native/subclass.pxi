# cachetools' call graph for Python subclasses that override its hooks. Included by core.pyx.
# The pure twin's counterpart is the "hooked" part of hotcache._spec.core; docs/compat.md
# is the contract (which method calls which, per class) that both follow.
#
# A subclass of a cachetools class observes which of its own methods the base calls, and in what
# order: shelved-cache deletes a key from disk in its __delitem__, and that must run for every
# eviction. The native paths call no Python at all, so a class whose overrides cachetools would
# call ("hooked") takes these paths instead, which call the overrides exactly where cachetools
# does:
#
#   get(k, d)       k in self  ->  self[k]                                 (TTL/TLRU: time frozen)
#   pop(k, d)       k in self  ->  self[k]  ->  del self[k]
#   setdefault(k,d) k in self  ->  self[k]  |  self[k] = d
#   c[k] = v        [TTL/TLRU: self.expire(now)] -> [TLRU: ttu] -> self.getsizeof(v)
#                   -> while over the bound: self.popitem()  -> store
#   popitem()       [TTL/TLRU: self.expire(now)] -> victim -> del self[victim]
#                   Cache: next(iter(self)) -> self[k] -> del self[k]   (MutableMapping's)
#   len/currsize/repr   [TTL/TLRU: self.expire(now)]
#
# The decision is made once per class (_type_flags, from the class's __init_subclass__) and copied
# into each instance's _hooked flag. A class that overrides none of _HOOKS keeps the native paths:
# its stores pass the _slow_evict test they already passed, get/pop/setdefault/popitem/len test
# one flag (hc_rarely, and the paths are vtable calls: see Core._hook_get), about one instruction
# per c.get(k) under callgrind, none for c[k] or c[k] = v. Everything here may run user code at
# any call into self, so it holds no slot across such a call: it re-finds the key afterwards.

# cachetools calls these on self; overriding one of them makes the class hooked. (Overriding
# __setitem__, get, pop, setdefault, clear, __len__, getsizeof or __missing__ alone does not: the
# native paths already call those exactly where cachetools does, or nowhere.)
_HOOKS = ("__getitem__", "__delitem__", "__contains__", "__iter__", "popitem", "expire")

_KINDS = {None: 0, "ttl": _KIND_TTL, "tlru": _KIND_TLRU}


def _type_flags_of(cls):
    """(flags, kind) for a class derived from Core: which overrides it has (bit set of
    _OVERRIDES_*) and whether it is one of cachetools' timed classes (its ``_cachetools_kind``
    attribute: None, "ttl" or "tlru"). hotcache.cache.Cache.__init_subclass__ stores the result
    on each class as ``_hc_flags``."""
    flags = 0
    for name in _HOOKS:
        if getattr(cls, name, None) is not getattr(Core, name):
            flags |= _OVERRIDES_HOOK
    if getattr(cls, "__missing__", None) is not Core.__missing__:
        flags |= _OVERRIDES_MISSING
    if getattr(cls, "getsizeof", None) is not Core.getsizeof:
        flags |= _OVERRIDES_GETSIZEOF
    kind = getattr(cls, "_cachetools_kind", None)
    if kind not in _KINDS:
        raise ValueError("_cachetools_kind must be None, 'ttl' or 'tlru', not %r" % (kind,))
    return (flags, _KINDS[kind])


cdef tuple _type_flags(type cls):
    """The class's (flags, kind), stored on it at class creation (computed here for Core itself
    and for classes not made through hotcache.cache.Cache)."""
    r = cls.__dict__.get("_hc_flags")
    if r is None:
        r = _type_flags_of(cls)
    return <tuple>r


# ---- lookups ----

cdef object _hooked_get(Core self, object key, object default):
    """cachetools' Cache.get: ``self[key] if key in self else default`` (_TimedCache: under one
    frozen time)."""
    if self._kind:
        with self._timer:
            if key in self:
                return self[key]
            return default
    if key in self:
        return self[key]
    _hooked_miss(self, key)
    return default


cdef int _hooked_miss(Core self, object key) except -1:
    """A hooked lookup (get/setdefault through ``key in self``) missed: the adaptive policies
    still hear it (TINYLFU's sketch counts the key, as on the plain paths), while the counters
    stay as cachetools' call graph leaves them (no miss is counted there)."""
    cdef hc_stats st
    if self._policy != HC_POLICY_TINYLFU:
        return 0
    h = hash(key)
    st = hc_stats_of(self.c)[0]
    hc_miss(self.c, <uint64_t><Py_hash_t>h)
    _stats_set(self, &st)
    return 0


cdef object _hooked_pop(Core self, object key, object default):
    """cachetools' Cache.pop: ``key in self``, then ``self[key]`` and ``del self[key]``. An expired
    key is not "in" the cache, so it stays until the next expire (KeyError or default)."""
    if self._kind:
        with self._timer:
            return _pop_via_hooks(self, key, default)
    return _pop_via_hooks(self, key, default)


cdef object _pop_via_hooks(Core self, object key, object default):
    if key in self:
        value = self[key]
        del self[key]
        return value
    if default is _MISSING:
        raise KeyError(key)
    return default


cdef object _hooked_setdefault(Core self, object key, object default):
    """cachetools' Cache.setdefault: ``self[key]`` if ``key in self``, else ``self[key] = default``."""
    if self._kind:
        with self._timer:
            if key in self:
                return self[key]
            self[key] = default
            return default
    if key in self:
        return self[key]
    _hooked_miss(self, key)
    self[key] = default
    return default


cdef object _call_missing(Core self, object key):
    """self.__missing__(key) for a miss of ``self[key]``. cachetools' LRUCache and LFUCache then
    count a key that __missing__ stored as used (LRU: newest; LFU: one more use); the timed
    classes and the others do not. No hit is counted for that use."""
    cdef hc_stats st
    cdef Py_ssize_t slot
    cdef double now
    value = self.__missing__(key)
    if self._kind == 0 and (self._policy == HC_POLICY_LRU or self._policy == HC_POLICY_LFU):
        slot = self._find_live(key, &now)
        if slot >= 0:
            st = hc_stats_of(self.c)[0]
            hc_touch(self.c, <uint32_t>slot)
            _stats_set(self, &st)
    return value


cdef object _base_getitem(Core self, object key):
    """cachetools' ``Cache.__getitem__(self, key)`` as its popitem() uses it: the stored value,
    expired or not, without a use; else ``self.__missing__(key)`` (a custom choice may name a
    key that is not there)."""
    cdef Py_ssize_t slot = _find(self, key, hash(key))
    if slot >= 0:
        return <object>hc_entry_at(self.c, slot).val
    if self._has_missing:
        return self.__missing__(key)
    raise KeyError(key)


# ---- removal ----

cdef object _hooked_popitem(Core self):
    """cachetools' popitem(): FIFO/LRU/LFU/RR take the policy's victim and remove it with
    ``del self[key]``; TTL/TLRU first call ``self.expire(now)`` (time frozen for the whole
    call); Cache has no popitem of its own and uses MutableMapping's, which goes through
    ``next(iter(self))``, ``self[key]`` and ``del self[key]``."""
    if self._kind:
        with self._timer as now:
            self.expire(now)
            return _popitem_del(self)
    if self._policy == HC_POLICY_INSERTION:
        try:
            key = next(iter(self))
        except StopIteration:
            raise KeyError from None
        value = self[key]
        del self[key]
        return (key, value)
    return _popitem_del(self)


cdef object _popitem_del(Core self):
    """The policy's victim (or the custom choice's), removed with ``del self[key]``."""
    cdef uint32_t slot
    if self._policy == HC_POLICY_RANDOM and self._choice is not _RANDOM_CHOICE:
        return _popitem_chosen(self)
    slot = hc_victim(self.c)
    if slot == HC_NIL:
        raise KeyError("%s is empty" % type(self).__name__) from None
    key = <object>hc_entry_at(self.c, slot).key
    value = <object>hc_entry_at(self.c, slot).val
    # the subclass's __delitem__ runs (issue 10's call graph); when it reaches Core's, that
    # removal is this victim's eviction for the policy (S3FIFO's ghost, TINYLFU's jitter)
    self._popping = slot
    self._popping_version = hc_version(self.c)
    try:
        del self[key]
    finally:
        self._popping = -1
    return (key, value)


cdef object _popitem_chosen(Core self):
    """RRCache's popitem with a custom choice, as cachetools: ``choice(keys)`` over the keys in
    cachetools' own order (a dense list with swap-remove, which is the random policy's order
    here too), the value as stored, then ``del self[key]``."""
    keys = _policy_keys(self)
    if not keys:
        raise KeyError("%s is empty" % type(self).__name__) from None
    key = self._choice(keys)
    value = _base_getitem(self, key)
    del self[key]
    return (key, value)


cdef list _policy_keys(Core self):
    """The keys in the policy's order (for RANDOM: its dense array). The list is allocated
    before the order is read (an allocation may run a collection, hence __del__ methods that
    change the cache); from hc_policy_order on nothing can run."""
    cdef size_t n, i
    cdef uint32_t *buf
    cdef list out
    while True:
        n = hc_len(self.c)
        out = [None] * n
        buf = <uint32_t *>malloc((n + 1) * sizeof(uint32_t))
        if buf == NULL:
            raise MemoryError()
        if hc_len(self.c) == n:
            break
        free(buf)
    try:
        n = hc_policy_order(self.c, buf, NULL)
        for i in range(n):
            out[i] = <object>hc_entry_at(self.c, buf[i]).key
    finally:
        free(buf)
    return out


cdef int _hooked_expire_now(Core self) except -1:
    """``with self.timer as now: self.expire(now)``: what cachetools' timed classes do first in
    __len__, currsize, __repr__, popitem and __setitem__."""
    with self._timer as now:
        self.expire(now)
    return 0


# ---- storing ----

cdef int _store_hooked(Core self, object key, object value, object ttl, bint default_ttl) except -1:
    """``self[key] = value`` (ttl: as Core._store) in cachetools' order: [TTL/TLRU:
    ``self.expire(now)`` with the time frozen for the whole store] -> expiry (TLRU: ``ttu``; dead on
    arrival: any old entry is dropped without hooks, nothing stored) -> ``self.getsizeof(value)``
    -> ``self.popitem()`` while the item does not fit -> store. Also the path of an RRCache with a
    custom choice (then no hook is overridden and popitem() is the native one)."""
    if self._kind and self._hooked:
        with self._timer as now:
            self.expire(now)
            return _store_evicting(self, key, value, ttl, default_ttl, now, True)
    return _store_evicting(self, key, value, ttl, default_ttl, None, False)


cdef int _store_evicting(Core self, object key, object value, object ttl, bint default_ttl,
                         object now_obj, bint have_now) except -1:
    cdef list victims = []
    try:
        _store_evicting_impl(self, key, value, ttl, default_ttl, now_obj, have_now, victims)
    except BaseException:
        _deliver_victims(self, victims, False)      # the store's error wins
        raise
    _deliver_victims(self, victims, True)
    return 0


cdef int _store_evicting_impl(Core self, object key, object value, object ttl, bint default_ttl,
                              object now_obj, bint have_now, list victims) except -1:
    cdef Py_hash_t h = hash(key)
    cdef uint64_t size = 1, nbytes = 0, dsize, dbytes, osize, obytes
    cdef double now_f = -INFINITY, exp = INFINITY
    cdef Py_ssize_t slot
    cdef uint32_t s
    cdef int pressure
    cdef object old = None
    use_ttu = default_ttl and self._ttu is not None
    if have_now or hc_timed(self.c) or ttl is not None or use_ttu:
        if not have_now:
            now_obj = self._timer.read()
        now_f = _to_f(now_obj)
        exp = self._expiry(key, value, now_obj, now_f, ttl, use_ttu)   # (3) ttu
        if exp <= now_f:
            exp = <double>_math.nan
    if isnan(exp):
        # TLRU's rule: an item already expired replaces nothing; the old entry goes silently
        # (cachetools removes it through Cache.__delitem__, not the subclass's)
        slot = _find(self, key, h)
        if slot >= 0:
            k = _take_k(self, slot)
            old = _take_v(self, slot)
            hc_remove(self.c, <uint32_t>slot)
        return 0
    if self._sizer is not None:
        size = self._size_of(value)                 # (3) self.getsizeof(value)
    elif self._maxsize < 1:
        raise ValueError("value too large")
    if self._bytes_on:
        nbytes = self._charge(key, value)
    if now_f != -INFINITY and not self._kind and hc_timed(self.c):
        self._expire_all(now_f)     # the ttl= extension on an untimed class: expired go first
    while True:
        slot = _find(self, key, h)                  # (2) a present key, expired or not
        if slot >= 0:
            osize = hc_entry_size(self.c, <uint32_t>slot)
            obytes = hc_entry_bytes(self.c, <uint32_t>slot)
            dsize = size - osize if size > osize else 0
            dbytes = nbytes - obytes if nbytes > obytes else 0
        else:
            dsize, dbytes = size, nbytes
        pressure = hc_over(self.c, dsize, dbytes)
        if pressure == HC_CAUSE_NONE:
            break
        _evict_via_popitem(self, pressure, victims)  # (6) self.popitem()
    # nothing ran since the last _find: the slot is current
    if slot >= 0:
        s = <uint32_t>slot
        if hc_prepare_update(self.c, size, nbytes, exp) < 0:
            raise MemoryError()
        hc_update(self.c, s, size, nbytes, exp)
        old = _take_v(self, s)
        _put_v(self, s, value)
        return 0
    s = hc_insert(self.c, <uint64_t>h, size, nbytes, exp)
    if s == HC_NIL:
        raise MemoryError("hotcache: out of slots or memory")
    _put_k(self, s, key)
    _put_v(self, s, value)
    return 0


cdef int _evict_via_popitem(Core self, int pressure, list victims) except -1:
    """One step of cachetools' eviction loop: ``self.popitem()``, counted as an eviction for
    `pressure`; the pair it returned (cachetools ignores it) goes to `victims` for on_evict and
    the tier hook. RuntimeError if it removed nothing (cachetools would loop forever)."""
    cdef size_t n = hc_len(self.c)
    cdef uint64_t used = hc_size_used(self.c), nbytes = hc_bytes_used(self.c)
    cdef hc_stats st
    r = self.popitem()
    if hc_len(self.c) >= n and hc_size_used(self.c) >= used and hc_bytes_used(self.c) >= nbytes:
        raise RuntimeError("popitem() did not remove an item")
    st = hc_stats_of(self.c)[0]
    if pressure == HC_CAUSE_MEMORY:
        st.evictions_memory += 1
    else:
        st.evictions_size += 1
    _stats_set(self, &st)
    if type(r) is tuple and PyTuple_GET_SIZE(r) == 2:
        victims.append((r[0], r[1], pressure))
    return 0


cdef int _deliver_victims(Core self, list victims, bint raise_errors) except -1:
    """(5) on_evict(key, value, cause) for each victim of _evict_via_popitem, then the tier
    hook; every callback runs and the first error is raised afterwards (if raise_errors)."""
    err = None
    cb = self._on_evict
    if cb is not None:
        for k, v, pressure in victims:
            try:
                cb(k, v, _CAUSES[pressure])
            except BaseException as e:
                if err is None:
                    err = e
    if self._spill is not None:
        for k, v, pressure in victims:
            _spill_one(self, k, v, pressure)
    del victims[:]
    if err is not None and raise_errors:
        raise err
    return 0


cdef inline void _stats_set(Core self, hc_stats *st) noexcept:
    hc_stats_restore(self.c, st.hits, st.misses, st.inserts, st.updates, st.deletes,
                     st.evictions_size, st.evictions_memory, st.expirations)
