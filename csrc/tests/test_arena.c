/* test_arena.c -- arena growth: no preallocation for a large bound, geometric chunks, the size
 * bound as a first stop, lazy side arrays, free-list reuse, and shrinking on clear. */
#include "../hc_arena.h"
#include "ht.h"

static void test_arena_direct(void)
{
    hc_arena a;
    uint32_t s0, s1, s2;
    CHECK(hc_arena_init(&a, 10000000u) == 0);
    CHECK_EQ(a.cap, HC_ARENA_CHUNK);
    CHECK(a.size == NULL && a.bytes == NULL);
    s0 = hc_arena_alloc(&a);
    s1 = hc_arena_alloc(&a);
    CHECK_EQ(s0, 0);
    CHECK_EQ(s1, 1);
    hc_arena_release(&a, s0);
    s2 = hc_arena_alloc(&a);
    CHECK_EQ(s2, 0); /* freed slot reused first */
    CHECK_EQ(a.live, 2);
    CHECK(hc_arena_need_sides(&a, 1, 0) == 0);
    CHECK(a.size == NULL && a.bytes == NULL);
    CHECK(hc_arena_need_sides(&a, 5, 0) == 0);
    CHECK(a.size != NULL && a.bytes == NULL);
    CHECK_EQ(hc_arena_size(&a, s1), 1);
    CHECK(hc_arena_need_sides(&a, 1, 7) == 0);
    CHECK(a.bytes != NULL);
    CHECK_EQ(hc_arena_bytes_of(&a, s1), 0);
    hc_arena_reset(&a);
    CHECK(a.size == NULL && a.bytes == NULL && a.live == 0 && a.top == 0);
    hc_arena_free(&a);
}

static void test_small_bound(void)
{
    hc_arena a;
    CHECK(hc_arena_init(&a, 10) == 0);
    CHECK_EQ(a.cap, 10);
    hc_arena_free(&a);
    CHECK(hc_arena_init(&a, 0) == 0);
    CHECK_EQ(a.cap, 4);
    hc_arena_free(&a);
}

static void test_growth_via_core(void)
{
    hc_config cfg = ht_config(HC_POLICY_LRU, 10000000u);
    hc_cache *c = hc_new(&cfg);
    uint32_t i;
    size_t small;
    CHECK(c != NULL);
    for (i = 0; i < 10; i++)
        CHECK(hc_insert(c, i * 7919u, 1, 0, INFINITY) != HC_NIL);
    CHECK_EQ(hc_capacity(c), 64);
    small = hc_overhead_bytes(c);
    CHECK(small < 4096); /* not ten million of anything */
    for (i = 10; i < 65; i++)
        hc_insert(c, i * 7919u, 1, 0, INFINITY);
    CHECK_EQ(hc_capacity(c), 128);
    for (i = 65; i < 1000; i++)
        hc_insert(c, i * 7919u, 1, 0, INFINITY);
    CHECK_EQ(hc_capacity(c), 1024);
    CHECK_OK(c);
    hc_clear(c);
    CHECK_EQ(hc_capacity(c), 64);
    CHECK_EQ(hc_len(c), 0);
    CHECK(hc_overhead_bytes(c) <= small);
    CHECK_OK(c);
    hc_free(c);
}

static void test_bound_is_first_stop(void)
{
    hc_config cfg = ht_config(HC_POLICY_FIFO, 100);
    hc_cache *c = hc_new(&cfg);
    uint32_t i;
    for (i = 0; i < 100; i++)
        hc_insert(c, i, 1, 0, INFINITY);
    CHECK_EQ(hc_capacity(c), 100); /* 64 -> 100, not 128 */
    for (i = 100; i < 101; i++)
        hc_insert(c, i, 0, 0, INFINITY); /* size-0 entries may exceed it: then doubling */
    CHECK_EQ(hc_capacity(c), 200);
    CHECK_OK(c);
    hc_free(c);
}

static void test_side_arrays_lazy(void)
{
    hc_config cfg = ht_config(HC_POLICY_LRU, HC_UNBOUNDED);
    hc_cache *c = hc_new(&cfg);
    size_t base;
    uint32_t s;
    hc_insert(c, 1, 1, 0, INFINITY);
    base = hc_overhead_bytes(c);
    s = hc_insert(c, 2, 1, 0, INFINITY);
    CHECK_EQ(hc_overhead_bytes(c), base);
    hc_update(c, s, 3, 0, INFINITY);
    CHECK_EQ(hc_overhead_bytes(c), base + 64 * sizeof(uint64_t));
    CHECK_EQ(hc_entry_size(c, s), 3);
    CHECK_EQ(hc_size_used(c), 4);
    hc_update(c, s, 3, 100, INFINITY);
    CHECK_EQ(hc_overhead_bytes(c), base + 2 * 64 * sizeof(uint64_t));
    CHECK_EQ(hc_bytes_used(c), 100);
    CHECK_OK(c);
    hc_free(c);
}

int main(void)
{
    test_arena_direct();
    test_small_bound();
    test_growth_via_core();
    test_bound_is_first_stop();
    test_side_arrays_lazy();
    printf("sizeof(hc_entry) = %lu\n", (unsigned long)sizeof(hc_entry));
    CHECK_EQ(sizeof(hc_entry), 48);
    return ht_done();
}
