# The cache sizing advisor's sampler (issue 13), in the binding: spatial hash sampling (SHARDS)
# feeding miniature simulations built from Core itself, plus a HyperLogLog of every key. Included
# by core.pyx before hotpath.pxi; the twin is hotcache/sizing/sampler.py (same mix, same samples,
# same registers), the algorithm essay is there and in hotcache/sizing/hll.py.
#
# Cost. Off: Core._sizing is None and _use() tests that once (one predictable branch, marked
# rare). On: every lookup pays a call of Sizer._observe (a splitmix64 finaliser, one register max, one compare); one in 1/R
# lookups pays _record: one lookup (and on a miss one store) in each miniature cache. The
# miniatures store the mixed hash as an int, never the user's key (no object is kept alive).

from cpython.long cimport PyLong_FromUnsignedLongLong
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
    /* HyperLogLog rank of the 50 bits above the 14 index bits: 1 + trailing zeros, 51 for 0 */
    static inline unsigned char hc_sz_rank(uint64_t w) {
        if (w == 0) return 51;
    #if defined(__GNUC__) || defined(__clang__)
        return (unsigned char)(__builtin_ctzll(w) + 1);
    #else
        unsigned char r = 1;
        while (!(w & 1)) { w >>= 1; r++; }
        return r;
    #endif
    }
    """
    uint64_t hc_sz_mix(uint64_t z) nogil
    unsigned char hc_sz_rank(uint64_t w) nogil

DEF SZ_P = 14
DEF SZ_M = 16384


cdef class Sizer:
    """The sampler of one cache (``sizing=R``) or of one offline simulation. Internal: build it
    with ``_sizer_new``; read it with ``report()``."""
    cdef uint64_t threshold
    cdef uint64_t requests
    cdef uint64_t sampled
    cdef uint64_t *hits
    cdef Py_ssize_t n
    cdef list minis
    cdef bint hashed
    cdef unsigned char regs[SZ_M]
    cdef readonly double rate
    cdef readonly list sizes
    cdef readonly list policies
    cdef readonly list mini_sizes

    def __cinit__(self):
        self.hits = NULL
        self.minis = []
        memset(self.regs, 0, SZ_M)

    def __dealloc__(self):
        free(self.hits)

    def observe(self, key):
        """Count one lookup of ``key``."""
        _sz_observe(self, key, hash(key))

    cdef int _observe(self, object key, Py_hash_t h) except -1:
        """_sz_observe for the caches' hot paths (_use, CachedCall): called through the type's
        vtable, so the C compiler cannot inline it into them. Inlined, it grew _use() past
        gcc's budget and _use() stopped being inlined into __getitem__/get(): +23/+29
        instructions per hit with sizing OFF (callgrind_ops.py); as a method, one test."""
        return _sz_observe(self, key, h)

    def feed(self, keys, progress=None, Py_ssize_t every=1 << 20, list keep=None):
        """Count a lookup of each key of the iterable ``keys``; call ``progress(n)`` every
        ``every`` keys; append the sampled keys to ``keep`` if given. Returns how many keys
        were read."""
        cdef Py_ssize_t n = 0
        cdef uint64_t before
        if every < 1:
            raise ValueError("every must be >= 1")
        for key in keys:
            before = self.sampled
            _sz_observe(self, key, hash(key))
            if keep is not None and self.sampled != before:
                keep.append(key)
            n += 1
            if progress is not None and n % every == 0:
                progress(n)
        return n

    def registers(self):
        """The HyperLogLog registers (bytes)."""
        return (<char *>self.regs)[:SZ_M]

    def counts(self):
        """(requests, sampled, hits per miniature in policy-major order)."""
        return self.requests, self.sampled, [self.hits[i] for i in range(self.n)]

    def memory(self):
        """Bytes held: registers, counters, the miniatures' C structures and their int keys."""
        cdef Py_ssize_t total = sizeof(Sizer) + SZ_M + 8 * self.n
        for mini in self.minis:
            total += hc_overhead_bytes((<Core>mini).c) + (32 if self.hashed else 0) * len(mini)
        return total

    def report(self, requests=None, registers=None):
        """The SizingReport of the lookups seen so far (hotcache.sizing.sampler.build_report);
        ``requests``/``registers`` stand in for the sampler's own when it was fed only the
        sampled keys of a longer trace (simulate's two passes)."""
        from hotcache.sizing.sampler import build_report
        return build_report(self.sizes, self.policies, [self.hits[i] for i in range(self.n)],
                            self.requests if requests is None else requests, self.sampled,
                            self.rate, self.registers() if registers is None else registers,
                            self.memory())


