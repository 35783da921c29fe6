/* hc_clock.h -- the monotonic clock read without Python, for the default TTL timer.
 * Only where it is the very clock time.monotonic() reads (Linux: CLOCK_MONOTONIC); else NAN. */
#ifndef HC_CLOCK_H
#define HC_CLOCK_H

#include <math.h>
#if defined(__linux__)
#include <time.h>
#endif

/* Seconds on CPython's time.monotonic() clock, or NAN where the caller must ask Python.
 * Measured: one vDSO call (~20 ns) instead of a Python call plus a float object. */
static inline double hc_clock_monotonic(void)
{
#if defined(__linux__) && defined(CLOCK_MONOTONIC)
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    return (double)NAN;
#else
    return (double)NAN;
#endif
}

#endif /* HC_CLOCK_H */
