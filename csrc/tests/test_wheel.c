/* test_wheel.c -- unit tests of the timing wheel (hc_wheel.c) against a naive reference model.
 * Standalone: gcc -std=c99 -fsanitize=address,undefined -g -O1 hc_wheel.c tests/test_wheel.c -lm
 *
 * The model is an array of (expire_at, schedule sequence); popping scans it for the smallest
 * due pair. Random runs drive wheel, model and a clone of the wheel in lockstep with a fake
 * clock (fractional ticks, equal times, times before the origin, huge times, +-INFINITY, NaN,
 * jumps of up to 2^60 ticks, time going backwards) and call hc_wheel_check() after every step.
 * Directed tests pin tie order, epoch precision, reserve/clear/clone, and that work is bounded
 * (hc_wheel_visited(): no scans of the scheduled entries). Built with -DHC_FAILPOINTS and
 * tests/ht_alloc.c (as the Makefile does) it also fails each allocation in turn.
 */
#include "../hc_wheel.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static int test_failed;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            test_failed = 1;                                              \
            return;                                                       \
        }                                                                 \
    } while (0)

#define WHEEL_OK(w)                                                       \
    do {                                                                  \
        char m_[256];                                                     \
        CHECK(hc_wheel_check((w), m_, sizeof m_) == 0, "%s", m_);          \
    } while (0)

static void run(const char *name, void (*fn)(void))
{
    test_failed = 0;
    fn();
    if (test_failed) {
        failed++;
        fprintf(stderr, "  in %s\n", name);
    } else {
        passed++;
    }
}

/* ---- deterministic PRNG (splitmix64) ---- */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}
static double unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static uint32_t below(uint32_t n) { return (uint32_t)(rnd() % n); }

/* ---- reference model ---- */
#define MAXN 512
typedef struct ref {
    double exp[MAXN];
    uint64_t seq[MAXN];
    uint64_t next;
    uint32_t n;
} ref;

static void ref_init(ref *r, uint32_t n)
{
    uint32_t i;
    r->n = n;
    r->next = 0;
    for (i = 0; i < n; i++) {
        r->exp[i] = (double)INFINITY;
        r->seq[i] = 0;
    }
}

static void ref_schedule(ref *r, uint32_t slot, double e)
{
    if (isnan(e) || e == (double)INFINITY) {
        r->exp[slot] = (double)INFINITY;
        return;
    }
    r->exp[slot] = e;
    r->seq[slot] = ++r->next;
}

static size_t ref_count(const ref *r)
{
    size_t c = 0;
    uint32_t i;
    for (i = 0; i < r->n; i++)
        c += r->exp[i] != (double)INFINITY;
    return c;
}

static int ref_has_due(const ref *r, double now)
{
    uint32_t i;
    for (i = 0; i < r->n; i++)
        if (r->exp[i] != (double)INFINITY && r->exp[i] <= now)
            return 1;
    return 0;
}

static size_t ref_pop(ref *r, double now, uint32_t *out, size_t max)
{
    size_t k = 0;
    while (k < max) {
        uint32_t i, best = HC_NIL;
        for (i = 0; i < r->n; i++) {
            if (r->exp[i] == (double)INFINITY || !(r->exp[i] <= now))
                continue;
            if (best == HC_NIL || r->exp[i] < r->exp[best] ||
                (r->exp[i] == r->exp[best] && r->seq[i] < r->seq[best]))
                best = i;
        }
        if (best == HC_NIL)
            break;
        r->exp[best] = (double)INFINITY;
        out[k++] = best;
    }
    return k;
}

/* wheel state == model state */
#define SAME_AS_REF(w, r)                                                          \
    do {                                                                           \
        uint32_t i_;                                                               \
        const double *x_ = hc_wheel_expire_array(w);                               \
        WHEEL_OK(w);                                                               \
        CHECK(hc_wheel_count(w) == ref_count(r), "count %zu vs %zu",               \
              hc_wheel_count(w), ref_count(r));                                    \
        for (i_ = 0; i_ < (r)->n; i_++)                                            \
            CHECK(x_[i_] == (r)->exp[i_], "slot %u: %.17g vs %.17g", (unsigned)i_, \
                  x_[i_], (r)->exp[i_]);                                           \
    } while (0)

