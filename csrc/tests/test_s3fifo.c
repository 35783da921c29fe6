/* test_s3fifo.c -- the S3FIFO policy against hand-traced scenarios: the first-fill rule (a full
 * small queue admits to main until the first eviction), small evictions into the ghost, a
 * ghost hit admitted to main, main's lazy reinsertion with the 2-bit counter, promotion from
 * small at counter 2, the kept entry of a re-assignment, popitem as an eviction (ghost) vs a
 * delete (no ghost), entries heavier than the small queue, byte weights, new bounds, and the
 * policy state round trip. */
#include <string.h>

#include "ht.h"

#define MAXK 4096
static uint32_t slot_of[MAXK];
static int key_of[MAXK];

static uint64_t hash_of(int key) { return (uint64_t)key * 0x9E3779B97F4A7C15ull + 7; }

static hc_cache *make(uint64_t max_size, uint64_t max_bytes)
{
    hc_config cfg = ht_config(HC_POLICY_S3FIFO, max_size);
    cfg.max_bytes = max_bytes;
    return hc_new(&cfg);
}

/* Make room as the binding does (policy victims, never `keep`), then insert. Returns the
 * evicted keys (up to 8, -1 terminated) through out. */
static void put_sized(hc_cache *c, int key, uint64_t size, uint64_t bytes, int *out)
{
    int cause, n = 0;
    uint32_t s;
    while (hc_over(c, size, bytes) != HC_CAUSE_NONE) {
        s = hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause);
        if (s == HC_NIL)
            break;
        if (out && n < 8)
            out[n++] = key_of[s];
    }
    if (out)
        out[n] = -1;
    s = hc_insert(c, hash_of(key), size, bytes, INFINITY);
    CHECK(s != HC_NIL);
    slot_of[key] = s;
    key_of[s] = key;
    CHECK_OK(c);
}

static void put(hc_cache *c, int key, int *out) { put_sized(c, key, 1, 0, out); }

/* The policy order as keys and aux, compared with want/want_aux (n entries). */
static void expect(hc_cache *c, const int *want, const uint64_t *want_aux, size_t n)
{
    uint32_t order[64];
    uint64_t aux[64];
    size_t i, got = hc_policy_order(c, order, aux);
    CHECK_EQ(got, n);
    for (i = 0; i < n && i < got; i++) {
        CHECK_EQ(key_of[order[i]], want[i]);
        if (want_aux)
            CHECK_EQ(aux[i], want_aux[i]);
    }
}

