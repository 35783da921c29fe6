/* hc.h -- public C API of the hotcache core.
 * The core keeps entry metadata (hash, sizes, policy links, expiry) for slots; it never sees
 * keys or values and never includes Python.h: the caller stores objects by slot and compares keys.
 *
 *   hash ──▶ hc_index (open addressing, slot per bucket) ──▶ slot ──▶ hc_arena.e[slot]
 *                                                               │        (hash, policy links,
 *                                                               │         insertion-order links)
 *                                                               ├──▶ arena side arrays: size[], bytes[]
 *                                                               └──▶ hc_wheel node[slot] (expire_at)
 *
 * Contract shared by every function here:
 *   - slots are uint32; HC_NIL means "none";
 *   - a function that can fail returns <0 (or HC_NIL) and has changed nothing;
 *   - the core never calls back into the caller: anything that may run user code (hash, ==,
 *     getsizeof, destructors, callbacks) happens in the caller between core calls, so the core
 *     is always consistent when user code runs.
 */
#ifndef HC_H
#define HC_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HC_NIL UINT32_MAX
#define HC_UNBOUNDED UINT64_MAX

typedef enum hc_policy_kind {
    HC_POLICY_INSERTION = 0, /* evict in first-insertion order; re-assignment does not move */
    HC_POLICY_LRU = 1,       /* reads and re-assignments move to most recent */
    HC_POLICY_LFU = 2,       /* frequency buckets; ties -> least recently used in the bucket */
    HC_POLICY_FIFO = 3,      /* reads don't reorder; re-assignment moves to newest */
    HC_POLICY_RANDOM = 4,    /* uniform victim, seeded PRNG */
    HC_POLICY_S3FIFO = 5,    /* S3-FIFO: small FIFO + main FIFO with 2-bit use counters + ghost */
    HC_POLICY_TINYLFU = 6,   /* W-TinyLFU: window LRU + SLRU main, sketch admission, climbing window */
    HC_POLICY_COUNT_ = 7
} hc_policy_kind;

typedef enum hc_cause {
    HC_CAUSE_NONE = 0,
    HC_CAUSE_SIZE = 1,    /* over max_size (entry count / sum of sizes) */
    HC_CAUSE_MEMORY = 2,  /* over max_bytes */
    HC_CAUSE_EXPIRED = 3  /* its expiry time has passed */
} hc_cause;

typedef struct hc_config {
    int policy;          /* hc_policy_kind */
    uint64_t max_size;   /* bound on the sum of entry sizes (size 1 each unless sized); HC_UNBOUNDED */
    uint64_t max_bytes;  /* bound on the sum of entry byte charges; HC_UNBOUNDED */
    uint64_t seed;       /* PRNG seed for HC_POLICY_RANDOM */
    double tick;         /* timing wheel resolution in timer units (e.g. 1/1024 s); 0 -> default */
} hc_config;

typedef struct hc_stats {
    uint64_t hits, misses, inserts, updates, deletes;
    uint64_t evictions_size, evictions_memory, expirations;
} hc_stats;

/* ---- internal layout, exposed only so the hot lookup can be inlined; treat as opaque ---- */
typedef struct hc_entry {
    /* Two words owned by the caller (the binding keeps the key and value there, so a hit reads
     * one record instead of a record plus a separate slot array). The core never reads, frees or
     * interprets them: hc_insert sets both to NULL, hc_clone copies them with the record, and a
     * freed slot keeps them until the next hc_insert. They come first: records are 48 bytes, so
     * half of them straddle two cache lines, and a hit on the same key object (identity, no
     * hash compare) reads only these 16 bytes, which never straddle. */
    void *key, *val;
    uint64_t hash;
    uint32_t pol_prev, pol_next, pol_aux; /* owned by the policy */
    uint32_t ord_prev, ord_next;          /* insertion order, owned by the core */
    uint32_t flags;                       /* HC_F_* */
} hc_entry;

#define HC_F_LIVE 1u    /* slot holds an entry (not on the free list) */
#define HC_F_TIMED 2u   /* entry is scheduled on the wheel */

typedef struct hc_index {
    /* per bucket: 0 = empty, else (uint64_t)fragment << 32 | (slot + 1), where fragment is the
     * low 32 bits of hc_mix(hash) (so home = fragment & mask). Probes and deletions compare and
     * re-home by the fragment without touching the entry records: one cache line per bucket
     * instead of two (measured below, at hc_home). Linear probing, backward-shift delete. */
    uint64_t *buckets;
    size_t mask;       /* nbuckets - 1 (power of two); buckets == NULL when nbuckets == 0 */
    size_t used;
} hc_index;

