/* hc_index.h -- open-addressing hash index: 64-bit hash -> candidate slots.
 * Linear probing, backward-shift deletion (no tombstones); never compares keys.
 *
 *   buckets[nb]  (nb a power of two, mask = nb - 1; buckets == NULL while nb == 0)
 *     pos:    0        1         2        3        4     ...
 *         [   0   ][f7|7+1 ][f3|3+1 ][   0   ][f9|9+1 ] ...   value = frag << 32 | slot + 1
 *   frag = low 32 bits of hc_mix(hash); an entry lives at the first free position of
 *   frag & mask, +1, ... and every bucket between its home and its position is non-empty (the
 *   probe invariant). used <= 3/4 nb after every call (grow before insert). Because the fragment
 *   is in the bucket, probing, re-homing on growth and backward-shift deletion never read the
 *   entry records: 8 bytes per bucket buy one cache miss less per probed bucket.
 */
#ifndef HC_INDEX_H
#define HC_INDEX_H

#include "hc.h"

#define HC_INDEX_MIN 8u

/* Make room for `n` entries at load <= 3/4, re-homing the current ones by their fragments (`e`
 * is unused, kept for the call shape). 0, or -1 on OOM / too large (nothing changed). */
int hc_index_reserve(hc_index *ix, const hc_entry *e, size_t n);
/* Add `slot` under `hash`; room must have been reserved. */
void hc_index_add(hc_index *ix, uint64_t hash, uint32_t slot);
/* Add `slot` under `hash` at bucket `pos`, which must be the first empty bucket of the hash's
 * probe run (what hc_index_add would find; see hc_insert_probed). Room must have been reserved. */
void hc_index_add_at(hc_index *ix, uint64_t hash, uint32_t slot, size_t pos);
/* Remove `slot` (present, with hash e[slot].hash) and shift the probe run back over the hole.
 * Returns the bucket that ended up empty: the only bucket empty now that was not before (the
 * others in the run only shifted), or (size_t)-1 if `slot` was not found (nothing changed). */
size_t hc_index_del(hc_index *ix, const hc_entry *e, uint32_t slot);
/* Drop all buckets and their memory (the index is then empty with nb == 0). */
void hc_index_clear(hc_index *ix);
/* Deep copy; 0 or -1 on OOM (dst is then empty). */
int hc_index_clone(hc_index *dst, const hc_index *src);
/* Bytes allocated. */
size_t hc_index_bytes(const hc_index *ix);
/* Bucket position holding `slot`, or (size_t)-1. Pure. */
size_t hc_index_find(const hc_index *ix, const hc_entry *e, uint32_t slot);

#endif /* HC_INDEX_H */