/* ---- random lockstep runs ---- */

/* A time for schedule, around now, in many shapes. */
static double gen_time(double now, double tick, const double *pool)
{
    switch (below(12)) {
    case 0: return now + unit() * 10 * tick;                    /* fractional, near */
    case 1: return now + unit() * 5000 * tick;                  /* a few levels up */
    case 2: case 3: return pool[below(4)];                       /* equal times: ties */
    case 4: return now - unit() * 300 * tick;                   /* past, before origin */
    case 5: return now + ldexp(tick, (int)below(61)) * (1 + unit()); /* any level, overflow */
    case 6: return now + floor(unit() * 200) * tick;            /* tick multiples */
    case 7: {
        static const double odd[] = {1e300, -1e300, DBL_MAX, -DBL_MAX, 1e18, -1e18};
        return odd[below(6)];
    }
    case 8: {
        switch (below(3)) {
        case 0: return (double)INFINITY;
        case 1: return (double)-INFINITY;
        default: return (double)NAN;
        }
    }
    case 9: return now + unit() * 1e7 * tick;
    default: return now + unit() * 64 * tick;
    }
}

static double advance_now(double now, double tick)
{
    switch (below(10)) {
    case 0: return now + ldexp(tick, (int)below(62)) * unit(); /* big jump */
    case 1: return now - unit() * 50 * tick;                   /* backwards */
    case 2: return now;                                        /* same now */
    case 3: return now + floor(unit() * 100) * tick;
    default: return now + unit() * 20 * tick;                  /* fractional steps */
    }
}

static uint32_t outw[MAXN], outr[MAXN], outc[MAXN];

static void random_run(uint64_t seed, double tick, double base, uint32_t n, int steps)
{
    ref r;
    hc_wheel *w = hc_wheel_new(tick), *c = NULL;
    double now = base, pool[4];
    double t_eff = tick > 0 ? tick : 1.0 / 1024;
    int step;
    rng_state = seed;
    ref_init(&r, n);
    CHECK(w != NULL, "new");
    CHECK(hc_wheel_reserve(w, n / 2) == 0, "reserve");
    CHECK(hc_wheel_reserve(w, n) == 0, "reserve");
    for (step = 0; step < 4; step++)
        pool[step] = base + floor(unit() * 40) * t_eff + (below(2) ? 0.5 * t_eff : 0);
    for (step = 0; step < steps && !test_failed; step++) {
        unsigned op = below(16);
        if (step % 97 == 0) {
            hc_wheel_free(c);
            c = hc_wheel_clone(w);
            CHECK(c != NULL, "clone");
            if (below(2)) { /* continue on the clone, keep the original as the twin */
                hc_wheel *t = w;
                w = c;
                c = t;
            }
        }
        if (step % 211 == 0) {
            int k;
            for (k = 0; k < 4; k++) /* move the tie pool along with time */
                pool[k] = now + floor(unit() * 40) * t_eff + (below(2) ? 0.5 * t_eff : 0);
        }
        if (op < 8) {
            uint32_t slot = below(n);
            double e = gen_time(now, t_eff, pool);
            CHECK(hc_wheel_schedule(w, slot, e) == 0, "schedule");
            CHECK(hc_wheel_schedule(c, slot, e) == 0, "schedule clone");
            ref_schedule(&r, slot, e);
        } else if (op < 10) {
            uint32_t slot = below(n);
            hc_wheel_cancel(w, slot);
            hc_wheel_cancel(c, slot);
            ref_schedule(&r, slot, (double)INFINITY);
        } else if (op < 11) {
            double q = advance_now(now, t_eff);
            int hw = hc_wheel_has_due(w, q), hr = ref_has_due(&r, q);
            CHECK(hw == hr, "has_due(%.17g) wheel %d ref %d step %d", q, hw, hr, step);
            CHECK(hc_wheel_has_due(c, q) == hr, "has_due clone");
        } else {
            size_t max = below(4) == 0 ? MAXN : below(6), kw, kr, kc, i;
            int repeat = (int)below(3);
            now = advance_now(now, t_eff);
            do {
                kw = hc_wheel_pop_due(w, now, outw, max);
                kc = hc_wheel_pop_due(c, now, outc, max);
                kr = ref_pop(&r, now, outr, max);
                CHECK(kw == kr, "pop_due(%.17g, %zu): wheel %zu ref %zu step %d", now, max, kw,
                      kr, step);
                CHECK(kc == kr, "pop_due clone %zu ref %zu", kc, kr);
                for (i = 0; i < kr; i++) {
                    CHECK(outw[i] == outr[i], "pop %zu: wheel slot %u ref slot %u step %d", i,
                          (unsigned)outw[i], (unsigned)outr[i], step);
                    CHECK(outc[i] == outr[i], "clone pop %zu", i);
                }
                CHECK(hc_wheel_has_due(w, now) == ref_has_due(&r, now), "has_due after pop");
            } while (repeat-- > 0 && !test_failed);
            if (isnan(now) || fabs(now) > 1e200)
                now = base;
        }
        if (test_failed)
            break;
        SAME_AS_REF(w, &r);
        SAME_AS_REF(c, &r);
    }
    hc_wheel_free(w);
    hc_wheel_free(c);
}