/* Every hc_cache begins with this head (first member), so the hot lookup can be inlined.
 * hc_core.c keeps it in sync: entries == arena's record array after every growth/clear;
 * expire_at == the wheel's per-slot expiry array (NULL while no entry was ever timed). */
typedef struct hc_cache_head {
    hc_index index;
    hc_entry *entries;
    double *expire_at; /* +INFINITY for slots without expiry */
    /* <= every scheduled expire_at (+INFINITY when none). While now < expire_floor nothing can
     * be expired, so a hit skips reading expire_at[slot], a separate array and so one more
     * cache line per hit. Lowered on every schedule, raised only after the wheel is popped. */
    double expire_floor;
} hc_cache_head;

typedef struct hc_cache hc_cache;
#define HC_HEAD(c) ((const hc_cache_head *)(const void *)(c))

/* Probe for candidate slots whose hash fragment equals that of `hash`. When hc_probe_next()
 * returns HC_NIL on a non-empty index, `empty` is the empty bucket that ended the probe run: the
 * very bucket an insert of this hash would take, which hc_insert_probed() reuses (no second
 * probe). Unset before that. */
typedef struct hc_probe {
    uint32_t frag;
    size_t pos;
    size_t empty;
} hc_probe;

/* What hc_insert_probed() evicted: the victim's slot (HC_NIL: none) and the caller's key/val
 * words it held, now the caller's to release once it has stored its own words. */
typedef struct hc_evicted {
    uint32_t slot;
    void *key, *val;
} hc_evicted;


/* ---- lifecycle ---- */
hc_cache *hc_new(const hc_config *cfg); /* NULL on bad config or out of memory */
void hc_free(hc_cache *c);
/* Copy the whole core state (entries at the same slots, index, policy order, wheel, counters,
 * PRNG state); NULL on out of memory. */
hc_cache *hc_clone(const hc_cache *c);

/* ---- lookup (hot path) ---- */
/* Start a probe. Then call hc_probe_next() until it returns HC_NIL; each returned slot has the
 * same 32-bit hash fragment: the caller checks the key for identity, then hc_hash_at() against
 * the full hash, then compares keys. Probing is read-only: no state changes. If the caller runs
 * user code between calls, it must restart the probe when hc_version() changed. */
static inline void hc_probe_init(const hc_cache *c, uint64_t hash, hc_probe *p);
static inline uint32_t hc_probe_next(const hc_cache *c, hc_probe *p);
/* The full hash stored for a live slot. */
static inline uint64_t hc_hash_at(const hc_cache *c, uint32_t slot);

/* A structural-change counter: bumped by every insert, remove, evict, expire, clear, resize. */
uint64_t hc_version(const hc_cache *c);

/* A read hit on `slot`: policy on_access, hits++. */
void hc_touch(hc_cache *c, uint32_t slot);
/* A lookup of `hash` missed: misses++, and the policy hears of it (TINYLFU counts the hash in
 * its frequency sketch, so a key that keeps missing builds up the frequency that admits it; an
 * hc_insert of the same hash right after is then not counted again). */
void hc_miss(hc_cache *c, uint64_t hash);
/* misses++ only: for lookups whose hash the caller does not want counted. */
void hc_count_miss(hc_cache *c);

/* Expiry of `slot`: +INFINITY when it has none. Expired means expire_at <= now. */
static inline double hc_expire_at(const hc_cache *c, uint32_t slot)
{
    const double *x = HC_HEAD(c)->expire_at;
    return x ? x[slot] : (double)INFINITY;
}
/* Whether `slot` is expired at `now` (false for slots without expiry). */
static inline int hc_expired(const hc_cache *c, uint32_t slot, double now)
{
    const hc_cache_head *h = HC_HEAD(c);
    return now >= h->expire_floor && h->expire_at && h->expire_at[slot] <= now;
}

/* 1 if any entry was ever timed (the caller must then read the clock on lookups), else 0. */
static inline int hc_timed(const hc_cache *c) { return HC_HEAD(c)->expire_at != NULL; }

/* ---- mutation ---- */
/* Would adding an entry of (add_size, add_bytes) exceed a bound? Returns HC_CAUSE_SIZE or
 * HC_CAUSE_MEMORY (the first bound that is exceeded) or HC_CAUSE_NONE. */
int hc_over(const hc_cache *c, uint64_t add_size, uint64_t add_bytes);

