/* test_tinylfu.c -- the TINYLFU policy against hand-traced scenarios: Caffeine's first shares,
 * the lazy sketch, admission by estimated frequency (newcomers without history are turned away,
 * ties go to the incumbent, who then goes round), a miss and the insert after it counted once,
 * protected hits left out of the sketch, the hash-flooding jitter, a key heavier than the
 * window, the ghost growing the window on a recency-heavy stream, byte weights, new bounds,
 * and the policy state round trip with corrupted bytes refused. */
#include <string.h>

#include "ht.h"
#include "../hc_hash.h"

#define MAXK 70000
static uint32_t slot_of[MAXK];
static int key_of[1 << 17];
static unsigned char present[MAXK];

#define JITTER_SALT UINT64_C(0xA54FF53A5F1D36F1) /* as in hc_policy_tinylfu.c */

static uint64_t hash_of(int key) { return (uint64_t)key * 0x9E3779B97F4A7C15ull + 11; }

static hc_cache *make(uint64_t max_size, uint64_t max_bytes)
{
    hc_config cfg = ht_config(HC_POLICY_TINYLFU, max_size);
    cfg.max_bytes = max_bytes;
    return hc_new(&cfg);
}

/* A store as the binding does it: evict until it fits, insert; returns the first victim's key
 * or -1. */
static int put_sized(hc_cache *c, int key, uint64_t size, uint64_t bytes)
{
    int cause, first = -1;
    uint32_t s;
    while (hc_over(c, size, bytes) != HC_CAUSE_NONE) {
        s = hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause);
        if (s == HC_NIL)
            break;
        if (first < 0)
            first = key_of[s];
        present[key_of[s]] = 0;
    }
    s = hc_insert(c, hash_of(key), size, bytes, INFINITY);
    CHECK(s != HC_NIL);
    slot_of[key] = s;
    key_of[s] = key;
    present[key] = 1;
    return first;
}

static int put(hc_cache *c, int key) { return put_sized(c, key, 1, 0); }

/* A read: hit -> hc_touch, miss -> hc_miss then a store; returns 1 on a hit. */
static int request(hc_cache *c, int key)
{
    if (present[key]) {
        hc_touch(c, slot_of[key]);
        return 1;
    }
    hc_miss(c, hash_of(key));
    put(c, key);
    return 0;
}

static uint32_t freq(const hc_cache *c, int key) { return hc_policy_frequency(c, hash_of(key)); }

/* Key at position i of the policy order (window, probation, protected) and its aux. */
static int order_at(hc_cache *c, size_t i, uint64_t *aux_out)
{
    static uint32_t order[MAXK];
    static uint64_t aux[MAXK];
    size_t n = hc_policy_order(c, order, aux);
    if (i >= n)
        return -1;
    if (aux_out)
        *aux_out = aux[i];
    return key_of[order[i]];
}

static void fill(hc_cache *c, int from, int n)
{
    int k;
    memset(present, 0, sizeof present);
    for (k = from; k < from + n; k++)
        put(c, k);
}

static void test_shares_and_admission(void)
{
    hc_cache *c = make(100, HC_UNBOUNDED);
    hc_policy_info in;
    uint64_t aux;
    int k;
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_max[0], 1);  /* window: 100 - (uint64)(0.99 * 100) */
    CHECK_EQ(in.q_max[2], 79); /* protected: 80 % of main's 99 */
    CHECK_EQ(in.sketch_capacity, 0);
    fill(c, 0, 100);
    CHECK_OK(c);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.sketch_capacity, 100); /* sized when half full (from key 50 on) */
    CHECK_EQ(in.ghost_sample, 1);
    CHECK_EQ(freq(c, 10), 0);          /* stored before the sketch existed */
    CHECK_EQ(freq(c, 60), 1);
    CHECK_EQ(order_at(c, 0, &aux), 99); /* window: the newest; probation: 0..98 */
    CHECK_EQ(aux, 0);
    CHECK_EQ(order_at(c, 1, &aux), 0);
    CHECK_EQ(aux, 1);

    /* a newcomer seen once beats victims never counted: 0..49 go in order */
    for (k = 0; k < 50; k++)
        CHECK_EQ(put(c, 1000 + k), k);
    CHECK_OK(c);
    /* now the victim 50 was seen once too: a tie keeps the incumbent; the candidate (the
     * window's 1049) goes and the defender goes round to probation's tail */
    CHECK_EQ(order_at(c, 1, NULL), 50);
    CHECK_EQ(put(c, 2000), 1049);
    CHECK_EQ(order_at(c, 1, NULL), 51);
    CHECK_EQ(order_at(c, 99, NULL), 50);
    CHECK_OK(c);
    /* a key that kept missing has the frequency to get in */
    for (k = 0; k < 4; k++)
        hc_miss(c, hash_of(3000));
    CHECK_EQ(freq(c, 3000), 4);
    CHECK_EQ(put(c, 3000), 2000); /* a tie again: the candidate 2000 goes, 51 goes round */
    CHECK_EQ(freq(c, 3000), 4);   /* the insert right after its miss is not counted again */
    CHECK_EQ(put(c, 3001), 52);   /* 3000 (4) beats 52 (1) */
    hc_free(c);
}

