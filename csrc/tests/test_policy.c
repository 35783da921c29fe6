/* test_policy.c -- each policy's eviction order against hand-computed expectations, LFU ties and
 * counts, random-victim uniformity (chi-square bound) and seeded determinism; hc_evict_keep()
 * for every policy (never the kept entry) and hc_victim() (peek, then popitem). */
#include <string.h>

#include "ht.h"

#define MAXK 64
static uint32_t slot_of[MAXK];
static int key_of[1 << 12];

static hc_cache *make(int policy)
{
    hc_config cfg = ht_config(policy, HC_UNBOUNDED);
    return hc_new(&cfg);
}

static void put(hc_cache *c, int key)
{
    uint32_t s = hc_insert(c, (uint64_t)key * 0x9E3779B97F4A7C15ull, 1, 0, INFINITY);
    CHECK(s != HC_NIL);
    slot_of[key] = s;
    key_of[s] = key;
}

/* Evict everything; the keys in eviction order go to out. */
static int drain(hc_cache *c, int *out)
{
    int n = 0, cause;
    uint32_t s;
    while ((s = hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause)) != HC_NIL) {
        CHECK_EQ(cause, HC_CAUSE_SIZE);
        out[n++] = key_of[s];
        CHECK_OK(c);
    }
    return n;
}

static void expect_order(int policy, const int *want, int n)
{
    hc_cache *c = make(policy);
    int got[MAXK], i, k;
    for (k = 0; k < 5; k++)
        put(c, k);
    hc_touch(c, slot_of[0]);
    CHECK_OK(c);
    hc_update(c, slot_of[1], 1, 0, INFINITY);
    CHECK_OK(c);
    CHECK_EQ(drain(c, got), n);
    for (i = 0; i < n; i++)
        CHECK_EQ(got[i], want[i]);
    CHECK_EQ(hc_stats_of(c)->hits, 1);
    CHECK_EQ(hc_stats_of(c)->updates, 1);
    CHECK_EQ(hc_stats_of(c)->evictions_size, 5);
    hc_free(c);
}

static void test_list_policies(void)
{
    static const int insertion[] = {0, 1, 2, 3, 4};
    static const int lru[] = {2, 3, 4, 0, 1};
    static const int fifo[] = {0, 2, 3, 4, 1};
    expect_order(HC_POLICY_INSERTION, insertion, 5);
    expect_order(HC_POLICY_LRU, lru, 5);
    expect_order(HC_POLICY_FIFO, fifo, 5);
}

static void test_lfu(void)
{
    hc_cache *c = make(HC_POLICY_LFU);
    uint32_t order[MAXK];
    uint64_t aux[MAXK];
    int got[MAXK], k;
    static const int want[] = {1, 4, 0, 3, 2};
    static const uint64_t want_aux[] = {1, 1, 2, 2, 3};
    for (k = 0; k < 5; k++)
        put(c, k);
    hc_touch(c, slot_of[2]);
    hc_touch(c, slot_of[2]);
    hc_touch(c, slot_of[0]);
    hc_update(c, slot_of[3], 1, 0, INFINITY);
    CHECK_OK(c);
    CHECK_EQ(hc_policy_order(c, order, aux), 5);
    for (k = 0; k < 5; k++) {
        CHECK_EQ(key_of[order[k]], want[k]);
        CHECK_EQ(aux[k], want_aux[k]);
    }
    CHECK_EQ(drain(c, got), 5);
    for (k = 0; k < 5; k++)
        CHECK_EQ(got[k], want[k]);

    /* ties in the lowest count go to the least recently used; a new entry (count 1) first */
    put(c, 10);
    put(c, 11);
    put(c, 12);
    hc_touch(c, slot_of[12]);
    hc_touch(c, slot_of[10]);
    hc_touch(c, slot_of[11]);
    put(c, 13);
    CHECK_OK(c);
    CHECK_EQ(drain(c, got), 4);
    CHECK_EQ(got[0], 13);
    CHECK_EQ(got[1], 12);
    CHECK_EQ(got[2], 10);
    CHECK_EQ(got[3], 11);

    /* an entry alone in its bucket relabels; counts keep climbing */
    put(c, 20);
    put(c, 21);
    for (k = 0; k < 50; k++) {
        hc_touch(c, slot_of[20]);
        CHECK_OK(c);
    }
    for (k = 0; k < 49; k++)
        hc_touch(c, slot_of[21]);
    CHECK_EQ(hc_policy_order(c, order, aux), 2);
    CHECK_EQ(key_of[order[0]], 21);
    CHECK_EQ(aux[0], 50);
    CHECK_EQ(aux[1], 51);
    hc_touch(c, slot_of[21]); /* joins 20's bucket as its most recent */
    CHECK_OK(c);
    CHECK_EQ(hc_policy_order(c, order, aux), 2);
    CHECK_EQ(key_of[order[0]], 20);
    CHECK_EQ(aux[0], 51);
    CHECK_EQ(aux[1], 51);
    hc_remove(c, slot_of[20]);
    CHECK_OK(c);
    hc_free(c);
}