/* Remove one victim: a due-expired entry (expire_at <= now) if there is one, else the policy's
 * victim. The entry leaves index, policy, wheel and insertion order and its slot is freed (its
 * number stays valid for the caller until the next hc_insert). *cause gets HC_CAUSE_EXPIRED, or
 * `pressure` (HC_CAUSE_SIZE / HC_CAUSE_MEMORY) for a policy victim. HC_NIL if the cache is empty.
 * Counts evictions/expirations. */
uint32_t hc_evict(hc_cache *c, double now, int pressure, int *cause);
/* The policy's likely next victim (HC_NIL if empty or RANDOM, whose victim is drawn at
 * eviction), with prefetches started for its index bucket and for what its key/val words point
 * at, so a store that will evict it overlaps those cache misses with its own probe. Exact for
 * the list policies and LFU; S3FIFO's and TINYLFU's are the queue head their eviction most
 * likely takes (TINYLFU spares the two sketch estimates its victim() decides by). Changes
 * nothing. */
uint32_t hc_prefetch_victim(const hc_cache *c);

/* The expiry (+INFINITY: none) the last policy victim of hc_evict/hc_evict_keep had when it was
 * evicted (its slot's expiry is reset by then); lets a caller carry the remaining lifetime of
 * an evicted entry elsewhere (a second tier). Unspecified before the first policy eviction. */
double hc_victim_expire_at(const hc_cache *c);

/* hc_evict, but never `keep` (a re-assigned entry is never its own victim); HC_NIL if `keep` is
 * the only candidate. If `keep` itself is due at `now`, due entries are not preferred (the wheel
 * would hand out `keep` first): the policy's victim other than `keep` goes. */
uint32_t hc_evict_keep(hc_cache *c, double now, int pressure, int *cause, uint32_t keep);

/* Insert a new entry (the caller has checked the key is absent and made room). Appended at the
 * end of insertion order; expire_at = +INFINITY for none. Returns its slot, or HC_NIL on out of
 * memory / no slot (nothing changed). Counts inserts. */
uint32_t hc_insert(hc_cache *c, uint64_t hash, uint64_t size, uint64_t bytes, double expire_at);

/* The fused miss path of a plain store (size 1, no bytes, no expiry): `p` is a probe for `hash`
 * that hc_probe_next() ran to HC_NIL, with nothing changed in the cache since. Does exactly what
 *     if (hc_over(c, 1, 0)) v = hc_evict(c, -INFINITY, HC_CAUSE_SIZE, NULL);
 *     s = hc_insert(c, hash, 1, 0, INFINITY);
 * does to every structure and counter (same slot, same index layout, same policy state), but
 * with one index probe instead of three (the victim's removal says whether it opened a bucket
 * ahead of the one `p` found empty), the victim's record reused for the new entry (no free-list
 * round trip) and, for the list policies, the victim's unlink and the newcomer's append without
 * the two policy calls. A victim's slot and key/val words go to *ev (ev->slot == HC_NIL, words NULL: none);
 * the caller owns those words from now on. Returns the new slot (key/val words NULL), or HC_NIL
 * on out of memory / no slot: nothing was inserted, but a victim in *ev is evicted all the same
 * (as with hc_evict followed by a failing hc_insert). With a timing wheel (anything ever timed)
 * it runs exactly those two calls. */
uint32_t hc_insert_probed(hc_cache *c, const hc_probe *p, uint64_t hash, hc_evicted *ev);

/* Re-assignment of an existing entry: new size/bytes/expiry; policy on_update (LRU/LFU: a use;
 * FIFO: move to newest; INSERTION/RANDOM: nothing). Insertion order unchanged. Counts updates.
 * The caller makes room afterwards with hc_over()/hc_evict() if the entry grew. */
void hc_update(hc_cache *c, uint32_t slot, uint64_t size, uint64_t bytes, double expire_at);
/* hc_update() and hc_set_expire() return nothing, yet the first entry with size != 1 or bytes != 0
 * and the first finite expiry make the core allocate (a side array / the wheel); if that fails
 * they change nothing. Call this first with the same values to allocate up front: 0, or -1 on
 * out of memory (nothing changed). After 0, hc_update()/hc_set_expire() with them cannot fail. */
int hc_prepare_update(hc_cache *c, uint64_t size, uint64_t bytes, double expire_at);

/* Change only the byte charge of an entry (a cache that starts bounding memory charges its
 * entries); no policy effect, no eviction. 0, or -1 on out of memory (nothing changed). */
int hc_set_bytes(hc_cache *c, uint32_t slot, uint64_t bytes);

/* Change only the expiry of an entry (+INFINITY: never); no policy effect. */
void hc_set_expire(hc_cache *c, uint32_t slot, double expire_at);

/* Explicit delete of `slot` (not an eviction). Its slot is freed. Counts deletes. */
void hc_remove(hc_cache *c, uint32_t slot);

