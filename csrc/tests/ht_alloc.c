/* ht_alloc.c -- failpoint allocator for test builds (compiled with -DHC_FAILPOINTS).
 * ht_fail_after(n) lets n allocations succeed and fails every later one until reset with -1. */
#include <stdlib.h>

void *hc_test_malloc(size_t n);
void *hc_test_realloc(void *p, size_t n);
void ht_fail_after(long n);
long ht_allocs(void);

static long budget = -1;
static long count;

void ht_fail_after(long n) { budget = n; }
long ht_allocs(void) { return count; }

static int should_fail(void)
{
    count++;
    if (budget < 0)
        return 0;
    if (budget == 0)
        return 1;
    budget--;
    return 0;
}

void *hc_test_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
void *hc_test_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }
