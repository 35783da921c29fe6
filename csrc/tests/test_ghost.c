/* test_ghost.c -- hc_ghost (S3FIFO's and TINYLFU's ghost) and hc_sketch (TINYLFU's frequency
 * sketch) as units: FIFO semantics against an exact reference queue, weighted lifetimes, tags,
 * the sweeper over many stamp wraps (no old word ever comes back), counts that never
 * underestimate, saturation, halving, and their serialised state (round trip; truncated or
 * corrupted bytes refused with nothing changed). */
#include <string.h>

#include "ht.h"
#include "../hc_ghost.h"
#include "../hc_sketch.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int ghost_ok(const hc_ghost *g)
{
    char msg[256];
    if (hc_ghost_check(g, msg, sizeof msg) == 0)
        return 1;
    fprintf(stderr, "hc_ghost_check: %s\n", msg);
    return 0;
}

/* Unit weights, life L: the ghost holds exactly the last L distinct additions (an exact FIFO of
 * hashes never added twice), up to bucket overflow (rare at 2 ways per hash) and fingerprint
 * collisions (rarer). Takes remove. */
static void test_ghost_fifo(void)
{
    enum { L = 500, N = 20000 };
    static uint64_t added[N];
    hc_ghost g;
    int i, missing = 0, extra = 0, taken = 0;
    hc_ghost_init(&g, L);
    CHECK(!hc_ghost_has(&g, 1)); /* no table: remembers nothing */
    hc_ghost_add(&g, 1, 1);
    CHECK(!hc_ghost_has(&g, 1));
    CHECK(hc_ghost_size(&g, L) == 0);
    for (i = 0; i < N; i++) {
        added[i] = next_rand();
        hc_ghost_add(&g, added[i], 1);
        if (i % 997 == 0)
            CHECK(ghost_ok(&g));
    }
    for (i = N - L; i < N; i++) /* the last L: remembered */
        missing += !hc_ghost_has(&g, added[i]);
    for (i = 0; i < N - L; i++) /* older ones: forgotten */
        extra += hc_ghost_has(&g, added[i]);
    CHECK(missing <= L / 100);   /* bucket overflow drops a few early */
    CHECK(extra <= (N - L) / 1000); /* 14-bit fingerprints among ~8 live words */
    CHECK(hc_ghost_count(&g) <= L && hc_ghost_count(&g) >= L - L / 100);
    for (i = N - L; i < N; i += 3) {
        int t = hc_ghost_take(&g, added[i]);
        taken += t;
        if (t)
            CHECK(!hc_ghost_has(&g, added[i])); /* a take forgets */
    }
    CHECK(taken >= (L / 3) - L / 100);
    CHECK(ghost_ok(&g));
    hc_ghost_free(&g);
    CHECK_EQ(hc_ghost_bytes(&g), 0);
}

/* Weighted: a word lives while the weight added after it plus its own is <= life. A hash
 * still remembered is not added again (the clock does not move). Tags come back. */
static void test_ghost_weights_tags(void)
{
    hc_ghost g;
    int k;
    hc_ghost_init(&g, 100);
    CHECK(hc_ghost_size(&g, 50) == 0);
    hc_ghost_add_tag(&g, 7, 10, 2);
    CHECK_EQ(g.clock, 10);
    for (k = 0; k < 9; k++)
        hc_ghost_add(&g, 1000 + (uint64_t)k, 10); /* clock 100: 7 is at the edge */
    CHECK(hc_ghost_has(&g, 7));
    hc_ghost_add(&g, 2000, 1);
    CHECK(!hc_ghost_has(&g, 7)); /* 101 > 100 */
    CHECK(hc_ghost_has(&g, 2000));
    CHECK_EQ(hc_ghost_take_tag(&g, 2000), 0);
    hc_ghost_add_tag(&g, 2100, 1, 2);
    CHECK_EQ(hc_ghost_take_tag(&g, 2000), -1);
    hc_ghost_add_tag(&g, 3000, 1, 3);
    CHECK_EQ(hc_ghost_take_tag(&g, 3000), 3);
    CHECK_EQ(hc_ghost_take_tag(&g, 2100), 2);
    /* a new life with the same tick unit keeps the words, a new unit forgets them */
    hc_ghost_add(&g, 4000, 1);
    hc_ghost_set_life(&g, 200);
    CHECK(hc_ghost_has(&g, 4000));
    hc_ghost_set_life(&g, 1000000);
    CHECK(!hc_ghost_has(&g, 4000));
    CHECK(ghost_ok(&g));
    hc_ghost_free(&g);
}