static void test_random_uniform(void)
{
    enum { K = 10, TRIALS = 100000 };
    hc_cache *c = make(HC_POLICY_RANDOM);
    long hist[K];
    double chi = 0, expect = (double)TRIALS / K;
    int k, t, cause;
    memset(hist, 0, sizeof hist);
    for (k = 0; k < K; k++)
        put(c, k);
    for (t = 0; t < TRIALS; t++) {
        uint32_t s = hc_evict(c, 0.0, HC_CAUSE_MEMORY, &cause);
        int key = key_of[s];
        hist[key]++;
        put(c, key);
    }
    CHECK_OK(c);
    CHECK_EQ(hc_stats_of(c)->evictions_memory, TRIALS);
    for (k = 0; k < K; k++)
        chi += (hist[k] - expect) * (hist[k] - expect) / expect;
    CHECK(chi < 30.0); /* 9 degrees of freedom: P(chi2 > 30) ~ 0.0004 */
    hc_free(c);
}

static void victims(uint64_t seed, int *out, int n)
{
    hc_config cfg = ht_config(HC_POLICY_RANDOM, HC_UNBOUNDED);
    hc_cache *c;
    int k, cause;
    cfg.seed = seed;
    c = hc_new(&cfg);
    for (k = 0; k < 40; k++)
        put(c, k);
    for (k = 0; k < n; k++) {
        uint32_t s = hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause);
        out[k] = key_of[s];
    }
    hc_free(c);
}

static void test_random_seeded(void)
{
    int a[30], b[30], d[30], k, same = 1, differ = 0;
    victims(7, a, 30);
    victims(7, b, 30);
    victims(8, d, 30);
    for (k = 0; k < 30; k++) {
        same &= a[k] == b[k];
        differ |= a[k] != d[k];
    }
    CHECK(same);
    CHECK(differ);
}

static void test_empty_victim(void)
{
    int p, cause = -1;
    for (p = 0; p < HC_POLICY_COUNT_; p++) {
        hc_cache *c = make(p);
        CHECK_EQ(hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause), HC_NIL);
        CHECK_EQ(cause, HC_CAUSE_NONE);
        CHECK_OK(c);
        hc_free(c);
    }
}

/* A full cache in steady state (evict one, insert one, touch) allocates nothing. */
static void test_steady_state_no_alloc(void)
{
    int p;
    for (p = 0; p < HC_POLICY_COUNT_; p++) {
        hc_config cfg = ht_config(p, 1000);
        hc_cache *c = hc_new(&cfg);
        uint32_t k, s;
        long before = 0;
        int cause;
        for (k = 0; k < 30000; k++) {
            if (k == 20000)
                before = ht_allocs();
            if (hc_over(c, 1, 0) != HC_CAUSE_NONE)
                CHECK(hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause) != HC_NIL);
            s = hc_insert(c, (uint64_t)k * 0x9E3779B97F4A7C15ull, 1, 0, INFINITY);
            CHECK(s != HC_NIL);
            hc_touch(c, s);
        }
        CHECK_EQ(ht_allocs(), before);
        CHECK_EQ(hc_len(c), 1000);
        CHECK_OK(c);
        hc_free(c);
    }
}

