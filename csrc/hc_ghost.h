/* hc_ghost.h -- S3-FIFO's ghost queue: the hashes that left the cache recently, as a FIFO bounded
 * by weight, in 4 bytes per word and without a queue or any per-insert removal.
 *
 *   slot[]  nbuckets x 16 ways of uint32:   0 = empty,   else   fp << 17 | tag << 16 | stamp
 *           bucket = reduce(high 32 bits of fmix64(hash)),  fp = its low 14 bits (0 -> 1),
 *           tag = one bit the caller attaches (where the hash was evicted from)
 *   clock   the weight remembered so far;  tick = clock / unit;  stamp = tick mod 2^16
 *
 * HOW IT WORKS. A FIFO of capacity `life` (weight units) still holds X while the weight added
 * after X, plus X's own, is <= life: while clock - (clock just before X) <= life. So a word
 * keeps the tick it was added at and is live while its age, (tick - stamp) mod 2^16, is
 * <= life / unit. Nothing is ever dequeued: a word that aged out is dead and its way reusable.
 * unit = ceil(life / 2^14) keeps live ages below 2^14 ticks (unit 1, an exact FIFO, up to
 * life 16384). A sweeper visits every bucket once per 2^14 ticks and zeroes dead words, so no
 * word reaches age 2^16, where its stamp would alias a fresh one (ages stay <= 2^15 + 1).
 * A bucket whose 16 ways are all live drops its oldest word early: at 2 ways per remembered
 * hash (the sizing below; load ~1/2) that is the Poisson tail P(X > 16 | mean 8), ~0.4 % of
 * inserts, and those words were the bucket's oldest anyway. Taking (a ghost hit) zeroes the
 * word, as libCacheSim's ghost removes a hit. A 16-bit fingerprint among the ~8 live words of
 * a bucket answers "remembered" wrongly for ~1 in 8000 misses.
 *
 * Contract: a function that can fail returns -1 and has changed nothing; hashes are the core's
 * 64-bit entry hashes; a ghost without a table (never sized, or after free) remembers nothing.
 */
#ifndef HC_GHOST_H
#define HC_GHOST_H

#include <stddef.h>
#include <stdint.h>

#define HC_GHOST_WAYS 16u      /* words per bucket: 64 bytes, one cache line */
#define HC_GHOST_TICKS 16384u  /* live ages stay below this many ticks; the sweep period */

typedef struct hc_ghost {
    uint32_t *slot;      /* nbuckets * HC_GHOST_WAYS words, or NULL */
    uint32_t nbuckets;
    uint32_t sweep;      /* the next bucket the sweeper visits */
    uint64_t debt;       /* bucket-ticks owed to the sweeper (one bucket per HC_GHOST_TICKS) */
    uint64_t clock;      /* weight remembered so far */
    uint64_t tick, rem;  /* clock / unit and clock % unit, kept without dividing per add */
    uint64_t life;       /* the FIFO's capacity, in weight units */
    uint64_t unit;       /* weight units per tick (>= 1) */
    uint64_t sized_for;  /* remembered hashes the table was sized for (0: no table) */
    uint32_t life_ticks; /* life / unit: the oldest live age, kept to spare a division per call */
} hc_ghost;

/* An empty ghost without a table, remembering `life` weight units once sized. */
void hc_ghost_init(hc_ghost *g, uint64_t life);
/* Release the table; g is left as after hc_ghost_init with the same life. */
void hc_ghost_free(hc_ghost *g);
/* Deep copy of src into dst (dst overwritten, not freed). 0, or -1 on OOM (dst then owns
 * nothing and remembers nothing). */
int hc_ghost_clone(hc_ghost *dst, const hc_ghost *src);
/* (Re)allocate the table for `hashes` remembered hashes (2 ways each, at least one bucket),
 * forgetting everything. 0, or -1 on OOM / too large (nothing changed). */
int hc_ghost_size(hc_ghost *g, uint64_t hashes);
/* Change the capacity. If that changes the tick unit, everything is forgotten (stamps in the
 * old unit would be misread); otherwise words keep their ages against the new capacity. */
void hc_ghost_set_life(hc_ghost *g, uint64_t life);
/* Remember `hash`, which weighs `weight`: the clock advances by it. The word goes to the first
 * empty or dead way of its bucket (else over the oldest), without looking for the hash among
 * the others: callers add only hashes they do not remember (an entry took its word when it
 * came in; a victim leaves once), which saves a 16-way scan per eviction. No table: no-op.
 * hc_ghost_add() is hc_ghost_add_tag() with tag 0. Inline (below): one per eviction. */