static void test_trace(void)
{
    hc_cache *c = make(10, HC_UNBOUNDED);
    hc_policy_info in;
    int out[9], k;
    static const int fill[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const uint64_t fill_aux[] = {0, 4, 4, 4, 4, 4, 4, 4, 4, 4};
    /* small holds 1 (10 %): key 0 fills it; until the first eviction the rest go to main */
    for (k = 0; k < 10; k++)
        put(c, k, NULL);
    expect(c, fill, fill_aux, 10);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_max[0], 1);
    CHECK_EQ(in.q_max[1], 9);
    CHECK(in.ghost_words == 0);

    /* main is at its share: small's head (counter 0) goes, into the ghost */
    put(c, 10, out);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(out[1], -1);
    CHECK_EQ(hc_policy_frequency(c, hash_of(0)), 1); /* the ghost remembers 0 */
    hc_touch(c, slot_of[2]);
    hc_touch(c, slot_of[2]);
    hc_touch(c, slot_of[3]);
    hc_touch(c, slot_of[2]); /* 2 used three times: counter 3, the most 2 bits hold */
    put(c, 11, out);
    CHECK_EQ(out[0], 10);
    /* 0 comes back while remembered: straight to main (which goes over its share) */
    put(c, 0, out);
    CHECK_EQ(out[0], 11);
    CHECK_EQ(hc_policy_frequency(c, hash_of(0)), 0); /* a ghost hit forgets */
    {
        static const int want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0};
        static const uint64_t want_aux[] = {4, 7, 5, 4, 4, 4, 4, 4, 4, 4};
        expect(c, want, want_aux, 10);
    }
    /* main is over (10 > 9): its head 1 (counter 0) goes -- not into the ghost */
    put(c, 12, out);
    CHECK_EQ(out[0], 1);
    CHECK_EQ(hc_policy_frequency(c, hash_of(1)), 0);
    /* main at its share again: small's head 12 goes; 11 (remembered) returns to main */
    put(c, 11, out);
    CHECK_EQ(out[0], 12);
    /* main over: 2 (counter 3) and 3 (counter 1) go round with one less, 4 goes */
    put(c, 13, out);
    CHECK_EQ(out[0], 4);
    CHECK_EQ(out[1], -1);
    {
        static const int want[] = {13, 5, 6, 7, 8, 9, 0, 11, 2, 3};
        static const uint64_t want_aux[] = {0, 4, 4, 4, 4, 4, 4, 4, 6, 4};
        expect(c, want, want_aux, 10);
    }
    /* promotion: 13 used twice in small moves to main when small is evicted from */
    hc_touch(c, slot_of[13]);
    hc_update(c, slot_of[13], 1, 0, INFINITY); /* a re-assignment is a use too */
    put(c, 14, out); /* main at 9: small is picked; 13 (counter 2) is promoted, 14's turn... */
    CHECK_EQ(out[0], 5);                       /* ...small emptied, so main's head goes */
    CHECK_EQ(hc_stats_of(c)->hits, 5);
    CHECK_OK(c);
    hc_free(c);
}

/* The re-assigned key is never its own victim: at small's head it is promoted instead. */
static void test_keep(void)
{
    hc_cache *c = make(10, HC_UNBOUNDED);
    int k, cause;
    uint32_t s;
    for (k = 0; k < 11; k++)
        put(c, k, NULL); /* evicted 0; small = [10], main = [1..9] */
    s = hc_evict_keep(c, 0.0, HC_CAUSE_SIZE, &cause, slot_of[10]);
    CHECK(s != HC_NIL && key_of[s] == 1); /* 10 moved to main; main over: its head goes */
    CHECK_OK(c);
    /* only the kept entry left: nothing to evict */
    while (hc_len(c) > 1)
        CHECK(hc_evict_keep(c, 0.0, HC_CAUSE_SIZE, &cause, slot_of[10]) != HC_NIL);
    CHECK_EQ(hc_evict_keep(c, 0.0, HC_CAUSE_SIZE, &cause, slot_of[10]), HC_NIL);
    CHECK_OK(c);
    hc_free(c);
}

/* popitem evicts (the ghost remembers), a delete does not; the victim is stable. */
static void test_popitem_delete(void)
{
    hc_cache *c = make(10, HC_UNBOUNDED);
    uint32_t v;
    int k;
    for (k = 0; k < 12; k++)
        put(c, k, NULL); /* small = [11] */
    v = hc_victim(c);
    CHECK_EQ(hc_victim(c), v); /* asking again changes nothing */
    CHECK_EQ(key_of[v], 11);
    hc_remove_victim(c, v);
    CHECK_EQ(hc_policy_frequency(c, hash_of(11)), 1);
    CHECK_EQ(hc_stats_of(c)->deletes, 1);
    CHECK_EQ(hc_stats_of(c)->evictions_size, 2);
    put(c, 20, NULL);
    hc_remove(c, slot_of[20]);
    CHECK_EQ(hc_policy_frequency(c, hash_of(20)), 0);
    CHECK_OK(c);
    hc_free(c);
}

/* Sizes: the small queue holds 10 % of the size bound; an entry heavier than that enters at
 * small's head (the next to go); byte weights when only max_bytes bounds the cache. */
