/* ht.h -- a tiny test harness: CHECK macros, counters, a summary line and an exit status.
 * Each test binary includes it once and ends main() with `return ht_done();`. */
#ifndef HT_H
#define HT_H

#include <stdio.h>
#include <stdlib.h>

#include "../hc.h"

static int ht_passed, ht_failed;

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (cond) {                                                                           \
            ht_passed++;                                                                      \
        } else {                                                                              \
            ht_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                                        \
    do {                                                                                      \
        unsigned long long ht_a_ = (unsigned long long)(a), ht_b_ = (unsigned long long)(b);  \
        if (ht_a_ == ht_b_) {                                                                 \
            ht_passed++;                                                                      \
        } else {                                                                              \
            ht_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %llu, %s == %llu\n", __FILE__,     \
                    __LINE__, #a, ht_a_, #b, ht_b_);                                          \
        }                                                                                     \
    } while (0)

/* hc_check() must pass; prints its message otherwise. */
#define CHECK_OK(c)                                                                           \
    do {                                                                                      \
        char ht_msg_[256];                                                                    \
        if (hc_check((c), ht_msg_, sizeof ht_msg_) == 0) {                                    \
            ht_passed++;                                                                      \
        } else {                                                                              \
            ht_failed++;                                                                      \
            fprintf(stderr, "%s:%d: hc_check: %s\n", __FILE__, __LINE__, ht_msg_);            \
        }                                                                                     \
    } while (0)

static int ht_done(void)
{
    printf("%d passed, %d failed\n", ht_passed, ht_failed);
    return ht_failed ? 1 : 0;
}

/* Failpoints (ht_alloc.c): the allocation after `n` more succeed fails; -1 = never. */
void ht_fail_after(long n);
long ht_allocs(void);

static inline hc_config ht_config(int policy, uint64_t max_size)
{
    hc_config cfg;
    cfg.policy = policy;
    cfg.max_size = max_size;
    cfg.max_bytes = HC_UNBOUNDED;
    cfg.seed = 12345;
    cfg.tick = 0;
    return cfg;
}

#endif /* HT_H */
