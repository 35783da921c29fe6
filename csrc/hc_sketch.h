/* hc_sketch.h -- W-TinyLFU's frequency sketch: a 4-bit count-min sketch with periodic halving
 * (Einziger, Friedman & Manes, TinyLFU, ACM ToS 2017; Caffeine's FrequencySketch layout).
 *
 *   table[]  nblocks x 8 uint64 words (64 bytes each); a word holds 16 4-bit counters
 *            a hash owns 4 counters in ONE block: counter i sits in word 2i or 2i+1 of it
 *
 *   add(h):       +1 on each of h's 4 counters that is below 15
 *   estimate(h):  the least of h's 4 counters (0..15)
 *   every `sample` additions (16 x the capacity) every counter halves
 *
 * HOW IT WORKS. Counts only need to rank a window candidate against a probation victim, so 4
 * bits suffice (Caffeine); halving keeps them an estimate of recent history. A hash's counters
 * share one 64-byte block, so an add or an estimate touches one cache line; block and counters
 * come from fmix64 of the core's hash, so the pure-Python twin computes the same cells.
 * Sizing, measured on the 15 hit-ratio rows with the final policy (table average 0.4194;
 * csrc/tools/README.md): 15 words per 16 entries, 7.5 B/entry, leaves room for the ghost in
 * the 8 B/entry budget (16 words: +0.0003, 12: -0.0005, 8: -0.0024); halving every 16 x
 * capacity additions (Caffeine's 10x: -0.0002 and -4.8 points on the loop check trace;
 * libCacheSim's 32x: +0.0002 but -0.4 points on the shifting-popularity one). A doorkeeper (a
 * Bloom filter in front of the table, TinyLFU's paper) was measured at equal memory on an
 * earlier version of the policy and lost (4 bits/entry + a 6.5 B table: -0.0017; 8 bits +
 * 5.5 B: -0.0007), so there is none.
 *
 * Contract: a function that can fail returns -1 and has changed nothing; a sketch without a
 * table (not sized yet, or freed) counts nothing and estimates 0.
 */
#ifndef HC_SKETCH_H
#define HC_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "hc_hash.h"

typedef struct hc_sketch {
    uint64_t *table;     /* nblocks * 8 words, or NULL */
    uint32_t nblocks;
    uint32_t sample;     /* additions between halvings */
    uint32_t additions;  /* since the last halving */
    uint64_t capacity;   /* entries the table was sized for (0: no table) */
} hc_sketch;

/* An empty sketch without a table. */
void hc_sketch_init(hc_sketch *s);
void hc_sketch_free(hc_sketch *s);
/* Deep copy (dst overwritten, not freed). 0, or -1 on OOM (dst then has no table). */
int hc_sketch_clone(hc_sketch *dst, const hc_sketch *src);
/* (Re)allocate for a cache of `capacity` entries, forgetting all counts. 0, or -1 on OOM or
 * too large (nothing changed). */
int hc_sketch_size(hc_sketch *s, uint64_t capacity);
size_t hc_sketch_bytes(const hc_sketch *s);

static inline void hc_sketch_add(hc_sketch *s, uint64_t hash);
static inline uint32_t hc_sketch_estimate(const hc_sketch *s, uint64_t hash);
/* Halve every counter (hc_sketch_add calls it every `sample` additions). */
void hc_sketch_halve(hc_sketch *s);

/* Invariants: table shape for the capacity, additions below the sample. */
int hc_sketch_check(const hc_sketch *s, char *msg, size_t msglen);

/* Serialised form (copy/pickle): HC_SKETCH_HEAD_WORDS uint64, then the table's words. */
#define HC_SKETCH_HEAD_WORDS 5u
size_t hc_sketch_state_size(const hc_sketch *s);
void hc_sketch_state_save(const hc_sketch *s, unsigned char *buf);
/* Replace s from buf (n bytes, as saved). 0, or -1 if malformed or on OOM (nothing changed). */
int hc_sketch_state_load(hc_sketch *s, const unsigned char *buf, size_t n);

#define HC_SKETCH_SALT UINT64_C(0xBB67AE8584CAA73B)

/* The block (8 words) of a hash whose mixed value is m, and the word/nibble of its counter i:
 * word 2i + (bit 8i of m), nibble (bits 8i+1..8i+4 of m). */
static inline uint64_t *hc_sketch_block(const hc_sketch *s, uint64_t m)
{
    return s->table + (size_t)hc_reduce32((uint32_t)(m >> 32), s->nblocks) * 8;
}

/* Inline: every hit of TINYLFU counts here (one cache line, no call on the way). */
static inline void hc_sketch_add(hc_sketch *s, uint64_t hash)
{
    uint64_t m, *b;
    uint32_t lo;
    int i, added = 0;
    if (!s->table)
        return;
    m = hc_fmix64(hash, HC_SKETCH_SALT);
    b = hc_sketch_block(s, m);
    lo = (uint32_t)m;
    for (i = 0; i < 4; i++) {
        uint32_t h = lo >> (8 * i);
        uint64_t *w = b + 2 * i + (h & 1);
        unsigned sh = ((h >> 1) & 15) * 4;
        if (((*w >> sh) & 15) != 15) {
            *w += UINT64_C(1) << sh;
            added = 1;
        }
    }
    if (added && ++s->additions >= s->sample)
        hc_sketch_halve(s);
}

/* hc_sketch_estimate(s, hash) when that is above `floor`; otherwise some value <= floor (it
 * stops at the first counter <= floor). For a caller that only asks "above floor, and then
 * how much": TINYLFU's admission, where most candidates lose at their first counter. */
static inline uint32_t hc_sketch_estimate_above(const hc_sketch *s, uint64_t hash, uint32_t floor)
{
    uint64_t m, *b;
    uint32_t lo, best = 15;
    int i;
    if (!s->table)
        return 0;
    m = hc_fmix64(hash, HC_SKETCH_SALT);
    b = hc_sketch_block(s, m);
    lo = (uint32_t)m;
    for (i = 0; i < 4; i++) {
        uint32_t h = lo >> (8 * i);
        uint32_t v = (uint32_t)(b[2 * i + (h & 1)] >> (((h >> 1) & 15) * 4)) & 15;
        if (v <= floor)
            return v;
        best = v < best ? v : best;
    }
    return best;
}

/* The estimate: the least of the hash's 4 counters (0 without a table). Inline: TINYLFU's
 * admission takes two per store (candidate and victim), and the call was a sixth of each.
 * A counter <= 0 is the least, so stopping there (estimate_above's floor 0) is exact. */
static inline uint32_t hc_sketch_estimate(const hc_sketch *s, uint64_t hash)
{
    return hc_sketch_estimate_above(s, hash, 0);
}

#endif /* HC_SKETCH_H */
