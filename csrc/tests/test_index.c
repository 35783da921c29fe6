/* test_index.c -- the open-addressing index alone: colliding homes, wrap-around, backward-shift
 * deletion layouts worked by hand (hashes found by searching hc_home()), growth, and a randomised
 * run against a set model. */
#include <string.h>

#include "../hc_index.h"
#include "ht.h"

#define N 4096
static hc_entry ents[N];

static int index_ok(const hc_index *ix, const unsigned char *present)
{
    size_t pos, used = 0;
    uint32_t s;
    for (pos = 0; ix->buckets && pos <= ix->mask; pos++) {
        uint32_t b = (uint32_t)ix->buckets[pos];
        size_t q;
        if (!b)
            continue;
        used++;
        if (!present[b - 1])
            return 0;
        for (q = hc_home(ents[b - 1].hash, ix->mask); q != pos; q = (q + 1) & ix->mask)
            if (!ix->buckets[q])
                return 0;
    }
    if (used != ix->used)
        return 0;
    for (s = 0; s < N; s++)
        if (present[s] && hc_index_find(ix, ents, s) == (size_t)-1)
            return 0;
    return 1;
}

/* Hashes are picked, not hand-computed: home_hash() searches for the next unused hash whose
 * hc_home() under the index's current mask is the bucket the case needs (different full hashes
 * for every entry, so nothing is a duplicate). */
static uint64_t next_hash = 1;

static uint64_t home_hash(size_t home, size_t mask)
{
    for (;;) {
        uint64_t h = next_hash++;
        if (hc_home(h, mask) == home)
            return h;
    }
}

/* Give slot s a hash with home `home` under the index's mask and add it. */
static void add_at_home(hc_index *ix, uint32_t s, size_t home)
{
    ents[s].hash = home_hash(home, ix->mask);
    CHECK_EQ(hc_home(ents[s].hash, ix->mask), home);
    hc_index_add(ix, ents[s].hash, s);
}

/* The buckets hold exactly want[0..mask] (slot + 1, 0 = empty). */
static void expect_layout(const hc_index *ix, const uint32_t *want)
{
    size_t pos;
    for (pos = 0; pos <= ix->mask; pos++)
        CHECK_EQ((uint32_t)ix->buckets[pos], want[pos]);
}

