# The cache sizing advisor's sampler (issue 13), in the binding: spatial hash sampling (SHARDS)
# feeding miniature simulations built from Core itself, plus a HyperLogLog of every key. Included
# by core.pyx before hotpath.pxi; the twin is hotcache/sizing/sampler.py (same mix, same samples,
# same registers), the algorithm essay is there and in hotcache/sizing/hll.py.
#
# Cost. Off: Core._sizing is None and _use() tests that once (one predictable branch, marked
# rare). On: c[k] and c.get(k) make their usual inlined lookup, then call Core._sized_getitem /
# _sized_get, which tell the sampler the hit slot's own hash (_sz_after; other callers:
# Sizer._observe): hc_sz_note, a splitmix64 finaliser, one register max (skipped for one test
# when the key's rank cannot raise the lowest register), one compare; one in 1/R lookups is
# queued for the miniatures, and every HC_SZ_BATCH queued
# lookups are replayed on each miniature in turn (a miniature's index and policy stay in cache
# for the whole batch instead of 35 cold caches per sampled lookup). The miniatures are bare
# hc_cache structures of the real C policies, driven here without a Python object per entry:
# a miniature's key is the key's Python hash h, which is also its identity (no key object kept,
# no ==); the twin's miniatures store the int h, whose own hash is h (a hash value is never -1
# and is below the hash modulus), so both sides' policies hear the same hashes as the real
# cache does.

from libc.stdlib cimport calloc
from libc.string cimport memset

cdef extern from *:
    """
    /* splitmix64's step: the golden-ratio increment (hash 0 would stay 0 without it), then its
     * finaliser (hotcache.sizing.hll.mix64 is the same in Python) */
    static inline uint64_t hc_sz_mix(uint64_t z) {
        z += 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    /* HyperLogLog rank of the 50 bits w above the 14 index bits: 1 + trailing zeros, 51 for
     * w == 0 (bit 50 set stops the count there: no test for 0) */
    static inline unsigned char hc_sz_rank(uint64_t w) {
        w |= 1ULL << 50;
    #if defined(__GNUC__) || defined(__clang__)
        return (unsigned char)(__builtin_ctzll(w) + 1);
    #else
        unsigned char r = 1;
        while (!(w & 1)) { w >>= 1; r++; }
        return r;
    #endif
    }
    /* The sampler's per-lookup state, in one C struct inside Sizer, so that the hot path
     * reaches it through a plain pointer (no reference taken on the Sizer) */
    #define HC_SZ_P 14
    #define HC_SZ_M 16384
    #define HC_SZ_BATCH 64
    typedef struct {
        uint64_t threshold;         /* the largest sampled mixed hash */
        uint64_t requests;          /* lookups seen */
        size_t queued;              /* sampled lookups waiting for the miniatures */
        uint64_t skip;              /* rank bits: (1 << low) - 1 (below) */
        unsigned int low;           /* no register is below this rank */
        unsigned int at_low;        /* registers at rank low */
        uint64_t queue[HC_SZ_BATCH];    /* their hashes */
        uint64_t queue_m[HC_SZ_BATCH];  /* their mixed hashes */
        unsigned char regs[HC_SZ_M];    /* the HyperLogLog registers */
    } hc_sz_hot;
    /* The registers' lowest rank and how many are at it, recounted when the last register at
     * the old lowest rank rose (at most 51 times in a sampler's life) */
    static void hc_sz_relow(hc_sz_hot *s) {
        unsigned int low = 255, at = 0, i;
        for (i = 0; i < HC_SZ_M; i++) {
            if (s->regs[i] < low) { low = s->regs[i]; at = 0; }
            if (s->regs[i] == low) at++;
        }
        s->low = low;
        s->at_low = at;
        s->skip = (1ULL << low) - 1;   /* low <= 51: ranks <= low change no register */
    }
    /* One lookup of a key of hash h: counted, its HyperLogLog register raised, queued when
     * sampled. Returns 1 when the queue is full (the caller replays it: _sz_flush). A key
     * whose rank is at most the lowest register's (a set bit among the low rank bits) can
     * raise no register: once every register is above 0 (about M ln M distinct keys), most
     * lookups skip the register for one test. */
    static inline int hc_sz_note(hc_sz_hot *s, uint64_t h) {
        uint64_t m = hc_sz_mix(h);
        uint64_t w = m >> HC_SZ_P;
        s->requests++;
        if (!(w & s->skip)) {
            unsigned char r = hc_sz_rank(w);
            unsigned char *reg = &s->regs[m & (HC_SZ_M - 1)];
            if (*reg < r) {
                unsigned int old = *reg;
                *reg = r;
                if (old == s->low && --s->at_low == 0)
                    hc_sz_relow(s);
            }
        }
    #if defined(__GNUC__) || defined(__clang__)
        if (__builtin_expect(m <= s->threshold, 0)) {
    #else
        if (m <= s->threshold) {
    #endif
            s->queue[s->queued] = h;
            s->queue_m[s->queued] = m;
            return ++s->queued == HC_SZ_BATCH;
        }
        return 0;
    }
    """
    uint64_t hc_sz_mix(uint64_t z) nogil
    unsigned char hc_sz_rank(uint64_t w) nogil
    ctypedef struct hc_sz_hot:
        uint64_t threshold
        uint64_t requests
        size_t queued
        uint64_t skip
        unsigned int low
        unsigned int at_low
        uint64_t queue[64]
        uint64_t queue_m[64]
        unsigned char regs[16384]
    int hc_sz_note(hc_sz_hot *s, uint64_t h) nogil

