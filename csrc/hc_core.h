/* hc_core.h -- the private layout of struct hc_cache, shared by hc_core.c and hc_check.c only.
 * Nothing outside csrc/ includes this; the public view is hc.h's hc_cache_head.
 *
 *   struct hc_cache
 *   ├─ head   { index, entries ─▶ arena.e, expire_at ─▶ wheel's expiry array or NULL }
 *   ├─ arena  records by slot + size[]/bytes[]
 *   ├─ pol    policy state, driven through ops (hc_policy_registry[cfg.policy])
 *   ├─ wheel  NULL until the first finite expiry
 *   └─ ord_head ⇄ ... ⇄ ord_tail   insertion order over ord_prev/ord_next
 */
#ifndef HC_CORE_H
#define HC_CORE_H

#include "hc.h"
#include "hc_arena.h"
#include "hc_policy.h"
#include "hc_wheel.h"

struct hc_cache {
    hc_cache_head head; /* must stay first: hc.h reads it through HC_HEAD() */
    hc_arena arena;
    hc_pol pol;
    const hc_policy_ops *ops;
    hc_wheel *wheel;
    uint32_t ord_head, ord_tail;
    uint64_t size_used, bytes_used;
    uint64_t version;
    double victim_expire_at; /* expiry the last policy victim had (+INFINITY: none) */
    hc_stats stats;
    hc_config cfg; /* max_size / max_bytes here are the current limits */
};

#define HC_F_MARK 0x80000000u /* scratch bit, set and cleared within one call (restore) */

#endif /* HC_CORE_H */