static inline void hc_ghost_add(hc_ghost *g, uint64_t hash, uint64_t weight);
static inline void hc_ghost_add_tag(hc_ghost *g, uint64_t hash, uint64_t weight, int tag);
/* 1 if `hash` is remembered, and then forget it; else 0. Inline: one per insert. */
static inline int hc_ghost_take(hc_ghost *g, uint64_t hash);
/* The tag (0/1) `hash` was remembered with, and then forget it; -1 if not remembered. */
static inline int hc_ghost_take_tag(hc_ghost *g, uint64_t hash);
/* 1 if `hash` is remembered (read-only), else 0. */
int hc_ghost_has(const hc_ghost *g, uint64_t hash);
/* Live words (O(table)). */
size_t hc_ghost_count(const hc_ghost *g);
/* Bytes allocated. */
size_t hc_ghost_bytes(const hc_ghost *g);
/* Invariants: table shape, unit/life/ticks, sweep position, no word old enough to alias, no
 * zero fingerprint. 0, or -1 and a message (hc_policy_fail's shape). */
int hc_ghost_check(const hc_ghost *g, char *msg, size_t msglen);

/* Serialised form (copy/pickle): HC_GHOST_HEAD_WORDS uint64 words, then nbuckets * WAYS uint32. */
#define HC_GHOST_HEAD_WORDS 7u
size_t hc_ghost_state_size(const hc_ghost *g);
void hc_ghost_state_save(const hc_ghost *g, unsigned char *buf);
/* Replace g's state from buf (n bytes, as saved). 0, or -1 if malformed or on OOM (nothing
 * changed). */
int hc_ghost_state_load(hc_ghost *g, const unsigned char *buf, size_t n);

/* ---- the inline fast paths (add and take); the rare parts are out of line in hc_ghost.c ---- */

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define HC_GHOST_SSE2 1
#endif
#include "hc_hash.h"

#define HC_GHOST_SALT UINT64_C(0x6A09E667F3BCC908) /* fmix64 salt: independent of the sketch's */
#define HC_GHOST_STAMP 0xFFFFu

/* Out of line (hc_ghost.c): the all-live bucket case of an add, and the sweeper's visits once
 * its debt reached a bucket. Not API. */
void hc_ghost_over_oldest_(uint32_t *b, uint32_t now, uint32_t word);
void hc_ghost_sweep_(hc_ghost *g);

/* Bucket (its first way) and 14-bit fingerprint (never 0) of a hash. A word's top 14 bits are
 * the fingerprint, then the caller's 2-bit tag, then the 16-bit stamp. */
static inline uint32_t *hc_ghost_bucket_(const hc_ghost *g, uint64_t hash, uint32_t *fp)
{
    uint64_t m = hc_fmix64(hash, HC_GHOST_SALT);
    *fp = (uint32_t)(m & 0x3FFFu);
    if (*fp == 0)
        *fp = 1;
    return g->slot + (size_t)hc_reduce32((uint32_t)(m >> 32), g->nbuckets) * HC_GHOST_WAYS;
}

/* Bucket scans: bit w of the result is set for way w that is empty or dead (free_ways) / whose
 * fingerprint is fp (fp_ways). SSE2 compares four ways at a time and packs the four results to
 * bytes for one movemask (with add and take inlined here: S3FIFO's store, one add and one
 * take, 1032.0 -> 988.2 instructions, callgrind_ops.py -n 100000 s3fifo_set_evict; the first
 * version, one movemask per four ways, was itself 156 -> ~60 per add and ~130 -> ~60 per
 * lookup over the scalar loop, which remains for other compilers and targets).
 * free_ways: ages are (now - word) & 0xFFFF, packed to 16 bits with signed saturation (ages
 * above 32767 become 32767, still above any life <= HC_GHOST_TICKS); a word is empty iff its
 * signed-saturated 16-bit pack is 0 (a used word has a fingerprint, so it is >= 2^18). */
static inline unsigned hc_ghost_free_ways_(const uint32_t *b, uint32_t now, uint32_t life)
{
#ifdef HC_GHOST_SSE2
    const __m128i vnow = _mm_set1_epi32((int)now), low = _mm_set1_epi32(HC_GHOST_STAMP);
    const __m128i vlife = _mm_set1_epi16((short)life), zero = _mm_setzero_si128();
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)b);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(b + 4));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(b + 8));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(b + 12));
    __m128i a01 = _mm_packs_epi32(_mm_and_si128(_mm_sub_epi32(vnow, x0), low),
                                  _mm_and_si128(_mm_sub_epi32(vnow, x1), low));
    __m128i a23 = _mm_packs_epi32(_mm_and_si128(_mm_sub_epi32(vnow, x2), low),
                                  _mm_and_si128(_mm_sub_epi32(vnow, x3), low));
    __m128i f01 = _mm_or_si128(_mm_cmpgt_epi16(a01, vlife),
                               _mm_cmpeq_epi16(_mm_packs_epi32(x0, x1), zero));
    __m128i f23 = _mm_or_si128(_mm_cmpgt_epi16(a23, vlife),
                               _mm_cmpeq_epi16(_mm_packs_epi32(x2, x3), zero));
    return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(f01, f23));
