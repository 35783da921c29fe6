/* hc_policy_random.c -- the RANDOM policy: a uniformly chosen victim from a seeded PRNG.
 * Live slots sit in a dense array (pol_aux = position) with swap-remove, so every op is O(1).
 *
 *   dense: [ s7 | s2 | s9 | s4 ]  n = 4        e[s9].pol_aux == 2
 *   remove s2: dense[1] = s4 (the last), e[s4].pol_aux = 1, n = 3
 *
 * PRNG: splitmix64 (Steele, Lea & Flood 2014): the state is one uint64 that the caller can read
 * and set (hc_rng_state) so copies and pickles continue the same sequence. The victim index is
 * drawn with Lemire's multiply-shift and rejection (2019): no modulo bias for any n.
 */
#include "hc_alloc.h"
#include "hc_policy.h"

static inline uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, n) for 0 < n < 2^32: the top 32 bits of x * n, rejecting the few low products
 * that would over-represent some results. */
static inline uint32_t uniform_below(uint64_t *state, uint32_t n)
{
    uint32_t x = (uint32_t)(splitmix64_next(state) >> 32);
    uint64_t m = (uint64_t)x * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(0u - n) % n;
        while (low < threshold) {
            x = (uint32_t)(splitmix64_next(state) >> 32);
            m = (uint64_t)x * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static int random_reserve(hc_pol *p, uint32_t n)
{
    uint32_t cap;
    uint32_t *d;
    size_t nbytes;
    if (n <= p->dense_cap)
        return 0;
    cap = p->dense_cap < 16 ? 16 : p->dense_cap;
    while (cap < n)
        cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    nbytes = hc_mul_size(cap, sizeof(uint32_t));
    d = nbytes ? (uint32_t *)hc_realloc(p->dense, nbytes) : NULL;
    if (!d)
        return -1;
    p->dense = d;
    p->dense_cap = cap;
    return 0;
}

static void random_insert(hc_pol *p, hc_entry *e, uint32_t s)
{
    p->dense[p->n] = s;
    e[s].pol_aux = p->n;
    p->n++;
}

static void random_nothing(hc_pol *p, hc_entry *e, uint32_t s)
{
    (void)p;
    (void)e;
    (void)s;
}

static void random_remove(hc_pol *p, hc_entry *e, uint32_t s)
{
    uint32_t pos = e[s].pol_aux;
    uint32_t last = p->dense[--p->n];
    p->dense[pos] = last;
    e[last].pol_aux = pos;
}

static uint32_t random_victim(hc_pol *p, hc_entry *e, uint32_t keep)
{
    uint32_t s;
    (void)e;
    if (p->n == 0 || (p->n == 1 && p->dense[0] == keep))
        return HC_NIL;
    do /* uniform over the others: redraw keep (expected < 2 draws as n >= 2) */
        s = p->dense[uniform_below(&p->rng, p->n)];
    while (s == keep);
    return s;
}

static void random_clear(hc_pol *p)
{
    hc_policy_free(p);
}

static size_t random_order(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux)
{
    uint32_t i;
    (void)e;
    for (i = 0; i < p->n; i++) {
        out[i] = p->dense[i];
        if (aux)
            aux[i] = 0;
    }
    return p->n;
}

static int random_restore(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux,
                          size_t n)
{
    size_t i;
    (void)aux;
    if (n > UINT32_MAX || random_reserve(p, (uint32_t)n) < 0)
        return -1;
    p->n = 0;
    for (i = 0; i < n; i++)
        random_insert(p, e, slots[i]);
    return 0;
}

static int random_check(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                        size_t msglen)
{
    uint32_t i;
    if (p->n != live)
        return hc_policy_fail(msg, msglen, "random: holds %lu, %lu live", (unsigned long)p->n,
                              (unsigned long)live);
    if (p->n > p->dense_cap)
        return hc_policy_fail(msg, msglen, "random: n beyond dense capacity");
    for (i = 0; i < p->n; i++) {
        uint32_t s = p->dense[i];
        if (s >= cap || !(e[s].flags & HC_F_LIVE))
            return hc_policy_fail(msg, msglen, "random: dense[%lu] = %lu is not a live slot",
                                  (unsigned long)i, (unsigned long)s);
        if (e[s].pol_aux != i)
            return hc_policy_fail(msg, msglen, "random: slot %lu has position %lu, is at %lu",
                                  (unsigned long)s, (unsigned long)e[s].pol_aux, (unsigned long)i);
    }
    return 0;
}

const hc_policy_ops hc_policy_random = {
    .name = "random",
    .reserve = random_reserve,
    .on_insert = random_insert,
    .on_access = NULL, /* reads never change the state */
    .on_update = random_nothing,
    .on_remove = random_remove,
    .on_evict = random_remove, /* an eviction is a removal here */
    .victim = random_victim,
    .clear = random_clear,
    .order = random_order,
    .restore = random_restore,
    .check = random_check,
    .peek = NULL, /* the victim is drawn at eviction */
};
