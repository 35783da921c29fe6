/* hc_policy.h -- the eviction-policy vtable and the one state record all policies share.
 * A policy owns hc_entry.pol_prev/pol_next/pol_aux and its own hc_pol fields; nothing else.
 *
 *   hc_policy_registry[kind] ──▶ hc_policy_ops { on_insert, on_access, on_update, on_remove,
 *                                                victim, clear, order, restore, check, peek,
 *                                                on_miss, on_evict, on_replace, on_charge,
 *                                                on_limits, state }
 *   list policies (INSERTION, LRU, FIFO):
 *       head ──▶ [victim] ⇄ [ ] ⇄ ... ⇄ [newest] ◀── tail        (pol_prev / pol_next)
 *   LFU: node pool, buckets ascending by count, each a circular LRU list of entries:
 *       head ──▶ node{count 1} ⇄ node{count 3} ⇄ ... ◀── tail    (node.prev / node.next)
 *                  └▶ LRU entry ⇄ ... ⇄ MRU entry ⇄(back to LRU)  (pol_prev / pol_next)
 *       entry.pol_aux = its node
 *   RANDOM: dense[0..n) = live slots, entry.pol_aux = its position; swap-remove; splitmix64.
 *   S3FIFO: two hc_queues (small, main) over pol_prev/pol_next + a ghost of evicted hashes;
 *       entry.pol_aux = queue << 2 | 2-bit use counter            (hc_policy_s3fifo.c)
 *   TINYLFU: three hc_queues (window, probation, protected) + a frequency sketch + a tagged
 *       ghost that adapts the region sizes; entry.pol_aux = queue | demoted flag
 *                                                                  (hc_policy_tinylfu.c)
 *
 * Weights: the multi-queue policies (S3FIFO, TINYLFU) size their queues in entry weights: the
 * entry's size while max_size bounds the cache (or nothing does), else its byte charge (a cache
 * bounded by max_bytes only). The core binds size_ref/bytes_ref to the arena's side arrays and
 * keeps max_size/max_bytes current (hc_policy_bind, on_limits); these survive clear.
 *
 * Contract for every op: `e` is the arena's record array, slots passed are live; ops never
 * allocate except reserve, restore, state_load and LFU's on_access (see hc_policy_lfu.c).
 */
#ifndef HC_POLICY_H
#define HC_POLICY_H

#include "hc.h"
#include "hc_ghost.h"
#include "hc_sketch.h"

typedef struct hc_lfu_node {
    uint32_t count;      /* uses of every entry in this bucket (saturates at UINT32_MAX) */
    uint32_t head;       /* least recently used entry; MRU = e[head].pol_prev */
    uint32_t prev, next; /* neighbouring buckets (lower / higher count); next links free nodes */
} hc_lfu_node;

/* A queue over pol_prev/pol_next (head = oldest) with its entry count and summed weight. */
typedef struct hc_queue {
    uint32_t head, tail, n;
    uint64_t weight;
} hc_queue;

/* S3-FIFO (hc_policy_s3fifo.c). */
typedef struct hc_s3fifo {
    hc_queue small, main;
    uint64_t small_max, main_max; /* weight bounds derived from the maximum: 10 % / the rest */
    uint8_t has_evicted;          /* some victim left: a full small queue no longer admits to main */
    uint8_t pick;                 /* queue of the victim being chosen (0 none, 1 small, 2 main) */
    hc_ghost ghost;               /* hashes evicted from small, remembered for main's weight */
    /* reserve()'s last "table fits" answer and its inputs (entries, total weight, maximum,
     * has_evicted, table size): the same inputs give the same answer without recomputing it */
    uint64_t fit_total, fit_max, fit_have;
    uint32_t fit_n;               /* 0: nothing remembered (reserve always asks for >= 1) */
    uint8_t fit_evicted;
} hc_s3fifo;

/* W-TinyLFU (hc_policy_tinylfu.c). */
typedef struct hc_tinylfu {
    hc_queue window, probation, protect;
    uint64_t maximum;             /* the weight bound the regions share (capped, see the file) */
    uint64_t window_max, protect_max;
    double protect_share;         /* protected's share of main (adapted) */
    double evicted[3];            /* decayed counts of recent sampled evictions per ghost tag */
    hc_sketch sketch;
    hc_ghost ghost;               /* a sample of victims' hashes, tagged by region */
    uint64_t ghost_for;           /* sketch capacity the ghost was last checked against */
    double keep;                  /* decay of evicted[] per sampled eviction, derived from... */
    uint64_t keep_for;            /* ...this ghost.sized_for (0: not derived yet) */
    uint64_t last_miss;           /* hash of the last miss, counted by on_miss... */
    uint8_t miss_pending;         /* ...and not yet inserted (then on_insert does not count it) */
    uint8_t ghost_shift;          /* the ghost samples one victim hash in 2^ghost_shift */
    uint8_t sized;                /* an entry was stored with a size other than 1 since clear */
    uint8_t configured;           /* bounds derived from the maximum (cleared by clear) */
} hc_tinylfu;