static void test_hits(void)
{
    hc_cache *c = make(100, HC_UNBOUNDED);
    uint64_t aux;
    uint32_t before;
    fill(c, 0, 100);
    before = freq(c, 70);
    hc_touch(c, slot_of[70]); /* probation -> protected, counted */
    CHECK_EQ(freq(c, 70), before + 1);
    CHECK_EQ(order_at(c, 99, &aux), 70);
    CHECK_EQ(aux, 2);
    hc_touch(c, slot_of[70]); /* protected: moves, not counted */
    hc_touch(c, slot_of[69]);
    hc_touch(c, slot_of[70]);
    CHECK_EQ(freq(c, 70), before + 1);
    CHECK_EQ(order_at(c, 99, NULL), 70);
    before = freq(c, 99);
    hc_touch(c, slot_of[99]); /* window: counted, stays in the window */
    CHECK_EQ(freq(c, 99), before + 1);
    CHECK_EQ(order_at(c, 0, &aux), 99);
    CHECK_EQ(aux, 0);
    hc_update(c, slot_of[99], 1, 0, INFINITY); /* a re-assignment is a use */
    CHECK_EQ(freq(c, 99), before + 2);
    CHECK_EQ(hc_stats_of(c)->hits, 5);
    CHECK_OK(c);
    hc_free(c);
}

/* An estimate >= 6 that is not higher than the victim's still wins 1 time in 128: the draw is
 * a function of the PRNG state, which each eviction advances. */
static void test_jitter(void)
{
    hc_cache *c = make(1000, HC_UNBOUNDED);
    uint64_t r, win = 0, lose = 0;
    int k, cand, vict, found = 0;
    uint32_t v;
    hc_policy_info in;
    fill(c, 0, 1000);
    hc_policy_info_get(c, &in);
    cand = order_at(c, 0, NULL);           /* the window's oldest */
    vict = order_at(c, in.q_len[0], NULL); /* probation's oldest */
    for (k = 0; k < 8; k++)
        hc_miss(c, hash_of(cand));
    for (k = 0; k < 20; k++)
        hc_miss(c, hash_of(vict));
    CHECK(freq(c, cand) >= 6);
    CHECK(freq(c, vict) >= freq(c, cand));
    for (r = 1; r < 100000 && found < 2; r++) {
        if ((hc_fmix64(r, JITTER_SALT) & 127) == 0 && !win)
            win = r, found++;
        else if ((hc_fmix64(r, JITTER_SALT) & 127) != 0 && !lose)
            lose = r, found++;
    }
    hc_rng_set_state(c, lose);
    v = hc_victim(c);
    CHECK_EQ(key_of[v], cand);
    CHECK_EQ(hc_victim(c), v); /* pure: asking again gives the same */
    hc_rng_set_state(c, win);
    CHECK_EQ(key_of[hc_victim(c)], vict);
    hc_remove_victim(c, hc_victim(c)); /* popitem: an eviction, the draw advances */
    CHECK_EQ(hc_rng_state(c), win + 1);
    CHECK_OK(c);
    hc_free(c);
}