/* Big lives tick in units of life/2^14; over many wraps of the 16-bit stamps the sweeper keeps
 * every word younger than 2^15 + 1 ticks, so nothing added long ago is ever remembered again. */
static void test_ghost_sweeper(void)
{
    hc_ghost g;
    uint64_t i, old = 0xDEADBEEFull;
    int back = 0;
    hc_ghost_init(&g, 40000); /* unit 3 */
    CHECK_EQ(g.unit, 3);
    CHECK(hc_ghost_size(&g, 2000) == 0);
    hc_ghost_add(&g, old, 1);
    for (i = 0; i < 3000000; i++) {
        hc_ghost_add(&g, next_rand(), 1 + (i % 5 == 0) * 7);
        if (i % 100003 == 0) {
            CHECK(ghost_ok(&g));
            back += i > 40000 && hc_ghost_has(&g, old); /* after its life: never again */
        }
    }
    CHECK_EQ(back, 0);
    CHECK(ghost_ok(&g));
    /* one giant weight sweeps a whole period at once */
    hc_ghost_add(&g, 42, UINT64_C(1) << 40);
    CHECK(ghost_ok(&g));
    CHECK(hc_ghost_count(&g) <= 1);
    hc_ghost_free(&g);
}

static void test_ghost_state(void)
{
    hc_ghost g, h;
    unsigned char *buf;
    size_t n;
    int i;
    hc_ghost_init(&g, 300);
    CHECK(hc_ghost_size(&g, 300) == 0);
    for (i = 0; i < 1000; i++)
        hc_ghost_add_tag(&g, next_rand(), 1, i & 3);
    n = hc_ghost_state_size(&g);
    buf = (unsigned char *)malloc(n);
    hc_ghost_state_save(&g, buf);
    hc_ghost_init(&h, 5);
    CHECK(hc_ghost_state_load(&h, buf, n) == 0);
    CHECK(ghost_ok(&h));
    CHECK_EQ(h.nbuckets, g.nbuckets);
    CHECK(memcmp(h.slot, g.slot, hc_ghost_bytes(&g)) == 0);
    CHECK_EQ(hc_ghost_count(&h), hc_ghost_count(&g));
    /* malformed: truncated, wrong unit for the life, sweep beyond the table */
    CHECK(hc_ghost_state_load(&h, buf, n - 1) == -1);
    buf[8 * 5] ^= 0x7F; /* unit */
    CHECK(hc_ghost_state_load(&h, buf, n) == -1);
    buf[8 * 5] ^= 0x7F;
    buf[8 * 1 + 3] = 0x40; /* sweep */
    CHECK(hc_ghost_state_load(&h, buf, n) == -1);
    CHECK_EQ(hc_ghost_count(&h), hc_ghost_count(&g)); /* unchanged by the refusals */
    CHECK(ghost_ok(&h));
    free(buf);
    hc_ghost_free(&g);
    hc_ghost_free(&h);
}

static int sketch_ok(const hc_sketch *s)
{
    char msg[256];
    if (hc_sketch_check(s, msg, sizeof msg) == 0)
        return 1;
    fprintf(stderr, "hc_sketch_check: %s\n", msg);
    return 0;
}

/* Before any halving a count-min sketch never underestimates; counts stop at 15; every
 * `sample` additions all counters halve. */