typedef struct hc_pol {
    uint32_t head, tail; /* list policies: victim end / newest end. LFU: lowest / highest bucket */
    uint32_t n;          /* entries held */
    /* LFU */
    hc_lfu_node *node;
    uint32_t node_cap, node_free, node_used;
    /* RANDOM */
    uint32_t *dense;
    uint32_t dense_cap;
    uint64_t rng;        /* RANDOM's PRNG; TINYLFU's admission jitter (a counter) */
    /* environment, set by the core (hc_policy_bind), kept by clear */
    uint64_t *const *size_ref;  /* &arena.size: entry sizes, or *size_ref == NULL (all 1) */
    uint64_t *const *bytes_ref; /* &arena.bytes: byte charges, or NULL (all 0) */
    uint64_t max_size, max_bytes;
    /* the multi-queue policies */
    hc_s3fifo s3;
    hc_tinylfu tl;
} hc_pol;

typedef struct hc_policy_ops {
    const char *name;
    /* Room for `n` entries so that on_insert cannot fail. 0, or -1 on OOM (nothing changed). */
    int (*reserve)(hc_pol *p, uint32_t n);
    void (*on_insert)(hc_pol *p, hc_entry *e, uint32_t slot);
    /* NULL when reads never change the policy state (FIFO, INSERTION, RANDOM): a hit then makes
     * no call at all. */
    void (*on_access)(hc_pol *p, hc_entry *e, uint32_t slot);
    void (*on_update)(hc_pol *p, hc_entry *e, uint32_t slot);
    void (*on_remove)(hc_pol *p, hc_entry *e, uint32_t slot);
    /* Next victim other than `keep` (HC_NIL: any); it stays in the policy. HC_NIL when there is
     * none. RANDOM advances its PRNG; S3FIFO relinks entries between its queues (the lazy
     * promotion its eviction does) and remembers its pick, so a second call before any other
     * op returns the same slot. No entry is ever added or removed. */
    uint32_t (*victim)(hc_pol *p, hc_entry *e, uint32_t keep);
    /* Forget all entries and release memory (the PRNG state, binding and bounds are kept). */
    void (*clear)(hc_pol *p);
    /* Write all entries, next victim first, to out (and per-entry state to aux if non-NULL). */
    size_t (*order)(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux);
    /* Replace the state by slots[0..n) (validated live and distinct by the caller), next
     * victim first, aux as written by order (may be NULL). 0, or -1 on OOM (nothing changed). */
    int (*restore)(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux, size_t n);
    /* Verify the structure over the live entries of e[0..cap) (`live` of them). 0, or -1 + msg. */
    int (*check)(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                 size_t msglen);
    /* The likely next victim, for prefetching only: no state change; NULL when there is none to
     * guess (RANDOM draws at eviction). */
    uint32_t (*peek)(const hc_pol *p, const hc_entry *e);
    /* NULL unless misses matter: a lookup of `hash` missed (TINYLFU counts it in the sketch). */
    void (*on_miss)(hc_pol *p, hc_entry *e, uint64_t hash);
    /* The slot victim() just returned leaves as an eviction (S3FIFO remembers it in the ghost;
     * TINYLFU advances the admission jitter); policies without that difference give on_remove.
     * Never NULL: an eviction costs one call, as before. */
    void (*on_evict)(hc_pol *p, hc_entry *e, uint32_t slot);
    /* NULL, or the fused miss path's one call (hc_insert_probed, issue 12): the slot victim()
     * just returned leaves as an eviction and a new entry of hash `hash` takes the same slot, so
     * the state after is exactly what on_evict(slot), reserve(n) and on_insert(slot) on the
     * re-initialised record leave, bit for bit. On the call the record still holds the victim's
     * hash and policy fields, `w_old` is the victim's weight (pol_weight_of its old size/bytes)
     * and the arena already holds the newcomer's charge (size 1, bytes 0); `n` is reserve's
     * count (the live entries, the newcomer included). The hook writes pol_prev, pol_next and
     * pol_aux of the slot in full. Only for a policy whose reserve cannot fail (a failed
     * allocation there is retried later, as S3FIFO's and TINYLFU's are): the core then has no
     * undo to do. The list policies give hc_policy_list_replace, which the core inlines. */
    void (*on_replace)(hc_pol *p, hc_entry *e, uint32_t slot, uint64_t hash, uint64_t w_old,
                       uint32_t n);
    /* NULL unless weights matter: slot's size/bytes changed from (old_size, old_bytes) to what
     * the arena holds now. */
    void (*on_charge)(hc_pol *p, hc_entry *e, uint32_t slot, uint64_t old_size, uint64_t old_bytes);
    /* NULL unless the bounds matter: p->max_size/max_bytes just changed. */
    void (*on_limits)(hc_pol *p, hc_entry *e);
    /* NULL when the policy has no state beyond order/aux: the bytes of its policy-wide state
     * (sketch, ghost, region sizes), written by state_save, read back by state_load (0, or -1 if
     * malformed or OOM: nothing changed). */
    size_t (*state_size)(const hc_pol *p);
    void (*state_save)(const hc_pol *p, unsigned char *buf);
    int (*state_load)(hc_pol *p, const hc_entry *e, const unsigned char *buf, size_t n);
} hc_policy_ops;

