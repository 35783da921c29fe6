/* test_probed.c -- the fused miss path: hc_insert_probed() against hc_evict + hc_insert.
 * Two caches of the same configuration take the same random operations; on a store of a new key
 * one uses the fused call with the lookup's probe, the other the two separate calls (what the
 * binding did before issue 16). After every step the two must be identical: returned slots and
 * victims, stats, version, index buckets, arena records, policy order/aux/state, insertion order;
 * both pass hc_check(). Runs every policy, capacities 1 to 300 and unbounded, with full-hash
 * collisions, timed entries (the fused call then takes the general path), resizes, popitem,
 * clear, clone, and allocation failures injected at the same point in both. The policy hook the
 * fused call makes (on_replace: S3FIFO's and TINYLFU's evict + reserve + insert in one call, the
 * list policies' inlined unlink + append) gets its own runs: victims of other sizes and byte
 * charges (its w_old), caches bounded by bytes only (weights are then byte charges and the
 * newcomer's is 0), and long runs on larger S3FIFO/TINYLFU caches whose ghost and sketch fill,
 * sweep, halve and adapt the regions. */
#include <string.h>

#include "ht.h"
#include "../hc_core.h"

#define MAXN 2400

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Key ids 0..K-1; the caller's key word is id + 1. Every fifth id shares its full hash with the
 * id before it (the probe must then go by the key word). */
static uint64_t hash_of(uint32_t id)
{
    if (id % 5 == 4)
        id--;
    return (uint64_t)id * UINT64_C(0x100000001B3) + 17u;
}

/* The binding's lookup: slot of id, or HC_NIL with the probe run to its end. */
static uint32_t lookup(hc_cache *c, uint32_t id, hc_probe *p)
{
    uint64_t h = hash_of(id);
    uint32_t s;
    hc_probe_init(c, h, p);
    while ((s = hc_probe_next(c, p)) != HC_NIL) {
        if (hc_entry_at(c, s)->key == (void *)(uintptr_t)(id + 1) && hc_hash_at(c, s) == h)
            return s;
    }
    return HC_NIL;
}

/* Everything observable or structural must agree. */
static int same(const hc_cache *a, const hc_cache *b)
{
    static uint32_t oa[MAXN], ob[MAXN];
    static uint64_t xa[MAXN], xb[MAXN];
    static unsigned char sa[1 << 16], sb[1 << 16];
    size_t n, m;
    hc_policy_info ia, ib;
    if (hc_len(a) != hc_len(b) || a->version != b->version || a->size_used != b->size_used ||
        memcmp(&a->stats, &b->stats, sizeof a->stats) != 0 || a->ord_head != b->ord_head ||
        a->ord_tail != b->ord_tail || a->pol.rng != b->pol.rng)
        return 0;
    if (a->head.index.mask != b->head.index.mask || a->head.index.used != b->head.index.used ||
        (a->head.index.buckets == NULL) != (b->head.index.buckets == NULL))
        return 0;
    if (a->head.index.buckets && memcmp(a->head.index.buckets, b->head.index.buckets,
                                        (a->head.index.mask + 1) * sizeof(uint64_t)) != 0)
        return 0;
    if (a->arena.top != b->arena.top || a->arena.free_head != b->arena.free_head ||
        a->arena.live != b->arena.live ||
        memcmp(a->arena.e, b->arena.e, a->arena.top * sizeof(hc_entry)) != 0)
        return 0;
    n = hc_policy_order(a, oa, xa);
    m = hc_policy_order(b, ob, xb);
    if (n != m || memcmp(oa, ob, n * sizeof *oa) != 0 || memcmp(xa, xb, n * sizeof *xa) != 0)
        return 0;
    n = hc_policy_state_size(a);
    if (n != hc_policy_state_size(b) || n > sizeof sa)
        return 0;
    hc_policy_state_save(a, sa);
    hc_policy_state_save(b, sb);
    if (memcmp(sa, sb, n) != 0)
        return 0;
    hc_policy_info_get(a, &ia);
    hc_policy_info_get(b, &ib);
    return memcmp(&ia, &ib, sizeof ia) == 0;
}