cdef Sizer _sizer_new(double rate, list sizes, list policies, bint hashed, bint bounded):
    """A sampler at ``rate`` (checked by the caller) over ``sizes`` x ``policies`` (checked,
    available in this build); ``bounded`` lowers the rate to keep the miniatures small."""
    from hotcache.sizing.sampler import plan, threshold
    cdef Sizer s = Sizer.__new__(Sizer)
    s.rate, s.mini_sizes = plan(rate, sizes, bounded)
    s.sizes = list(sizes)
    s.policies = list(policies)
    s.threshold = threshold(s.rate)
    s.hashed = hashed
    # seed 0: RRCache's and TinyLFUCache's PRNGs give the same report for the same sample
    s.minis = [Core(m, policy=p, seed=0) for p in policies for m in s.mini_sizes]
    s.n = len(s.minis)
    s.hits = <uint64_t *>calloc(s.n if s.n else 1, sizeof(uint64_t))
    if s.hits == NULL:
        raise MemoryError()
    return s


def _available_policies():
    """The policy names this build's core has."""
    return list(_POLICIES)


def _new_sizer(rate, sizes, policies, hashed=False, bounded=False):
    """A Sizer for an offline simulation (hotcache.sizing.simulate); arguments checked there."""
    missing = [p for p in policies if p not in _POLICIES]
    if missing:
        raise ValueError("policy %s is not available in this build of hotcache (it has %s)"
                         % (", ".join(map(repr, missing)), ", ".join(_POLICIES)))
    return _sizer_new(rate, list(sizes), list(policies), hashed, bounded)


cdef Sizer _sizing_for(Core core, object rate):
    """The sampler of ``sizing=rate`` on ``core``: default sizes around its maxsize, the default
    policies this build has plus the cache's own, miniatures bounded."""
    from hotcache.sizing.sampler import check_rate
    from hotcache.sizing.report import DEFAULT_POLICIES, POLICIES, default_sizes
    r = check_rate(rate)
    sizes = default_sizes(core._maxsize)
    own = {v: k for k, v in _POLICIES.items()}.get(core._policy)
    policies = [p for p in DEFAULT_POLICIES if p in _POLICIES]
    if own in POLICIES and own not in policies:
        policies.append(own)
    return _sizer_new(r, sizes, policies, True, True)


cdef inline int _sz_observe(Sizer s, object key, Py_hash_t h) except -1:
    """One lookup: the HyperLogLog register, and the miniatures when the key is sampled."""
    cdef uint64_t m = hc_sz_mix(<uint64_t>h)
    cdef unsigned char r = hc_sz_rank(m >> SZ_P)
    cdef uint32_t idx = <uint32_t>(m & (SZ_M - 1))
    s.requests += 1
    if s.regs[idx] < r:
        s.regs[idx] = r
    if m <= s.threshold:
        return _sz_record(s, key, m)
    return 0


cdef int _sz_record(Sizer s, object key, uint64_t m) except -1:
    """Replay a sampled lookup on every miniature: a hit counts, a miss stores the key. The
    keys are ints (hashed) or the caller's keys (offline), whose == runs in _find: that is
    user code, after which nothing of the sampler is half-changed."""
    cdef Py_ssize_t i, slot
    cdef Core mini
    cdef Py_hash_t hk
    k = PyLong_FromUnsignedLongLong(m) if s.hashed else key
    hk = hash(k)
    s.sampled += 1
    for i in range(s.n):
        mini = <Core>s.minis[i]
        # _use() of the miniature, spelt out: the minis are never timed, so no clock and no
        # expiry; hc_touch on a hit, hc_miss on a miss (what the adaptive policies hear), as
        # _use(). (Another copy of the inline _use() here stopped gcc inlining it into get().)
        slot = _find(mini, k, hk)
        if slot >= 0:
            hc_touch(mini.c, <uint32_t>slot)
            s.hits[i] += 1
        elif mini._fast and not hc_timed(mini.c):
            hc_miss(mini.c, <uint64_t>hk)
            _store_fast_h(mini, k, None, hk)
        else:
            hc_miss(mini.c, <uint64_t>hk)
            mini._store(k, None, mini._ttl, True)
    return 0