extern const hc_policy_ops hc_policy_insertion, hc_policy_lru, hc_policy_fifo, hc_policy_lfu,
    hc_policy_random, hc_policy_s3fifo, hc_policy_tinylfu;
/* Indexed by hc_policy_kind. */
extern const hc_policy_ops *const hc_policy_registry[HC_POLICY_COUNT_];

/* Initialise p empty for any policy, PRNG seeded with `seed`, unbound and unbounded. */
void hc_policy_init(hc_pol *p, uint64_t seed);
/* Point p at the arena's size/bytes side-array fields and set its bounds (the core does this at
 * hc_new and hc_clone; the bounds again through on_limits after hc_set_limits). */
void hc_policy_bind(hc_pol *p, uint64_t *const *size_ref, uint64_t *const *bytes_ref,
                    uint64_t max_size, uint64_t max_bytes);
/* Release what p owns (any policy); p is left empty, keeping its PRNG state, binding and
 * bounds. */
void hc_policy_free(hc_pol *p);
/* Deep copy of src into dst. 0, or -1 on OOM (dst is then empty and owns nothing). */
int hc_policy_clone(hc_pol *dst, const hc_pol *src);
/* Bytes allocated by p. */
size_t hc_policy_bytes(const hc_pol *p);
/* snprintf into msg (if msglen > 0) and return -1: the shape of every check failure. */
int hc_policy_fail(char *msg, size_t msglen, const char *fmt, ...);

/* ---- doubly linked list over pol_prev/pol_next, shared by the list policies ---- */
static inline void pol_list_append(hc_pol *p, hc_entry *e, uint32_t s)
{
    e[s].pol_prev = p->tail;
    e[s].pol_next = HC_NIL;
    if (p->tail != HC_NIL)
        e[p->tail].pol_next = s;
    else
        p->head = s;
    p->tail = s;
}

static inline void pol_list_extract(hc_pol *p, hc_entry *e, uint32_t s)
{
    uint32_t pv = e[s].pol_prev, nx = e[s].pol_next;
    if (pv != HC_NIL)
        e[pv].pol_next = nx;
    else
        p->head = nx;
    if (nx != HC_NIL)
        e[nx].pol_prev = pv;
    else
        p->tail = pv;
}

static inline void pol_list_move_to_newest(hc_pol *p, hc_entry *e, uint32_t s)
{
    if (p->tail == s)
        return;
    pol_list_extract(p, e, s);
    pol_list_append(p, e, s);
}

/* Shared list ops (hc_policy.c). */
int hc_policy_list_reserve(hc_pol *p, uint32_t n);
void hc_policy_list_insert(hc_pol *p, hc_entry *e, uint32_t s);
void hc_policy_list_touch(hc_pol *p, hc_entry *e, uint32_t s);
void hc_policy_list_nothing(hc_pol *p, hc_entry *e, uint32_t s);
void hc_policy_list_remove(hc_pol *p, hc_entry *e, uint32_t s);
uint32_t hc_policy_list_victim(hc_pol *p, hc_entry *e, uint32_t keep);
void hc_policy_list_clear(hc_pol *p);
size_t hc_policy_list_order(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux);
int hc_policy_list_restore(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux,
                           size_t n);
int hc_policy_list_check(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                         size_t msglen);
uint32_t hc_policy_list_peek(const hc_pol *p, const hc_entry *e);
void hc_policy_list_replace(hc_pol *p, hc_entry *e, uint32_t s, uint64_t hash, uint64_t w_old,
                            uint32_t n);

/* The list policies' on_replace (hc_insert_probed inlines it): the victim, the list's head, is
 * unlinked and the newcomer in its slot appended at the tail; the count n is unchanged. */
