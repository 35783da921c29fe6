/* test_oom.c -- out-of-memory safety: every allocation point made to fail in turn; a failing
 * call must return its error and leave a cache that passes hc_check() unchanged (ASan: no leaks).
 * Bounded S3FIFO/TINYLFU caches also allocate their ghost and sketch when half full: if that
 * fails the insert still succeeds and the policy runs without them until an allocation works. */
#include <string.h>

#include "ht.h"

static void sweep(int policy, long k)
{
    hc_config cfg = ht_config(policy, HC_UNBOUNDED);
    hc_cache *c, *d;
    uint32_t slots[400], order[400], order2[400];
    uint64_t aux[400];
    int n = 0, i;
    ht_fail_after(-1);
    c = hc_new(&cfg);
    for (i = 0; i < 3; i++)
        slots[n++] = hc_insert(c, (uint64_t)i, 1, 0, INFINITY);
    ht_fail_after(k);
    for (i = 0; i < 300; i++) {
        size_t len = hc_len(c);
        uint64_t used = hc_size_used(c), bytes = hc_bytes_used(c), v;
        int timed = hc_timed(c);
        uint32_t s = hc_insert(c, (uint64_t)i * 31u, 1 + (uint64_t)(i % 3 == 0), (uint64_t)(i % 5),
                               i % 4 == 0 ? 100.0 + i : INFINITY);
        if (s == HC_NIL) {
            CHECK_EQ(hc_len(c), len);
            CHECK_EQ(hc_size_used(c), used);
            CHECK_EQ(hc_bytes_used(c), bytes);
            CHECK_EQ(hc_timed(c), timed);
        } else {
            slots[n++] = s;
        }
        hc_touch(c, slots[(size_t)i % (size_t)n]);
        if (i % 7 == 0) { /* an update that may need the side arrays or the wheel */
            uint32_t t = slots[(size_t)i % (size_t)n];
            uint64_t old = hc_entry_size(c, t);
            used = hc_size_used(c);
            if (hc_prepare_update(c, 9, 3, 500.0) == 0) {
                hc_update(c, t, 9, 3, 500.0);
                CHECK_EQ(hc_entry_size(c, t), 9);
            } else {
                hc_update(c, t, 9, 3, 500.0); /* may still fail: then nothing changes */
                if (hc_entry_size(c, t) != 9)
                    CHECK_EQ(hc_size_used(c), used);
                else
                    CHECK_EQ(hc_size_used(c), used - old + 9);
            }
        }
        if (i % 50 == 0) {
            CHECK_OK(c);
            d = hc_clone(c);
            if (d) {
                CHECK_OK(d);
                hc_free(d);
            }
            CHECK_EQ(hc_policy_order(c, order, aux), hc_len(c));
            v = hc_len(c);
            if (hc_policy_restore(c, order, aux, (size_t)v) < 0) {
                CHECK_EQ(hc_policy_order(c, order2, NULL), v);
                CHECK(memcmp(order, order2, sizeof(uint32_t) * (size_t)v) == 0);
            }
        }
    }
    CHECK_OK(c);
    hc_clear(c);
    CHECK_OK(c);
    ht_fail_after(-1);
    hc_free(c);
}

/* A bounded cache under steady eviction with sizes and byte charges; allocations fail from
 * the k-th on. Inserts may fail (nothing changed), everything else keeps hc_check() passing. */
static void sweep_bounded(int policy, long k)
{
    hc_config cfg = ht_config(policy, 40);
    hc_cache *c, *d;
    static uint32_t slot_of[300];
    static int live[300];
    unsigned char buf[4096];
    int i, cause;
    cfg.max_bytes = 2000;
    ht_fail_after(-1);
    c = hc_new(&cfg);
    memset(live, 0, sizeof live);
    ht_fail_after(k);
    for (i = 0; i < 600; i++) {
        int key = (i * 7919) % 300;
        uint64_t size = 1 + (uint64_t)(i % 5 == 0), bytes = (uint64_t)(i % 61);
        if (live[key]) {
            if (i % 3)
                hc_touch(c, slot_of[key]);
            else if (hc_prepare_update(c, size, bytes, INFINITY) == 0)
                hc_update(c, slot_of[key], size, bytes, INFINITY);
        } else {
            size_t len;
            uint32_t s;
            hc_miss(c, (uint64_t)key * 2654435761u);
            while (hc_over(c, size, bytes) != HC_CAUSE_NONE &&
                   (s = hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause)) != HC_NIL) {
                int j;
                for (j = 0; j < 300; j++)
                    if (live[j] && slot_of[j] == s)
                        live[j] = 0;
            }
            len = hc_len(c);
            s = hc_insert(c, (uint64_t)key * 2654435761u, size, bytes, INFINITY);
            if (s == HC_NIL) {
                CHECK_EQ(hc_len(c), len);
            } else {
                slot_of[key] = s;
                live[key] = 1;
            }
        }
        if (i % 97 == 0) {
            CHECK_OK(c);
            d = hc_clone(c);
            if (d) {
                CHECK_OK(d);
                hc_free(d);
            }
            if (hc_policy_state_size(c) <= sizeof buf) { /* a load that cannot allocate fails */
                size_t n = hc_policy_state_size(c);
                hc_policy_state_save(c, buf);
                if (hc_policy_state_load(c, buf, n) < 0)
                    CHECK_OK(c);
            }
        }
    }
    CHECK_OK(c);
    ht_fail_after(-1);
    hc_free(c);
}

int main(void)
{
    int p;
    long k;
    hc_config cfg = ht_config(HC_POLICY_LRU, 100);
    ht_fail_after(0);
    CHECK(hc_new(&cfg) == NULL);
    ht_fail_after(1);
    CHECK(hc_new(&cfg) == NULL);
    ht_fail_after(-1);
    for (p = 0; p < HC_POLICY_COUNT_; p++)
        for (k = 0; k < 60; k++)
            sweep(p, k);
    for (k = 0; k < 40; k++) {
        sweep_bounded(HC_POLICY_S3FIFO, k);
        sweep_bounded(HC_POLICY_TINYLFU, k);
    }
    return ht_done();
}
