/* test_model.c -- a long randomised op sequence per policy against a simple reference model,
 * with hc_check() after every step: victims, expiry order, counters and expiry times must match.
 * RANDOM, S3FIFO and TINYLFU victims are checked for membership only (their order has its own
 * tests: test_policy.c, test_s3fifo.c, test_tinylfu.c, and the twins in test_twins.py). */
#include <string.h>

#include "ht.h"

#define K 300
#define STEPS 6000

typedef struct model_entry {
    int present;
    uint32_t slot;
    uint64_t size, bytes;
    double expire;
    uint64_t stamp;  /* list policies: order position; LFU: recency */
    uint64_t count;  /* LFU uses */
    uint64_t sched;  /* schedule order for equal expiry times */
} model_entry;

static model_entry m[K];
static int key_of_slot[1 << 16];
static uint64_t clock_stamp, clock_sched;
static uint64_t rng = 88172645463325252ull;
static int policy;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int expected_victim(double now, int *cause)
{
    int k, best = -1;
    for (k = 0; k < K; k++) /* a due entry first: lowest (expire, sched) */
        if (m[k].present && m[k].expire <= now &&
            (best < 0 || m[k].expire < m[best].expire ||
             (m[k].expire == m[best].expire && m[k].sched < m[best].sched)))
            best = k;
    if (best >= 0) {
        *cause = HC_CAUSE_EXPIRED;
        return best;
    }
    *cause = HC_CAUSE_SIZE;
    for (k = 0; k < K; k++) {
        if (!m[k].present)
            continue;
        if (best < 0)
            best = k;
        else if (policy == HC_POLICY_LFU
                     ? (m[k].count < m[best].count ||
                        (m[k].count == m[best].count && m[k].stamp < m[best].stamp))
                     : m[k].stamp < m[best].stamp)
            best = k;
    }
    return best;
}

static void model_remove(int k) { m[k].present = 0; }

static double random_expiry(double now)
{
    uint64_t r = next_rand() % 4;
    if (r == 0)
        return INFINITY;
    return now + (double)(next_rand() % 40) * 0.5; /* many equal times: tie order matters */
}

static void set_model_expiry(int k, double t)
{
    m[k].expire = t;
    if (t < INFINITY)
        m[k].sched = ++clock_sched;
}

/* Evict one with the core and compare with the model. */
static void evict_one(hc_cache *c, double now, int pressure)
{
    int cause, want_cause, want = expected_victim(now, &want_cause);
    uint32_t s = hc_evict(c, now, pressure, &cause);
    if (want < 0) {
        CHECK_EQ(s, HC_NIL);
        return;
    }
    CHECK(s != HC_NIL);
    if (s == HC_NIL)
        return;
    if (want_cause == HC_CAUSE_EXPIRED)
        CHECK_EQ(cause, HC_CAUSE_EXPIRED);
    else
        CHECK_EQ(cause, pressure);
    if ((policy == HC_POLICY_RANDOM || policy == HC_POLICY_S3FIFO || policy == HC_POLICY_TINYLFU) &&
        want_cause != HC_CAUSE_EXPIRED) {
        CHECK(m[key_of_slot[s]].present && m[key_of_slot[s]].slot == s);
        model_remove(key_of_slot[s]);
    } else {
        CHECK_EQ(s, m[want].slot);
        model_remove(key_of_slot[s]);
    }
}

static void make_room(hc_cache *c, double now, uint64_t add_size, uint64_t add_bytes)
{
    int over;
    while ((over = hc_over(c, add_size, add_bytes)) != HC_CAUSE_NONE && hc_len(c) > 0)
        evict_one(c, now, over);
}

static void compare(hc_cache *c)
{
    uint64_t size = 0, bytes = 0;
    size_t n = 0;
    int k;
    for (k = 0; k < K; k++) {
        if (!m[k].present)
            continue;
        n++;
        size += m[k].size;
        bytes += m[k].bytes;
        if (hc_expire_at(c, m[k].slot) != m[k].expire || hc_entry_size(c, m[k].slot) != m[k].size ||
            hc_entry_bytes(c, m[k].slot) != m[k].bytes) {
            CHECK(!"entry differs from the model");
            return;
        }
    }
    CHECK_EQ(hc_len(c), n);
    CHECK_EQ(hc_size_used(c), size);
    CHECK_EQ(hc_bytes_used(c), bytes);
}

