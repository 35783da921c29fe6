/* hc_core.c -- orchestration of the core: insert / update / remove / evict / expire / clear,
 * size and byte accounting, insertion order; it drives arena, index, policy and wheel. */
#include <string.h>

#include "hc_alloc.h"
#include "hc_core.h"
#include "hc_index.h"

/* ---- small helpers ---- */

/* NaN and +INFINITY both mean "never expires" (NaN <= now is never true). */
static inline double normalize_expiry(double t)
{
    return t < (double)INFINITY ? t : (double)INFINITY;
}

static inline void sync_head(hc_cache *c)
{
    c->head.entries = c->arena.e;
    c->head.expire_at = c->wheel ? hc_wheel_expire_array(c->wheel) : NULL;
}

static inline void order_append(hc_cache *c, uint32_t s)
{
    hc_entry *e = c->arena.e;
    e[s].ord_prev = c->ord_tail;
    e[s].ord_next = HC_NIL;
    if (c->ord_tail != HC_NIL)
        e[c->ord_tail].ord_next = s;
    else
        c->ord_head = s;
    c->ord_tail = s;
}

static inline void order_extract(hc_cache *c, uint32_t s)
{
    hc_entry *e = c->arena.e;
    uint32_t pv = e[s].ord_prev, nx = e[s].ord_next;
    if (pv != HC_NIL)
        e[pv].ord_next = nx;
    else
        c->ord_head = nx;
    if (nx != HC_NIL)
        e[nx].ord_prev = pv;
    else
        c->ord_tail = pv;
}

/* Create the wheel on the first finite expiry, covering every allocated slot. 0, or -1 on OOM
 * (nothing changed). */
static int ensure_wheel(hc_cache *c)
{
    hc_wheel *w;
    if (c->wheel)
        return 0;
    w = hc_wheel_new(c->cfg.tick);
    if (!w)
        return -1;
    if (hc_wheel_reserve(w, c->arena.cap) < 0) {
        hc_wheel_free(w);
        return -1;
    }
    c->wheel = w;
    sync_head(c);
    return 0;
}

/* Set the expiry of a live slot (the wheel exists when t is finite). 0, or -1 if the wheel
 * refused (then the entry is unscheduled). */
static int apply_expiry(hc_cache *c, uint32_t s, double t)
{
    hc_entry *r = &c->arena.e[s];
    if (t < (double)INFINITY) {
        if (t < c->head.expire_floor)
            c->head.expire_floor = t;
        if (hc_wheel_schedule(c->wheel, s, t) < 0) {
            hc_wheel_cancel(c->wheel, s);
            r->flags &= ~HC_F_TIMED;
            return -1;
        }
        r->flags |= HC_F_TIMED;
    } else if (r->flags & HC_F_TIMED) {
        hc_wheel_cancel(c->wheel, s);
        r->flags &= ~HC_F_TIMED;
    }
    return 0;
}

/* Take a live slot out of index, policy, order and wheel, un-count it and free the slot; the
 * policy sees an eviction (on_evict) when `evicted`, else a removal. Statistics are the
 * caller's. Inlined with a constant `evicted`, so each caller makes one policy call. */
static inline void drop_entry_as(hc_cache *c, uint32_t s, int evicted)
{
    hc_entry *e = c->arena.e;
    hc_index_del(&c->head.index, e, s);
    if (evicted)
        c->ops->on_evict(&c->pol, e, s);
    else
        c->ops->on_remove(&c->pol, e, s);
    order_extract(c, s);
    if (e[s].flags & HC_F_TIMED)
        hc_wheel_cancel(c->wheel, s);
    c->size_used -= hc_arena_size(&c->arena, s);
    c->bytes_used -= hc_arena_bytes_of(&c->arena, s);
    hc_arena_release(&c->arena, s);
    c->version++;
}

static void drop_entry(hc_cache *c, uint32_t s)
{
    drop_entry_as(c, s, 0);
}

/* ---- lifecycle ---- */