static void test_hand_layouts(void)
{
    static unsigned char present[N];
    hc_index ix;
    uint32_t s;
    memset(&ix, 0, sizeof ix);
    memset(present, 0, sizeof present);
    CHECK(hc_index_reserve(&ix, ents, 6) == 0);
    CHECK_EQ(ix.mask, 7);

    /* six slots, all home 6 (different full hashes): the run wraps to positions 6,7,0,1,2,3 */
    for (s = 0; s < 6; s++) {
        add_at_home(&ix, s, 6);
        present[s] = 1;
    }
    {
        static const uint32_t want[8] = {3, 4, 5, 6, 0, 0, 1, 2};
        expect_layout(&ix, want);
    }
    CHECK(index_ok(&ix, present));
    hc_index_del(&ix, ents, 1); /* pos 7: everything after it shifts back one, across the wrap */
    present[1] = 0;
    {
        static const uint32_t want[8] = {4, 5, 6, 0, 0, 0, 1, 3};
        expect_layout(&ix, want);
    }
    CHECK_EQ(ix.used, 5);
    CHECK(index_ok(&ix, present));
    hc_index_del(&ix, ents, 0); /* the run's home bucket itself */
    present[0] = 0;
    {
        static const uint32_t want[8] = {5, 6, 0, 0, 0, 0, 3, 4};
        expect_layout(&ix, want);
    }
    CHECK(index_ok(&ix, present));
    hc_index_del(&ix, ents, 5); /* the last of the run: nothing moves */
    present[5] = 0;
    {
        static const uint32_t want[8] = {5, 0, 0, 0, 0, 0, 3, 4};
        expect_layout(&ix, want);
    }
    CHECK(index_ok(&ix, present));
    hc_index_clear(&ix);
    CHECK(ix.buckets == NULL && ix.used == 0);
    memset(present, 0, sizeof present);

    /* A(home 0)@0, B(home 0)@1, C(home 2)@2, D(home 1)@3; delete A -> [B, D, C, -]:
     * B fills the hole, C stays (its home 2 is inside the gap), D jumps over C into the hole. */
    CHECK(hc_index_reserve(&ix, ents, 4) == 0);
    CHECK_EQ(ix.mask, 7);
    add_at_home(&ix, 10, 0);
    add_at_home(&ix, 11, 0);
    add_at_home(&ix, 12, 2);
    add_at_home(&ix, 13, 1);
    for (s = 10; s < 14; s++)
        present[s] = 1;
    {
        static const uint32_t want[8] = {11, 12, 13, 14, 0, 0, 0, 0};
        expect_layout(&ix, want);
    }
    hc_index_del(&ix, ents, 10);
    present[10] = 0;
    {
        static const uint32_t want[8] = {12, 14, 13, 0, 0, 0, 0, 0};
        expect_layout(&ix, want);
    }
    CHECK_EQ(ix.used, 3);
    CHECK(index_ok(&ix, present));
    hc_index_clear(&ix);
    memset(present, 0, sizeof present);

    /* The same shape across the end of the table: A(home 6)@6, B(home 6)@7, C(home 0)@0,
     * D(home 7)@1; delete A -> B@6, D@7, C stays @0 (home 0 is inside the gap 7..0), 1 empty. */
    CHECK(hc_index_reserve(&ix, ents, 4) == 0);
    CHECK_EQ(ix.mask, 7);
    add_at_home(&ix, 20, 6);
    add_at_home(&ix, 21, 6);
    add_at_home(&ix, 22, 0);
    add_at_home(&ix, 23, 7);
    for (s = 20; s < 24; s++)
        present[s] = 1;
    {
        static const uint32_t want[8] = {23, 24, 0, 0, 0, 0, 21, 22};
        expect_layout(&ix, want);
    }
    hc_index_del(&ix, ents, 20);
    present[20] = 0;
    {
        static const uint32_t want[8] = {23, 0, 0, 0, 0, 0, 22, 24};
        expect_layout(&ix, want);
    }
    CHECK(index_ok(&ix, present));
    hc_index_clear(&ix);
    memset(present, 0, sizeof present);

    /* Nothing may move when every later entry's home is inside the gap: A(home 3)@3,
     * B(home 4)@4, C(home 4)@5, D(home 5)@6; delete A -> [-, B, C, D] unchanged. */
    CHECK(hc_index_reserve(&ix, ents, 4) == 0);
    CHECK_EQ(ix.mask, 7);
    add_at_home(&ix, 30, 3);
    add_at_home(&ix, 31, 4);
    add_at_home(&ix, 32, 4);
    add_at_home(&ix, 33, 5);
    for (s = 30; s < 34; s++)
        present[s] = 1;
    {
        static const uint32_t want[8] = {0, 0, 0, 31, 32, 33, 34, 0};
        expect_layout(&ix, want);
    }
    hc_index_del(&ix, ents, 30);
    present[30] = 0;
    {
        static const uint32_t want[8] = {0, 0, 0, 0, 32, 33, 34, 0};
        expect_layout(&ix, want);
    }
    CHECK(index_ok(&ix, present));
    /* deleting B then moves both: C (home 4) into the hole at 4, then D (home 5) into 5 */
    hc_index_del(&ix, ents, 31);
    present[31] = 0;
    {
        static const uint32_t want[8] = {0, 0, 0, 0, 33, 34, 0, 0};
        expect_layout(&ix, want);
    }
    CHECK(index_ok(&ix, present));
    hc_index_clear(&ix);
}

static void test_growth_keeps_entries(void)
{
    hc_index ix;
    static unsigned char present[N];
    uint32_t s;
    memset(&ix, 0, sizeof ix);
    memset(present, 0, sizeof present);
    for (s = 0; s < 1000; s++) {
        ents[s].hash = (uint64_t)s * 0x9E3779B97F4A7C15ull;
        CHECK(hc_index_reserve(&ix, ents, ix.used + 1) == 0);
        hc_index_add(&ix, ents[s].hash, s);
        present[s] = 1;
        CHECK(ix.used * 4 <= (ix.mask + 1) * 3);
    }
    CHECK_EQ(ix.mask + 1, 2048);
    CHECK(index_ok(&ix, present));
    hc_index_clear(&ix);
}

static void test_random_against_model(void)
{
    hc_index ix;
    static unsigned char present[N];
    uint64_t x = 42;
    int step, ok = 1;
    uint32_t s;
    memset(&ix, 0, sizeof ix);
    memset(present, 0, sizeof present);
    /* low-entropy homes: only 32 distinct home buckets (the same ones for every mask from 31 to
     * 1023, which covers this run), so long collision runs; found by search through hc_home() */
    for (s = 0; s < N; s++)
        ents[s].hash = home_hash((s * 2654435761u) % 32u, 1023);
    for (step = 0; step < 20000 && ok; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s = (uint32_t)(x % 600);
        if (present[s]) {
            hc_index_del(&ix, ents, s);
            present[s] = 0;
        } else {
            if (hc_index_reserve(&ix, ents, ix.used + 1) < 0)
                break;
            hc_index_add(&ix, ents[s].hash, s);
            present[s] = 1;
        }
        if (step % 97 == 0 || step > 19900)
            ok = index_ok(&ix, present);
    }
    CHECK(ok);
    CHECK(index_ok(&ix, present));
    hc_index_clear(&ix);
}

int main(void)
{
    test_hand_layouts();
    test_growth_keeps_entries();
    test_random_against_model();
    return ht_done();
}