#else
    unsigned m = 0, w;
    for (w = 0; w < HC_GHOST_WAYS; w++)
        if (!b[w] || ((now - b[w]) & HC_GHOST_STAMP) > life)
            m |= 1u << w;
    return m;
#endif
}

/* fp_ways: the fingerprints (word >> 18, < 2^14) pack to 16 bits exactly. */
static inline unsigned hc_ghost_fp_ways_(const uint32_t *b, uint32_t fp)
{
#ifdef HC_GHOST_SSE2
    const __m128i want = _mm_set1_epi16((short)fp);
    __m128i x0 = _mm_srli_epi32(_mm_loadu_si128((const __m128i *)(const void *)b), 18);
    __m128i x1 = _mm_srli_epi32(_mm_loadu_si128((const __m128i *)(const void *)(b + 4)), 18);
    __m128i x2 = _mm_srli_epi32(_mm_loadu_si128((const __m128i *)(const void *)(b + 8)), 18);
    __m128i x3 = _mm_srli_epi32(_mm_loadu_si128((const __m128i *)(const void *)(b + 12)), 18);
    __m128i e01 = _mm_cmpeq_epi16(_mm_packs_epi32(x0, x1), want);
    __m128i e23 = _mm_cmpeq_epi16(_mm_packs_epi32(x2, x3), want);
    return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(e01, e23));
#else
    unsigned m = 0, w;
    for (w = 0; w < HC_GHOST_WAYS; w++)
        if ((b[w] >> 18) == fp)
            m |= 1u << w;
    return m;
#endif
}

/* Index of the lowest set bit of m (m != 0). */
static inline unsigned hc_ghost_lowest_(unsigned m)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctz(m);
#else
    unsigned i = 0;
    while (!(m & 1u)) {
        m >>= 1;
        i++;
    }
    return i;
#endif
}

static inline void hc_ghost_add_tag(hc_ghost *g, uint64_t hash, uint64_t weight, int tag)
{
    uint32_t fp, now, word, *b;
    uint64_t before;
    unsigned m;
    if (!g->slot)
        return;
    b = hc_ghost_bucket_(g, hash, &fp);
    now = (uint32_t)g->tick & HC_GHOST_STAMP;
    word = (fp << 2 | (uint32_t)(tag & 3)) << 16 | now;
    m = hc_ghost_free_ways_(b, now, g->life_ticks);
    if (m) /* the first empty or dead way */
        b[hc_ghost_lowest_(m)] = word;
    else /* all live: over the oldest (the first of the oldest) */
        hc_ghost_over_oldest_(b, now, word);
    before = g->tick;
    g->clock += weight;
    g->rem += weight;
    if (g->rem >= g->unit) { /* the tick moved: divide only when it moved by more than one */
        uint64_t ticks;
        if (g->rem - g->unit < g->unit) {
            g->tick++;
            g->rem -= g->unit;
        } else {
            g->tick += g->rem / g->unit;
            g->rem %= g->unit;
        }
        /* the sweeper: each tick owes nbuckets / HC_GHOST_TICKS bucket visits (a whole
         * period's at most); mostly the debt stays under one bucket */
        ticks = g->tick - before;
        g->debt += (ticks > HC_GHOST_TICKS ? HC_GHOST_TICKS : ticks) * g->nbuckets;
        if (g->debt >= HC_GHOST_TICKS)
            hc_ghost_sweep_(g);
    }
}

static inline void hc_ghost_add(hc_ghost *g, uint64_t hash, uint64_t weight)
{
    hc_ghost_add_tag(g, hash, weight, 0);
}

/* The live word of `hash` (the first, in way order), or NULL. */
static inline uint32_t *hc_ghost_find_(const hc_ghost *g, uint64_t hash)
{
    uint32_t fp, now, *b;
    unsigned m;
    if (!g->slot)
        return NULL;
    b = hc_ghost_bucket_(g, hash, &fp);
    now = (uint32_t)g->tick & HC_GHOST_STAMP;
    for (m = hc_ghost_fp_ways_(b, fp); m; m &= m - 1) { /* a fingerprint is never 0: used */
        uint32_t *word = &b[hc_ghost_lowest_(m)];
        if (((now - *word) & HC_GHOST_STAMP) <= g->life_ticks)
            return word;
    }
    return NULL;
}

static inline int hc_ghost_take(hc_ghost *g, uint64_t hash)
{
    uint32_t *word = hc_ghost_find_(g, hash);
    if (!word)
        return 0;
    *word = 0;
    return 1;
}

static inline int hc_ghost_take_tag(hc_ghost *g, uint64_t hash)
{
    uint32_t *word = hc_ghost_find_(g, hash);
    int tag;
    if (!word)
        return -1;
    tag = (int)(*word >> 16) & 3;
    *word = 0;
    return tag;
}

#endif /* HC_GHOST_H */