static void run(int pol)
{
    hc_config cfg = ht_config(pol, 60);
    hc_cache *c;
    double now = 1000.0;
    int step;
    cfg.max_bytes = 700;
    cfg.seed = 99;
    policy = pol;
    memset(m, 0, sizeof m);
    c = hc_new(&cfg);
    for (step = 0; step < STEPS; step++) {
        int k = (int)(next_rand() % K), op = (int)(next_rand() % 100);
        if (op < 30) { /* get */
            if (m[k].present && m[k].expire > now) {
                hc_touch(c, m[k].slot);
                if (pol == HC_POLICY_LRU || pol == HC_POLICY_LFU)
                    m[k].stamp = ++clock_stamp;
                m[k].count++;
            } else if (k % 2) {
                hc_count_miss(c);
            } else {
                hc_miss(c, (uint64_t)k * 0x100000001B3ull % 64);
            }
        } else if (op < 75) { /* set */
            uint64_t size = next_rand() % 4, bytes = next_rand() % 3 == 0 ? next_rand() % 40 : 0;
            double t = random_expiry(now);
            if (m[k].present) {
                hc_update(c, m[k].slot, size, bytes, t);
                m[k].size = size;
                m[k].bytes = bytes;
                set_model_expiry(k, t);
                if (pol == HC_POLICY_LRU || pol == HC_POLICY_LFU || pol == HC_POLICY_FIFO)
                    m[k].stamp = ++clock_stamp;
                m[k].count++;
                make_room(c, now, 0, 0);
            } else {
                uint32_t s;
                make_room(c, now, size, bytes);
                s = hc_insert(c, (uint64_t)k * 0x100000001B3ull % 64, size, bytes, t);
                CHECK(s != HC_NIL);
                key_of_slot[s] = k;
                m[k].present = 1;
                m[k].slot = s;
                m[k].size = size;
                m[k].bytes = bytes;
                set_model_expiry(k, t);
                m[k].stamp = ++clock_stamp;
                m[k].count = 1;
            }
        } else if (op < 85) { /* delete */
            if (m[k].present) {
                hc_remove(c, m[k].slot);
                model_remove(k);
            }
        } else if (op < 90) { /* re-time */
            if (m[k].present) {
                double t = random_expiry(now);
                hc_set_expire(c, m[k].slot, t);
                set_model_expiry(k, t);
            }
        } else if (op < 97) { /* time passes, reclaim a little */
            uint32_t out[4];
            size_t i, n;
            now += (double)(next_rand() % 8) * 0.5;
            n = hc_reclaim(c, now, out, 4);
            for (i = 0; i < n; i++) {
                int want_cause, want = expected_victim(now, &want_cause);
                CHECK_EQ(want_cause, HC_CAUSE_EXPIRED);
                CHECK_EQ(out[i], want >= 0 ? m[want].slot : HC_NIL);
                model_remove(key_of_slot[out[i]]);
            }
        } else if (op < 99) { /* expire everything due */
            uint32_t out[K];
            size_t i, n = hc_expire(c, now, out, K);
            for (i = 0; i < n; i++) {
                int want_cause, want = expected_victim(now, &want_cause);
                CHECK_EQ(out[i], want >= 0 ? m[want].slot : HC_NIL);
                model_remove(key_of_slot[out[i]]);
            }
            for (i = 0; i < K; i++)
                CHECK(!(m[i].present && m[i].expire <= now));
        } else if (next_rand() % 8 == 0) {
            hc_clear(c);
            memset(m, 0, sizeof m);
        }
        CHECK_OK(c);
        compare(c);
        CHECK(hc_size_used(c) <= 60 && hc_bytes_used(c) <= 700);
        if (ht_failed > 20)
            break;
    }
    {
        int got = 0, k2;
        for (k2 = 0; k2 < K; k2++)
            got += m[k2].present;
        CHECK_EQ(hc_len(c), (size_t)got);
    }
    hc_free(c);
}

int main(void)
{
    int p;
    for (p = 0; p < HC_POLICY_COUNT_; p++)
        run(p);
    return ht_done();
}