DEF SZ_M = 16384        # HyperLogLog registers (HC_SZ_M); HC_SZ_BATCH sampled lookups are
                        # queued before the miniatures replay them


cdef inline int _sz_mini_use(hc_cache *c, uint64_t hk) noexcept nogil:
    """One lookup of the key with hash ``hk`` in a miniature, demand-filled: 1 on a hit
    (hc_touch), 0 on a miss (hc_miss, then the key stored by the fused miss path
    hc_insert_probed on the lookup's own probe -- hc_miss changes only policy state, never the
    index the probe read -- evicting the policy's victim when full, as Core's _use() then
    _store_fast_h() do), -1 out of memory (nothing stored). Keys are identified by their hash."""
    cdef hc_probe p
    cdef hc_evicted ev
    cdef uint32_t slot
    hc_probe_init(c, hk, &p)
    slot = hc_probe_next(c, &p)
    while slot != HC_NIL:
        if hc_hash_at(c, slot) == hk:
            hc_touch(c, slot)
            return 1
        slot = hc_probe_next(c, &p)
    hc_miss(c, hk)
    if hc_insert_probed(c, &p, hk, &ev) == HC_NIL:
        return -1
    return 0


cdef inline int _sz_set_add(Sizer s, uint64_t m) except -1:
    """Add a mixed hash to the set of distinct sampled keys: 1 if it was new, else 0. Open
    addressing, linear probing, 0 marks an empty cell (m == 0 has its own flag), load <= 1/2."""
    cdef size_t i, mask
    if m == 0:
        if s.set_zero:
            return 0
        s.set_zero = 1
        s.set_len += 1
        return 1
    if 2 * (s.set_len + 1) > s.set_cap:
        _sz_set_rebuild(s, s.set_cap * 2 if s.set_cap else 256, s.hot.threshold)
    mask = s.set_cap - 1
    i = <size_t>(m * 0x9E3779B97F4A7C15ULL >> 20) & mask
    while s.set_tab[i] != 0:
        if s.set_tab[i] == m:
            return 0
        i = (i + 1) & mask
    s.set_tab[i] = m
    s.set_len += 1
    return 1


cdef int _sz_set_rebuild(Sizer s, size_t cap, uint64_t t) except -1:
    """The set in a table of ``cap`` cells, keeping the hashes <= ``t``."""
    cdef uint64_t *old = s.set_tab
    cdef size_t n = s.set_cap, i, j, mask = cap - 1
    cdef uint64_t m
    cdef uint64_t *tab = <uint64_t *>calloc(cap, sizeof(uint64_t))
    if tab == NULL:
        raise MemoryError()
    s.set_len = 1 if s.set_zero else 0
    for i in range(n):
        m = old[i]
        if m != 0 and m <= t:
            j = <size_t>(m * 0x9E3779B97F4A7C15ULL >> 20) & mask
            while tab[j] != 0:
                j = (j + 1) & mask
            tab[j] = m
            s.set_len += 1
    free(old)
    s.set_tab = tab
    s.set_cap = cap
    return 0


