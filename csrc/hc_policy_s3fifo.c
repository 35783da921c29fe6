/* hc_policy_s3fifo.c -- the S3FIFO policy: Simple, Scalable, Static-queue FIFO (Yang, Zhang, Qiu,
 * Yue & Vinayak, SOSP 2023), as libCacheSim's S3FIFO.c does it, so our hit ratio is theirs.
 *
 *   new key ──▶ small FIFO (10 % of the weight)  ──evict──▶ use counter >= 2 ? ──yes──▶ main tail
 *                                                                 │no
 *               ghost (hashes, 90 % of the weight) ◀──────────────┘  (evicted)
 *   new key remembered by the ghost ──▶ main FIFO (the other 90 %)
 *   main head: counter > 0 ? reinsert at main tail with counter - 1 : evicted
 *
 *   small: head ──▶ [oldest] ⇄ ... ⇄ [newest] ◀── tail      (pol_prev / pol_next)
 *   main:  head ──▶ [oldest] ⇄ ... ⇄ [newest] ◀── tail
 *   entry.pol_aux = queue << 2 | use counter (0..3);  queue 0 small, 1 main
 *
 * HOW IT WORKS. A hit only bumps the 2-bit counter (hc_s3fifo_bump, inlined by hc_touch): no
 * list move, so a hit costs what a FIFO hit costs. All movement is lazy, at eviction: victim()
 * picks the queue (main when it is over its share or small is empty, else small), then walks
 * that queue's head promoting/reinserting until it meets an entry that goes, which it returns
 * without removing it. The pick is remembered until something changes, so calling victim()
 * twice gives the same answer. One-hit wonders (most keys of a skewed trace) pass through the
 * small queue once and leave only a 4-byte ghost word (hc_ghost.c); a key that comes back while
 * remembered goes straight to main. As libCacheSim: counters reach 2 in small to be promoted,
 * promoted entries start main at 0, and until the first eviction a full small queue admits new
 * keys to main (its S3FIFO.c, not the original v0). Unlike libCacheSim, an entry heavier than
 * the small queue is kept (at small's head, next to go) instead of refused: a store must store.
 *
 * Weights: queue bounds and the ghost's capacity are weights (see hc_policy.h). The ghost table
 * is allocated once the cache is half full (reserve), sized from the entries then (2 ways per
 * expected remembered hash); if that allocation fails the policy runs without a ghost and tries
 * again at the next insert.
 */
#include "hc_alloc.h"
#include "hc_policy.h"
#include "hc_state.h"

#define Q_MAIN 4u   /* pol_aux bit: the entry is in main */
#define USE_MASK 3u /* pol_aux bits: the use counter */
#define PICK_SMALL 1
#define PICK_MAIN 2
#define PROMOTE_AT 2u /* small -> main when the counter reached this (libCacheSim's threshold) */
#define MAX_WEIGHT (UINT64_C(1) << 62) /* bounds above this are treated as this */

static inline uint32_t use_of(const hc_entry *e, uint32_t s) { return e[s].pol_aux & USE_MASK; }

static inline hc_queue *queue_of(hc_pol *p, const hc_entry *e, uint32_t s)
{
    return (e[s].pol_aux & Q_MAIN) ? &p->s3.main : &p->s3.small;
}

/* Derive the queue bounds and the ghost's capacity from the maximum weight. */
static void configure(hc_pol *p)
{
    uint64_t max = pol_maximum(p);
    if (max > MAX_WEIGHT)
        max = MAX_WEIGHT;
    p->s3.small_max = max / 10 ? max / 10 : 1;
    p->s3.main_max = max > p->s3.small_max ? max - p->s3.small_max : 0;
    hc_ghost_set_life(&p->s3.ghost, max / 10 * 9 + max % 10 * 9 / 10);
}

/* Ghost words the table should hold for `n` live entries of summed weight `total`: 90 % of the
 * maximum, in entries of the current average weight. 0 while the cache is under half full. */
static uint64_t ghost_want(const hc_pol *p, uint64_t n)
{
    uint64_t max = pol_maximum(p), total = p->s3.small.weight + p->s3.main.weight;
    if (max == HC_UNBOUNDED || max == 0 || (total < max / 2 && !p->s3.has_evicted))
        return 0;
    if (total == 0)
        return n;
    return (uint64_t)((double)n * 0.9 * ((double)max / (double)total)) + 1;
}