hc_cache *hc_new(const hc_config *cfg)
{
    hc_cache *c;
    if (!cfg || cfg->policy < 0 || cfg->policy >= HC_POLICY_COUNT_ || !(cfg->tick >= 0.0) ||
        !(cfg->tick < (double)INFINITY))
        return NULL;
    c = (hc_cache *)hc_malloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    if (hc_arena_init(&c->arena, cfg->max_size) < 0) {
        hc_mfree(c);
        return NULL;
    }
    c->cfg = *cfg;
    c->ops = hc_policy_registry[cfg->policy];
    hc_policy_init(&c->pol, cfg->seed);
    hc_policy_bind(&c->pol, &c->arena.size, &c->arena.bytes, cfg->max_size, cfg->max_bytes);
    if (c->ops->on_limits)
        c->ops->on_limits(&c->pol, c->arena.e);
    c->ord_head = c->ord_tail = HC_NIL;
    c->head.expire_floor = (double)INFINITY;
    sync_head(c);
    return c;
}

void hc_free(hc_cache *c)
{
    if (!c)
        return;
    hc_index_clear(&c->head.index);
    hc_arena_free(&c->arena);
    hc_policy_free(&c->pol);
    if (c->wheel)
        hc_wheel_free(c->wheel);
    hc_mfree(c);
}

hc_cache *hc_clone(const hc_cache *c)
{
    hc_cache *d = (hc_cache *)hc_malloc(sizeof *d);
    if (!d)
        return NULL;
    *d = *c;
    d->wheel = NULL;
    if (hc_arena_clone(&d->arena, &c->arena) < 0)
        goto oom_arena;
    if (hc_index_clone(&d->head.index, &c->head.index) < 0)
        goto oom_index;
    if (hc_policy_clone(&d->pol, &c->pol) < 0)
        goto oom_policy;
    hc_policy_bind(&d->pol, &d->arena.size, &d->arena.bytes, c->pol.max_size, c->pol.max_bytes);
    if (c->wheel && !(d->wheel = hc_wheel_clone(c->wheel)))
        goto oom_wheel;
    sync_head(d);
    return d;
oom_wheel:
    hc_policy_free(&d->pol);
oom_policy:
    hc_index_clear(&d->head.index);
oom_index:
    hc_arena_free(&d->arena);
oom_arena:
    hc_mfree(d);
    return NULL;
}

/* ---- lookup side ---- */

uint64_t hc_version(const hc_cache *c)
{
    return c->version;
}

void hc_touch(hc_cache *c, uint32_t slot)
{
    /* LRU is the hottest case: move-to-newest inline instead of through the vtable */
    if (c->ops == &hc_policy_lru) {
        pol_list_move_to_newest(&c->pol, c->arena.e, slot);
    } else if (c->ops->on_access) {
        /* S3-FIFO's hit is FIFO's plus a saturating 2-bit counter bump: inline, no call */
        if (c->ops == &hc_policy_s3fifo)
            hc_s3fifo_bump(c->arena.e, slot);
        else
            c->ops->on_access(&c->pol, c->arena.e, slot);
    }
    c->stats.hits++;
}

double hc_victim_expire_at(const hc_cache *c)
{
    return c->victim_expire_at;
}

void hc_count_miss(hc_cache *c)
{
    c->stats.misses++;
}

void hc_miss(hc_cache *c, uint64_t hash)
{
    c->stats.misses++;
    if (c->ops->on_miss)
        c->ops->on_miss(&c->pol, c->arena.e, hash);
}

/* ---- mutation ---- */

/* used + add > max, without overflow */
static inline int exceeds(uint64_t used, uint64_t add, uint64_t max)
{
    return used > max || add > max - used;
}

int hc_over(const hc_cache *c, uint64_t add_size, uint64_t add_bytes)
{
    if (exceeds(c->size_used, add_size, c->cfg.max_size))
        return HC_CAUSE_SIZE;
    if (exceeds(c->bytes_used, add_bytes, c->cfg.max_bytes))
        return HC_CAUSE_MEMORY;
    return HC_CAUSE_NONE;
}

uint32_t hc_evict(hc_cache *c, double now, int pressure, int *cause)
{
    return hc_evict_keep(c, now, pressure, cause, HC_NIL);
}

