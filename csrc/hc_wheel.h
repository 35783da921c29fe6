/* hc_wheel.h -- hierarchical timing wheel for per-entry expiry (Varghese & Lauck 1987).
 * Keeps, per slot, when it expires; hands back due slots in (expire_at, schedule order).
 *
 * The wheel never reads a clock and never frees anything: time is passed in, and due slots are
 * returned to the caller (hc_core.c), which removes them through its own removal path.
 * Times are doubles in the caller's timer units; ticks are integer multiples of `tick` counted
 * from `origin` (the first time the wheel sees), so epoch-sized times lose no precision.
 *
 * Contract shared by every function here:
 *   - slots are uint32 below the capacity given to hc_wheel_reserve(); HC_NIL means "none";
 *   - a function that can fail returns <0 (or NULL) and has changed nothing;
 *   - NaN times are never stored: scheduling at NaN or +INFINITY cancels; pop/has_due at NaN
 *     find nothing.
 */
#ifndef HC_WHEEL_H
#define HC_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HC_NIL
#define HC_NIL UINT32_MAX
#endif

typedef struct hc_wheel hc_wheel;

/* A new, empty wheel with capacity 0. tick <= 0 (or not finite) -> default 1.0/1024.
 * Returns NULL on out of memory. */
hc_wheel *hc_wheel_new(double tick);

/* Free the wheel and its arrays (NULL is a no-op). */
void hc_wheel_free(hc_wheel *w);

/* Deep copy: same capacity, same slots scheduled at the same times in the same tie order, same
 * origin and current tick, same visited counter. NULL on out of memory. */
hc_wheel *hc_wheel_clone(const hc_wheel *w);

/* Make the per-slot arrays cover [0, nslots). Capacity becomes exactly nslots (the caller, the
 * arena, grows geometrically); a smaller nslots is a no-op. Returns 0, or -1 on out of memory
 * with the wheel unchanged. New slots are unscheduled (expire_at == +INFINITY). */
int hc_wheel_reserve(hc_wheel *w, uint32_t nslots);

/* The per-slot expire_at array (+INFINITY when not scheduled), read-only for the caller. The
 * pointer moves on hc_wheel_reserve() and is NULL while the capacity is 0. */
double *hc_wheel_expire_array(hc_wheel *w);

/* (Re)schedule `slot` (< capacity) to expire at `expire_at`; a reschedule counts as a new
 * schedule for tie order. +INFINITY or NaN cancels. O(1) (O(log r) if the slot lands in the
 * current tick, r = entries already in the ready heap). Never fails: returns 0. */
int hc_wheel_schedule(hc_wheel *w, uint32_t slot, double expire_at);

/* Unschedule `slot` (expire_at becomes +INFINITY). O(1); no-op if not scheduled. */
void hc_wheel_cancel(hc_wheel *w, uint32_t slot);

/* 1 if some scheduled entry has expire_at <= now, else 0. Exact and read-only. O(1) when the
 * wheel has been advanced to now by hc_wheel_pop_due(), when no bucket's time has come, or
 * when those buckets' lower bounds are > now; otherwise it reads the entries of the buckets
 * whose time has come (the ones the next hc_wheel_pop_due(now) cascades anyway), stopping at
 * the first due one. A caller that pops when something is due can call hc_wheel_pop_due()
 * directly: it is as cheap when nothing is due, and it keeps this function O(1). */
int hc_wheel_has_due(const hc_wheel *w, double now);

/* Advance to `now`, then unschedule up to max entries with expire_at <= now and write their
 * slots to out, in ascending (expire_at, schedule order) across successive calls with the same
 * now. Returns the number written. Work is bounded by the entries returned plus the entries
 * cascaded plus the levels: empty buckets are skipped via bitmaps, never a scan over all
 * scheduled entries. `now` may go backwards (then nothing is advanced). */
size_t hc_wheel_pop_due(hc_wheel *w, double now, uint32_t *out, size_t max);

/* Unschedule everything and forget the origin; capacity (and the expire array) are kept. */
void hc_wheel_clear(hc_wheel *w);
/* A lower bound on every scheduled expire_at (+INFINITY when none): the ready heap's top and
 * the start of the next non-empty bucket. O(levels), read-only. */
double hc_wheel_floor(const hc_wheel *w);

/* Number of scheduled entries. */
size_t hc_wheel_count(const hc_wheel *w);

/* Bytes allocated by the wheel (struct + per-slot arrays). */
size_t hc_wheel_bytes(const hc_wheel *w);

/* Total entries examined or moved by cascades and pops since creation (for no-scan tests). */
uint64_t hc_wheel_visited(const hc_wheel *w);

/* Validate every invariant (counts, links, bitmaps, bucket == f(expire_at, current tick),
 * heap order, unscheduled => +INFINITY). O(capacity). 0 if all hold, else -1 and a message
 * describing the first broken one in msg (if msg != NULL and msglen > 0). */
int hc_wheel_check(const hc_wheel *w, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif
#endif /* HC_WHEEL_H */