static inline void pol_list_replace(hc_pol *p, hc_entry *e, uint32_t s)
{
    pol_list_extract(p, e, s);
    pol_list_append(p, e, s);
    e[s].pol_aux = 0; /* as on the zeroed record on_insert gets */
}

/* S3-FIFO's read hit (hc_touch inlines it): the entry's 2-bit use counter (pol_aux bits 0-1)
 * goes up by one, saturating at 3; nothing moves. */
static inline void hc_s3fifo_bump(hc_entry *e, uint32_t s)
{
    uint32_t a = e[s].pol_aux;
    e[s].pol_aux = a + ((a & 3u) != 3u);
}

/* Keeps a rare path out of a hot caller, so the caller stays a leaf without register saves. */
#if defined(__GNUC__) || defined(__clang__)
#define HC_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define HC_NOINLINE __declspec(noinline)
#else
#define HC_NOINLINE
#endif

/* ---- weights and queues for the multi-queue policies ---- */

/* 1 when weights are byte charges (only max_bytes bounds the cache), 0 when they are sizes. */
static inline int pol_by_bytes(const hc_pol *p)
{
    return p->max_size == HC_UNBOUNDED && p->max_bytes != HC_UNBOUNDED;
}

/* The bound the weights are measured against (HC_UNBOUNDED: none). */
static inline uint64_t pol_maximum(const hc_pol *p)
{
    return pol_by_bytes(p) ? p->max_bytes : p->max_size;
}

/* Weight of slot s from a size/bytes pair (the arena's defaults when the side array is absent). */
static inline uint64_t pol_weight_of(const hc_pol *p, uint64_t size, uint64_t bytes)
{
    return pol_by_bytes(p) ? bytes : size;
}

static inline uint64_t pol_weight(const hc_pol *p, uint32_t s)
{
    if (pol_by_bytes(p))
        return *p->bytes_ref ? (*p->bytes_ref)[s] : 0u;
    return *p->size_ref ? (*p->size_ref)[s] : 1u;
}

static inline void pol_q_init(hc_queue *q)
{
    q->head = q->tail = HC_NIL;
    q->n = 0;
    q->weight = 0;
}

/* Append s (weight w) at the tail (newest end). */
static inline void pol_q_append(hc_queue *q, hc_entry *e, uint32_t s, uint64_t w)
{
    e[s].pol_prev = q->tail;
    e[s].pol_next = HC_NIL;
    if (q->tail != HC_NIL)
        e[q->tail].pol_next = s;
    else
        q->head = s;
    q->tail = s;
    q->n++;
    q->weight += w;
}

/* Put s (weight w) at the head (the oldest end: next to leave). */
static inline void pol_q_prepend(hc_queue *q, hc_entry *e, uint32_t s, uint64_t w)
{
    e[s].pol_next = q->head;
    e[s].pol_prev = HC_NIL;
    if (q->head != HC_NIL)
        e[q->head].pol_prev = s;
    else
        q->tail = s;
    q->head = s;
    q->n++;
    q->weight += w;
}

static inline void pol_q_extract(hc_queue *q, hc_entry *e, uint32_t s, uint64_t w)
{
    uint32_t pv = e[s].pol_prev, nx = e[s].pol_next;
    if (pv != HC_NIL)
        e[pv].pol_next = nx;
    else
        q->head = nx;
    if (nx != HC_NIL)
        e[nx].pol_prev = pv;
    else
        q->tail = pv;
    q->n--;
    q->weight -= w;
}

/* Move s to the tail of its own queue q (a use in an LRU queue): relinks only, count and weight
 * unchanged. */
static inline void pol_q_to_tail(hc_queue *q, hc_entry *e, uint32_t s)
{
    uint32_t pv, nx;
    if (q->tail == s)
        return;
    pv = e[s].pol_prev;
    nx = e[s].pol_next; /* not HC_NIL: s is not the tail */
    if (pv != HC_NIL)
        e[pv].pol_next = nx;
    else
        q->head = nx;
    e[nx].pol_prev = pv;
    e[s].pol_prev = q->tail;
    e[s].pol_next = HC_NIL;
    e[q->tail].pol_next = s;
    q->tail = s;
}

/* Check q's links over live slots below cap, each slot's queue tag (pol_aux & tag_mask) ==
 * tag, its count and summed weight. Adds the entries seen to *seen. 0, or -1 + msg. */
int hc_policy_queue_check(const hc_pol *p, const hc_queue *q, const hc_entry *e, uint32_t cap,
                          uint32_t tag_mask, uint32_t tag, const char *name, size_t *seen,
                          char *msg, size_t msglen);

#endif /* HC_POLICY_H */