uint32_t hc_evict_keep(hc_cache *c, double now, int pressure, int *cause, uint32_t keep)
{
    uint32_t s;
    /* A due `keep` would be the wheel's pick: then take the policy's victim instead. */
    int keep_due = keep != HC_NIL && c->head.expire_at && c->head.expire_at[keep] <= now;
    if (!keep_due && c->wheel && now >= c->head.expire_floor && hc_wheel_has_due(c->wheel, now) &&
        hc_wheel_pop_due(c->wheel, now, &s, 1) == 1) {
        c->arena.e[s].flags &= ~HC_F_TIMED; /* the wheel already unscheduled it */
        drop_entry(c, s);
        c->stats.expirations++;
        if (cause)
            *cause = HC_CAUSE_EXPIRED;
        return s;
    }
    s = c->ops->victim(&c->pol, c->arena.e, keep);
    if (s == HC_NIL) {
        if (cause)
            *cause = HC_CAUSE_NONE;
        return HC_NIL;
    }
    c->victim_expire_at = c->head.expire_at ? c->head.expire_at[s] : (double)INFINITY;
    drop_entry_as(c, s, 1);
    if (c->ops->peek) { /* warm the next victim's record for the next store */
        uint32_t nx = c->ops->peek(&c->pol, c->arena.e);
        if (nx != HC_NIL)
            hc_prefetch(&c->arena.e[nx]);
    }
    if (pressure == HC_CAUSE_MEMORY)
        c->stats.evictions_memory++;
    else
        c->stats.evictions_size++;
    if (cause)
        *cause = pressure;
    return s;
}

/* hc_insert, with the bucket for the new entry known: `pos` is the first empty bucket of the
 * hash's probe run in the index as it is now ((size_t)-1: find it). If the index has to grow
 * first, the entries are re-homed and `pos` is dropped. */
static uint32_t insert_at(hc_cache *c, uint64_t hash, uint64_t size, uint64_t bytes, double expire_at,
                          size_t pos)
{
    uint32_t live = c->arena.live, newcap, s;
    size_t mask = c->head.index.mask;
    hc_wheel *fresh = NULL;
    hc_entry *r;
    expire_at = normalize_expiry(expire_at);
    c->version++; /* the index may be re-homed below even if we fail later */
    newcap = hc_arena_cap_for_one_more(&c->arena);
    if (newcap == 0)
        return HC_NIL;
    if (hc_index_reserve(&c->head.index, c->arena.e, (size_t)live + 1) < 0 ||
        c->ops->reserve(&c->pol, live + 1) < 0 || hc_arena_need_sides(&c->arena, size, bytes) < 0)
        return HC_NIL;
    if (mask != c->head.index.mask)
        pos = (size_t)-1; /* re-homed: the probe's bucket means nothing now */
    if (expire_at < (double)INFINITY && !c->wheel) {
        fresh = hc_wheel_new(c->cfg.tick);
        if (!fresh || hc_wheel_reserve(fresh, newcap) < 0)
            goto oom;
    }
    if (newcap != c->arena.cap) {
        /* wheel first: a wheel larger than the arena is harmless, the reverse is not */
        if (c->wheel && hc_wheel_reserve(c->wheel, newcap) < 0)
            goto oom;
        if (hc_arena_grow(&c->arena, newcap) < 0)
            goto oom;
    }
    if (fresh)
        c->wheel = fresh;
    sync_head(c);

    s = hc_arena_alloc(&c->arena);
    r = &c->arena.e[s];
    r->hash = hash;
    r->key = NULL;
    r->val = NULL;
    hc_arena_set_charge(&c->arena, s, size, bytes);
    if (pos != (size_t)-1)
        hc_index_add_at(&c->head.index, hash, s, pos);
    else
        hc_index_add(&c->head.index, hash, s);
    c->ops->on_insert(&c->pol, c->arena.e, s);
    order_append(c, s);
    c->size_used += size;
    c->bytes_used += bytes;
    if (expire_at < (double)INFINITY && apply_expiry(c, s, expire_at) < 0) {
        drop_entry(c, s);
        sync_head(c);
        return HC_NIL;
    }
    c->stats.inserts++;
    return s;
oom:
    if (fresh)
        hc_wheel_free(fresh);
    sync_head(c);
    return HC_NIL;
}