/* Store id in both caches, the fused way in a, the separate calls in b. */
static void store(hc_cache *a, hc_cache *b, uint32_t id, long fail)
{
    hc_probe pa, pb;
    hc_evicted ev;
    uint32_t sa = lookup(a, id, &pa), sb = lookup(b, id, &pb), v = HC_NIL, s;
    void *vk = NULL;
    uint64_t h = hash_of(id);
    CHECK_EQ(sa, sb);
    if (sa != HC_NIL) {
        hc_update(a, sa, 1, 0, INFINITY);
        hc_update(b, sb, 1, 0, INFINITY);
        return;
    }
    ht_fail_after(fail);
    s = hc_insert_probed(a, &pa, h, &ev);
    ht_fail_after(fail);
    if (hc_over(b, 1, 0) != HC_CAUSE_NONE) {
        v = hc_evict(b, -INFINITY, HC_CAUSE_SIZE, NULL);
        if (v != HC_NIL)
            vk = hc_entry_at(b, v)->key;
    }
    sb = hc_insert(b, h, 1, 0, INFINITY);
    ht_fail_after(-1);
    CHECK_EQ(s, sb);
    CHECK_EQ(ev.slot, v);
    CHECK(ev.key == vk);
    if (ev.slot != HC_NIL)
        CHECK(ev.val == (void *)(uintptr_t)(1000000u + (uintptr_t)ev.key));
    if (s != HC_NIL) {
        CHECK(hc_entry_at(a, s)->key == NULL && hc_entry_at(a, s)->val == NULL);
        hc_entry_at(a, s)->key = hc_entry_at(b, s)->key = (void *)(uintptr_t)(id + 1);
        hc_entry_at(a, s)->val = hc_entry_at(b, s)->val = (void *)(uintptr_t)(1000000u + id + 1);
    }
}

static void timed_store(hc_cache *a, hc_cache *b, uint32_t id, double t)
{
    hc_probe p;
    uint32_t s;
    if (lookup(a, id, &p) != HC_NIL)
        return;
    while (hc_over(a, 1, 0) != HC_CAUSE_NONE && hc_evict(a, t - 1, HC_CAUSE_SIZE, NULL) != HC_NIL)
        hc_evict(b, t - 1, HC_CAUSE_SIZE, NULL);
    s = hc_insert(a, hash_of(id), 1, 0, t);
    CHECK_EQ(hc_insert(b, hash_of(id), 1, 0, t), s);
    if (s != HC_NIL) {
        hc_entry_at(a, s)->key = hc_entry_at(b, s)->key = (void *)(uintptr_t)(id + 1);
        hc_entry_at(a, s)->val = hc_entry_at(b, s)->val = (void *)(uintptr_t)(1000000u + id + 1);
    }
}

/* Variants of run(): W_SIZES re-weighs entries (sizes 1..3, byte charges 0..39) now and then;
 * W_BYTES bounds the cache by `max` x 2 bytes instead of by `max` entries (then W_SIZES too). */
#define W_SIZES 1
#define W_BYTES 2

static void run_w(int policy, uint64_t max, int steps, int timed, int oom, uint64_t seed, int w)
{
    hc_config cfg = ht_config(policy, max);
    hc_cache *a, *b, *t;
    uint32_t keys = max == HC_UNBOUNDED ? 400u : (uint32_t)(3 * max + 5);
    int i, bad = 0;
    hc_probe p;
    if (w & W_BYTES) {
        cfg.max_size = HC_UNBOUNDED;
        cfg.max_bytes = max == HC_UNBOUNDED ? HC_UNBOUNDED : 2u * max;
        w |= W_SIZES;
    }
    a = hc_new(&cfg);
    b = hc_new(&cfg);
    rng_state = seed * 2654435761u + (uint64_t)policy * 97u + max + 1u + (uint64_t)w * 7919u;
    for (i = 0; i < steps && !bad; i++) {
        uint32_t id = rnd(keys), r = rnd(100), s;
        if (r >= 95 && (w & W_SIZES)) { /* re-weigh a present key: victims of any weight */
            uint64_t size = 1 + rnd(3), bytes = rnd(40);
            s = lookup(a, id, &p);
            if (s != HC_NIL) {
                hc_update(a, s, size, bytes, INFINITY);
                hc_update(b, s, size, bytes, INFINITY);
            }
        } else if (r < 55) {
            store(a, b, id, oom && rnd(4) == 0 ? (long)rnd(3) : -1);
        } else if (r < 80) {
            s = lookup(a, id, &p);
            if (s != HC_NIL) {
                hc_touch(a, s);
                hc_touch(b, s);
            } else {
                hc_miss(a, hash_of(id));
                hc_miss(b, hash_of(id));
            }
        } else if (r < 86) {
            s = lookup(a, id, &p);
            if (s != HC_NIL) {
                hc_remove(a, s);
                hc_remove(b, s);
            }
        } else if (r < 90) {
            s = hc_victim(a);
            CHECK_EQ(hc_victim(b), s);
            if (s != HC_NIL) {
                hc_remove_victim(a, s);
                hc_remove_victim(b, s);
            }
        } else if (r < 92 && timed) {
            timed_store(a, b, id, 1e6 + rnd(1000));
        } else if (r < 93 && max != HC_UNBOUNDED) {
            uint64_t m = 1 + rnd((uint32_t)(2 * max));
            uint64_t ms = (w & W_BYTES) ? HC_UNBOUNDED : m, mb = (w & W_BYTES) ? 2u * m : HC_UNBOUNDED;
            hc_set_limits(a, ms, mb);
            hc_set_limits(b, ms, mb);
            while (hc_over(a, 0, 0) != HC_CAUSE_NONE) {
                CHECK_EQ(hc_evict(a, -INFINITY, HC_CAUSE_SIZE, NULL),
                         hc_evict(b, -INFINITY, HC_CAUSE_SIZE, NULL));
            }
        } else if (r < 94 && rnd(20) == 0) {
            hc_clear(a);
            hc_clear(b);
        } else if (r < 95) {
            t = hc_clone(a); /* the fused path must work on a clone's copied index too */
            if (t) {
                hc_free(a);
                a = t;
            }
        }
        if (!same(a, b)) {
            fprintf(stderr, "policy %d max %llu seed %llu: caches differ after step %d (op %u)\n",
                    policy, (unsigned long long)max, (unsigned long long)seed, i, r);
            bad = 1;
        }
        CHECK(!bad);
        if (i % 16 == 0 || bad) {
            CHECK_OK(a);
            CHECK_OK(b);
        }
    }
    hc_free(a);
    hc_free(b);
}

