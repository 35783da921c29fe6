/* hc_check.c -- hc_check(): walks index <-> arena <-> policy <-> wheel <-> insertion order <->
 * counters and reports the first broken invariant. O(n * probe length); for tests and debug. */
#include <math.h>

#include "hc_core.h"
#include "hc_index.h"

#define FAIL hc_policy_fail

static int check_arena(const hc_cache *c, char *msg, size_t n)
{
    const hc_arena *a = &c->arena;
    uint32_t s, live = 0, nfree = 0;
    if (c->head.entries != a->e)
        return FAIL(msg, n, "head.entries is not the arena's record array");
    if (a->top > a->cap)
        return FAIL(msg, n, "arena: top %lu beyond cap %lu", (unsigned long)a->top, (unsigned long)a->cap);
    for (s = 0; s < a->top; s++)
        if (a->e[s].flags & HC_F_LIVE)
            live++;
    if (live != a->live)
        return FAIL(msg, n, "arena: %lu live records, counter says %lu", (unsigned long)live,
                    (unsigned long)a->live);
    for (s = a->free_head; s != HC_NIL; s = a->e[s].ord_next) {
        if (s >= a->top)
            return FAIL(msg, n, "arena: free slot %lu at or beyond top", (unsigned long)s);
        if (a->e[s].flags & HC_F_LIVE)
            return FAIL(msg, n, "arena: live slot %lu on the free list", (unsigned long)s);
        if (++nfree > a->top)
            return FAIL(msg, n, "arena: free list cycles");
    }
    if (live + nfree != a->top)
        return FAIL(msg, n, "arena: %lu live + %lu free != top %lu", (unsigned long)live,
                    (unsigned long)nfree, (unsigned long)a->top);
    return 0;
}

static int check_index(const hc_cache *c, char *msg, size_t n)
{
    const hc_index *ix = &c->head.index;
    const hc_entry *e = c->arena.e;
    size_t pos, used = 0, nb;
    uint32_t s;
    if (!ix->buckets)
        return ix->used == 0 && c->arena.live == 0 ? 0
                                                   : FAIL(msg, n, "index: no buckets but entries");
    nb = ix->mask + 1;
    if (nb & ix->mask)
        return FAIL(msg, n, "index: %lu buckets is not a power of two", (unsigned long)nb);
    for (pos = 0; pos < nb; pos++) {
        uint64_t b = ix->buckets[pos];
        size_t home, q;
        if (!b)
            continue;
        used++;
        s = (uint32_t)b - 1;
        if (s >= c->arena.cap || !(e[s].flags & HC_F_LIVE))
            return FAIL(msg, n, "index: bucket %lu holds slot %lu, not live", (unsigned long)pos,
                        (unsigned long)s);
        if ((uint32_t)(b >> 32) != hc_frag(e[s].hash))
            return FAIL(msg, n, "index: bucket %lu fragment does not match slot %lu's hash",
                        (unsigned long)pos, (unsigned long)s);
        home = hc_home(e[s].hash, ix->mask);
        for (q = home; q != pos; q = (q + 1) & ix->mask)
            if (!ix->buckets[q])
                return FAIL(msg, n, "index: slot %lu unreachable (empty bucket %lu on its probe)",
                            (unsigned long)s, (unsigned long)q);
    }
    if (used != ix->used || used != c->arena.live)
        return FAIL(msg, n, "index: %lu buckets used, counter %lu, %lu live", (unsigned long)used,
                    (unsigned long)ix->used, (unsigned long)c->arena.live);
    if (used > nb - nb / 4)
        return FAIL(msg, n, "index: load above 3/4");
    for (s = 0; s < c->arena.top; s++)
        if ((e[s].flags & HC_F_LIVE) && hc_index_find(ix, e, s) == (size_t)-1)
            return FAIL(msg, n, "index: live slot %lu not indexed", (unsigned long)s);
    return 0;
}

static int check_order(const hc_cache *c, char *msg, size_t n)
{
    const hc_entry *e = c->arena.e;
    uint32_t s, prev = HC_NIL;
    size_t k = 0;
    for (s = c->ord_head; s != HC_NIL; prev = s, s = e[s].ord_next) {
        if (s >= c->arena.cap || !(e[s].flags & HC_F_LIVE))
            return FAIL(msg, n, "order: slot %lu is not live", (unsigned long)s);
        if (e[s].ord_prev != prev)
            return FAIL(msg, n, "order: slot %lu has a wrong prev", (unsigned long)s);
        if (++k > c->arena.live)
            return FAIL(msg, n, "order: longer than the live entries");
    }
    if (c->ord_tail != prev || k != c->arena.live)
        return FAIL(msg, n, "order: %lu linked, %lu live, or a wrong tail", (unsigned long)k,
                    (unsigned long)c->arena.live);
    return 0;
}

static int check_wheel_and_counters(const hc_cache *c, char *msg, size_t n)
{
    const hc_entry *e = c->arena.e;
    const double *x = NULL;
    uint64_t size = 0, bytes = 0;
    size_t timed = 0;
    uint32_t s;
    if (c->wheel) {
        x = hc_wheel_expire_array(c->wheel);
        if (c->head.expire_at != x)
            return FAIL(msg, n, "head.expire_at is not the wheel's expiry array");
        if (hc_wheel_check(c->wheel, msg, n) < 0)
            return -1;
    } else if (c->head.expire_at) {
        return FAIL(msg, n, "head.expire_at set without a wheel");
    }
    for (s = 0; s < c->arena.cap; s++) {
        int live = s < c->arena.top && (e[s].flags & HC_F_LIVE);
        int flagged = live && (e[s].flags & HC_F_TIMED);
        int scheduled = x && x[s] < (double)INFINITY;
        if (flagged && !scheduled)
            return FAIL(msg, n, "wheel: timed slot %lu not scheduled", (unsigned long)s);
        if (scheduled && !flagged)
            return FAIL(msg, n, "wheel: slot %lu scheduled but not a timed live entry", (unsigned long)s);
        if (x && (x[s] != x[s]))
            return FAIL(msg, n, "wheel: slot %lu has a NaN expiry", (unsigned long)s);
        if (scheduled && x[s] < c->head.expire_floor)
            return FAIL(msg, n, "wheel: slot %lu expires at %g, before the floor %g", (unsigned long)s,
                        x[s], c->head.expire_floor);
        timed += (size_t)flagged;
        if (live) {
            size += hc_arena_size(&c->arena, s);
            bytes += hc_arena_bytes_of(&c->arena, s);
        }
    }
    if (c->wheel && hc_wheel_count(c->wheel) != timed)
        return FAIL(msg, n, "wheel: %lu scheduled, %lu timed entries",
                    (unsigned long)hc_wheel_count(c->wheel), (unsigned long)timed);
    if (size != c->size_used)
        return FAIL(msg, n, "size_used %llu, entries sum to %llu", (unsigned long long)c->size_used,
                    (unsigned long long)size);
    if (bytes != c->bytes_used)
        return FAIL(msg, n, "bytes_used %llu, entries sum to %llu", (unsigned long long)c->bytes_used,
                    (unsigned long long)bytes);
    return 0;
}

int hc_check(const hc_cache *c, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    if (check_arena(c, msg, msglen) < 0 || check_index(c, msg, msglen) < 0 ||
        c->ops->check(&c->pol, c->arena.e, c->arena.cap, c->arena.live, msg, msglen) < 0 ||
        check_order(c, msg, msglen) < 0 || check_wheel_and_counters(c, msg, msglen) < 0)
        return -1;
    return 0;
}