uint32_t hc_insert(hc_cache *c, uint64_t hash, uint64_t size, uint64_t bytes, double expire_at)
{
    return insert_at(c, hash, size, bytes, expire_at, (size_t)-1);
}

/* HOW IT WORKS (the fused miss path, issues 16 and 12). A store that misses and evicts used to
 * cost three index probes (the lookup's, hc_index_find's for the victim, hc_index_add's for the
 * new entry), a free-list round trip of the victim's slot and three policy calls (on_evict,
 * reserve, on_insert). Here:
 *   - the lookup's probe ended at an empty bucket E (p->empty), first empty of the run from the
 *     new hash's home H; deleting the victim empties exactly one bucket that was full (the hole
 *     its backward shift ends at) and fills none, so the first empty bucket from H afterwards is
 *     that hole if it lies in [H, E), else still E: no second probe;
 *   - the victim's slot is what hc_arena_release + hc_arena_alloc would hand back (the free
 *     list is LIFO), so its record is re-initialised in place;
 *   - the policy's on_replace does its on_evict + reserve + on_insert in one call (S3FIFO,
 *     TINYLFU); for LRU/FIFO/INSERTION (hc_policy_list_replace) it is inlined here: an unlink
 *     of the list head and an append at the tail, the count n unchanged. Policies without the
 *     hook (LFU, RANDOM: their reserve allocates) make the three calls.
 * Every other step (policy victim, counters, version) runs in the order hc_evict + hc_insert
 * run it, so the state after is the same bit for bit; the C tests (test_probed.c) and the fuzz
 * target compare both paths. */
uint32_t hc_insert_probed(hc_cache *c, const hc_probe *p, uint64_t hash, hc_evicted *ev)
{
    hc_index *ix = &c->head.index;
    hc_entry *e = c->arena.e, *r;
    size_t home, hole, pos;
    uint64_t old_size, old_bytes;
    uint32_t v;
    void (*replace)(hc_pol *, hc_entry *, uint32_t, uint64_t, uint64_t, uint32_t);
    ev->slot = HC_NIL;
    ev->key = ev->val = NULL;
    if (c->wheel || !ix->buckets) /* timed entries may be due; no buckets: no probe result */
        goto general;
    if (hc_over(c, 1, 0) == HC_CAUSE_NONE)
        return insert_at(c, hash, 1, 0, (double)INFINITY, p->empty);
    v = c->ops->victim(&c->pol, e, HC_NIL);
    if (v == HC_NIL)
        goto general;
    /* hc_evict's part (no wheel, so the victim is the policy's and has no expiry) */
    c->victim_expire_at = (double)INFINITY;
    r = &e[v];
    ev->slot = v;
    ev->key = r->key;
    ev->val = r->val;
    hole = hc_index_del(ix, e, v);
    replace = c->ops->on_replace;
    if (!replace)
        c->ops->on_evict(&c->pol, e, v);
    order_extract(c, v);
    old_size = hc_arena_size(&c->arena, v);
    old_bytes = hc_arena_bytes_of(&c->arena, v);
    c->size_used -= old_size;
    c->bytes_used -= old_bytes;
    c->stats.evictions_size++;
    c->version += 2; /* hc_evict's bump and hc_insert's */
    /* hc_insert's part: the index needs no room (it held the victim), the arena no slot (the
     * victim's is free); only the policy may allocate */
    if (!replace && c->ops->reserve(&c->pol, c->arena.live) < 0) {
        hc_arena_release(&c->arena, v);
        return HC_NIL;
    }
    hc_arena_set_charge(&c->arena, v, 1u, 0u);
    if (replace == hc_policy_list_replace)
        pol_list_replace(&c->pol, e, v);
    else if (replace)
        replace(&c->pol, e, v, hash, pol_weight_of(&c->pol, old_size, old_bytes), c->arena.live);
    else
        memset(r, 0, sizeof *r); /* on_insert below gets a zeroed record */
    r->key = NULL;
    r->val = NULL;
    r->hash = hash;
    r->flags = HC_F_LIVE; /* the order links are order_append's, the policy's its own */
    home = (size_t)p->frag & ix->mask;
    pos = p->empty;
    if (((hole - home) & ix->mask) < ((pos - home) & ix->mask))
        pos = hole;
    hc_index_add_at(ix, hash, v, pos);
    if (!replace)
        c->ops->on_insert(&c->pol, e, v);
    order_append(c, v);
    c->size_used += 1u;
    c->stats.inserts++;
    return v;
general:
    if (hc_over(c, 1, 0) != HC_CAUSE_NONE) {
        v = hc_evict(c, -(double)INFINITY, HC_CAUSE_SIZE, NULL);
        if (v != HC_NIL) {
            ev->slot = v;
            ev->key = c->arena.e[v].key;
            ev->val = c->arena.e[v].val;
        }
    }
    return hc_insert(c, hash, 1u, 0u, (double)INFINITY);
}