/* hc_check() without touching the pass counter (for long loops); prints the first failure. */
static int check_quiet(const hc_cache *c)
{
    char msg[256];
    if (hc_check(c, msg, sizeof msg) == 0)
        return 1;
    fprintf(stderr, "hc_check: %s\n", msg);
    return 0;
}

/* hc_evict_keep() at time 0 under size pressure, then hc_check(); the evicted key, or -1 for
 * HC_NIL (then cause must be NONE and nothing may have changed). `keep` is a key or -1. */
static int evict_keep_key(hc_cache *c, int keep)
{
    uint32_t keep_slot = keep < 0 ? HC_NIL : slot_of[keep], s;
    size_t len = hc_len(c);
    uint64_t v = hc_version(c), ev = hc_stats_of(c)->evictions_size;
    int cause = -1;
    s = hc_evict_keep(c, 0.0, HC_CAUSE_SIZE, &cause, keep_slot);
    CHECK_OK(c);
    if (s == HC_NIL) {
        CHECK_EQ(cause, HC_CAUSE_NONE);
        CHECK_EQ(hc_len(c), len);
        CHECK_EQ(hc_version(c), v);
        CHECK_EQ(hc_stats_of(c)->evictions_size, ev);
        return -1;
    }
    CHECK(s != keep_slot);
    CHECK_EQ(cause, HC_CAUSE_SIZE);
    CHECK_EQ(hc_len(c), len - 1);
    CHECK(hc_version(c) != v);
    CHECK_EQ(hc_stats_of(c)->evictions_size, ev + 1);
    return key_of[s];
}

/* The policy order after put 0..4, touch(0), update(1) (as in expect_order / test_lfu). */
static void build_five(hc_cache *c)
{
    int k;
    for (k = 0; k < 5; k++)
        put(c, k);
    hc_touch(c, slot_of[0]);
    hc_update(c, slot_of[1], 1, 0, INFINITY);
    CHECK_OK(c);
}

/* List policies: keep is the head -> its successor goes; keep elsewhere -> the head goes;
 * keep alone -> HC_NIL; keep stays the head throughout. */
static void test_evict_keep_lists(void)
{
    static const int pols[3] = {HC_POLICY_INSERTION, HC_POLICY_LRU, HC_POLICY_FIFO};
    static const int orders[3][5] = {{0, 1, 2, 3, 4}, {2, 3, 4, 0, 1}, {0, 2, 3, 4, 1}};
    int i, k, cause;
    for (i = 0; i < 3; i++) {
        const int *o = orders[i];
        hc_cache *c = make(pols[i]);
        build_five(c);
        CHECK_EQ(key_of[hc_victim(c)], o[0]);
        /* keep is not the head: the head goes */
        CHECK_EQ(evict_keep_key(c, o[2]), o[0]);
        /* keep is the head (o[1] now): its successors go one by one, keep stays the head */
        for (k = 2; k < 5; k++) {
            CHECK_EQ(evict_keep_key(c, o[1]), o[k]);
            CHECK_EQ(key_of[hc_victim(c)], o[1]);
        }
        /* keep is the only candidate */
        CHECK_EQ(evict_keep_key(c, o[1]), -1);
        CHECK_EQ(hc_len(c), 1);
        /* memory pressure is counted as such; a newer entry goes before keep */
        put(c, 7);
        CHECK_EQ(hc_evict_keep(c, 0.0, HC_CAUSE_MEMORY, &cause, slot_of[o[1]]), slot_of[7]);
        CHECK_EQ(cause, HC_CAUSE_MEMORY);
        CHECK_EQ(hc_stats_of(c)->evictions_memory, 1);
        CHECK_OK(c);
        /* keep = HC_NIL is plain hc_evict */
        CHECK_EQ(evict_keep_key(c, -1), o[1]);
        CHECK_EQ(evict_keep_key(c, -1), -1);
        CHECK_EQ(hc_stats_of(c)->evictions_size, 5);
        hc_free(c);
    }
}