/* Called before every insert: in a full cache of steady weight the inputs repeat, so the last
 * "the table fits" answer is remembered with them (ghost_want's float division is most of the
 * cost of this call otherwise). */
static inline int s3_reserve(hc_pol *p, uint32_t n)
{
    hc_s3fifo *q = &p->s3;
    uint64_t want, have = q->ghost.sized_for, total = q->small.weight + q->main.weight;
    uint64_t max = pol_maximum(p);
    if (n == q->fit_n && total == q->fit_total && max == q->fit_max && have == q->fit_have &&
        q->has_evicted == q->fit_evicted)
        return 0;
    want = ghost_want(p, n);
    if (want && (have == 0 || have < want / 2 || have > want * 4)) {
        q->fit_n = 0;
        (void)hc_ghost_size(&q->ghost, want); /* on OOM: no ghost for now, retried next time */
    } else {
        q->fit_n = n;
        q->fit_total = total;
        q->fit_max = max;
        q->fit_have = have;
        q->fit_evicted = q->has_evicted;
    }
    return 0;
}

/* on_insert's body for a newcomer of hash `hash` and weight w in slot s. */
static inline void insert_hashed(hc_pol *p, hc_entry *e, uint32_t s, uint64_t hash, uint64_t w)
{
    hc_s3fifo *q = &p->s3;
    q->pick = 0;
    if (hc_ghost_take(&q->ghost, hash) || (!q->has_evicted && q->small.weight >= q->small_max)) {
        e[s].pol_aux = Q_MAIN;
        pol_q_append(&q->main, e, s, w);
    } else {
        e[s].pol_aux = 0;
        if (w > q->small_max)
            pol_q_prepend(&q->small, e, s, w); /* heavier than small: the next to go */
        else
            pol_q_append(&q->small, e, s, w);
    }
}

static void s3_insert(hc_pol *p, hc_entry *e, uint32_t s)
{
    insert_hashed(p, e, s, e[s].hash, pol_weight(p, s));
}

static void s3_use(hc_pol *p, hc_entry *e, uint32_t s)
{
    (void)p;
    hc_s3fifo_bump(e, s);
}

static void s3_remove(hc_pol *p, hc_entry *e, uint32_t s)
{
    pol_q_extract(queue_of(p, e, s), e, s, pol_weight(p, s));
    p->s3.pick = 0;
}

/* on_evict's body for slot s of weight w. */
static inline void evict_weighed(hc_pol *p, hc_entry *e, uint32_t s, uint64_t w)
{
    if (!(e[s].pol_aux & Q_MAIN))
        hc_ghost_add(&p->s3.ghost, e[s].hash, w);
    pol_q_extract(queue_of(p, e, s), e, s, w);
    p->s3.pick = 0;
    p->s3.has_evicted = 1;
}

static void s3_evict(hc_pol *p, hc_entry *e, uint32_t s)
{
    evict_weighed(p, e, s, pol_weight(p, s));
}

/* The fused miss path (see on_replace in hc_policy.h): s3_evict, s3_reserve and s3_insert in
 * one call, the newcomer's weight that of size 1 / bytes 0. */
static void s3_replace(hc_pol *p, hc_entry *e, uint32_t s, uint64_t hash, uint64_t w_old,
                       uint32_t n)
{
    evict_weighed(p, e, s, w_old);
    (void)s3_reserve(p, n); /* cannot fail */
    insert_hashed(p, e, s, hash, pol_weight_of(p, 1u, 0u));
}

/* Move s from small to main's tail with counter `use`. */
static void to_main(hc_pol *p, hc_entry *e, uint32_t s, uint32_t use)
{
    uint64_t w = pol_weight(p, s);
    pol_q_extract(&p->s3.small, e, s, w);
    pol_q_append(&p->s3.main, e, s, w);
    e[s].pol_aux = Q_MAIN | use;
}

/* Reinsert main's head s at main's tail with counter `use`. */
static void main_again(hc_pol *p, hc_entry *e, uint32_t s, uint32_t use)
{
    pol_q_to_tail(&p->s3.main, e, s);
    e[s].pol_aux = Q_MAIN | use;
}