cdef class Sizer:
    """The sampler of one cache (``sizing=R``) or of one offline simulation. Internal: build it
    with ``_sizer_new``; read it with ``report()``. The adaptive rate and the estimate are
    hotcache/sizing/sampler.py's (its module essay); the decisions are taken by the same Python
    functions (next_rate, threshold, mini_size) on the same counts, so both agree."""
    cdef hc_sz_hot hot          # threshold, requests, the queue, the registers
    cdef uint64_t sampled
    cdef uint64_t sampled_phase
    cdef uint64_t fresh_phase
    cdef uint64_t fresh
    cdef uint64_t *hits
    cdef double *acc
    cdef hc_cache **minis
    cdef Py_ssize_t n
    cdef uint64_t *set_tab
    cdef size_t set_cap
    cdef size_t set_len
    cdef bint set_zero
    cdef uint64_t mem_fixed     # model_bytes(n, distinct, entries) = mem_fixed
    cdef uint64_t mem_set       #   + mem_set * distinct + mem_entry * entries,
    cdef uint64_t mem_entry     # held under mem_limit = budget // MARGIN
    cdef uint64_t mem_limit
    cdef readonly double rate
    cdef readonly double floor
    cdef readonly Py_ssize_t work
    cdef readonly Py_ssize_t budget
    cdef readonly list sizes
    cdef readonly list policies

    def __cinit__(self):
        self.hits = NULL
        self.acc = NULL
        self.minis = NULL
        self.set_tab = NULL
        self.set_cap = 0
        self.set_len = 0
        self.set_zero = 0
        self.n = 0
        self.hot.queued = 0
        memset(self.hot.regs, 0, SZ_M)
        self.hot.skip = 0
        self.hot.low = 0
        self.hot.at_low = SZ_M

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.minis != NULL:
            for i in range(self.n):
                if self.minis[i] != NULL:
                    hc_free(self.minis[i])
            free(self.minis)
        free(self.hits)
        free(self.acc)
        free(self.set_tab)

    @property
    def mini_sizes(self):
        from hotcache.sizing.sampler import mini_size
        return [mini_size(self.rate, m) for m in self.sizes]

    def observe(self, key):
        """Count one lookup of ``key``."""
        _sz_observe(self, hash(key))

    cdef int _observe(self, object key, Py_hash_t h) except -1:
        """_sz_observe for the caches' hot paths (_use, CachedCall): called through the type's
        vtable, so the C compiler cannot inline it into them. Inlined, it grew _use() past
        gcc's budget and _use() stopped being inlined into __getitem__/get(): +23/+29
        instructions per hit with sizing OFF (callgrind_ops.py); as a method, one test."""
        return _sz_observe(self, h)

    def feed(self, keys, progress=None, Py_ssize_t every=1 << 20, list keep=None):
        """Count a lookup of each key of the iterable ``keys``; call ``progress(n)`` every
        ``every`` keys; append the sampled keys to ``keep`` if given (those a later lowering
        of the rate drops are dropped from it). Returns how many keys were read."""
        cdef Py_ssize_t n = 0, next_progress = every
        cdef uint64_t t
        cdef Py_hash_t h
        if every < 1:
            raise ValueError("every must be >= 1")
        if keep is None and progress is None:
            for key in keys:
                _sz_observe(self, hash(key))
                n += 1
        else:
            for key in keys:
                t = self.hot.threshold
                h = hash(key)
                _sz_observe(self, h)
                if keep is not None:
                    if self.hot.threshold != t:
                        keep[:] = [k for k in keep if hc_sz_mix(<uint64_t><Py_hash_t>hash(k)) <= self.hot.threshold]
                    if hc_sz_mix(<uint64_t>h) <= self.hot.threshold:
                        keep.append(key)
                n += 1
                if n == next_progress:
                    next_progress += every
                    if progress is not None:
                        progress(n)
        _sz_flush(self, 0)
        return n

    def registers(self):
        """The HyperLogLog registers (bytes)."""
        return (<char *>self.hot.regs)[:SZ_M]

    def counts(self):
        """(requests, sampled, hits per miniature in policy-major order, this phase's)."""
        _sz_flush(self, 0)
        return self.hot.requests, self.sampled, [self.hits[i] for i in range(self.n)]

    def memory(self):
        """Bytes held: registers, queue, counters, the sampled set and the miniatures' C
        structures."""
        cdef Py_ssize_t i, total = sizeof(Sizer) + 24 * self.n + 8 * self.set_cap
        for i in range(self.n):
            total += hc_overhead_bytes(self.minis[i])
        return total

    def report(self, requests=None, registers=None):
        """The SizingReport of the lookups seen so far (hotcache.sizing.sampler.build_report);
        ``requests``/``registers`` stand in for the sampler's own when it was fed only the
        sampled keys of a longer trace (simulate's two passes)."""
        from hotcache.sizing.sampler import build_report
        _sz_flush(self, 0)
        return build_report(self.sizes, self.policies, [self.hits[i] for i in range(self.n)],
                            [self.acc[i] for i in range(self.n)],
                            self.hot.requests if requests is None else requests, self.sampled,
                            self.sampled_phase, self.fresh_phase, self.fresh, self.rate,
                            self.registers() if registers is None else registers, self.memory())

    def lower(self, double rate):
        """Lower the sample rate to ``rate`` (hotcache.sizing.sampler's essay): close the phase,
        drop the keys no longer sampled from the set and the miniatures, shrink these."""
        from hotcache.sizing.sampler import mini_size, threshold
        cdef Py_ssize_t i, j, k, ns = len(self.sizes)
        cdef hc_cache *c
        cdef uint32_t slot, nxt
        cdef uint64_t t
        cdef size_t keep, cap
        cdef int cause
        _sz_flush(self, 0)
        for i in range(self.n):
            self.acc[i] += <double>(self.sampled_phase - self.hits[i] - self.fresh_phase) / self.rate
            self.hits[i] = 0
        self.sampled_phase = 0
        self.fresh_phase = 0
        self.rate = rate
        t = <uint64_t>threshold(rate)
        self.hot.threshold = t
        keep = 0
        for i in range(<Py_ssize_t>self.set_cap):
            if self.set_tab[i] != 0 and self.set_tab[i] <= t:
                keep += 1
        cap = 256
        while cap < 4 * keep:       # the table shrinks with the set (load 1/4 after a lowering)
            cap *= 2
        _sz_set_rebuild(self, cap, t)
        for i in range(self.n):
            c = self.minis[i]
            slot = hc_order_first(c)
            while slot != HC_NIL:
                nxt = hc_order_next(c, slot)
                if hc_sz_mix(hc_hash_at(c, slot)) > t:
                    hc_remove(c, slot)
                slot = nxt
            hc_set_limits(c, <uint64_t>mini_size(rate, self.sizes[i % ns]), HC_UNBOUNDED)
            while True:
                cause = hc_over(c, 0, 0)
                if cause == HC_CAUSE_NONE:
                    break
                hc_evict(c, -INFINITY, cause, &cause)


