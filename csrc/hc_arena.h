/* hc_arena.h -- fixed-size hc_entry records addressed by uint32 slot, with a free list.
 * Knows nothing about hashing, policies or expiry; grows geometrically, shrinks on reset.
 *
 *   e[]     [ rec 0 | rec 1 | rec 2 | ... | rec top-1 | (never used) ... | cap-1 ]
 *             live    free    live          live
 *   free_head ──▶ 1 ──ord_next──▶ ... ──▶ HC_NIL        (freed slots below top, LIFO)
 *   size[]  NULL until some entry has size != 1   (then cap values, 1 by default)
 *   bytes[] NULL until some entry has bytes != 0  (then cap values, 0 by default)
 *
 * Invariant: a slot < top is live (flags & HC_F_LIVE) or on the free list, never both;
 * slots in [top, cap) are unused; live counts the live ones.
 */
#ifndef HC_ARENA_H
#define HC_ARENA_H

#include "hc.h"

#define HC_ARENA_CHUNK 64u                  /* initial records (fewer when the size bound is smaller) */
#define HC_ARENA_MAX_SLOTS (UINT32_MAX - 1u) /* slot + 1 must fit a uint32 index bucket */

typedef struct hc_arena {
    hc_entry *e;        /* cap records */
    uint64_t *size;     /* NULL, or cap sizes */
    uint64_t *bytes;    /* NULL, or cap byte charges */
    uint32_t cap;       /* records allocated */
    uint32_t top;       /* slots [0, top) have been handed out since the last reset */
    uint32_t free_head; /* freed slots below top, linked through ord_next; HC_NIL = none */
    uint32_t live;      /* live records */
    uint64_t hint;      /* the size bound: growth stops at it first (a cache of 10 needs no 64) */
} hc_arena;

/* Set up with the initial chunk sized for `hint` (the cache's max_size). 0, or -1 on OOM
 * (a is then zeroed and owns nothing). */
int hc_arena_init(hc_arena *a, uint64_t hint);
/* Release everything a owns; a is left zeroed. */
void hc_arena_free(hc_arena *a);
/* Deep copy of src into dst (dst is overwritten, not freed). 0, or -1 on OOM (dst zeroed). */
int hc_arena_clone(hc_arena *dst, const hc_arena *src);

/* Capacity needed so that hc_arena_alloc() has a slot: cap itself when one is free, else the
 * next geometric step; 0 when the arena is at HC_ARENA_MAX_SLOTS. Pure. */
uint32_t hc_arena_cap_for_one_more(const hc_arena *a);
/* Grow the record (and side) arrays to newcap >= cap. 0, or -1 on OOM: nothing observable
 * changed (a realloc that succeeded may have left a larger block, still owned by a). */
int hc_arena_grow(hc_arena *a, uint32_t newcap);
/* Make sure side arrays exist for an entry with (size, bytes). 0, or -1 on OOM (unchanged). */
int hc_arena_need_sides(hc_arena *a, uint64_t size, uint64_t bytes);

/* Take a free slot (requires cap_for_one_more == cap): its record is zeroed except flags =
 * HC_F_LIVE, its size is 1 and bytes 0. Returns the slot. */
uint32_t hc_arena_alloc(hc_arena *a);
/* Return a live slot to the free list (the caller already unlinked it everywhere). */
void hc_arena_release(hc_arena *a, uint32_t slot);
/* Free every slot and shrink back to the initial chunk; side arrays are dropped. Never fails
 * (if the shrinking realloc fails, the larger block is kept). */
void hc_arena_reset(hc_arena *a);
/* Bytes allocated by the arena. */
size_t hc_arena_bytes(const hc_arena *a);

static inline uint64_t hc_arena_size(const hc_arena *a, uint32_t slot)
{
    return a->size ? a->size[slot] : 1u;
}
static inline uint64_t hc_arena_bytes_of(const hc_arena *a, uint32_t slot)
{
    return a->bytes ? a->bytes[slot] : 0u;
}
/* Store size/bytes; the side arrays must exist when the value is not the default
 * (hc_arena_need_sides()). */
static inline void hc_arena_set_charge(hc_arena *a, uint32_t slot, uint64_t size, uint64_t bytes)
{
    if (a->size)
        a->size[slot] = size;
    if (a->bytes)
        a->bytes[slot] = bytes;
}

#endif /* HC_ARENA_H */