/* LFU: keep at the head of the lowest bucket -> the next entry of that bucket; keep alone in
 * the lowest bucket -> the head (LRU) of the next bucket; keep elsewhere -> the usual victim. */
static void test_evict_keep_lfu(void)
{
    hc_cache *c = make(HC_POLICY_LFU);
    uint32_t order[MAXK];
    uint64_t aux[MAXK];
    int k;
    for (k = 0; k < 4; k++)
        put(c, k);
    hc_touch(c, slot_of[3]); /* bucket 1: {0}; bucket 2, LRU first: {3, 1, 2} */
    hc_touch(c, slot_of[1]);
    hc_touch(c, slot_of[2]);
    CHECK_OK(c);
    CHECK_EQ(key_of[hc_victim(c)], 0);
    CHECK_EQ(evict_keep_key(c, 0), 3); /* keep alone in bucket 1 -> head of bucket 2 */
    CHECK_EQ(key_of[hc_victim(c)], 0);
    CHECK_EQ(evict_keep_key(c, 0), 1);
    CHECK_EQ(evict_keep_key(c, 0), 2);
    CHECK_EQ(evict_keep_key(c, 0), -1); /* keep is the only candidate */
    CHECK_EQ(hc_policy_order(c, order, aux), 1);
    CHECK_EQ(key_of[order[0]], 0);
    CHECK_EQ(aux[0], 1); /* being skipped is not a use */

    put(c, 5); /* bucket 1: {0, 5, 6} */
    put(c, 6);
    CHECK_EQ(evict_keep_key(c, 0), 5); /* keep heads a shared bucket -> next in that bucket */
    CHECK_EQ(evict_keep_key(c, 6), 0); /* keep not the head -> the head */
    CHECK_EQ(evict_keep_key(c, 6), -1);

    put(c, 7);
    hc_touch(c, slot_of[7]); /* bucket 1: {6, 8}; bucket 2: {7} */
    put(c, 8);
    CHECK_OK(c);
    CHECK_EQ(evict_keep_key(c, 6), 8); /* same bucket first, not the next bucket */
    CHECK_EQ(evict_keep_key(c, 6), 7); /* now alone -> next bucket */
    CHECK_EQ(evict_keep_key(c, 6), -1);
    CHECK_EQ(evict_keep_key(c, -1), 6);
    CHECK_EQ(evict_keep_key(c, -1), -1);
    hc_free(c);
}

/* RANDOM: uniform over the others (chi-square), keep never chosen; alone -> HC_NIL without
 * drawing. */
static void test_evict_keep_random(void)
{
    enum { K = 10, KEEP = 4, TRIALS = 45000 };
    hc_cache *c = make(HC_POLICY_RANDOM);
    long hist[K];
    double chi = 0, expect = (double)TRIALS / (K - 1);
    int k, t, cause, ok = 1;
    uint64_t rng;
    memset(hist, 0, sizeof hist);
    for (k = 0; k < K; k++)
        put(c, k);
    for (t = 0; t < TRIALS; t++) {
        uint32_t s = hc_evict_keep(c, 0.0, HC_CAUSE_SIZE, &cause, slot_of[KEEP]);
        if (s == HC_NIL || s == slot_of[KEEP] || cause != HC_CAUSE_SIZE) {
            ok = 0;
            break;
        }
        hist[key_of[s]]++;
        ok &= check_quiet(c);
        put(c, key_of[s]);
    }
    CHECK(ok);
    CHECK_OK(c);
    CHECK_EQ(hist[KEEP], 0);
    CHECK_EQ(hc_len(c), K);
    CHECK_EQ(hc_stats_of(c)->evictions_size, TRIALS);
    for (k = 0; k < K; k++)
        if (k != KEEP)
            chi += (hist[k] - expect) * (hist[k] - expect) / expect;
    CHECK(chi < 30.0); /* 8 degrees of freedom: P(chi2 > 30) ~ 0.0002 */

    /* down to keep and one other: always the other */
    for (k = 0; k < K; k++)
        if (k != KEEP && k != 7)
            hc_remove(c, slot_of[k]);
    CHECK_OK(c);
    for (t = 0; t < 20; t++) {
        CHECK_EQ(evict_keep_key(c, KEEP), 7);
        put(c, 7);
    }
    CHECK_EQ(evict_keep_key(c, KEEP), 7);
    /* keep alone: HC_NIL and the PRNG did not move */
    rng = hc_rng_state(c);
    CHECK_EQ(evict_keep_key(c, KEEP), -1);
    CHECK_EQ(hc_rng_state(c), rng);
    CHECK_EQ(evict_keep_key(c, -1), KEEP);
    CHECK_EQ(evict_keep_key(c, -1), -1);
    hc_free(c);
}

