/* hc_ghost.h -- S3-FIFO's ghost queue: the hashes that left the cache recently, as a FIFO bounded
 * by weight, in 4 bytes per word and without a queue or any per-insert removal.
 *
 *   slot[]  nbuckets x 16 ways of uint32:   0 = empty,   else   fp << 17 | tag << 16 | stamp
 *           bucket = reduce(high 32 bits of fmix64(hash)),  fp = its low 15 bits (0 -> 1),
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
 * hc_ghost_add() is hc_ghost_add_tag() with tag 0. */
void hc_ghost_add(hc_ghost *g, uint64_t hash, uint64_t weight);
void hc_ghost_add_tag(hc_ghost *g, uint64_t hash, uint64_t weight, int tag);
/* 1 if `hash` is remembered, and then forget it; else 0. */
int hc_ghost_take(hc_ghost *g, uint64_t hash);
/* The tag (0/1) `hash` was remembered with, and then forget it; -1 if not remembered. */
int hc_ghost_take_tag(hc_ghost *g, uint64_t hash);
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

#endif /* HC_GHOST_H */