/* Remove `slot` because the caller found it expired (e.g. a store over an expired key): like
 * hc_remove, but counted as an expiration. */
void hc_expire_slot(hc_cache *c, uint32_t slot);

/* The policy's next victim without removing it (HC_NIL if empty); the random policy draws a
 * fresh victim each call. Used by popitem(), which then calls hc_remove_victim() (or
 * hc_remove()). S3FIFO may move entries between its queues to find it (lazy promotion, what
 * its eviction would do anyway); calling it again before anything changes returns the same. */
uint32_t hc_victim(hc_cache *c);
/* Remove `slot`, just returned by hc_victim(), as the policy's victim: counted as a delete (it
 * is the caller's removal, e.g. popitem), but the policy treats it as an eviction (S3FIFO
 * remembers it in its ghost, TINYLFU advances its admission jitter), so popping victims behaves
 * like evicting them. */
void hc_remove_victim(hc_cache *c, uint32_t slot);

/* Remove up to `max` entries with expire_at <= now, writing their slots to out (slots are freed;
 * valid until the next hc_insert), in ascending expire_at order within the batch. Bounded work:
 * visits only wheel buckets that are due. Returns the number written. Counts expirations. */
size_t hc_expire(hc_cache *c, double now, uint32_t *out, size_t max);

/* Bounded incremental reclaim: like hc_expire with a small budget, but only when something is
 * due; cheap when nothing is. Returns the number written to out (at most max). */
size_t hc_reclaim(hc_cache *c, double now, uint32_t *out, size_t max);

/* Drop everything: all slots freed, policy/wheel/order reset, memory returned to the initial
 * chunk. Stats are kept. */
void hc_clear(hc_cache *c);

/* Change the bounds (the caller then evicts with hc_over(c, 0, 0)/hc_evict until it fits). */
void hc_set_limits(hc_cache *c, uint64_t max_size, uint64_t max_bytes);

/* ---- reading ---- */
size_t hc_len(const hc_cache *c);            /* entries stored, expired-but-unreclaimed included */
uint64_t hc_size_used(const hc_cache *c);    /* sum of sizes */
uint64_t hc_bytes_used(const hc_cache *c);   /* sum of byte charges */
uint64_t hc_max_size(const hc_cache *c);
uint64_t hc_max_bytes(const hc_cache *c);
uint32_t hc_capacity(const hc_cache *c);     /* slots allocated now: every slot < this */
uint64_t hc_entry_size(const hc_cache *c, uint32_t slot);
uint64_t hc_entry_bytes(const hc_cache *c, uint32_t slot);
size_t hc_overhead_bytes(const hc_cache *c); /* bytes the core itself has allocated */
const hc_stats *hc_stats_of(const hc_cache *c);
void hc_stats_reset(hc_cache *c);
/* Set the counters (unpickling). */
void hc_stats_restore(hc_cache *c, uint64_t hits, uint64_t misses, uint64_t inserts,
                      uint64_t updates, uint64_t deletes, uint64_t evictions_size,
                      uint64_t evictions_memory, uint64_t expirations);

/* Insertion order: first / next live slot, HC_NIL at the end. */
uint32_t hc_order_first(const hc_cache *c);
uint32_t hc_order_next(const hc_cache *c, uint32_t slot);

/* Policy order, next victim first, into out (room for hc_len()); aux gets the policy's per-entry
 * state (LFU: use count; S3FIFO: queue << 2 | use counter; TINYLFU: queue | 4 if demoted from
 * protected; others 0) when
 * aux != NULL. Returns the count. Does not change state. For S3FIFO and TINYLFU the order is
 * queue by queue, oldest first (S3FIFO: small, main; TINYLFU: window, probation, protected):
 * their victim also depends on counters and the sketch, but restore(order, aux) rebuilds the
 * exact queues. */
size_t hc_policy_order(const hc_cache *c, uint32_t *out, uint64_t *aux);
/* Rebuild policy state from such an order (all n live slots, next victim first) and aux. Returns
 * 0, or -1 if the list is not a permutation of the live slots (nothing changed). */
int hc_policy_restore(hc_cache *c, const uint32_t *slots, const uint64_t *aux, size_t n);

/* Policy-wide state beyond order/aux (S3FIFO: its ghost; TINYLFU: sketch, ghost, region sizes;
 * 0 bytes for the others), for pickling: size in bytes, then save writes exactly that many
 * (little-endian, platform-independent). load replaces the state from such bytes, taken from a
 * cache of the same policy and after hc_policy_restore(): 0, or -1 if they are malformed or on
 * out of memory (nothing changed). The hashes inside are the caller's hash() values: across
 * processes with a different string-hash seed they describe other keys (harmless: counts and
 * ghost hits then start over, in effect). */