static void test_weights(void)
{
    hc_cache *c = make(100, HC_UNBOUNDED);
    hc_policy_info in;
    int out[9];
    put_sized(c, 1, 5, 0, NULL);
    put_sized(c, 2, 20, 0, NULL); /* 20 > small's 10: at the head */
    {
        static const int want[] = {2, 1};
        expect(c, want, NULL, 2);
    }
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_weight[0], 25);
    hc_update(c, slot_of[1], 7, 0, INFINITY); /* a new size moves the queue's weight */
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_weight[0], 27);
    CHECK_OK(c);
    put_sized(c, 3, 80, 0, out); /* needs 7 more: the heavy head goes first */
    CHECK_EQ(out[0], 2);
    CHECK_EQ(out[1], -1);
    hc_free(c);

    c = make(HC_UNBOUNDED, 1000);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_max[0], 100);
    CHECK_EQ(in.q_max[1], 900);
    put_sized(c, 1, 1, 300, NULL);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_weight[0], 300);
    CHECK(hc_set_bytes(c, slot_of[1], 50) == 0);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_weight[0], 50);
    CHECK_OK(c);
    hc_free(c);
}

/* New bounds re-derive the shares (and the unit: sizes <-> bytes); the core then evicts. */
static void test_limits(void)
{
    hc_cache *c = make(50, HC_UNBOUNDED);
    hc_policy_info in;
    int k, cause;
    for (k = 0; k < 80; k++)
        put(c, k, NULL);
    hc_set_limits(c, 20, HC_UNBOUNDED);
    CHECK_OK(c);
    while (hc_over(c, 0, 0) != HC_CAUSE_NONE)
        CHECK(hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause) != HC_NIL);
    CHECK_EQ(hc_len(c), 20);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_max[0], 2);
    CHECK_EQ(in.q_max[1], 18);
    hc_set_limits(c, HC_UNBOUNDED, 500); /* now weights are bytes (all 0 here) */
    CHECK_OK(c);
    hc_policy_info_get(c, &in);
    CHECK_EQ(in.q_weight[0] + in.q_weight[1], 0);
    CHECK_EQ(in.q_max[0], 50);
    hc_clear(c);
    CHECK_OK(c);
    CHECK_EQ(hc_policy_frequency(c, hash_of(0)), 0); /* the ghost went with clear */
    hc_free(c);
}

/* Policy-wide state (ghost + first-eviction flag) survives save/load; a clone evicts alike. */
static void test_state(void)
{
    hc_cache *c = make(30, HC_UNBOUNDED), *d;
    static int present[200];
    unsigned char *buf;
    size_t n;
    int k, i, cause, out[9];
    uint64_t x = 1;
    for (k = 0; k < 600; k++) { /* 80 keys over 30 places: hits, evictions, ghost hits */
        int key;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        key = 100 + (int)((x >> 33) % 80);
        if (present[key]) {
            if ((x >> 60) < 8)
                hc_touch(c, slot_of[key]);
            else
                hc_update(c, slot_of[key], 1, 0, INFINITY);
            continue;
        }
        put(c, key, out);
        for (i = 0; out[i] >= 0; i++)
            present[out[i]] = 0;
        present[key] = 1;
    }
    CHECK(hc_stats_of(c)->hits > 50);
    n = hc_policy_state_size(c);
    CHECK(n > 8);
    buf = (unsigned char *)malloc(n);
    hc_policy_state_save(c, buf);
    d = hc_clone(c);
    CHECK(hc_policy_state_load(d, buf, n) == 0);
    CHECK(hc_policy_state_load(d, buf, n - 1) == -1);
    buf[0] = 2; /* the first-eviction flag must be 0 or 1 */
    CHECK(hc_policy_state_load(d, buf, n) == -1);
    CHECK_OK(d);
    for (k = 0; k < 40; k++) {
        uint32_t a = hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause), b = hc_evict(d, 0.0, HC_CAUSE_SIZE, &cause);
        CHECK_EQ(a, b);
        if (a == HC_NIL)
            break;
    }
    free(buf);
    hc_free(c);
    hc_free(d);
}

int main(void)
{
    test_trace();
    test_keep();
    test_popitem_delete();
    test_weights();
    test_limits();
    test_state();
    return ht_done();
}