/* s3_victim's loop: promotions, reinsertions, the switch between the queues. */
HC_NOINLINE static uint32_t victim_walk(hc_pol *p, hc_entry *e, uint32_t keep)
{
    hc_s3fifo *q = &p->s3;
    uint32_t s;
    if (q->small.n + q->main.n == 0)
        return HC_NIL;
    for (;;) {
        if (!q->pick)
            q->pick = (q->main.weight > q->main_max || q->small.n == 0) ? PICK_MAIN : PICK_SMALL;
        if (q->pick == PICK_SMALL) {
            s = q->small.head;
            if (s == HC_NIL) { /* promotions emptied it: main's turn */
                q->pick = PICK_MAIN;
            } else if (s == keep || use_of(e, s) >= PROMOTE_AT) {
                to_main(p, e, s, 0); /* keep is being re-assigned: a use, never a victim */
            } else {
                return s;
            }
        } else {
            s = q->main.head;
            if (s == HC_NIL || (s == keep && q->main.n == 1)) {
                if (q->small.n == 0)
                    return HC_NIL; /* nothing, or only keep */
                q->pick = PICK_SMALL;
            } else if (s == keep) {
                main_again(p, e, s, use_of(e, s));
            } else if (use_of(e, s) > 0) {
                main_again(p, e, s, use_of(e, s) - 1);
            } else {
                return s;
            }
        }
    }
}

/* The common case first, without the loop's register saves: small's turn and its head goes
 * (the loop's first step would pick it and return it, the same state after). */
static uint32_t s3_victim(hc_pol *p, hc_entry *e, uint32_t keep)
{
    hc_s3fifo *q = &p->s3;
    uint32_t s = q->small.head;
    if ((q->pick == PICK_SMALL ||
         (q->pick == 0 && q->main.weight <= q->main_max && q->small.n != 0)) &&
        s != HC_NIL && s != keep && use_of(e, s) < PROMOTE_AT) {
        q->pick = PICK_SMALL;
        return s;
    }
    return victim_walk(p, e, keep);
}

static uint32_t s3_peek(const hc_pol *p, const hc_entry *e)
{
    const hc_s3fifo *q = &p->s3;
    int pick = q->pick ? q->pick
                       : (q->main.weight > q->main_max || q->small.n == 0) ? PICK_MAIN : PICK_SMALL;
    (void)e;
    return pick == PICK_MAIN && q->main.head != HC_NIL ? q->main.head : q->small.head;
}

static void s3_clear(hc_pol *p)
{
    hc_policy_free(p);
    configure(p);
}

/* Append queue q's slots (oldest first) and their aux bits to out/aux from position k; new k. */
static size_t order_queue(const hc_queue *q, const hc_entry *e, uint32_t *out, uint64_t *aux,
                          size_t k)
{
    uint32_t s;
    for (s = q->head; s != HC_NIL; s = e[s].pol_next) {
        out[k] = s;
        if (aux)
            aux[k] = e[s].pol_aux & (Q_MAIN | USE_MASK);
        k++;
    }
    return k;
}

static size_t s3_order(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux)
{
    return order_queue(&p->s3.main, e, out, aux, order_queue(&p->s3.small, e, out, aux, 0));
}

static int s3_restore(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux, size_t n)
{
    size_t i;
    pol_q_init(&p->s3.small);
    pol_q_init(&p->s3.main);
    p->s3.pick = 0;
    for (i = 0; i < n; i++) {
        uint32_t s = slots[i], a = aux ? (uint32_t)(aux[i] & (Q_MAIN | USE_MASK)) : 0;
        pol_q_append((a & Q_MAIN) ? &p->s3.main : &p->s3.small, e, s, pol_weight(p, s));
        e[s].pol_aux = a;
    }
    return 0;
}

/* Recount q's summed weight in the current unit. */
static void reweigh(const hc_pol *p, hc_queue *q, const hc_entry *e)
{
    uint32_t s;
    q->weight = 0;
    for (s = q->head; s != HC_NIL; s = e[s].pol_next)
        q->weight += pol_weight(p, s);
}

/* New bounds: recount both queues' weights (the unit may have switched), re-derive the bounds. */
static void s3_limits(hc_pol *p, hc_entry *e)
{
    reweigh(p, &p->s3.small, e);
    reweigh(p, &p->s3.main, e);
    configure(p);
    p->s3.pick = 0;
}