/* hc_victim(): the next victim without removing it; popitem = hc_victim + hc_remove. */
static void test_victim(void)
{
    static const int orders[HC_POLICY_COUNT_][5] = {
        {0, 1, 2, 3, 4}, /* INSERTION */
        {2, 3, 4, 0, 1}, /* LRU */
        {2, 3, 4, 0, 1}, /* LFU: 0 and 1 have count 2, 0 used first */
        {0, 2, 3, 4, 1}, /* FIFO */
        {0, 0, 0, 0, 0}, /* RANDOM: checked separately */
        {0, 1, 2, 3, 4}, /* S3FIFO: all in small (unbounded), counters 1 < 2: FIFO order */
        {2, 3, 4, 0, 1}, /* TINYLFU: all in the window (unbounded): its LRU order */
    };
    int p, k;
    for (p = 0; p < HC_POLICY_COUNT_; p++) {
        hc_cache *c = make(p);
        uint64_t v;
        CHECK_EQ(hc_victim(c), HC_NIL);
        build_five(c);
        v = hc_version(c);
        if (p != HC_POLICY_RANDOM) {
            CHECK_EQ(key_of[hc_victim(c)], orders[p][0]);
            CHECK_EQ(key_of[hc_victim(c)], orders[p][0]); /* stable: nothing removed */
        } else {
            int seen[5] = {0, 0, 0, 0, 0}, all = 1;
            uint64_t rng = hc_rng_state(c);
            for (k = 0; k < 500; k++) {
                uint32_t s = hc_victim(c);
                CHECK(s != HC_NIL && s == slot_of[key_of[s]]);
                if (s != HC_NIL)
                    seen[key_of[s]] = 1;
            }
            CHECK(hc_rng_state(c) != rng); /* a fresh draw each call */
            for (k = 0; k < 5; k++)
                all &= seen[k];
            CHECK(all);
        }
        CHECK_EQ(hc_len(c), 5);
        CHECK_EQ(hc_version(c), v);
        CHECK_EQ(hc_stats_of(c)->evictions_size, 0);
        CHECK_EQ(hc_stats_of(c)->deletes, 0);
        CHECK_OK(c);
        /* popitem until empty */
        for (k = 0; k < 5; k++) {
            uint32_t s = hc_victim(c);
            CHECK(s != HC_NIL);
            if (s == HC_NIL)
                break;
            if (p != HC_POLICY_RANDOM)
                CHECK_EQ(key_of[s], orders[p][k]);
            hc_remove(c, s);
            CHECK_OK(c);
        }
        CHECK_EQ(hc_len(c), 0);
        CHECK_EQ(hc_victim(c), HC_NIL);
        CHECK_EQ(hc_stats_of(c)->deletes, 5);
        CHECK_EQ(hc_stats_of(c)->evictions_size, 0);
        hc_free(c);
    }
}

int main(void)
{
    test_steady_state_no_alloc();
    hc_config bad = ht_config(HC_POLICY_COUNT_, 10);
    CHECK(hc_new(&bad) == NULL);
    bad.policy = -1;
    CHECK(hc_new(&bad) == NULL);
    test_list_policies();
    test_lfu();
    test_random_uniform();
    test_random_seeded();
    test_empty_victim();
    test_evict_keep_lists();
    test_evict_keep_lfu();
    test_evict_keep_random();
    test_victim();
    return ht_done();
}
