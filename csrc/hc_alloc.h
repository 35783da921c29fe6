/* hc_alloc.h -- the allocator the core uses (malloc/realloc/free), behind one switch.
 * Test builds define HC_FAILPOINTS and supply hc_test_* so tests can make the N-th allocation fail. */
#ifndef HC_ALLOC_H
#define HC_ALLOC_H

#include <stdlib.h>

#ifdef HC_FAILPOINTS
void *hc_test_malloc(size_t n);
void *hc_test_realloc(void *p, size_t n);
#define hc_malloc(n) hc_test_malloc(n)
#define hc_realloc(p, n) hc_test_realloc((p), (n))
#else
#define hc_malloc(n) malloc(n)
#define hc_realloc(p, n) realloc((p), (n))
#endif
#define hc_mfree(p) free(p)

/* n * size, or 0 when it would overflow size_t (callers treat 0 as "cannot allocate"). */
static inline size_t hc_mul_size(size_t n, size_t size)
{
    return (size != 0 && n > ((size_t)-1) / size) ? 0 : n * size;
}

#endif /* HC_ALLOC_H */