static void test_sketch_counts(void)
{
    enum { KEYS = 200 };
    hc_sketch s;
    int k, i, under = 0, over = 0;
    hc_sketch_init(&s);
    hc_sketch_add(&s, 5); /* no table: nothing */
    CHECK_EQ(hc_sketch_estimate(&s, 5), 0);
    CHECK(hc_sketch_size(&s, 1000) == 0);
    CHECK_EQ(s.sample, 16000);
    CHECK_EQ(s.nblocks, 118); /* 938 words (15 per 16 entries), in 8-word blocks */
    for (k = 0; k < KEYS; k++)
        for (i = 0; i < k % 13; i++)
            hc_sketch_add(&s, (uint64_t)k * 0x9E3779B97F4A7C15ull);
    for (k = 0; k < KEYS; k++) {
        uint32_t est = hc_sketch_estimate(&s, (uint64_t)k * 0x9E3779B97F4A7C15ull);
        under += est < (uint32_t)(k % 13);
        over += est > (uint32_t)(k % 13);
    }
    CHECK_EQ(under, 0);
    CHECK(over <= KEYS / 20);
    for (i = 0; i < 40; i++)
        hc_sketch_add(&s, 77);
    CHECK_EQ(hc_sketch_estimate(&s, 77), 15);
    CHECK(sketch_ok(&s));
    /* halving: drive the additions to the sample with other keys; 77's 15 becomes 7 */
    while (s.additions != 0 && s.additions < s.sample - 1)
        hc_sketch_add(&s, next_rand());
    hc_sketch_add(&s, next_rand());
    CHECK_EQ(hc_sketch_estimate(&s, 77), 7);
    CHECK(s.additions < s.sample / 2 + 1);
    CHECK(sketch_ok(&s));
    hc_sketch_free(&s);
}

static void test_sketch_state(void)
{
    hc_sketch s, t;
    unsigned char *buf;
    size_t n;
    int i;
    hc_sketch_init(&s);
    hc_sketch_init(&t);
    n = hc_sketch_state_size(&s); /* no table: a header only */
    buf = (unsigned char *)malloc(n);
    hc_sketch_state_save(&s, buf);
    CHECK(hc_sketch_state_load(&t, buf, n) == 0);
    CHECK(t.table == NULL);
    free(buf);
    CHECK(hc_sketch_size(&s, 300) == 0);
    for (i = 0; i < 5000; i++)
        hc_sketch_add(&s, next_rand() % 400);
    n = hc_sketch_state_size(&s);
    buf = (unsigned char *)malloc(n);
    hc_sketch_state_save(&s, buf);
    CHECK(hc_sketch_state_load(&t, buf, n) == 0);
    CHECK(sketch_ok(&t));
    for (i = 0; i < 400; i++)
        CHECK_EQ(hc_sketch_estimate(&t, (uint64_t)i), hc_sketch_estimate(&s, (uint64_t)i));
    CHECK(hc_sketch_state_load(&t, buf, n - 8) == -1);
    buf[0] ^= 1; /* capacity: the shape no longer matches */
    CHECK(hc_sketch_state_load(&t, buf, n) == -1);
    buf[0] ^= 1;
    buf[8 * 4] = 0xFF; /* additions beyond the sample */
    buf[8 * 4 + 1] = 0xFF;
    buf[8 * 4 + 2] = 0xFF;
    CHECK(hc_sketch_state_load(&t, buf, n) == -1);
    CHECK(sketch_ok(&t));
    CHECK_EQ(hc_sketch_estimate(&t, 3), hc_sketch_estimate(&s, 3));
    free(buf);
    hc_sketch_free(&s);
    hc_sketch_free(&t);
}

int main(void)
{
    test_ghost_fifo();
    test_ghost_weights_tags();
    test_ghost_sweeper();
    test_ghost_state();
    test_sketch_counts();
    test_sketch_state();
    return ht_done();
}
