/* hc_policy_lfu.c -- the LFU policy: O(1) frequency buckets (Shah, Mitra & Matani 2010) with
 * LRU order inside a bucket, so among the lowest count the least recently used goes first.
 *
 *   p->head (lowest) ──▶ node{count 1} ⇄ node{count 2} ⇄ node{count 7} ◀── p->tail (highest)
 *                          │ head
 *                          ▼
 *                        [LRU] ⇄ [ ] ⇄ [MRU] ⇄ (circular: e[head].pol_prev is the MRU)
 *   entry.pol_aux = its node; nodes live in a pool addressed by uint32 (free ones via .next).
 *
 * HOW IT WORKS: a use moves an entry from bucket c to bucket c+1, which is either the next node
 * or a new node linked right after it; emptied buckets are freed at once. An entry alone in its
 * bucket with no c+1 neighbour just relabels its node. So the nodes in use never exceed the
 * entries, and the pool grows geometrically only to the high-water mark of distinct counts
 * (usually a handful), not per entry. Counts are uint32 and saturate: an entry at UINT32_MAX
 * only becomes most recent in its bucket.
 *
 * OOM: on_insert never allocates (reserve guarantees a node). on_access may need one new node
 * when the pool is full; if that allocation fails the entry keeps its count and becomes most
 * recent in its bucket (a softer LFU step) -- the structure stays valid either way.
 */
#include <stdlib.h>

#include "hc_alloc.h"
#include "hc_policy.h"

/* ---- the node pool ---- */

static int pool_grow(hc_pol *p)
{
    uint32_t cap = p->node_cap < 8 ? 8 : (p->node_cap > UINT32_MAX / 2 ? UINT32_MAX : p->node_cap * 2);
    size_t nbytes = hc_mul_size(cap, sizeof(hc_lfu_node));
    hc_lfu_node *nd;
    if (cap <= p->node_cap || nbytes == 0)
        return -1;
    nd = (hc_lfu_node *)hc_realloc(p->node, nbytes);
    if (!nd)
        return -1;
    p->node = nd;
    p->node_cap = cap;
    return 0;
}

static inline int pool_has_free(const hc_pol *p)
{
    return p->node_free != HC_NIL || p->node_used < p->node_cap;
}

/* A fresh node with `count` and no entries, or HC_NIL if the pool is full and cannot grow. */
static uint32_t node_take(hc_pol *p, uint32_t count)
{
    uint32_t b;
    if (!pool_has_free(p) && pool_grow(p) < 0)
        return HC_NIL;
    if (p->node_free != HC_NIL) {
        b = p->node_free;
        p->node_free = p->node[b].next;
    } else {
        b = p->node_used++;
    }
    p->node[b].count = count;
    p->node[b].head = HC_NIL;
    p->node[b].prev = p->node[b].next = HC_NIL;
    return b;
}

/* Link node b into the bucket list right after `after` (HC_NIL: at the front). */
static void node_link_after(hc_pol *p, uint32_t after, uint32_t b)
{
    uint32_t nx = after == HC_NIL ? p->head : p->node[after].next;
    p->node[b].prev = after;
    p->node[b].next = nx;
    if (after == HC_NIL)
        p->head = b;
    else
        p->node[after].next = b;
    if (nx == HC_NIL)
        p->tail = b;
    else
        p->node[nx].prev = b;
}

/* Unlink the (empty) node b from the bucket list and return it to the pool. */
static void node_drop(hc_pol *p, uint32_t b)
{
    uint32_t pv = p->node[b].prev, nx = p->node[b].next;
    if (pv == HC_NIL)
        p->head = nx;
    else
        p->node[pv].next = nx;
    if (nx == HC_NIL)
        p->tail = pv;
    else
        p->node[nx].prev = pv;
    p->node[b].next = p->node_free;
    p->node_free = b;
}

/* ---- entries inside a bucket: a circular list, head = LRU ---- */

static inline void bucket_append(hc_pol *p, hc_entry *e, uint32_t b, uint32_t s)
{
    uint32_t h = p->node[b].head;
    if (h == HC_NIL) {
        p->node[b].head = s;
        e[s].pol_prev = e[s].pol_next = s;
    } else {
        uint32_t t = e[h].pol_prev;
        e[s].pol_prev = t;
        e[s].pol_next = h;
        e[t].pol_next = s;
        e[h].pol_prev = s;
    }
    e[s].pol_aux = b;
}

/* Take s out of its bucket; returns 1 if the bucket is now empty. */
static inline int bucket_extract(hc_pol *p, hc_entry *e, uint32_t b, uint32_t s)
{
    uint32_t pv = e[s].pol_prev, nx = e[s].pol_next;
    if (nx == s) {
        p->node[b].head = HC_NIL;
        return 1;
    }
    e[pv].pol_next = nx;
    e[nx].pol_prev = pv;
    if (p->node[b].head == s)
        p->node[b].head = nx;
    return 0;
}