cdef Sizer _sizer_new(double rate, list sizes, list policies, double floor, Py_ssize_t work,
                      Py_ssize_t memory):
    """A sampler starting at ``rate`` over ``sizes`` x ``policies`` (checked, available in this
    build), ``floor``/``work``/``memory`` its adaptive rate's bounds (hotcache.sizing.sampler)."""
    from hotcache.sizing.sampler import MARGIN, MINI_BYTES, SET_BYTES, mini_size, model_bytes, threshold
    cdef Sizer s = Sizer.__new__(Sizer)
    cdef hc_config cfg
    cdef Py_ssize_t i = 0
    s.rate = rate
    s.floor = floor
    s.work = work
    s.budget = memory
    s.sizes = list(sizes)
    s.policies = list(policies)
    s.hot.threshold = threshold(s.rate)
    count = len(policies) * len(sizes)
    s.mem_fixed = model_bytes(count, 0, 0)
    s.mem_set = SET_BYTES
    s.mem_entry = MINI_BYTES
    s.mem_limit = memory // MARGIN
    s.minis = <hc_cache **>calloc(count if count else 1, sizeof(hc_cache *))
    s.hits = <uint64_t *>calloc(count if count else 1, sizeof(uint64_t))
    s.acc = <double *>calloc(count if count else 1, sizeof(double))
    if s.minis == NULL or s.hits == NULL or s.acc == NULL:
        raise MemoryError()
    for p in policies:
        for m in sizes:
            cfg.policy = _POLICIES[p]
            cfg.max_size = <uint64_t>mini_size(rate, m)
            cfg.max_bytes = HC_UNBOUNDED
            # seed 0: RRCache's and TinyLFUCache's PRNGs give the same report for the same sample
            cfg.seed = 0
            cfg.tick = 0.0
            s.minis[i] = hc_new(&cfg)
            if s.minis[i] == NULL:
                raise MemoryError()
            i += 1
            s.n = i
    return s


def _available_policies():
    """The policy names this build's core has."""
    return list(_POLICIES)


def _new_sizer(rate, sizes, policies, floor, work, memory):
    """A Sizer for an offline simulation (hotcache.sizing.simulate); arguments checked there."""
    missing = [p for p in policies if p not in _POLICIES]
    if missing:
        raise ValueError("policy %s is not available in this build of hotcache (it has %s)"
                         % (", ".join(map(repr, missing)), ", ".join(_POLICIES)))
    return _sizer_new(rate, list(sizes), list(policies), floor, work, memory)


