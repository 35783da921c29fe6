/* hc_sketch.c -- the 4-bit count-min sketch with periodic halving; see hc_sketch.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hc_alloc.h"
#include "hc_hash.h"
#include "hc_sketch.h"
#include "hc_state.h"

#define WORDS_PER_16_ENTRIES 15u /* table words (16 counters each) per 16 cache entries */
#define SAMPLE_PER_ENTRY 16u     /* additions between halvings, per cache entry */
#define MAX_CAPACITY (UINT64_C(1) << 36)

#define RESET_MASK UINT64_C(0x7777777777777777)
#define ONE_MASK UINT64_C(0x1111111111111111)

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

/* The shape hc_sketch_size() gives a capacity: blocks and sample. 0, or -1 if too large. */
static int shape_for(uint64_t capacity, uint32_t *nblocks, uint32_t *sample)
{
    uint64_t words, smp;
    if (capacity > MAX_CAPACITY)
        return -1;
    words = (capacity * WORDS_PER_16_ENTRIES + 15) / 16;
    words = words < 8 ? 8 : words;
    if ((words + 7) / 8 > UINT32_MAX)
        return -1;
    *nblocks = (uint32_t)((words + 7) / 8);
    smp = capacity * SAMPLE_PER_ENTRY;
    *sample = smp == 0 ? SAMPLE_PER_ENTRY : (smp > UINT32_MAX ? UINT32_MAX : (uint32_t)smp);
    return 0;
}

void hc_sketch_init(hc_sketch *s)
{
    memset(s, 0, sizeof *s);
}

void hc_sketch_free(hc_sketch *s)
{
    hc_mfree(s->table);
    hc_sketch_init(s);
}

int hc_sketch_clone(hc_sketch *dst, const hc_sketch *src)
{
    size_t nbytes = (size_t)src->nblocks * 8 * sizeof(uint64_t);
    *dst = *src;
    if (!src->table)
        return 0;
    dst->table = (uint64_t *)hc_malloc(nbytes);
    if (!dst->table) {
        hc_sketch_init(dst);
        return -1;
    }
    memcpy(dst->table, src->table, nbytes);
    return 0;
}

int hc_sketch_size(hc_sketch *s, uint64_t capacity)
{
    uint32_t nblocks, sample;
    uint64_t *table;
    size_t nbytes;
    if (shape_for(capacity, &nblocks, &sample) < 0)
        return -1;
    nbytes = hc_mul_size((size_t)nblocks * 8, sizeof(uint64_t));
    table = nbytes ? (uint64_t *)hc_malloc(nbytes) : NULL;
    if (!table)
        return -1;
    memset(table, 0, nbytes);
    hc_sketch_free(s);
    s->table = table;
    s->nblocks = nblocks;
    s->sample = sample;
    s->additions = 0;
    s->capacity = capacity;
    return 0;
}

size_t hc_sketch_bytes(const hc_sketch *s)
{
    return s->table ? (size_t)s->nblocks * 8 * sizeof(uint64_t) : 0;
}

/* Set bits of x (SWAR; portable to compilers without a popcount builtin). */
static inline uint64_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    return (x * UINT64_C(0x0101010101010101)) >> 56;
}

/* The additions count loses the halves the odd counters dropped (Caffeine's correction). */
void hc_sketch_halve(hc_sketch *s)
{
    size_t i, words = (size_t)s->nblocks * 8;
    uint64_t odd = 0;
    for (i = 0; i < words; i++) {
        odd += popcount64(s->table[i] & ONE_MASK);
        s->table[i] = (s->table[i] >> 1) & RESET_MASK;
    }
    s->additions = (uint32_t)((s->additions - (odd >> 2)) >> 1);
}

int hc_sketch_check(const hc_sketch *s, char *msg, size_t msglen)
{
    uint32_t nblocks, sample;
    if (!s->table)
        return s->capacity == 0 && s->nblocks == 0 ? 0 : fail(msg, msglen, "sketch: no table but a shape");
    if (shape_for(s->capacity, &nblocks, &sample) < 0 || nblocks != s->nblocks || sample != s->sample)
        return fail(msg, msglen, "sketch: shape does not match capacity %llu",
                    (unsigned long long)s->capacity);
    if (s->additions >= s->sample)
        return fail(msg, msglen, "sketch: %lu additions, halving due at %lu",
                    (unsigned long)s->additions, (unsigned long)s->sample);
    return 0;
}

size_t hc_sketch_state_size(const hc_sketch *s)
{
    return HC_SKETCH_HEAD_WORDS * 8 + hc_sketch_bytes(s);
}

void hc_sketch_state_save(const hc_sketch *s, unsigned char *buf)
{
    size_t i;
    buf = hc_put64(buf, s->capacity);
    buf = hc_put64(buf, s->table != NULL);
    buf = hc_put64(buf, s->nblocks);
    buf = hc_put64(buf, s->sample);
    buf = hc_put64(buf, s->additions);
    for (i = 0; s->table && i < (size_t)s->nblocks * 8; i++)
        buf = hc_put64(buf, s->table[i]);
}

int hc_sketch_state_load(hc_sketch *s, const unsigned char *buf, size_t n)
{
    hc_reader r;
    hc_sketch t;
    uint64_t has, nb, smp, add, i;
    char msg[8];
    hc_sketch_init(&t);
    hc_reader_init(&r, buf, n);
    hc_get64(&r, &t.capacity);
    hc_get64(&r, &has);
    hc_get64(&r, &nb);
    hc_get64(&r, &smp);
    hc_get64(&r, &add);
    if (r.bad || has > 1 || nb > UINT32_MAX || smp > UINT32_MAX || add > UINT32_MAX ||
        (size_t)(r.end - r.p) != (has ? (size_t)nb * 8 * 8 : 0))
        return -1;
    if (!has) {
        if (t.capacity != 0 || nb != 0)
            return -1;
        hc_sketch_free(s);
        return 0;
    }
    if (shape_for(t.capacity, &t.nblocks, &t.sample) < 0 || t.nblocks != nb || t.sample != smp ||
        add >= smp)
        return -1;
    t.additions = (uint32_t)add;
    t.table = (uint64_t *)hc_malloc((size_t)nb * 8 * sizeof(uint64_t));
    if (!t.table)
        return -1;
    for (i = 0; i < nb * 8; i++)
        hc_get64(&r, &t.table[i]);
    if (hc_sketch_check(&t, msg, sizeof msg) < 0) {
        hc_sketch_free(&t);
        return -1;
    }
    hc_sketch_free(s);
    *s = t;
    return 0;
}