size_t hc_policy_state_size(const hc_cache *c);
void hc_policy_state_save(const hc_cache *c, void *buf);
int hc_policy_state_load(hc_cache *c, const void *buf, size_t n);

/* Numbers the multi-queue policies keep (0 where not applicable), for stats and tests. Weights
 * are sizes, or byte charges when only max_bytes bounds the cache. */
typedef struct hc_policy_info {
    uint64_t q_weight[3];    /* S3FIFO: small, main; TINYLFU: window, probation, protected */
    uint32_t q_len[3];       /* entries in those queues */
    uint64_t q_max[3];       /* S3FIFO: small, main bounds; TINYLFU: window, -, protected */
    uint64_t ghost_words;    /* hashes the ghost remembers now */
    uint64_t ghost_sample;   /* TINYLFU: the ghost remembers one victim in this many */
    uint64_t sketch_capacity;/* TINYLFU: entries the sketch is sized for (0: not yet) */
    double protect_share;    /* TINYLFU: protected's share of main */
} hc_policy_info;
void hc_policy_info_get(const hc_cache *c, hc_policy_info *out);
/* TINYLFU: the sketch's frequency estimate of `hash` (0..15); S3FIFO: 1 if its ghost remembers
 * `hash`, else 0; others 0. Read-only. */
uint32_t hc_policy_frequency(const hc_cache *c, uint64_t hash);

/* PRNG state of the random policy and of TINYLFU's admission jitter (for copy/pickle); restore
 * sets it. */
uint64_t hc_rng_state(const hc_cache *c);
void hc_rng_set_state(hc_cache *c, uint64_t state);

/* ---- checking ---- */
/* Walk index <-> arena <-> policy <-> wheel <-> insertion order <-> counters. Returns 0 if every
 * invariant holds, else -1 and a message describing the first broken one in msg. */
int hc_check(const hc_cache *c, char *msg, size_t msglen);

/* Hint the CPU to start loading the cache line at p (no effect where unsupported). */
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#endif
static inline void hc_prefetch(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    _mm_prefetch((const char *)p, _MM_HINT_T0);
#else
    (void)p;
#endif
}

/* ---- inline probe ---- */
/* Home bucket of a hash. Python's hashes of ints are the ints themselves, so consecutive keys
 * would fill one contiguous run and make linear probing (and backward-shift deletion) O(n):
 * measured 40 us per LRU eviction at 20k sequential int keys before this mixing, ~100 ns after.
 * One multiply by 2^64/phi (Fibonacci hashing) plus a fold of the high half spreads them. */
static inline uint64_t hc_mix(uint64_t hash)
{
    hash *= UINT64_C(0x9E3779B97F4A7C15);
    return hash ^ (hash >> 32);
}

static inline uint32_t hc_frag(uint64_t hash) { return (uint32_t)hc_mix(hash); }

static inline size_t hc_home(uint64_t hash, size_t mask) { return (size_t)(hc_frag(hash) & mask); }

static inline uint64_t hc_hash_at(const hc_cache *c, uint32_t slot)
{
    return HC_HEAD(c)->entries[slot].hash;
}

/* The record of `slot` (for the caller's key/val words). Moves when the arena grows: re-fetch
 * after hc_insert, hc_clear, hc_set_limits. */
static inline hc_entry *hc_entry_at(hc_cache *c, uint32_t slot)
{
    return &((hc_cache_head *)(void *)c)->entries[slot];
}

static inline void hc_probe_init(const hc_cache *c, uint64_t hash, hc_probe *p)
{
    const hc_index *ix = &HC_HEAD(c)->index;
    p->frag = hc_frag(hash);
    p->pos = ix->buckets ? (size_t)(p->frag & ix->mask) : (size_t)-1;
}

static inline uint32_t hc_probe_next(const hc_cache *c, hc_probe *p)
{
    const hc_index *ix = &HC_HEAD(c)->index;
    size_t pos = p->pos;
    if (pos == (size_t)-1)
        return HC_NIL;
    for (;;) {
        uint64_t b = ix->buckets[pos];
        if (b == 0) {
            p->empty = pos;
            p->pos = (size_t)-1;
            return HC_NIL;
        }
        pos = (pos + 1) & ix->mask;
        if ((uint32_t)(b >> 32) == p->frag) {
            p->pos = pos;
            return (uint32_t)b - 1;
        }
    }
}

#ifdef __cplusplus
}
#endif
#endif /* HC_H */