cdef Sizer _sizing_for(Core core, object rate):
    """The sampler of ``sizing=rate`` on ``core``: default sizes around its maxsize, the default
    policies this build has plus the cache's own, miniatures bounded."""
    from hotcache.sizing.sampler import ONLINE_MEMORY, ONLINE_WORK, check_rate
    from hotcache.sizing.report import DEFAULT_POLICIES, POLICIES, default_sizes
    r = check_rate(rate)
    sizes = default_sizes(core._maxsize)
    own = {v: k for k, v in _POLICIES.items()}.get(core._policy)
    policies = [p for p in DEFAULT_POLICIES if p in _POLICIES]
    if own in POLICIES and own not in policies:
        policies.append(own)
    return _sizer_new(1.0, sizes, policies, r, ONLINE_WORK, ONLINE_MEMORY)


cdef inline object _sz_after(Core core, object key, Py_ssize_t slot):
    """The sampler told of the lookup of ``key`` that _use()/_use_get() just made (found at
    ``slot``, or -1): returns the hit's value (None on a miss), read before the sampler runs
    (no user code runs there, but a full queue's replay calls Python code of hotcache, so the
    slot is read first). The hash is the hit slot's own (no second hash()); on a miss, get()'s
    carried miss has it for an exact int or str, else the key is hashed a second time. Observing
    after the lookup rather than before leaves the lookup the inlined _use(): a watched hit pays
    one call (Core._sized_getitem) and hc_sz_note."""
    cdef Py_hash_t h
    cdef object value
    if slot >= 0:
        value = <object>hc_entry_at(core.c, <uint32_t>slot).val
        if hc_sz_note(&(<Sizer>core._sizing).hot, hc_hash_at(core.c, <uint32_t>slot)):
            _sz_flush(<Sizer>core._sizing, 1)
        return value
    if <PyObject *>key == core._aside_key:
        h = <Py_hash_t>core._aside_hash
    else:
        h = hash(key)
    if hc_sz_note(&(<Sizer>core._sizing).hot, <uint64_t>h):
        _sz_flush(<Sizer>core._sizing, 1)
    return None


cdef inline int _sz_observe(Sizer s, Py_hash_t h) except -1:
    """One lookup of a key hashing to ``h``: the HyperLogLog register, and the queue for the
    miniatures when the key is sampled (hc_sz_note), replayed when full."""
    if hc_sz_note(&s.hot, <uint64_t>h):
        return _sz_flush(s, 1)
    return 0


cdef int _sz_flush(Sizer s, bint full) except -1:
    """Replay the queued sampled lookups: each new key into the set of distinct sampled keys,
    then every miniature, one at a time (the miniatures are independent, so the order across
    them changes no count): a hit counts, a miss stores the key. After a full batch, the rate
    control (hotcache.sizing.sampler.next_rate) may lower the rate. No user code runs here."""
    cdef Py_ssize_t i, j, q = <Py_ssize_t>s.hot.queued
    cdef hc_cache *c
    cdef uint64_t hits
    cdef size_t entries = 0
    cdef int r
    s.hot.queued = 0
    s.sampled += <uint64_t>q
    s.sampled_phase += <uint64_t>q
    for j in range(q):
        if _sz_set_add(s, s.hot.queue_m[j]):
            s.fresh_phase += 1
            s.fresh += 1
    for i in range(s.n):
        c = s.minis[i]
        hits = 0
        for j in range(q):
            r = _sz_mini_use(c, s.hot.queue[j])
            if r < 0:
                raise MemoryError("hotcache: the sizing advisor's miniature cache is out of memory")
            hits += <uint64_t>r
        s.hits[i] += hits
        entries += hc_len(c)
    if full and (s.work or s.budget) and s.floor < 1.0:
        # next_rate() leaves a rate at its floor unchanged unless the memory bound is passed:
        # that case decided here, on model_bytes()'s formula, without calling Python
        if s.rate <= s.floor and (not s.budget or
                                  s.mem_fixed + s.mem_set * s.set_len + s.mem_entry * entries
                                  <= s.mem_limit):
            return 0
        from hotcache.sizing.sampler import model_bytes, next_rate
        rate = next_rate(s.rate, s.floor, s.work, s.budget, s.hot.requests,
                         model_bytes(s.n, s.set_len, entries))
        if rate < s.rate:
            s.lower(rate)
    return 0
