# Building and re-configuring a Core: the constructor's checks and the C cache it makes, the paths
# an instance takes (decided per class, copied into the instance), and resize(). Included by
# core.pyx after Core; the validation itself is hotcache._config's (shared with the pure twin).


cdef int _configure(Core self, maxsize, getsizeof, policy, ttl, ttu, timer, maxmemory, sizeof_fn,
                    on_evict, choice, seed) except -1:
    """Core.__init__: check every argument, then replace the C cache with a new one (a second
    __init__ drops the old entries once the new core is in place)."""
    cdef hc_config cfg
    cdef hc_cache *nc
    maxsize, bound = _parse_maxsize(maxsize)
    mem = _parse_memory(maxmemory)
    if policy not in _POLICIES:
        raise ValueError("unknown policy %r (expected one of %s)" % (policy, ", ".join(_POLICIES)))
    if timer is None or not callable(timer):
        raise TypeError("timer must be a callable returning the current time")
    if on_evict is not None and not callable(on_evict):
        raise TypeError("on_evict must be callable or None")
    if sizeof_fn is not None and not callable(sizeof_fn):
        raise TypeError("sizeof must be callable or None")
    if getsizeof is not None and not callable(getsizeof):
        raise TypeError("getsizeof must be callable or None")
    if seed is None:
        seed = _random.getrandbits(64)
    cfg.policy = _POLICIES[policy]
    cfg.max_size = HC_UNBOUNDED if bound is None else <uint64_t>bound
    cfg.max_bytes = HC_UNBOUNDED if mem is None else <uint64_t>mem
    cfg.seed = <uint64_t>(seed & 0xFFFFFFFFFFFFFFFF)
    cfg.tick = 0.0
    nc = hc_new(&cfg)
    if nc == NULL:
        raise MemoryError()
    old = self._detach_all()        # a second __init__: the old entries go, after (4)
    hc_free(self.c)
    self.c = nc
    self._policy = cfg.policy
    self._maxsize = maxsize
    self._maxmemory = mem
    self._bytes_on = mem is not None
    self._sizeof = sizeof_fn
    self._on_evict = on_evict
    self._timer = Timer(timer)
    self._ttl = ttl
    self._ttu = ttu
    self._choice = choice
    self._seed = seed
    self._given_sizer = getsizeof
    d = getattr(self, "__dict__", None)
    if getsizeof is not None and d is not None:
        d["getsizeof"] = getsizeof   # as cachetools: an instance attribute, when there is a dict
    _configure_type(self)
    del old
    return 0


cdef int _configure_type(Core self) except -1:
    """Copy the paths the class needs (decided once per class, _type_flags) into the
    instance, with what the constructor adds (getsizeof, a custom choice); never per call."""
    cls = type(self)
    flags, kind = _type_flags(cls)
    d = getattr(self, "__dict__", None)
    inst_sizer = d.get("getsizeof") if d is not None else None
    if inst_sizer is not None:
        self._sizer = inst_sizer
    elif self._given_sizer is not None:
        self._sizer = self._given_sizer
    elif flags & _OVERRIDES_GETSIZEOF:
        self._sizer = self.getsizeof
    else:
        self._sizer = None
    self._hooked = (flags & _OVERRIDES_HOOK) != 0
    self._kind = kind
    self._slow_evict = self._hooked or (
        self._policy == HC_POLICY_RANDOM and self._choice is not _RANDOM_CHOICE)
    self._has_missing = (flags & _OVERRIDES_MISSING) != 0
    self._fast = (self._sizer is None and not self._bytes_on and not self._slow_evict
                  and self._ttl is None and self._ttu is None and self._maxsize >= 1)
    return 0


cdef int _resize(Core self, maxsize, maxmemory) except -1:
    """Core.resize: new bounds (None keeps one), then evict per policy until the cache fits."""
    cdef int pressure
    cdef double now_f = -INFINITY
    cdef list victims = []
    cdef _Outbox out
    maxsize, bound = _parse_maxsize(self._maxsize if maxsize is None else maxsize)
    if maxmemory is not None:
        mem = _parse_memory(maxmemory)
    else:
        mem = self._maxmemory
    if hc_timed(self.c):
        now_f = self._now()
    if mem is not None and not self._bytes_on:
        _charge_all(self)           # start bounding memory: charge every entry now
    self._maxsize = maxsize
    self._maxmemory = mem
    self._bytes_on = mem is not None
    _configure_type(self)
    hc_set_limits(self.c, HC_UNBOUNDED if bound is None else <uint64_t>bound,
                  HC_UNBOUNDED if mem is None else <uint64_t>mem)
    if self._slow_evict:            # through self.popitem(), as cachetools' stores evict
        try:
            while True:
                pressure = hc_over(self.c, 0, 0)
                if pressure == HC_CAUSE_NONE:
                    break
                _evict_via_popitem(self, pressure, victims)
        except BaseException:
            _deliver_victims(self, victims, False)
            raise
        _deliver_victims(self, victims, True)
        return 0
    _out_init(&out)
    try:
        self._evict_until_fits(&out, 0, 0, now_f, HC_NIL)
    finally:
        if out.n:
            _out_release(self, &out)
    return 0


cdef int _charge_all(Core self) except -1:
    """Give every entry its byte charge. sizeof is user code: it runs for every entry first
    (on references the call holds), then the core is set with nothing in between; if sizeof
    changed the cache, RuntimeError and nothing is charged."""
    cdef uint32_t s
    cdef Py_ssize_t i
    cdef list slots = [], pairs = [], charges = []
    cdef uint64_t ver = hc_version(self.c)
    cdef hc_entry *e
    sizeof_fn = self._sizeof if self._sizeof is not None else _default_sizeof
    s = hc_order_first(self.c)
    while s != HC_NIL:
        e = hc_entry_at(self.c, s)
        slots.append(s)
        pairs.append((<object>e.key, <object>e.val))
        s = hc_order_next(self.c, s)
    for k, v in pairs:
        b = _index(sizeof_fn(k, v), "sizeof()")
        if b < 0:
            raise ValueError("sizeof() must return a non-negative int")
        charges.append(b + _ENTRY_OVERHEAD)
    if hc_version(self.c) != ver:
        raise RuntimeError("the cache changed while sizeof() ran during resize()")
    for i in range(len(slots)):
        if hc_set_bytes(self.c, <uint32_t>slots[i], <uint64_t>charges[i]) < 0:
            raise MemoryError()
    return 0
