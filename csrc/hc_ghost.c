/* hc_ghost.c -- S3-FIFO's ghost queue as stamped fingerprints in 16-way buckets with a sweeper.
 * See hc_ghost.h for the picture and why a word's age is its FIFO position. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hc_alloc.h"
#include "hc_ghost.h"
#include "hc_state.h"

#define STAMP_MASK HC_GHOST_STAMP
#define MAX_AGE (2u * HC_GHOST_TICKS + 1u) /* no word may be older (see the sweeper) */

static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    if (msg && msglen) {
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint64_t unit_for(uint64_t life)
{
    return life <= HC_GHOST_TICKS ? 1u : (life - 1) / HC_GHOST_TICKS + 1;
}

static inline uint32_t now_tick(const hc_ghost *g)
{
    return (uint32_t)g->tick & STAMP_MASK;
}

static inline uint32_t life_ticks(const hc_ghost *g)
{
    return g->life_ticks; /* life / unit, <= HC_GHOST_TICKS by unit_for */
}

static inline uint32_t age_of(uint32_t word, uint32_t now)
{
    return (now - word) & STAMP_MASK;
}

static inline uint32_t fp_of(uint32_t word) { return word >> 18; }

void hc_ghost_init(hc_ghost *g, uint64_t life)
{
    memset(g, 0, sizeof *g);
    g->life = life;
    g->unit = unit_for(life);
    g->life_ticks = (uint32_t)(life / g->unit);
}

void hc_ghost_free(hc_ghost *g)
{
    uint64_t life = g->life;
    hc_mfree(g->slot);
    hc_ghost_init(g, life);
}

int hc_ghost_clone(hc_ghost *dst, const hc_ghost *src)
{
    *dst = *src;
    if (!src->slot)
        return 0;
    dst->slot = (uint32_t *)hc_malloc((size_t)src->nbuckets * HC_GHOST_WAYS * sizeof(uint32_t));
    if (!dst->slot) {
        hc_ghost_init(dst, src->life);
        return -1;
    }
    memcpy(dst->slot, src->slot, (size_t)src->nbuckets * HC_GHOST_WAYS * sizeof(uint32_t));
    return 0;
}

int hc_ghost_size(hc_ghost *g, uint64_t hashes)
{
    uint64_t nb = hashes / 8 + 1; /* 2 ways per hash over 16-way buckets, at least one */
    size_t nbytes;
    uint32_t *t;
    if (nb > UINT32_MAX / HC_GHOST_WAYS)
        return -1;
    nbytes = hc_mul_size((size_t)nb * HC_GHOST_WAYS, sizeof(uint32_t));
    t = nbytes ? (uint32_t *)hc_malloc(nbytes) : NULL;
    if (!t)
        return -1;
    memset(t, 0, nbytes);
    hc_mfree(g->slot);
    g->slot = t;
    g->nbuckets = (uint32_t)nb;
    g->sweep = 0;
    g->debt = 0;
    g->sized_for = hashes ? hashes : 1;
    return 0;
}

void hc_ghost_set_life(hc_ghost *g, uint64_t life)
{
    uint64_t unit = unit_for(life);
    g->life = life;
    if (unit != g->unit) {
        g->unit = unit;
        g->tick = g->clock / unit;
        g->rem = g->clock % unit;
        if (g->slot)
            memset(g->slot, 0, (size_t)g->nbuckets * HC_GHOST_WAYS * sizeof(uint32_t));
        g->debt = 0;
    }
    g->life_ticks = (uint32_t)(life / g->unit);
}

/* The sweeper's debt reached at least one bucket (hc_ghost_add_tag added the ticks that just
 * passed, nbuckets / HC_GHOST_TICKS bucket visits each): visit the next debt / HC_GHOST_TICKS
 * buckets (at most all of them), zeroing their dead words, so every bucket is visited once per
 * HC_GHOST_TICKS ticks. */
void hc_ghost_sweep_(hc_ghost *g)
{
    uint32_t now = now_tick(g), life = life_ticks(g);
    uint64_t visits = g->debt / HC_GHOST_TICKS;
    g->debt %= HC_GHOST_TICKS;
    if (visits > g->nbuckets)
        visits = g->nbuckets;
    while (visits--) {
        uint32_t *b = g->slot + (size_t)g->sweep * HC_GHOST_WAYS;
        unsigned m;
        for (m = hc_ghost_free_ways_(b, now, life); m; m &= m - 1) /* an empty way: no change */
            b[hc_ghost_lowest_(m)] = 0;
        if (++g->sweep == g->nbuckets)
            g->sweep = 0;
    }
}

/* An add into a bucket whose 16 ways are all live: over the oldest (the first of the oldest). */
void hc_ghost_over_oldest_(uint32_t *b, uint32_t now, uint32_t word)
{
    uint32_t w, *way = NULL, oldest_age = 0;
    for (w = 0; w < HC_GHOST_WAYS; w++) {
        uint32_t age = age_of(b[w], now);
        if (!way || age > oldest_age) {
            way = &b[w];
            oldest_age = age;
        }
    }
    *way = word;
}

int hc_ghost_has(const hc_ghost *g, uint64_t hash)
{
    return hc_ghost_find_(g, hash) != NULL;
}

size_t hc_ghost_count(const hc_ghost *g)
{
    size_t i, n = 0, words = (size_t)g->nbuckets * HC_GHOST_WAYS;
    uint32_t now, life;
    if (!g->slot)
        return 0;
    now = now_tick(g);
    life = life_ticks(g);
    for (i = 0; i < words; i++)
        n += g->slot[i] && age_of(g->slot[i], now) <= life;
    return n;
}

size_t hc_ghost_bytes(const hc_ghost *g)
{
    return g->slot ? (size_t)g->nbuckets * HC_GHOST_WAYS * sizeof(uint32_t) : 0;
}

int hc_ghost_check(const hc_ghost *g, char *msg, size_t msglen)
{
    size_t i, words;
    uint32_t now;
    if (g->unit != unit_for(g->life))
        return fail(msg, msglen, "ghost: unit %llu is not the one for life %llu",
                    (unsigned long long)g->unit, (unsigned long long)g->life);
    if (g->life_ticks != g->life / g->unit)
        return fail(msg, msglen, "ghost: life_ticks %lu is not life %llu / unit %llu",
                    (unsigned long)g->life_ticks, (unsigned long long)g->life,
                    (unsigned long long)g->unit);
    if (g->debt >= HC_GHOST_TICKS)
        return fail(msg, msglen, "ghost: sweeper debt %llu not paid", (unsigned long long)g->debt);
    if (g->tick != g->clock / g->unit || g->rem != g->clock % g->unit)
        return fail(msg, msglen, "ghost: tick %llu + %llu does not match clock %llu / %llu",
                    (unsigned long long)g->tick, (unsigned long long)g->rem,
                    (unsigned long long)g->clock, (unsigned long long)g->unit);
    if (!g->slot)
        return g->nbuckets == 0 && g->sized_for == 0 ? 0 : fail(msg, msglen, "ghost: sized, no table");
    if (g->nbuckets == 0 || g->sweep >= g->nbuckets || g->sized_for == 0)
        return fail(msg, msglen, "ghost: %lu buckets, sweep at %lu", (unsigned long)g->nbuckets,
                    (unsigned long)g->sweep);
    words = (size_t)g->nbuckets * HC_GHOST_WAYS;
    now = now_tick(g);
    for (i = 0; i < words; i++) {
        uint32_t word = g->slot[i];
        if (!word)
            continue;
        if (fp_of(word) == 0)
            return fail(msg, msglen, "ghost: word %lu has fingerprint 0", (unsigned long)i);
        if (age_of(word, now) > MAX_AGE)
            return fail(msg, msglen, "ghost: word %lu is %lu ticks old: the sweeper missed it",
                        (unsigned long)i, (unsigned long)age_of(word, now));
    }
    return 0;
}

size_t hc_ghost_state_size(const hc_ghost *g)
{
    return HC_GHOST_HEAD_WORDS * 8 + hc_ghost_bytes(g);
}

void hc_ghost_state_save(const hc_ghost *g, unsigned char *buf)
{
    size_t i, words = g->slot ? (size_t)g->nbuckets * HC_GHOST_WAYS : 0;
    buf = hc_put64(buf, g->nbuckets);
    buf = hc_put64(buf, g->sweep);
    buf = hc_put64(buf, g->debt);
    buf = hc_put64(buf, g->clock);
    buf = hc_put64(buf, g->life);
    buf = hc_put64(buf, g->unit);
    buf = hc_put64(buf, g->sized_for);
    for (i = 0; i < words; i++)
        buf = hc_put32(buf, g->slot[i]);
}

int hc_ghost_state_load(hc_ghost *g, const unsigned char *buf, size_t n)
{
    hc_reader r;
    hc_ghost t;
    uint64_t nb, sweep_at, i;
    char msg[8];
    memset(&t, 0, sizeof t);
    hc_reader_init(&r, buf, n);
    hc_get64(&r, &nb);
    hc_get64(&r, &sweep_at);
    hc_get64(&r, &t.debt);
    hc_get64(&r, &t.clock);
    hc_get64(&r, &t.life);
    hc_get64(&r, &t.unit);
    hc_get64(&r, &t.sized_for);
    if (r.bad || nb > UINT32_MAX / HC_GHOST_WAYS || sweep_at > UINT32_MAX ||
        (size_t)(r.end - r.p) != (size_t)nb * HC_GHOST_WAYS * sizeof(uint32_t))
        return -1;
    t.nbuckets = (uint32_t)nb;
    t.sweep = (uint32_t)sweep_at;
    if (t.unit) {
        t.tick = t.clock / t.unit;
        t.rem = t.clock % t.unit;
        t.life_ticks = (uint32_t)(t.life / t.unit); /* checked against unit_for below */
    }
    if (nb) {
        t.slot = (uint32_t *)hc_malloc((size_t)nb * HC_GHOST_WAYS * sizeof(uint32_t));
        if (!t.slot)
            return -1;
        for (i = 0; i < nb * HC_GHOST_WAYS; i++)
            hc_get32(&r, &t.slot[i]);
    }
    if (hc_ghost_check(&t, msg, sizeof msg) < 0) {
        hc_mfree(t.slot);
        return -1;
    }
    hc_mfree(g->slot);
    *g = t;
    return 0;
}