void hc_update(hc_cache *c, uint32_t slot, uint64_t size, uint64_t bytes, double expire_at)
{
    uint64_t old_size, old_bytes;
    expire_at = normalize_expiry(expire_at);
    /* the only allocations: a first non-default size/bytes or a first expiry (nothing changed
     * on failure; hc_prepare_update() lets the caller find out beforehand) */
    if (hc_prepare_update(c, size, bytes, expire_at) < 0)
        return;
    old_size = hc_arena_size(&c->arena, slot);
    old_bytes = hc_arena_bytes_of(&c->arena, slot);
    c->size_used = c->size_used - old_size + size;
    c->bytes_used = c->bytes_used - old_bytes + bytes;
    hc_arena_set_charge(&c->arena, slot, size, bytes);
    if (c->ops->on_charge && (old_size != size || old_bytes != bytes))
        c->ops->on_charge(&c->pol, c->arena.e, slot, old_size, old_bytes);
    (void)apply_expiry(c, slot, expire_at);
    c->ops->on_update(&c->pol, c->arena.e, slot);
    c->stats.updates++;
}

int hc_prepare_update(hc_cache *c, uint64_t size, uint64_t bytes, double expire_at)
{
    if (hc_arena_need_sides(&c->arena, size, bytes) < 0)
        return -1;
    if (normalize_expiry(expire_at) < (double)INFINITY && ensure_wheel(c) < 0)
        return -1;
    return 0;
}

int hc_set_bytes(hc_cache *c, uint32_t slot, uint64_t bytes)
{
    uint64_t size = hc_arena_size(&c->arena, slot), old_bytes;
    if (hc_arena_need_sides(&c->arena, size, bytes) < 0)
        return -1;
    old_bytes = hc_arena_bytes_of(&c->arena, slot);
    c->bytes_used = c->bytes_used - old_bytes + bytes;
    hc_arena_set_charge(&c->arena, slot, size, bytes);
    if (c->ops->on_charge && old_bytes != bytes)
        c->ops->on_charge(&c->pol, c->arena.e, slot, size, old_bytes);
    return 0;
}

void hc_set_expire(hc_cache *c, uint32_t slot, double expire_at)
{
    expire_at = normalize_expiry(expire_at);
    if (expire_at < (double)INFINITY && ensure_wheel(c) < 0)
        return;
    (void)apply_expiry(c, slot, expire_at);
}

void hc_remove(hc_cache *c, uint32_t slot)
{
    drop_entry(c, slot);
    c->stats.deletes++;
}

void hc_expire_slot(hc_cache *c, uint32_t slot)
{
    drop_entry(c, slot);
    c->stats.expirations++;
}

