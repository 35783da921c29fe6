/* hc_index.c -- open-addressing hash index with linear probing and backward-shift deletion.
 * See hc_index.h for the picture; the caller compares keys, this file only hashes. */
#include <string.h>

#include "hc_alloc.h"
#include "hc_index.h"

static inline size_t home_of(const hc_index *ix, uint64_t hash)
{
    return hc_home(hash, ix->mask);
}

/* Home of a stored bucket value: from its fragment, without reading the entry. */
static inline size_t bucket_home(uint64_t b, size_t mask)
{
    return (size_t)((uint32_t)(b >> 32) & mask);
}

static inline uint32_t bucket_slot1(uint64_t b) { return (uint32_t)b; }

/* Store bucket value b at the first empty position of its probe run (no duplicate check). */
static inline void place(uint64_t *buckets, size_t mask, uint64_t b)
{
    size_t pos = bucket_home(b, mask);
    while (buckets[pos] != 0)
        pos = (pos + 1) & mask;
    buckets[pos] = b;
}

int hc_index_reserve(hc_index *ix, const hc_entry *e, size_t n)
{
    size_t nb = ix->buckets ? ix->mask + 1 : 0;
    size_t want = nb ? nb : HC_INDEX_MIN;
    size_t i, nbytes;
    uint64_t *nbk;
    (void)e; /* fragments in the buckets re-home entries without reading the records */
    if (nb && n <= nb - nb / 4)
        return 0;
    while (n > want - want / 4) {
        if (want > ((size_t)-1) / 2)
            return -1;
        want *= 2;
    }
    nbytes = hc_mul_size(want, sizeof(uint64_t));
    if (nbytes == 0)
        return -1;
    nbk = (uint64_t *)hc_malloc(nbytes);
    if (!nbk)
        return -1;
    memset(nbk, 0, nbytes);
    for (i = 0; i < nb; i++) {
        uint64_t b = ix->buckets[i];
        if (b)
            place(nbk, want - 1, b);
    }
    hc_mfree(ix->buckets);
    ix->buckets = nbk;
    ix->mask = want - 1;
    return 0;
}

void hc_index_add(hc_index *ix, uint64_t hash, uint32_t slot)
{
    place(ix->buckets, ix->mask, (uint64_t)hc_frag(hash) << 32 | (uint64_t)(slot + 1));
    ix->used++;
}

void hc_index_add_at(hc_index *ix, uint64_t hash, uint32_t slot, size_t pos)
{
    ix->buckets[pos] = (uint64_t)hc_frag(hash) << 32 | (uint64_t)(slot + 1);
    ix->used++;
}

size_t hc_index_find(const hc_index *ix, const hc_entry *e, uint32_t slot)
{
    size_t pos, n;
    if (!ix->buckets)
        return (size_t)-1;
    pos = home_of(ix, e[slot].hash);
    for (n = 0; n <= ix->mask; n++) {
        uint64_t b = ix->buckets[pos];
        if (bucket_slot1(b) == slot + 1)
            return pos;
        if (b == 0)
            return (size_t)-1;
        pos = (pos + 1) & ix->mask;
    }
    return (size_t)-1;
}

/* HOW IT WORKS: after emptying position `hole`, walk the run after it. An entry at j whose home
 * is cyclically outside (hole, j] would no longer be reachable across the hole, so it moves into
 * the hole and its old position becomes the new hole. The run ends at the first empty bucket. */
size_t hc_index_del(hc_index *ix, const hc_entry *e, uint32_t slot)
{
    uint64_t *bk = ix->buckets;
    size_t mask = ix->mask;
    size_t hole = hc_index_find(ix, e, slot);
    size_t j = hole;
    if (hole == (size_t)-1)
        return hole;
    for (;;) {
        uint64_t b;
        size_t home;
        j = (j + 1) & mask;
        b = bk[j];
        if (b == 0)
            break;
        home = bucket_home(b, mask);
        /* distance home->j >= distance hole->j  <=>  home not in (hole, j] */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            bk[hole] = b;
            hole = j;
        }
    }
    bk[hole] = 0;
    ix->used--;
    return hole;
}

void hc_index_clear(hc_index *ix)
{
    hc_mfree(ix->buckets);
    ix->buckets = NULL;
    ix->mask = 0;
    ix->used = 0;
}

int hc_index_clone(hc_index *dst, const hc_index *src)
{
    size_t nbytes;
    *dst = *src;
    if (!src->buckets)
        return 0;
    nbytes = (src->mask + 1) * sizeof(uint64_t);
    dst->buckets = (uint64_t *)hc_malloc(nbytes);
    if (!dst->buckets) {
        dst->mask = 0;
        dst->used = 0;
        return -1;
    }
    memcpy(dst->buckets, src->buckets, nbytes);
    return 0;
}

size_t hc_index_bytes(const hc_index *ix)
{
    return ix->buckets ? (ix->mask + 1) * sizeof(uint64_t) : 0;
}