/* ---- ops ---- */

static int lfu_reserve(hc_pol *p, uint32_t n)
{
    (void)n;
    return pool_has_free(p) ? 0 : pool_grow(p);
}

static void lfu_insert(hc_pol *p, hc_entry *e, uint32_t s)
{
    uint32_t b = p->head;
    if (b == HC_NIL || p->node[b].count != 1) {
        b = node_take(p, 1); /* cannot fail: reserved */
        node_link_after(p, HC_NIL, b);
    }
    bucket_append(p, e, b, s);
    p->n++;
}

static void lfu_use(hc_pol *p, hc_entry *e, uint32_t s)
{
    uint32_t b = e[s].pol_aux;
    uint32_t count = p->node[b].count;
    uint32_t nx = p->node[b].next;
    int alone = e[s].pol_next == s;
    if (count == UINT32_MAX) {
        /* saturated: only recency changes */
        if (!alone && e[p->node[b].head].pol_prev != s) {
            bucket_extract(p, e, b, s);
            bucket_append(p, e, b, s);
        }
        return;
    }
    if (nx != HC_NIL && p->node[nx].count == count + 1) {
        if (bucket_extract(p, e, b, s))
            node_drop(p, b);
        bucket_append(p, e, nx, s);
    } else if (alone) {
        p->node[b].count = count + 1;
    } else {
        uint32_t nb = node_take(p, count + 1);
        bucket_extract(p, e, b, s);
        if (nb == HC_NIL) { /* OOM: keep the count, become most recent */
            bucket_append(p, e, b, s);
            return;
        }
        node_link_after(p, b, nb);
        bucket_append(p, e, nb, s);
    }
}

static void lfu_remove(hc_pol *p, hc_entry *e, uint32_t s)
{
    uint32_t b = e[s].pol_aux;
    if (bucket_extract(p, e, b, s))
        node_drop(p, b);
    p->n--;
}

static uint32_t lfu_victim(hc_pol *p, hc_entry *e, uint32_t keep)
{
    uint32_t b = p->head, h, nx;
    if (b == HC_NIL)
        return HC_NIL;
    h = p->node[b].head;
    if (h != keep)
        return h;
    nx = e[h].pol_next; /* circular within the bucket: back at h means keep is alone there */
    if (nx != h)
        return nx;
    b = p->node[b].next;
    return b == HC_NIL ? HC_NIL : p->node[b].head;
}

static void lfu_clear(hc_pol *p)
{
    hc_policy_free(p);
}

static size_t lfu_order(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux)
{
    size_t k = 0;
    uint32_t b;
    for (b = p->head; b != HC_NIL; b = p->node[b].next) {
        uint32_t h = p->node[b].head, s = h;
        do {
            out[k] = s;
            if (aux)
                aux[k] = p->node[b].count;
            k++;
            s = e[s].pol_next;
        } while (s != h);
    }
    return k;
}

static inline uint32_t clamp_count(const uint64_t *aux, size_t i)
{
    uint64_t c = aux ? aux[i] : 1u;
    return c < 1u ? 1u : (c > UINT32_MAX ? UINT32_MAX : (uint32_t)c);
}

/* Stable bottom-up merge sort of idx[0..n) by clamp_count(aux, idx[i]); tmp has n cells. */
static void sort_by_count(uint32_t *idx, uint32_t *tmp, size_t n, const uint64_t *aux)
{
    size_t width, i;
    uint32_t *src = idx, *dst = tmp;
    for (width = 1; width < n; width *= 2) {
        for (i = 0; i < n; i += 2 * width) {
            size_t lo = i, mid = i + width < n ? i + width : n;
            size_t hi = i + 2 * width < n ? i + 2 * width : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                dst[k++] = clamp_count(aux, src[b]) < clamp_count(aux, src[a]) ? src[b++] : src[a++];
            while (a < mid)
                dst[k++] = src[a++];
            while (b < hi)
                dst[k++] = src[b++];
        }
        {
            uint32_t *t = src;
            src = dst;
            dst = t;
        }
    }
    if (src != idx)
        for (i = 0; i < n; i++)
            idx[i] = src[i];
}

