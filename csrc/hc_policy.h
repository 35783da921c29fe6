/* hc_policy.h -- the eviction-policy vtable and the one state record all policies share.
 * A policy owns hc_entry.pol_prev/pol_next/pol_aux and its own hc_pol fields; nothing else.
 *
 *   hc_policy_registry[kind] ──▶ hc_policy_ops { on_insert, on_access, on_update, on_remove,
 *                                                victim, clear, order, restore, check, ... }
 *   list policies (INSERTION, LRU, FIFO):
 *       head ──▶ [victim] ⇄ [ ] ⇄ ... ⇄ [newest] ◀── tail        (pol_prev / pol_next)
 *   LFU: node pool, buckets ascending by count, each a circular LRU list of entries:
 *       head ──▶ node{count 1} ⇄ node{count 3} ⇄ ... ◀── tail    (node.prev / node.next)
 *                  └▶ LRU entry ⇄ ... ⇄ MRU entry ⇄(back to LRU)  (pol_prev / pol_next)
 *       entry.pol_aux = its node
 *   RANDOM: dense[0..n) = live slots, entry.pol_aux = its position; swap-remove; splitmix64.
 *
 * Contract for every op: `e` is the arena's record array, slots passed are live; ops never
 * allocate except reserve, restore and LFU's on_access (see hc_policy_lfu.c).
 */
#ifndef HC_POLICY_H
#define HC_POLICY_H

#include "hc.h"

typedef struct hc_lfu_node {
    uint32_t count;      /* uses of every entry in this bucket (saturates at UINT32_MAX) */
    uint32_t head;       /* least recently used entry; MRU = e[head].pol_prev */
    uint32_t prev, next; /* neighbouring buckets (lower / higher count); next links free nodes */
} hc_lfu_node;

typedef struct hc_pol {
    uint32_t head, tail; /* list policies: victim end / newest end. LFU: lowest / highest bucket */
    uint32_t n;          /* entries held */
    /* LFU */
    hc_lfu_node *node;
    uint32_t node_cap, node_free, node_used;
    /* RANDOM */
    uint32_t *dense;
    uint32_t dense_cap;
    uint64_t rng;
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
     * none. RANDOM advances its PRNG. */
    uint32_t (*victim)(hc_pol *p, const hc_entry *e, uint32_t keep);
    /* Forget all entries and release memory (the PRNG state is kept). */
    void (*clear)(hc_pol *p);
    /* Write all entries, next victim first, to out (and per-entry state to aux if non-NULL). */
    size_t (*order)(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux);
    /* Replace the state by slots[0..n) (validated live and distinct by the caller), next
     * victim first, aux as written by order (may be NULL). 0, or -1 on OOM (nothing changed). */
    int (*restore)(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux, size_t n);
    /* Verify the structure over the live entries of e[0..cap) (`live` of them). 0, or -1 + msg. */
    int (*check)(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                 size_t msglen);
} hc_policy_ops;

extern const hc_policy_ops hc_policy_insertion, hc_policy_lru, hc_policy_fifo, hc_policy_lfu,
    hc_policy_random;
/* Indexed by hc_policy_kind. */
extern const hc_policy_ops *const hc_policy_registry[HC_POLICY_COUNT_];

/* Initialise p empty for any policy, PRNG seeded with `seed`. */
void hc_policy_init(hc_pol *p, uint64_t seed);
/* Release what p owns (any policy); p is left empty. */
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
uint32_t hc_policy_list_victim(hc_pol *p, const hc_entry *e, uint32_t keep);
void hc_policy_list_clear(hc_pol *p);
size_t hc_policy_list_order(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux);
int hc_policy_list_restore(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux,
                           size_t n);
int hc_policy_list_check(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                         size_t msglen);

#endif /* HC_POLICY_H */