static void test_random_small_tick(void)
{
    uint64_t s;
    for (s = 1; s <= 12 && !test_failed; s++)
        random_run(s, 1.0 / 1024, 1.7e9, 64 + (uint32_t)(s * 37 % 300), 2500);
}

static void test_random_unit_tick(void)
{
    uint64_t s;
    for (s = 100; s < 112 && !test_failed; s++)
        random_run(s, 1.0, 0.0, 48 + (uint32_t)(s * 13 % 200), 2500);
}

static void test_random_odd_tick(void)
{
    uint64_t s;
    for (s = 200; s < 210 && !test_failed; s++)
        random_run(s, 0.37, -12345.678, 100, 2500);
    for (s = 300; s < 306 && !test_failed; s++)
        random_run(s, 0.0 /* default */, 5.0, 20, 3000); /* few slots: heavy collisions */
}

/* ---- directed tests ---- */

static void test_ties_in_schedule_order(void)
{
    hc_wheel *w = hc_wheel_new(1.0);
    uint32_t order[300], out[300], i;
    size_t k, got = 0;
    rng_state = 7;
    CHECK(hc_wheel_reserve(w, 300) == 0, "reserve");
    for (i = 0; i < 300; i++)
        order[i] = i;
    for (i = 299; i > 0; i--) { /* shuffle */
        uint32_t j = below(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    hc_wheel_schedule(w, 999 % 300, 5000.0); /* origin 5000 (slot 99, rescheduled below) */
    for (i = 0; i < 300; i++)
        hc_wheel_schedule(w, order[i], 123.25); /* before origin, all equal */
    /* reschedule the first ten again: they go to the end of the tie order */
    for (i = 0; i < 10; i++)
        hc_wheel_schedule(w, order[i], 123.25);
    WHEEL_OK(w);
    while ((k = hc_wheel_pop_due(w, 123.25, out + got, 7)) > 0) {
        got += k;
        WHEEL_OK(w);
    }
    CHECK(got == 300, "got %zu", got);
    for (i = 0; i < 290; i++)
        CHECK(out[i] == order[i + 10], "tie order at %u", (unsigned)i);
    for (i = 0; i < 10; i++)
        CHECK(out[290 + i] == order[i], "rescheduled tie order at %u", (unsigned)i);
    CHECK(hc_wheel_count(w) == 0, "count");
    hc_wheel_free(w);
}

static void test_epoch_precision_and_partial_tick(void)
{
    const double t0 = 1.7e9, tick = 1.0 / 1024;
    hc_wheel *w = hc_wheel_new(tick);
    uint32_t out[4];
    CHECK(hc_wheel_reserve(w, 4) == 0, "reserve");
    hc_wheel_schedule(w, 0, t0 + 5 * tick + 1e-6);
    hc_wheel_schedule(w, 1, t0 + 5 * tick + 2e-6); /* same tick, later */
    hc_wheel_schedule(w, 2, t0 + 6 * tick);
    CHECK(hc_wheel_pop_due(w, t0, out, 4) == 0, "nothing due at t0");
    CHECK(!hc_wheel_has_due(w, t0 + 5 * tick), "not due at tick start");
    CHECK(hc_wheel_has_due(w, t0 + 5 * tick + 1.5e-6), "has_due mid tick");
    CHECK(hc_wheel_pop_due(w, t0 + 5 * tick + 1.5e-6, out, 4) == 1 && out[0] == 0, "one due");
    WHEEL_OK(w);
    CHECK(!hc_wheel_has_due(w, t0 + 5 * tick + 1.5e-6), "rest not due yet");
    CHECK(hc_wheel_count(w) == 2, "two left");
    CHECK(hc_wheel_pop_due(w, t0 + 6 * tick - 1e-6, out, 4) == 1 && out[0] == 1, "second");
    CHECK(hc_wheel_pop_due(w, t0 + 6 * tick, out, 4) == 1 && out[0] == 2, "third");
    WHEEL_OK(w);
    hc_wheel_free(w);
}

static void test_huge_and_infinite_times(void)
{
    hc_wheel *w = hc_wheel_new(1.0);
    uint32_t out[8];
    CHECK(hc_wheel_reserve(w, 8) == 0, "reserve");
    hc_wheel_schedule(w, 0, 10.0);
    hc_wheel_schedule(w, 1, 3e14);  /* beyond the 2^47-tick half span: overflow */
    hc_wheel_schedule(w, 2, 1e300); /* tick does not fit: clamped */
    hc_wheel_schedule(w, 3, (double)INFINITY);
    hc_wheel_schedule(w, 4, (double)-INFINITY);
    hc_wheel_schedule(w, 5, (double)NAN);
    WHEEL_OK(w);
    CHECK(hc_wheel_count(w) == 4, "inf/nan not scheduled: %zu", hc_wheel_count(w));
    CHECK(hc_wheel_expire_array(w)[3] == (double)INFINITY, "inf");
    CHECK(hc_wheel_expire_array(w)[5] == (double)INFINITY, "nan");
    CHECK(hc_wheel_pop_due(w, -1e308, out, 8) == 1 && out[0] == 4, "-inf due always");
    CHECK(hc_wheel_pop_due(w, 2.9e14, out, 8) == 1 && out[0] == 0, "10 due");
    WHEEL_OK(w);
    CHECK(!hc_wheel_has_due(w, 3e14 - 1), "3e14 not yet");
    CHECK(hc_wheel_has_due(w, 3e14), "3e14 due");
    CHECK(hc_wheel_pop_due(w, 3e14, out, 8) == 1 && out[0] == 1, "3e14 popped");
    CHECK(hc_wheel_pop_due(w, 1e299, out, 8) == 0, "1e300 not yet");
    WHEEL_OK(w);
    CHECK(hc_wheel_pop_due(w, (double)NAN, out, 8) == 0, "nan now");
    CHECK(!hc_wheel_has_due(w, (double)NAN), "nan has_due");
    CHECK(hc_wheel_pop_due(w, 1e300, out, 8) == 1 && out[0] == 2, "1e300 popped");
    CHECK(hc_wheel_pop_due(w, (double)INFINITY, out, 8) == 0, "empty");
    WHEEL_OK(w);
    hc_wheel_free(w);
}

/* Overflow entries come back exactly when their span starts (tick 1.0, origin 0: the first
 * span boundary is 2^47 ticks after the origin), and again after 2^48 more. */
static void test_overflow_span_boundaries(void)
{
    hc_wheel *w = hc_wheel_new(1.0);
    const double b = ldexp(1.0, 47);
    uint32_t out[8];
    CHECK(hc_wheel_reserve(w, 8) == 0, "reserve");
    hc_wheel_schedule(w, 0, 0.0);
    hc_wheel_schedule(w, 1, b);
    hc_wheel_schedule(w, 2, b - 1);
    hc_wheel_schedule(w, 3, b + ldexp(1.0, 48));
    hc_wheel_schedule(w, 4, b + ldexp(1.0, 48) - 0.5);
    CHECK(hc_wheel_pop_due(w, 0.0, out, 8) == 1 && out[0] == 0, "origin entry");
    CHECK(hc_wheel_pop_due(w, b - 1, out, 8) == 1 && out[0] == 2, "last tick of the span");
    CHECK(!hc_wheel_has_due(w, b - 0.5), "boundary not yet");
    CHECK(hc_wheel_has_due(w, b), "boundary due (read from the overflow list)");
    CHECK(hc_wheel_pop_due(w, b, out, 8) == 1 && out[0] == 1, "first tick of the next span");
    WHEEL_OK(w);
    CHECK(hc_wheel_pop_due(w, b + ldexp(1.0, 48) - 0.5, out, 8) == 1 && out[0] == 4, "next");
    CHECK(hc_wheel_pop_due(w, b + ldexp(1.0, 48), out, 8) == 1 && out[0] == 3, "next span");
    WHEEL_OK(w);
    hc_wheel_free(w);
}

/* 100k entries far in the future + 1 due: popping visits O(1) entries, not 100k. */
static void test_no_scan(void)
{
    const uint32_t n = 100001;
    const double t0 = 1.7e9;
    hc_wheel *w = hc_wheel_new(1.0 / 1024);
    uint32_t *out = (uint32_t *)malloc(n * sizeof *out), i;
    uint64_t v;
    size_t got;
    double now;
    CHECK(w && out, "alloc");
    CHECK(hc_wheel_reserve(w, n) == 0, "reserve");
    CHECK(hc_wheel_pop_due(w, t0, out, n) == 0, "a running wheel: time is t0");
    rng_state = 42;
    for (i = 1; i < n; i++)
        hc_wheel_schedule(w, i, t0 + 3600 + unit() * 1000);
    hc_wheel_schedule(w, 0, t0 + 0.5);
    v = hc_wheel_visited(w);
    CHECK(hc_wheel_pop_due(w, t0 + 1, out, n) == 1 && out[0] == 0, "the due one");
    CHECK(hc_wheel_visited(w) - v <= 4, "visited %llu for one due entry",
          (unsigned long long)(hc_wheel_visited(w) - v));
    /* time passing in small steps with nothing due costs nothing per entry */
    v = hc_wheel_visited(w);
    for (now = t0 + 1; now < t0 + 60; now += 0.01) {
        CHECK(!hc_wheel_has_due(w, now), "nothing due");
        CHECK(hc_wheel_pop_due(w, now, out, n) == 0, "nothing popped");
    }
    CHECK(hc_wheel_visited(w) - v == 0, "visited %llu while idle",
          (unsigned long long)(hc_wheel_visited(w) - v));
    WHEEL_OK(w);
    /* everything due: each entry cascades at most once per level, then is popped */
    v = hc_wheel_visited(w);
    got = hc_wheel_pop_due(w, t0 + 5000, out, n);
    CHECK(got == n - 1, "all popped: %zu", got);
    CHECK(hc_wheel_visited(w) - v <= (uint64_t)(n - 1) * 9, "visited %llu",
          (unsigned long long)(hc_wheel_visited(w) - v));
    for (i = 1; i < got; i++)
        CHECK(hc_wheel_expire_array(w)[out[i]] == (double)INFINITY, "unscheduled");
    WHEEL_OK(w);
    free(out);
    hc_wheel_free(w);
}

/* Cold start: 100k entries are scheduled before the wheel has seen any `now` (the origin is
 * the first expire_at). The first pop cascades them toward the present once, at most once per
 * level each; after that, pops visit O(1) entries. */
static void test_cold_start_bounded(void)
{
    const uint32_t n = 100001;
    const double t0 = 1.7e9;
    hc_wheel *w = hc_wheel_new(1.0 / 1024);
    uint32_t *out = (uint32_t *)malloc(n * sizeof *out), i;
    uint64_t v;
    CHECK(w && out, "alloc");
    CHECK(hc_wheel_reserve(w, n) == 0, "reserve");
    rng_state = 43;
    for (i = 1; i < n; i++)
        hc_wheel_schedule(w, i, t0 + 3600 + unit() * 1000);
    hc_wheel_schedule(w, 0, t0 + 0.5);
    CHECK(hc_wheel_pop_due(w, t0 + 1, out, n) == 1 && out[0] == 0, "the due one");
    CHECK(hc_wheel_visited(w) <= (uint64_t)n * 8, "first pop visited %llu",
          (unsigned long long)hc_wheel_visited(w));
    hc_wheel_schedule(w, 0, t0 + 1.5);
    v = hc_wheel_visited(w);
    CHECK(hc_wheel_pop_due(w, t0 + 2, out, n) == 1 && out[0] == 0, "the next due one");
    CHECK(hc_wheel_visited(w) - v <= 4, "second pop visited %llu",
          (unsigned long long)(hc_wheel_visited(w) - v));
    WHEEL_OK(w);
    free(out);
    hc_wheel_free(w);
}

/* Jumps of 2^30 and 2^60 ticks cost O(levels + entries), not O(ticks). */
static void test_big_jumps_are_cheap(void)
{
    hc_wheel *w = hc_wheel_new(1.0);
    uint32_t out[16];
    uint64_t v;
    int i;
    CHECK(hc_wheel_reserve(w, 16) == 0, "reserve");
    hc_wheel_schedule(w, 0, 0.0);
    for (i = 1; i < 16; i++)
        hc_wheel_schedule(w, (uint32_t)i, ldexp(1.0, 4 * i) + 0.5);
    v = hc_wheel_visited(w);
    CHECK(hc_wheel_pop_due(w, 1e9, out, 16) == 8, "popped up to 2^28");
    CHECK(hc_wheel_pop_due(w, ldexp(1.0, 61), out, 16) == 8, "popped the rest");
    CHECK(hc_wheel_visited(w) - v <= 16 * 10, "visited %llu",
          (unsigned long long)(hc_wheel_visited(w) - v));
    WHEEL_OK(w);
    /* idle jump of a billion ticks, repeatedly: no entries visited */
    hc_wheel_schedule(w, 1, ldexp(1.0, 62));
    v = hc_wheel_visited(w);
    for (i = 0; i < 1000; i++)
        hc_wheel_pop_due(w, ldexp(1.0, 61) + 1e9 * i, out, 16);
    CHECK(hc_wheel_visited(w) - v <= 2, "idle jumps visited %llu",
          (unsigned long long)(hc_wheel_visited(w) - v));
    WHEEL_OK(w);
    hc_wheel_free(w);
}

static void test_reserve_clear_clone_bytes(void)
{
    hc_wheel *w = hc_wheel_new(-1.0), *c; /* default tick */
    uint32_t out[64];
    size_t b0 = hc_wheel_bytes(w);
    double *x;
    CHECK(hc_wheel_count(w) == 0 && hc_wheel_expire_array(w) == NULL, "fresh");
    WHEEL_OK(w);
    CHECK(hc_wheel_reserve(w, 10) == 0, "reserve 10");
    hc_wheel_schedule(w, 3, 100.0);
    hc_wheel_schedule(w, 9, 100.0 + 1.0 / 2048); /* half a default tick later */
    x = hc_wheel_expire_array(w);
    CHECK(x[3] == 100.0 && x[0] == (double)INFINITY, "expire array");
    CHECK(hc_wheel_reserve(w, 64) == 0, "reserve 64");
    CHECK(hc_wheel_reserve(w, 5) == 0, "smaller reserve is a no-op");
    x = hc_wheel_expire_array(w);
    CHECK(x[3] == 100.0 && x[9] > 100.0 && x[63] == (double)INFINITY, "kept across reserve");
    CHECK(hc_wheel_bytes(w) >= b0 + 64 * 24, "bytes %zu", hc_wheel_bytes(w));
    WHEEL_OK(w);
    c = hc_wheel_clone(w);
    CHECK(c != NULL, "clone");
    WHEEL_OK(c);
    CHECK(hc_wheel_bytes(c) == hc_wheel_bytes(w), "clone bytes");
    CHECK(hc_wheel_pop_due(c, 100.0, out, 64) == 1 && out[0] == 3, "clone pops");
    CHECK(hc_wheel_count(w) == 2, "original untouched");
    hc_wheel_clear(w);
    WHEEL_OK(w);
    CHECK(hc_wheel_count(w) == 0 && hc_wheel_expire_array(w)[3] == (double)INFINITY, "cleared");
    CHECK(hc_wheel_pop_due(w, 1e9, out, 64) == 0, "nothing after clear");
    hc_wheel_schedule(w, 1, 1e9 + 1); /* reusable after clear */
    CHECK(hc_wheel_pop_due(w, 1e9 + 1, out, 64) == 1 && out[0] == 1, "reuse");
    hc_wheel_cancel(w, 1); /* not scheduled: no-op */
    hc_wheel_cancel(c, 9);
    CHECK(hc_wheel_count(c) == 0 && hc_wheel_expire_array(c)[9] == (double)INFINITY, "cancel");
    WHEEL_OK(c);
    CHECK(!hc_wheel_has_due(c, 1e300), "nothing scheduled");
    hc_wheel_free(c);
    hc_wheel_free(w);
    hc_wheel_free(NULL);
}

/* max == 0 advances but pops nothing; later calls with the same now continue in order. */
static void test_pop_in_batches(void)
{
    hc_wheel *w = hc_wheel_new(1.0);
    uint32_t out[100], i;
    size_t got = 0, k;
    CHECK(hc_wheel_reserve(w, 100) == 0, "reserve");
    for (i = 0; i < 100; i++)
        hc_wheel_schedule(w, i, 1000.0 - i * 0.25); /* reverse order, 4 per tick */
    CHECK(hc_wheel_pop_due(w, 1000.0, out, 0) == 0, "max 0");
    WHEEL_OK(w);
    while ((k = hc_wheel_pop_due(w, 1000.0, out + got, 3)) > 0)
        got += k;
    CHECK(got == 100, "all");
    for (i = 0; i < 100; i++)
        CHECK(out[i] == 99 - i, "order at %u", (unsigned)i);
    hc_wheel_free(w);
}

#ifdef HC_FAILPOINTS
/* With the failpoint allocator (tests/ht_alloc.c, as the Makefile builds tests): every
 * allocation of new / reserve / clone can fail, and then nothing has changed. */
void ht_fail_after(long n);

static void test_out_of_memory(void)
{
    long k;
    uint32_t out[8];
    for (k = 0; k < 12; k++) {
        hc_wheel *w, *c;
        double *x;
        char m[256];
        ht_fail_after(k);
        w = hc_wheel_new(1.0);
        if (!w)
            continue;
        if (hc_wheel_reserve(w, 4) == 0) {
            hc_wheel_schedule(w, 1, 5.0);
            x = hc_wheel_expire_array(w);
            if (hc_wheel_reserve(w, 100) < 0) {
                ht_fail_after(-1);
                CHECK(hc_wheel_expire_array(w)[1] == 5.0, "kept");
                CHECK(hc_wheel_check(w, m, sizeof m) == 0, "%s", m);
                CHECK(hc_wheel_reserve(w, 100) == 0, "retry");
            }
            (void)x;
            c = hc_wheel_clone(w);
            ht_fail_after(-1);
            if (c) {
                CHECK(hc_wheel_pop_due(c, 5.0, out, 8) == 1 && out[0] == 1, "clone");
                hc_wheel_free(c);
            }
            CHECK(hc_wheel_check(w, m, sizeof m) == 0, "%s", m);
            CHECK(hc_wheel_pop_due(w, 5.0, out, 8) == 1 && out[0] == 1, "original");
        }
        ht_fail_after(-1);
        hc_wheel_free(w);
    }
    ht_fail_after(-1);
}
#endif

int main(void)
{
    run("random_small_tick", test_random_small_tick);
    run("random_unit_tick", test_random_unit_tick);
    run("random_odd_tick", test_random_odd_tick);
    run("ties_in_schedule_order", test_ties_in_schedule_order);
    run("epoch_precision_and_partial_tick", test_epoch_precision_and_partial_tick);
    run("huge_and_infinite_times", test_huge_and_infinite_times);
    run("overflow_span_boundaries", test_overflow_span_boundaries);
    run("no_scan", test_no_scan);
    run("cold_start_bounded", test_cold_start_bounded);
    run("big_jumps_are_cheap", test_big_jumps_are_cheap);
    run("reserve_clear_clone_bytes", test_reserve_clear_clone_bytes);
    run("pop_in_batches", test_pop_in_batches);
#ifdef HC_FAILPOINTS
    run("out_of_memory", test_out_of_memory);
#endif
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
