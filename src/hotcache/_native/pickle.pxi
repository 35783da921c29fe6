# copy.copy, copy.deepcopy and pickle keep the full policy state (eviction order, LFU counts and
# tie order, expiry times, the PRNG, the counters, the adaptive policies' sketch/ghost/regions), as cachetools' classes do; nothing here is
# recursive, so a cache of any size pickles. Included by core.pyx after Core, whose __copy__,
# copy, __reduce__, __getstate__ and __setstate__ call these.


def _new_instance(cls):
    """Pickle helper: an instance without running __init__ (state follows)."""
    return cls.__new__(cls)


cdef object _copy(Core self):
    """copy.copy(cache): same items and policy state, the instance __dict__, no __init__."""
    cls = type(self)
    cdef Core new = cls.__new__(cls)
    cdef hc_cache *nc = hc_clone(self.c)
    if nc == NULL:
        raise MemoryError()
    d = getattr(self, "__dict__", None)
    if d:
        new.__dict__.update(d)
    hc_free(new.c)
    new.c = nc
    _own_payloads(nc)               # the clone's records hold references of their own
    _copy_config(new, self)
    new._timer = self._timer.__copy__()
    return new


cdef int _copy_config(Core self, Core src) except -1:
    """Give self (a fresh copy) src's configuration."""
    self._policy = src._policy
    self._maxsize = src._maxsize
    self._maxmemory = src._maxmemory
    self._bytes_on = src._bytes_on
    self._sizeof = src._sizeof
    self._given_sizer = src._given_sizer
    self._on_evict = src._on_evict
    self._timer = src._timer
    self._ttl = src._ttl
    self._ttu = src._ttu
    self._choice = src._choice
    self._seed = src._seed
    _configure_type(self)
    return 0


cdef tuple _getstate(Core self):
    """The pickled state: version 1, the instance __dict__, the configuration, the entries in
    first-insertion order, the policy order with its per-entry counts, the PRNG and the stats."""
    cdef size_t n = hc_len(self.c), i
    cdef uint32_t s
    cdef uint32_t *buf
    cdef uint64_t *aux
    cdef const hc_stats *st
    cdef dict pos = {}
    keys, vals, sizes, nbytes, expires = [], [], [], [], []
    s = hc_order_first(self.c)
    while s != HC_NIL:
        pos[s] = len(keys)
        keys.append(<object>hc_entry_at(self.c, s).key)
        vals.append(<object>hc_entry_at(self.c, s).val)
        sizes.append(hc_entry_size(self.c, s))
        nbytes.append(hc_entry_bytes(self.c, s))
        expires.append(hc_expire_at(self.c, s))
        s = hc_order_next(self.c, s)
    buf = <uint32_t *>malloc((n + 1) * sizeof(uint32_t))
    aux = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    if buf == NULL or aux == NULL:
        free(buf)
        free(aux)
        raise MemoryError()
    try:
        n = hc_policy_order(self.c, buf, aux)
        order = [pos[buf[i]] for i in range(n)]
        counts = [aux[i] for i in range(n)]
    finally:
        free(buf)
        free(aux)
    st = hc_stats_of(self.c)
    stats = (st.hits, st.misses, st.inserts, st.updates, st.deletes,
             st.evictions_size, st.evictions_memory, st.expirations)
    # random.choice is kept by reference (deepcopy would make a new Random around it and
    # turn the native PRNG off): None stands for it
    choice = None if self._choice is _RANDOM_CHOICE else self._choice
    config = (self._policy, self._maxsize, self._maxmemory, self._sizeof, self._on_evict,
              self._timer, self._ttl, self._ttu, choice, self._seed, self._given_sizer)
    d = getattr(self, "__dict__", None)
    # version 2 appends the policy-wide state (S3FIFO's ghost; TINYLFU's sketch, ghost, regions)
    return (2, dict(d) if d else None, config, keys, vals, sizes, nbytes, expires, order, counts,
            hc_rng_state(self.c), stats, _policy_state_save(self))


cdef int _setstate(Core self, object state) except -1:
    """Rebuild self from _getstate's tuple (the core is replaced; the old entries go after)."""
    cdef hc_config cfg
    cdef hc_cache *nc
    cdef uint32_t s
    cdef size_t n, i
    cdef uint32_t *buf
    cdef uint64_t *aux
    if type(state) is not tuple or len(state) < 1 or state[0] not in (1, 2) \
            or len(state) != 11 + state[0]:
        raise ValueError("unsupported hotcache pickle state")
    version = state[0]
    (_, d, config, keys, vals, sizes, nbytes, expires, order, counts, rng, stats) = state[:12]
    blob = state[12] if version == 2 else b""   # version 1: from before the adaptive policies
    (policy, maxsize, maxmemory, sizeof_fn, on_evict, timer, ttl, ttu, choice, seed,
     given_sizer) = config
    if d:
        self.__dict__.update(d)
    _, bound = _parse_maxsize(maxsize)
    cfg.policy = policy
    cfg.max_size = HC_UNBOUNDED if bound is None else <uint64_t>bound
    cfg.max_bytes = HC_UNBOUNDED if maxmemory is None else <uint64_t>maxmemory
    cfg.seed = 0
    cfg.tick = 0.0
    nc = hc_new(&cfg)
    if nc == NULL:
        raise MemoryError()
    old = self._detach_all()
    hc_free(self.c)
    self.c = nc
    del old
    self._policy = policy
    self._maxsize = maxsize
    self._maxmemory = maxmemory
    self._bytes_on = maxmemory is not None
    self._sizeof = sizeof_fn
    self._given_sizer = given_sizer
    self._on_evict = on_evict
    self._timer = timer
    self._ttl = ttl
    self._ttu = ttu
    self._choice = _RANDOM_CHOICE if choice is None else choice
    self._seed = seed
    _configure_type(self)
    slots = []
    for i in range(len(keys)):
        k = keys[i]
        s = hc_insert(self.c, <uint64_t>hash(k), sizes[i], nbytes[i], INFINITY)
        if s == HC_NIL:
            raise MemoryError()
        _put_k(self, s, k)
        _put_v(self, s, vals[i])
        slots.append(s)
    n = len(order)
    buf = <uint32_t *>malloc((n + 1) * sizeof(uint32_t))
    aux = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    if buf == NULL or aux == NULL:
        free(buf)
        free(aux)
        raise MemoryError()
    try:
        for i in range(n):
            buf[i] = slots[order[i]]
            aux[i] = counts[i]
        if hc_policy_restore(self.c, buf, aux, n) != 0:
            raise ValueError("corrupt hotcache pickle: bad policy order")
    finally:
        free(buf)
        free(aux)
    # expiries scheduled in policy order, so equal expiry times expire in that order: as
    # cachetools' TTLCache.__setstate__, which re-sorts its expiry list stably from LRU order
    for i in range(n):
        j = order[i]
        if expires[j] != INFINITY:
            if hc_prepare_update(self.c, sizes[j], nbytes[j], expires[j]) < 0:
                raise MemoryError()
            hc_set_expire(self.c, <uint32_t>slots[j], expires[j])
    _policy_state_load(self, blob)
    hc_rng_set_state(self.c, rng)
    hc_stats_restore(self.c, stats[0], stats[1], stats[2], stats[3], stats[4], stats[5],
                     stats[6], stats[7])
    if self._hooked and self._kind == _KIND_TTL:
        self.expire(self._timer.read())     # cachetools' TTLCache.__setstate__ does
    return 0