static int lfu_restore(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux, size_t n)
{
    uint32_t *idx = NULL, distinct = 0, cap;
    hc_lfu_node *nodes;
    size_t i, nbytes;
    if (n > UINT32_MAX - 1)
        return -1;
    if (n) {
        nbytes = hc_mul_size(n, 2 * sizeof(uint32_t));
        idx = nbytes ? (uint32_t *)hc_malloc(nbytes) : NULL;
        if (!idx)
            return -1;
        for (i = 0; i < n; i++)
            idx[i] = (uint32_t)i;
        sort_by_count(idx, idx + n, n, aux);
        for (i = 0; i < n; i++)
            if (i == 0 || clamp_count(aux, idx[i]) != clamp_count(aux, idx[i - 1]))
                distinct++;
    }
    cap = distinct < 8 ? 8 : distinct;
    nodes = (hc_lfu_node *)hc_malloc(hc_mul_size(cap, sizeof(hc_lfu_node)));
    if (!nodes) {
        hc_mfree(idx);
        return -1;
    }
    /* committed: nothing below fails */
    hc_mfree(p->node);
    p->node = nodes;
    p->node_cap = cap;
    p->node_used = 0;
    p->node_free = HC_NIL;
    p->head = p->tail = HC_NIL;
    p->n = 0;
    for (i = 0; i < n; i++) {
        uint32_t count = clamp_count(aux, idx[i]);
        if (p->tail == HC_NIL || p->node[p->tail].count != count)
            node_link_after(p, p->tail, node_take(p, count));
        bucket_append(p, e, p->tail, slots[idx[i]]);
        p->n++;
    }
    hc_mfree(idx);
    return 0;
}

static int lfu_check(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                     size_t msglen)
{
    uint32_t b, prevb = HC_NIL, nodes = 0, nfree = 0;
    size_t k = 0;
    for (b = p->head; b != HC_NIL; prevb = b, b = p->node[b].next) {
        uint32_t h, s, prev;
        if (b >= p->node_used)
            return hc_policy_fail(msg, msglen, "lfu: node %lu beyond the pool", (unsigned long)b);
        if (p->node[b].prev != prevb)
            return hc_policy_fail(msg, msglen, "lfu: node %lu has a wrong prev", (unsigned long)b);
        if (prevb != HC_NIL && p->node[prevb].count >= p->node[b].count)
            return hc_policy_fail(msg, msglen, "lfu: bucket counts not ascending at node %lu",
                                  (unsigned long)b);
        if (p->node[b].count == 0)
            return hc_policy_fail(msg, msglen, "lfu: node %lu has count 0", (unsigned long)b);
        if (++nodes > p->node_used)
            return hc_policy_fail(msg, msglen, "lfu: bucket list cycles");
        h = p->node[b].head;
        if (h == HC_NIL)
            return hc_policy_fail(msg, msglen, "lfu: empty bucket %lu kept", (unsigned long)b);
        s = h;
        do {
            if (s >= cap || !(e[s].flags & HC_F_LIVE))
                return hc_policy_fail(msg, msglen, "lfu: slot %lu in bucket %lu is not live",
                                      (unsigned long)s, (unsigned long)b);
            if (e[s].pol_aux != b)
                return hc_policy_fail(msg, msglen, "lfu: slot %lu points at node %lu, is in %lu",
                                      (unsigned long)s, (unsigned long)e[s].pol_aux, (unsigned long)b);
            prev = e[s].pol_prev;
            if (prev >= cap || e[prev].pol_next != s)
                return hc_policy_fail(msg, msglen, "lfu: slot %lu has a wrong prev", (unsigned long)s);
            if (++k > live)
                return hc_policy_fail(msg, msglen, "lfu: more entries than the %lu live",
                                      (unsigned long)live);
            s = e[s].pol_next;
        } while (s != h);
    }
    if (p->tail != prevb)
        return hc_policy_fail(msg, msglen, "lfu: tail is not the highest bucket");
    if (k != live || p->n != live)
        return hc_policy_fail(msg, msglen, "lfu: holds %lu (n=%lu), %lu live", (unsigned long)k,
                              (unsigned long)p->n, (unsigned long)live);
    for (b = p->node_free; b != HC_NIL; b = p->node[b].next)
        if (b >= p->node_used || ++nfree > p->node_used)
            return hc_policy_fail(msg, msglen, "lfu: node free list broken");
    if (nodes + nfree != p->node_used)
        return hc_policy_fail(msg, msglen, "lfu: %lu nodes in use + %lu free != %lu handed out",
                              (unsigned long)nodes, (unsigned long)nfree, (unsigned long)p->node_used);
    if (nodes > live)
        return hc_policy_fail(msg, msglen, "lfu: more buckets than entries");
    return 0;
}

static uint32_t lfu_peek(const hc_pol *p, const hc_entry *e)
{
    (void)e;
    return p->head == HC_NIL ? HC_NIL : p->node[p->head].head;
}

const hc_policy_ops hc_policy_lfu = {
    .name = "lfu",
    .reserve = lfu_reserve,
    .on_insert = lfu_insert,
    .on_access = lfu_use,
    .on_update = lfu_use,
    .on_remove = lfu_remove,
    .on_evict = lfu_remove, /* an eviction is a removal here */
    .victim = lfu_victim,
    .clear = lfu_clear,
    .order = lfu_order,
    .restore = lfu_restore,
    .check = lfu_check,
    .peek = lfu_peek,
};