static void run(int policy, uint64_t max, int steps, int timed, int oom, uint64_t seed)
{
    run_w(policy, max, steps, timed, oom, seed, 0);
}

/* The bucket rule on its own: a victim sharing the newcomer's probe run, its removal opening a
 * bucket before the one the probe found empty. */
static void same_run(void)
{
    hc_config cfg = ht_config(HC_POLICY_LRU, 4);
    hc_cache *c = hc_new(&cfg);
    hc_probe p;
    hc_evicted ev;
    uint64_t h[5];
    uint32_t i, s, n = 0, home0;
    /* five hashes with the same home bucket (of the 8-bucket index a 4-entry cache has) */
    for (i = 0; n < 5; i++) {
        uint64_t x = (uint64_t)i * 7919u;
        if (n == 0 || (hc_frag(x) & 7u) == (hc_frag(h[0]) & 7u))
            h[n++] = x;
    }
    home0 = hc_frag(h[0]) & 7u;
    for (i = 0; i < 4; i++) {
        hc_probe_init(c, h[i], &p);
        CHECK_EQ(hc_probe_next(c, &p), HC_NIL);
        if (i > 0) /* the first probe finds no index at all (p.empty unset) */
            CHECK_EQ(p.empty, (home0 + i) & 7u);
        s = hc_insert_probed(c, &p, h[i], &ev);
        CHECK_EQ(ev.slot, HC_NIL);
        hc_entry_at(c, s)->key = (void *)(uintptr_t)(i + 1);
    }
    hc_probe_init(c, h[4], &p);
    CHECK_EQ(hc_probe_next(c, &p), HC_NIL);
    CHECK_EQ(p.empty, (home0 + 4) & 7u);
    s = hc_insert_probed(c, &p, h[4], &ev); /* evicts h[0] at the run's start: the run shifts */
    CHECK_EQ(ev.slot, 0);
    CHECK(ev.key == (void *)(uintptr_t)1);
    CHECK_EQ(s, 0);
    CHECK_EQ(c->head.index.buckets[(home0 + 3) & 7u] >> 32, hc_frag(h[4]));
    CHECK_EQ(c->head.index.buckets[(home0 + 4) & 7u], 0);
    CHECK_OK(c);
    hc_free(c);
}

int main(void)
{
    static const uint64_t maxes[] = {1, 2, 3, 7, 12, 48, 300, HC_UNBOUNDED};
    int policy;
    size_t m;
    uint64_t seed;
    same_run();
    /* the policies that fuse their miss path through on_replace; LFU and RANDOM (their reserve
     * allocates) keep the three calls, so both ways of the fused path are compared below */
    CHECK(hc_policy_s3fifo.on_replace != NULL && hc_policy_tinylfu.on_replace != NULL);
    CHECK(hc_policy_lru.on_replace == hc_policy_list_replace &&
          hc_policy_fifo.on_replace == hc_policy_list_replace &&
          hc_policy_insertion.on_replace == hc_policy_list_replace);
    CHECK(hc_policy_lfu.on_replace == NULL && hc_policy_random.on_replace == NULL);
    for (policy = 0; policy < HC_POLICY_COUNT_; policy++)
        for (m = 0; m < sizeof maxes / sizeof *maxes; m++)
            for (seed = 0; seed < 3; seed++) {
                run(policy, maxes[m], 2500, seed == 1, seed == 2, seed);
                run_w(policy, maxes[m], 1500, 0, seed == 2, seed, seed == 0 ? W_SIZES : W_BYTES);
            }
    for (seed = 0; seed < 2; seed++) { /* deep states of the hook's policies */
        run_w(HC_POLICY_S3FIFO, 700, 12000, 0, 0, seed, seed ? W_SIZES : 0);
        run_w(HC_POLICY_TINYLFU, 700, 12000, 0, 0, seed, seed ? W_SIZES : 0);
    }
    return ht_done();
}