uint32_t hc_prefetch_victim(const hc_cache *c)
{
    uint32_t s;
    if (!c->ops->peek)
        return HC_NIL;
    s = c->ops->peek(&c->pol, c->arena.e);
    if (s != HC_NIL && c->head.index.buckets) {
        const hc_entry *r = &c->arena.e[s];
        hc_prefetch(&c->head.index.buckets[hc_home(r->hash, c->head.index.mask)]);
        /* the caller's words point at what it will release after the eviction (for Python: the
         * objects whose refcounts it decrements); a prefetch only hints, it never dereferences */
        if (r->key)
            hc_prefetch(r->key);
        if (r->val && r->val != r->key)
            hc_prefetch(r->val);
    }
    return s;
}

uint32_t hc_victim(hc_cache *c)
{
    return c->ops->victim(&c->pol, c->arena.e, HC_NIL);
}

void hc_remove_victim(hc_cache *c, uint32_t slot)
{
    drop_entry_as(c, slot, 1);
    c->stats.deletes++;
}

size_t hc_expire(hc_cache *c, double now, uint32_t *out, size_t max)
{
    size_t n, i;
    if (!c->wheel || max == 0)
        return 0;
    n = hc_wheel_pop_due(c->wheel, now, out, max);
    for (i = 0; i < n; i++) {
        c->arena.e[out[i]].flags &= ~HC_F_TIMED; /* already unscheduled by the wheel */
        drop_entry(c, out[i]);
    }
    c->stats.expirations += n;
    c->head.expire_floor = hc_wheel_floor(c->wheel); /* popped to now: may rise */
    return n;
}

size_t hc_reclaim(hc_cache *c, double now, uint32_t *out, size_t max)
{
    if (!c->wheel || now < c->head.expire_floor) /* nothing can be due: O(1), no wheel work */
        return 0;
    return hc_expire(c, now, out, max);
}

void hc_clear(hc_cache *c)
{
    hc_index_clear(&c->head.index);
    c->ops->clear(&c->pol);
    if (c->wheel) {
        hc_wheel_free(c->wheel);
        c->wheel = NULL;
    }
    c->head.expire_floor = (double)INFINITY;
    hc_arena_reset(&c->arena);
    c->ord_head = c->ord_tail = HC_NIL;
    c->size_used = 0;
    c->bytes_used = 0;
    c->version++;
    sync_head(c);
}

void hc_set_limits(hc_cache *c, uint64_t max_size, uint64_t max_bytes)
{
    c->cfg.max_size = max_size;
    c->cfg.max_bytes = max_bytes;
    c->arena.hint = max_size;
    c->pol.max_size = max_size;
    c->pol.max_bytes = max_bytes;
    if (c->ops->on_limits)
        c->ops->on_limits(&c->pol, c->arena.e);
}

/* ---- reading ---- */

size_t hc_len(const hc_cache *c) { return c->arena.live; }
uint64_t hc_size_used(const hc_cache *c) { return c->size_used; }
uint64_t hc_bytes_used(const hc_cache *c) { return c->bytes_used; }
uint64_t hc_max_size(const hc_cache *c) { return c->cfg.max_size; }
uint64_t hc_max_bytes(const hc_cache *c) { return c->cfg.max_bytes; }
uint32_t hc_capacity(const hc_cache *c) { return c->arena.cap; }
uint64_t hc_entry_size(const hc_cache *c, uint32_t slot) { return hc_arena_size(&c->arena, slot); }
uint64_t hc_entry_bytes(const hc_cache *c, uint32_t slot) { return hc_arena_bytes_of(&c->arena, slot); }
const hc_stats *hc_stats_of(const hc_cache *c) { return &c->stats; }
void hc_stats_reset(hc_cache *c) { memset(&c->stats, 0, sizeof c->stats); }

void hc_stats_restore(hc_cache *c, uint64_t hits, uint64_t misses, uint64_t inserts,
                      uint64_t updates, uint64_t deletes, uint64_t evictions_size,
                      uint64_t evictions_memory, uint64_t expirations)
{
    c->stats.hits = hits;
    c->stats.misses = misses;
    c->stats.inserts = inserts;
    c->stats.updates = updates;
    c->stats.deletes = deletes;
    c->stats.evictions_size = evictions_size;
    c->stats.evictions_memory = evictions_memory;
    c->stats.expirations = expirations;
}
uint32_t hc_order_first(const hc_cache *c) { return c->ord_head; }
uint32_t hc_order_next(const hc_cache *c, uint32_t slot) { return c->arena.e[slot].ord_next; }
uint64_t hc_rng_state(const hc_cache *c) { return c->pol.rng; }