static void s3_charge(hc_pol *p, hc_entry *e, uint32_t s, uint64_t old_size, uint64_t old_bytes)
{
    hc_queue *q = queue_of(p, e, s);
    q->weight = q->weight - pol_weight_of(p, old_size, old_bytes) + pol_weight(p, s);
    p->s3.pick = 0;
}

static int s3_check(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                    size_t msglen)
{
    const hc_s3fifo *q = &p->s3;
    size_t seen = 0;
    uint64_t max = pol_maximum(p);
    /* tags: the queue bit exact, no bits beyond it and the counter */
    if (hc_policy_queue_check(p, &q->small, e, cap, ~USE_MASK, 0, "s3fifo small", &seen, msg,
                              msglen) < 0 ||
        hc_policy_queue_check(p, &q->main, e, cap, ~USE_MASK, Q_MAIN, "s3fifo main", &seen, msg,
                              msglen) < 0)
        return -1;
    if (seen != live)
        return hc_policy_fail(msg, msglen, "s3fifo: queues hold %lu, %lu live", (unsigned long)seen,
                              (unsigned long)live);
    if (max > MAX_WEIGHT)
        max = MAX_WEIGHT;
    if (q->small_max != (max / 10 ? max / 10 : 1) ||
        q->main_max != (max > q->small_max ? max - q->small_max : 0))
        return hc_policy_fail(msg, msglen, "s3fifo: bounds %llu + %llu do not split %llu",
                              (unsigned long long)q->small_max, (unsigned long long)q->main_max,
                              (unsigned long long)max);
    if (q->ghost.life != max / 10 * 9 + max % 10 * 9 / 10)
        return hc_policy_fail(msg, msglen, "s3fifo: ghost life %llu for maximum %llu",
                              (unsigned long long)q->ghost.life, (unsigned long long)max);
    if (q->pick > PICK_MAIN || q->has_evicted > 1)
        return hc_policy_fail(msg, msglen, "s3fifo: pick %d / has_evicted %d", q->pick, q->has_evicted);
    return hc_ghost_check(&q->ghost, msg, msglen);
}

/* ---- policy-wide state: has_evicted + the ghost ---- */

static size_t s3_state_size(const hc_pol *p)
{
    return 8 + hc_ghost_state_size(&p->s3.ghost);
}

static void s3_state_save(const hc_pol *p, unsigned char *buf)
{
    hc_ghost_state_save(&p->s3.ghost, hc_put64(buf, p->s3.has_evicted));
}

static int s3_state_load(hc_pol *p, const hc_entry *e, const unsigned char *buf, size_t n)
{
    hc_reader r;
    uint64_t has_evicted;
    hc_ghost g;
    (void)e;
    hc_reader_init(&r, buf, n);
    if (hc_get64(&r, &has_evicted) < 0 || has_evicted > 1)
        return -1;
    hc_ghost_init(&g, p->s3.ghost.life);
    if (hc_ghost_state_load(&g, r.p, (size_t)(r.end - r.p)) < 0)
        return -1;
    if (g.life != p->s3.ghost.life) { /* saved under other bounds: adopt the current ones */
        hc_ghost_set_life(&g, p->s3.ghost.life);
    }
    hc_ghost_free(&p->s3.ghost);
    p->s3.ghost = g;
    p->s3.has_evicted = (uint8_t)has_evicted;
    p->s3.pick = 0;
    return 0;
}

const hc_policy_ops hc_policy_s3fifo = {
    .name = "s3fifo",
    .reserve = s3_reserve,
    .on_insert = s3_insert,
    .on_access = s3_use, /* hc_touch inlines it (hc_s3fifo_bump) */
    .on_update = s3_use,
    .on_remove = s3_remove,
    .on_evict = s3_evict,
    .on_replace = s3_replace,
    .victim = s3_victim,
    .clear = s3_clear,
    .order = s3_order,
    .restore = s3_restore,
    .check = s3_check,
    .peek = s3_peek,
    .on_miss = NULL,
    .on_charge = s3_charge,
    .on_limits = s3_limits,
    .state_size = s3_state_size,
    .state_save = s3_state_save,
    .state_load = s3_state_load,
};