/* A key heavier than the window enters at its head and is the next candidate. */
static void test_heavy(void)
{
    hc_cache *c = make(100, HC_UNBOUNDED);
    hc_policy_info in;
    int k;
    fill(c, 0, 100);
    for (k = 0; k < 50; k++) /* the uncounted 0..49 go; probation starts at 50 (count 1) */
        put(c, 1000 + k);
    /* room for 5: the window's 1049 loses a tie to 50, then probation's 51..54 go */
    CHECK_EQ(put_sized(c, 500, 5, 0), 1049);
    CHECK(!present[54] && present[55]);
    CHECK_EQ(order_at(c, 0, NULL), 500);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_weight[0], 5); /* over the window's 1 until it is judged */
    CHECK_OK(c);
    CHECK_EQ(put(c, 501), 500); /* judged next: a tie with 55 (count 1) turns it away */
    CHECK_OK(c);
    hc_free(c);
}

/* Keys requested twice, the second time after their first copy was turned away at the window:
 * the ghost remembers them as window victims and the window grows. */
static void test_window_grows(void)
{
    hc_cache *c = make(1000, HC_UNBOUNDED);
    hc_policy_info in;
    int k, hits = 0;
    fill(c, 0, 1000);
    for (k = 0; k < 30000; k++) {
        hits += request(c, 10000 + k);
        if (k >= 40)
            hits += request(c, 10000 + k - 40); /* each key again ~80 requests later */
        if (k % 9973 == 0)
            CHECK_OK(c);
    }
    hc_policy_info_get(c, &in);
    CHECK(in.q_max[0] > 50);
    CHECK(hits > 15000);
    CHECK_OK(c);
    hc_free(c);
}

/* Bounds: shares re-derived on a resize; byte weights when only max_bytes bounds the cache. */
static void test_limits_and_bytes(void)
{
    hc_cache *c = make(100, HC_UNBOUNDED);
    hc_policy_info in;
    int cause;
    fill(c, 0, 100);
    hc_set_limits(c, 50, HC_UNBOUNDED);
    while (hc_over(c, 0, 0) != HC_CAUSE_NONE)
        CHECK(hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause) != HC_NIL);
    CHECK_EQ(hc_len(c), 50);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_max[0], 1);
    CHECK_EQ(in.q_max[2], 39);
    CHECK(in.protect_share == 0.80);
    CHECK_OK(c);
    hc_free(c);

    c = make(HC_UNBOUNDED, 10000);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_max[0], 100);
    memset(present, 0, sizeof present);
    put_sized(c, 1, 1, 300);
    put_sized(c, 2, 1, 40);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_weight[0], 40);  /* 300 went over the window's 100: demoted */
    CHECK_EQ(in.q_weight[1], 300);
    CHECK_OK(c);
    hc_free(c);
}

static void test_state(void)
{
    hc_cache *c = make(200, HC_UNBOUNDED), *d;
    hc_policy_info a, b;
    unsigned char *buf;
    size_t n;
    int k, cause;
    uint64_t x = 7;
    fill(c, 0, 200);
    for (k = 0; k < 20000; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        request(c, (int)((x >> 33) % 600));
    }
    n = hc_policy_state_size(c);
    buf = (unsigned char *)malloc(n);
    hc_policy_state_save(c, buf);
    d = hc_clone(c);
    CHECK(hc_policy_state_load(d, buf, n) == 0);
    hc_policy_info_get(d, &a);
    buf[0] ^= 1; /* a different maximum */
    CHECK(hc_policy_state_load(d, buf, n) == -1);
    buf[0] ^= 1;
    CHECK(hc_policy_state_load(d, buf, n - 1) == -1);
    memcpy(buf + 8 * 3, "\0\0\0\0\0\0\xf0\x7f", 8); /* protected share: +infinity */
    CHECK(hc_policy_state_load(d, buf, n) == -1);
    hc_policy_info_get(d, &b);
    CHECK(memcmp(&a, &b, sizeof a) == 0); /* the refusals changed nothing */
    CHECK_OK(d);
    for (k = 0; k < 100; k++)
        CHECK_EQ(hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause), hc_evict(d, 0.0, HC_CAUSE_SIZE, &cause));
    free(buf);
    hc_free(c);
    hc_free(d);
}

int main(void)
{
    test_shares_and_admission();
    test_hits();
    test_jitter();
    test_heavy();
    test_window_grows();
    test_limits_and_bytes();
    test_state();
    return ht_done();
}