size_t hc_policy_state_size(const hc_cache *c)
{
    return c->ops->state_size ? c->ops->state_size(&c->pol) : 0;
}

void hc_policy_state_save(const hc_cache *c, void *buf)
{
    if (c->ops->state_save)
        c->ops->state_save(&c->pol, (unsigned char *)buf);
}

int hc_policy_state_load(hc_cache *c, const void *buf, size_t n)
{
    if (!c->ops->state_load)
        return n == 0 ? 0 : -1;
    if (c->ops->state_load(&c->pol, c->arena.e, (const unsigned char *)buf, n) < 0)
        return -1;
    c->version++;
    return 0;
}

void hc_policy_info_get(const hc_cache *c, hc_policy_info *out)
{
    const hc_pol *p = &c->pol;
    memset(out, 0, sizeof *out);
    if (c->ops == &hc_policy_s3fifo) {
        out->q_weight[0] = p->s3.small.weight;
        out->q_weight[1] = p->s3.main.weight;
        out->q_len[0] = p->s3.small.n;
        out->q_len[1] = p->s3.main.n;
        out->q_max[0] = p->s3.small_max;
        out->q_max[1] = p->s3.main_max;
        out->ghost_words = hc_ghost_count(&p->s3.ghost);
    } else if (c->ops == &hc_policy_tinylfu) {
        out->q_weight[0] = p->tl.window.weight;
        out->q_weight[1] = p->tl.probation.weight;
        out->q_weight[2] = p->tl.protect.weight;
        out->q_len[0] = p->tl.window.n;
        out->q_len[1] = p->tl.probation.n;
        out->q_len[2] = p->tl.protect.n;
        out->q_max[0] = p->tl.window_max;
        out->q_max[2] = p->tl.protect_max;
        out->ghost_words = hc_ghost_count(&p->tl.ghost);
        out->ghost_sample = UINT64_C(1) << p->tl.ghost_shift;
        out->sketch_capacity = p->tl.sketch.capacity;
        out->protect_share = p->tl.protect_share;
    }
}

uint32_t hc_policy_frequency(const hc_cache *c, uint64_t hash)
{
    if (c->ops == &hc_policy_s3fifo)
        return (uint32_t)hc_ghost_has(&c->pol.s3.ghost, hash);
    if (c->ops == &hc_policy_tinylfu)
        return hc_sketch_estimate(&c->pol.tl.sketch, hash);
    return 0;
}
void hc_rng_set_state(hc_cache *c, uint64_t state) { c->pol.rng = state; }

size_t hc_overhead_bytes(const hc_cache *c)
{
    return sizeof *c + hc_arena_bytes(&c->arena) + hc_index_bytes(&c->head.index) +
           hc_policy_bytes(&c->pol) + (c->wheel ? hc_wheel_bytes(c->wheel) : 0);
}

size_t hc_policy_order(const hc_cache *c, uint32_t *out, uint64_t *aux)
{
    return c->ops->order(&c->pol, c->arena.e, out, aux);
}

int hc_policy_restore(hc_cache *c, const uint32_t *slots, const uint64_t *aux, size_t n)
{
    hc_entry *e = c->arena.e;
    size_t i, bad = n;
    if (n != c->arena.live)
        return -1;
    /* permutation check with a scratch flag: every slot live and seen once */
    for (i = 0; i < n; i++) {
        uint32_t s = slots[i];
        if (s >= c->arena.cap || !(e[s].flags & HC_F_LIVE) || (e[s].flags & HC_F_MARK)) {
            bad = i;
            break;
        }
        e[s].flags |= HC_F_MARK;
    }
    for (i = 0; i < bad; i++)
        e[slots[i]].flags &= ~HC_F_MARK;
    if (bad != n)
        return -1;
    if (c->ops->restore(&c->pol, e, slots, aux, n) < 0)
        return -1;
    c->version++;
    return 0;
}
