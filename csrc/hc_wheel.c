/* hc_wheel.c -- hierarchical timing wheel: O(1) schedule/cancel, due entries in exact order.
 * Per-slot expiry for the core; time is passed in, due slots are handed back, nothing is freed.
 *
 *   tick T of a time t = BIAS + floor((t - origin) / tick)       (uint64, origin = first t seen)
 *   T in base 64:  [ top: bits 48.. ][ d7 ][ d6 ][ d5 ][ d4 ][ d3 ][ d2 ][ d1 ][ d0 ]
 *
 *   level 7  [b0 b1 ... b63]  bitmap[7]    each bucket: intrusive doubly-linked list of slots
 *     ...                                  (node[slot].prev/next, head[] per bucket)
 *   level 1  [b0 b1 ... b63]  bitmap[1]
 *   level 0  [b0 b1 ... b63]  bitmap[0]    one tick per bucket
 *   overflow  list, ovf_min               T's top differs from cur's (beyond the wheel's span)
 *   bmin[list]  a lower bound of the expire_at in each list (+INFINITY when empty)
 *   ready     binary heap of slots keyed by (expire_at, seq): every T <= cur
 *
 *   expire[slot]  double, +INFINITY when unscheduled (the core reads it inline)
 *   node[slot]    {prev, next, seq}: bucket links (in the heap: prev = heap index)
 *   where[slot]   which list holds the slot: level*64 + bucket, W_OVERFLOW, W_READY, W_NONE
 *
 * Invariant (cur = the current tick): a slot with tick T is
 *   - in ready            iff T <= cur;
 *   - in overflow         iff T > cur and T >> 48 != cur >> 48;
 *   - else at level L = the highest base-64 digit where T and cur differ, bucket = digit L of T.
 *   So at level L only buckets above cur's digit L are non-empty, and bitmap[L] bit b is set
 *   iff bucket (L, b) is non-empty.
 *
 * HOW IT WORKS
 * Varghese & Lauck's hierarchical wheel, in the absolute-digit form of Linux's timer wheel and
 * Caffeine's TimerWheel: an entry is filed by the highest digit in which its tick differs from
 * the current tick. Scheduling is a subtraction, a division, a few shifts and a list push:
 * O(1). Cancelling unlinks from the list that `where` names: O(1).
 *
 * Advancing to a target tick is a sequence of "events": the moment cur's digit L reaches a
 * non-empty bucket b of level L. Because lower levels only hold buckets above cur's digit, the
 * next event is found at the lowest level with a set bitmap bit above cur's digit, with one
 * count-trailing-zeros per level: O(levels), whatever the distance. At an event cur jumps
 * straight to the start of that bucket's range and the bucket's entries are re-filed by the
 * invariant above; they land at a lower level or, when their tick is now <= cur, in the ready
 * heap. When no event lies at or before the target, cur jumps to the target: skipping a
 * billion empty ticks costs as much as skipping one. Each entry cascades at most once per
 * level, so the work of an advance is O(levels + entries cascaded).
 *
 * Ticks are coarse but expiry is exact: a tick holds entries whose expire_at differ by up to
 * one tick, and a due entry may share its tick with one that is not yet due. So entries whose
 * tick has come go into a small binary heap keyed by (expire_at, schedule sequence), and
 * pop_due pops from it only while the top is <= now. floor((t - origin) / tick) is monotone
 * in t, so expire_at <= now implies tick(expire_at) <= tick(now) == cur: every due entry is in
 * the heap after the advance, and the heap gives them in exact order, ties in schedule order.
 * The heap holds only entries of past or current ticks, so it stays small (one tick's worth
 * plus whatever is due and not yet popped).
 *
 * Time origin. Ticks count from the first time the wheel sees, biased by BIAS = 2^62 + 2^47
 * so that times before the origin still have a tick (clamped to 0 far below) and the origin
 * sits in the middle of a 2^48-tick span. cur starts 2^40 ticks before the origin, because
 * the first time seen is usually an expire_at = now + ttl: later, shorter ttls then still land
 * on the wheel rather than in the heap. Times beyond the span (or so large that the tick
 * would not fit; these clamp to TICK_MAX) go to the overflow list; when cur enters the span
 * of the overflow's smallest tick (a lower bound, kept loosely on cancel), the whole list is
 * re-filed. With the default tick of 1/1024 s a span is ~8700 years (the first boundary is
 * ~4350 years after the origin), so in practice that list holds only "practically never"
 * deadlines and is revisited almost never. One cost of starting cur early: entries scheduled
 * before the first pop_due sit at high levels, so that first pop may cascade many of them at
 * once (still at most once per level each; see test_cold_start_bounded).
 *
 * has_due is read-only, so it cannot cascade. It answers from the heap top when the wheel has
 * been advanced to now (the usual case: O(1)). Otherwise it walks the buckets whose time has
 * come, in order, skipping those whose bmin is > now without reading them, and reads the
 * others until it finds a due entry. bmin is only lowered on insert and reset when a list
 * empties, so it can be stale after cancels; then has_due may read a bucket in vain until the
 * next pop_due advances past it. Callers that will pop anyway should just call pop_due: it
 * is as cheap when nothing is due and it does the cascading that makes has_due O(1).
 *
 * Why 8 levels of 64: 64 buckets make a level's occupancy one uint64 bitmap, so "next
 * non-empty bucket" is one ctz; 8 levels cover 2^48 ticks, centuries at millisecond ticks.
 * Memory: 30 bytes per slot of capacity (expire 8, links+seq 16, where 2, heap 4), plus a
 * fixed ~6.3 KB struct (513 list heads, 513 bounds, 8 bitmaps).
 */
#include "hc_wheel.h"
#include "hc_alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
#include <intrin.h>
#pragma intrinsic(_BitScanForward64)
#endif

#define LEVEL_BITS 6
#define NBUCKETS 64
#define NLEVELS 8
#define SPAN_BITS (LEVEL_BITS * NLEVELS) /* 48 */
#define W_OVERFLOW (NLEVELS * NBUCKETS)  /* list id of the overflow list */
#define W_READY (W_OVERFLOW + 1)         /* "in the ready heap" */
#define W_NONE 0xFFFFu                   /* not scheduled */
#define NLISTS (W_OVERFLOW + 1)

#define BIAS ((uint64_t)1 << 62 | (uint64_t)1 << 47)
#define TICK_MAX (BIAS + ((uint64_t)1 << 62))
#define CUR_START (BIAS - ((uint64_t)1 << 40))
#define DEFAULT_TICK (1.0 / 1024.0)

typedef struct hc_wheel_node {
    uint32_t prev, next; /* bucket links; in the heap, prev = heap index and next = HC_NIL */
    uint64_t seq;        /* schedule sequence: tie order among equal expire_at */
} hc_wheel_node;

struct hc_wheel {
    double tick;
    double origin;
    int has_origin;
    uint32_t cap;           /* per-slot arrays cover [0, cap) */
    uint64_t cur;           /* current tick */
    uint64_t seq;           /* last sequence handed out */
    uint64_t ovf_min;       /* <= every overflow tick; UINT64_MAX when the list is empty */
    uint64_t visited;
    size_t count;           /* scheduled entries */
    size_t nready;          /* entries in the heap */
    double *expire;         /* cap */
    hc_wheel_node *node;    /* cap */
    uint16_t *where;        /* cap */
    uint32_t *heap;         /* cap: the ready heap, nready used */
    uint64_t bitmap[NLEVELS];
    uint32_t head[NLISTS];  /* level buckets, then overflow; HC_NIL = empty */
    double bmin[NLISTS];    /* <= every expire_at in the list (+INFINITY when empty): lets
                             * has_due skip a bucket whose time has come but whose entries
                             * are not due yet without reading them */
};

/* ---- bit helpers ---- */

/* Index of the lowest set bit of x (x != 0). HC_WHEEL_PORTABLE_CTZ forces the de Bruijn
 * fallback (used by the tests so it is exercised on GCC too). */
static inline unsigned ctz64(uint64_t x)
{
#if (defined(__GNUC__) || defined(__clang__)) && !defined(HC_WHEEL_PORTABLE_CTZ)
    return (unsigned)__builtin_ctzll(x);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64)) && !defined(HC_WHEEL_PORTABLE_CTZ)
    unsigned long i;
    _BitScanForward64(&i, x);
    return (unsigned)i;
#else
    static const unsigned char debruijn[64] = {
        0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,
        62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
        63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
        46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6};
    return debruijn[((x & (0 - x)) * UINT64_C(0x03f79d71b4cb0a89)) >> 58];
#endif
}

static inline unsigned digit(uint64_t t, unsigned level)
{
    return (unsigned)(t >> (LEVEL_BITS * level)) & (NBUCKETS - 1);
}

/* ---- time -> tick ---- */

/* The tick of a non-NaN time t (origin must be set): monotone non-decreasing in t, clamped to
 * [0, TICK_MAX]. */
static uint64_t tick_of(const hc_wheel *w, double t)
{
    double d = floor((t - w->origin) / w->tick);
    if (!(d > -(double)BIAS))
        return 0;
    if (d >= (double)((uint64_t)1 << 62))
        return TICK_MAX;
    return BIAS + (uint64_t)(int64_t)d; /* unsigned wrap-around adds a negative d */
}

static void set_origin(hc_wheel *w, double t)
{
    if (!w->has_origin && isfinite(t)) {
        w->origin = t;
        w->has_origin = 1;
    }
}

/* Where a slot with tick T belongs now (the invariant in the header comment). */
static unsigned place_of(const hc_wheel *w, uint64_t T)
{
    uint64_t x;
    unsigned level = 0;
    if (T <= w->cur)
        return W_READY;
    if ((T >> SPAN_BITS) != (w->cur >> SPAN_BITS))
        return W_OVERFLOW;
    x = (T ^ w->cur) >> LEVEL_BITS;
    while (x) {
        x >>= LEVEL_BITS;
        level++;
    }
    return level * NBUCKETS + digit(T, level);
}

/* ---- the ready heap, ordered by (expire_at, seq) ---- */

static inline int ready_less(const hc_wheel *w, uint32_t a, uint32_t b)
{
    double ea = w->expire[a], eb = w->expire[b];
    return ea < eb || (ea == eb && w->node[a].seq < w->node[b].seq);
}

static inline void heap_put(hc_wheel *w, size_t i, uint32_t slot)
{
    w->heap[i] = slot;
    w->node[slot].prev = (uint32_t)i;
}

static void sift_up(hc_wheel *w, size_t i)
{
    uint32_t slot = w->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ready_less(w, slot, w->heap[parent]))
            break;
        heap_put(w, i, w->heap[parent]);
        i = parent;
    }
    heap_put(w, i, slot);
}

static void sift_down(hc_wheel *w, size_t i)
{
    uint32_t slot = w->heap[i];
    size_t n = w->nready;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ready_less(w, w->heap[c + 1], w->heap[c]))
            c++;
        if (!ready_less(w, w->heap[c], slot))
            break;
        heap_put(w, i, w->heap[c]);
        i = c;
    }
    heap_put(w, i, slot);
}

static void heap_push(hc_wheel *w, uint32_t slot)
{
    size_t i = w->nready++;
    w->heap[i] = slot;
    w->node[slot].next = HC_NIL;
    sift_up(w, i);
}

/* Remove the heap entry at index i. */
static void heap_remove_at(hc_wheel *w, size_t i)
{
    uint32_t last = w->heap[--w->nready];
    if (i == w->nready)
        return;
    heap_put(w, i, last);
    if (i > 0 && ready_less(w, last, w->heap[(i - 1) / 2]))
        sift_up(w, i);
    else
        sift_down(w, i);
}

/* ---- bucket lists ---- */

static inline void push_link(hc_wheel *w, unsigned list, uint32_t slot)
{
    uint32_t h = w->head[list];
    w->node[slot].prev = HC_NIL;
    w->node[slot].next = h;
    if (h != HC_NIL)
        w->node[h].prev = slot;
    w->head[list] = slot;
    if (list < W_OVERFLOW)
        w->bitmap[list / NBUCKETS] |= (uint64_t)1 << (list % NBUCKETS);
}

static inline void extract_link(hc_wheel *w, unsigned list, uint32_t slot)
{
    uint32_t p = w->node[slot].prev, n = w->node[slot].next;
    if (p != HC_NIL)
        w->node[p].next = n;
    else
        w->head[list] = n;
    if (n != HC_NIL)
        w->node[n].prev = p;
    if (w->head[list] == HC_NIL) {
        w->bmin[list] = (double)INFINITY;
        if (list < W_OVERFLOW)
            w->bitmap[list / NBUCKETS] &= ~((uint64_t)1 << (list % NBUCKETS));
        else
            w->ovf_min = UINT64_MAX;
    }
}

/* File a slot (expire already set, not in any list) where the invariant puts it. */
static void file_slot(hc_wheel *w, uint32_t slot)
{
    uint64_t T = tick_of(w, w->expire[slot]);
    unsigned list = place_of(w, T);
    w->where[slot] = (uint16_t)list;
    if (list == W_READY) {
        heap_push(w, slot);
        return;
    }
    if (list == W_OVERFLOW && T < w->ovf_min)
        w->ovf_min = T;
    if (w->expire[slot] < w->bmin[list])
        w->bmin[list] = w->expire[slot];
    push_link(w, list, slot);
}

/* Take a scheduled slot out of whatever holds it (expire and count untouched). */
static void unlink_slot(hc_wheel *w, uint32_t slot)
{
    unsigned list = w->where[slot];
    if (list == W_READY)
        heap_remove_at(w, w->node[slot].prev);
    else
        extract_link(w, list, slot);
    w->where[slot] = W_NONE;
}

/* ---- advancing ---- */

/* When the overflow list (non-empty) is next re-filed: at the start of the span of its
 * smallest tick, and not before the next span (its ticks' tops all differ from cur's). */
static uint64_t overflow_event(const hc_wheel *w)
{
    uint64_t next_span = ((w->cur >> SPAN_BITS) + 1) << SPAN_BITS;
    uint64_t min_span = w->ovf_min >> SPAN_BITS << SPAN_BITS;
    return min_span > next_span ? min_span : next_span;
}

/* The next event after cur: the start tick of the first non-empty bucket whose time has not
 * come, or of the overflow's earliest span. Sets *list (a level bucket or W_OVERFLOW) and
 * returns 1; 0 if the wheel holds nothing outside the heap. O(levels). */
static int next_event(const hc_wheel *w, uint64_t *ev, unsigned *list)
{
    unsigned level;
    for (level = 0; level < NLEVELS; level++) {
        unsigned d = digit(w->cur, level);
        uint64_t above = d == NBUCKETS - 1 ? 0 : w->bitmap[level] & (~(uint64_t)0 << (d + 1));
        if (above) {
            unsigned b = ctz64(above);
            unsigned shift = LEVEL_BITS * (level + 1);
            *ev = (w->cur >> shift << shift) | ((uint64_t)b << (LEVEL_BITS * level));
            *list = level * NBUCKETS + b;
            return 1;
        }
    }
    if (w->head[W_OVERFLOW] != HC_NIL) {
        *ev = overflow_event(w);
        *list = W_OVERFLOW;
        return 1;
    }
    return 0;
}

double hc_wheel_floor(const hc_wheel *w)
{
    double f = (double)INFINITY, t;
    uint64_t ev;
    unsigned list;
    if (w->nready > 0)
        f = w->expire[w->heap[0]];
    if (w->count > w->nready && w->has_origin && next_event(w, &ev, &list)) {
        /* every entry outside the heap has a tick >= ev, so expire_at >= the start of tick ev;
         * one tick of slack covers the rounding of tick_of's floor() */
        t = w->origin + ((double)(int64_t)(ev - BIAS) - 1.0) * w->tick;
        if (t < f)
            f = t;
    }
    return f;
}

/* Move cur forward to target, cascading every bucket whose time comes on the way. */
static void advance(hc_wheel *w, uint64_t target)
{
    uint64_t ev;
    unsigned list;
    while (target > w->cur && next_event(w, &ev, &list) && ev <= target) {
        uint32_t slot = w->head[list];
        w->cur = ev;
        w->head[list] = HC_NIL;
        w->bmin[list] = (double)INFINITY;
        if (list < W_OVERFLOW)
            w->bitmap[list / NBUCKETS] &= ~((uint64_t)1 << (list % NBUCKETS));
        else
            w->ovf_min = UINT64_MAX;
        while (slot != HC_NIL) {
            uint32_t next = w->node[slot].next;
            w->visited++;
            file_slot(w, slot);
            slot = next;
        }
    }
    if (target > w->cur)
        w->cur = target;
}

/* ---- public API ---- */

hc_wheel *hc_wheel_new(double tick)
{
    unsigned i;
    hc_wheel *w = (hc_wheel *)hc_malloc(sizeof *w);
    if (!w)
        return NULL;
    memset(w, 0, sizeof *w);
    w->tick = (tick > 0 && isfinite(tick)) ? tick : DEFAULT_TICK;
    w->cur = CUR_START;
    w->ovf_min = UINT64_MAX;
    for (i = 0; i < NLISTS; i++) {
        w->head[i] = HC_NIL;
        w->bmin[i] = (double)INFINITY;
    }
    return w;
}

void hc_wheel_free(hc_wheel *w)
{
    if (!w)
        return;
    hc_mfree(w->expire);
    hc_mfree(w->node);
    hc_mfree(w->where);
    hc_mfree(w->heap);
    hc_mfree(w);
}

/* malloc(n * size) copy of src, or NULL (also NULL, without failing, when n == 0). */
static void *dup_array(const void *src, size_t n, size_t size, int *failed)
{
    void *p;
    if (n == 0)
        return NULL;
    p = hc_malloc(hc_mul_size(n, size));
    if (!p)
        *failed = 1;
    else
        memcpy(p, src, n * size);
    return p;
}

hc_wheel *hc_wheel_clone(const hc_wheel *w)
{
    int failed = 0;
    hc_wheel *c = (hc_wheel *)hc_malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *w;
    c->expire = (double *)dup_array(w->expire, w->cap, sizeof *w->expire, &failed);
    c->node = (hc_wheel_node *)dup_array(w->node, w->cap, sizeof *w->node, &failed);
    c->where = (uint16_t *)dup_array(w->where, w->cap, sizeof *w->where, &failed);
    c->heap = (uint32_t *)dup_array(w->heap, w->cap, sizeof *w->heap, &failed);
    if (failed) {
        hc_wheel_free(c);
        return NULL;
    }
    return c;
}

int hc_wheel_reserve(hc_wheel *w, uint32_t nslots)
{
    double *expire;
    hc_wheel_node *node;
    uint16_t *where;
    uint32_t *heap, i;
    size_t n = nslots;
    if (nslots <= w->cap)
        return 0;
    if (!hc_mul_size(n, sizeof *node))
        return -1;
    /* Each realloc that succeeds is kept (the block is only larger); cap moves last, so a
     * failure part-way leaves the wheel observably unchanged. */
    expire = (double *)hc_realloc(w->expire, n * sizeof *expire);
    if (!expire)
        return -1;
    w->expire = expire;
    node = (hc_wheel_node *)hc_realloc(w->node, n * sizeof *node);
    if (!node)
        return -1;
    w->node = node;
    where = (uint16_t *)hc_realloc(w->where, n * sizeof *where);
    if (!where)
        return -1;
    w->where = where;
    heap = (uint32_t *)hc_realloc(w->heap, n * sizeof *heap);
    if (!heap)
        return -1;
    w->heap = heap;
    for (i = w->cap; i < nslots; i++) {
        w->expire[i] = (double)INFINITY;
        w->node[i].prev = w->node[i].next = HC_NIL;
        w->node[i].seq = 0;
        w->where[i] = W_NONE;
    }
    w->cap = nslots;
    return 0;
}

double *hc_wheel_expire_array(hc_wheel *w)
{
    return w->expire;
}

int hc_wheel_schedule(hc_wheel *w, uint32_t slot, double expire_at)
{
    if (isnan(expire_at) || expire_at == (double)INFINITY) {
        hc_wheel_cancel(w, slot);
        return 0;
    }
    set_origin(w, expire_at);
    if (!w->has_origin) { /* only -INFINITY seen so far: its tick is 0 whatever the origin */
        w->origin = 0.0;
        w->has_origin = 1;
    }
    if (w->where[slot] != W_NONE)
        unlink_slot(w, slot);
    else
        w->count++;
    w->expire[slot] = expire_at;
    w->node[slot].seq = ++w->seq;
    file_slot(w, slot);
    return 0;
}

void hc_wheel_cancel(hc_wheel *w, uint32_t slot)
{
    if (w->where[slot] == W_NONE)
        return;
    unlink_slot(w, slot);
    w->expire[slot] = (double)INFINITY;
    w->count--;
}

int hc_wheel_has_due(const hc_wheel *w, double now)
{
    uint64_t target, ev;
    unsigned level;
    if (w->nready > 0 && w->expire[w->heap[0]] <= now)
        return 1;
    if (w->count == w->nready || isnan(now) || !w->has_origin)
        return 0;
    target = tick_of(w, now);
    if (target <= w->cur) /* every entry outside the heap has a tick > cur >= tick(now) */
        return 0;
    /* Read, without moving anything, the buckets whose time comes by target. */
    for (level = 0; level < NLEVELS; level++) {
        unsigned d = digit(w->cur, level);
        uint64_t above = d == NBUCKETS - 1 ? 0 : w->bitmap[level] & (~(uint64_t)0 << (d + 1));
        unsigned shift = LEVEL_BITS * (level + 1);
        while (above) {
            unsigned b = ctz64(above), list = level * NBUCKETS + b;
            uint32_t slot;
            ev = (w->cur >> shift << shift) | ((uint64_t)b << (LEVEL_BITS * level));
            if (ev > target)
                return 0; /* this and every later bucket, here and above, start after now */
            if (w->bmin[list] <= now) /* else nothing in it is due: skip without reading */
                for (slot = w->head[list]; slot != HC_NIL; slot = w->node[slot].next)
                    if (w->expire[slot] <= now)
                        return 1;
            above &= above - 1;
        }
    }
    if (w->head[W_OVERFLOW] != HC_NIL && overflow_event(w) <= target &&
        w->bmin[W_OVERFLOW] <= now) {
        uint32_t slot;
        for (slot = w->head[W_OVERFLOW]; slot != HC_NIL; slot = w->node[slot].next)
            if (w->expire[slot] <= now)
                return 1;
    }
    return 0;
}

size_t hc_wheel_pop_due(hc_wheel *w, double now, uint32_t *out, size_t max)
{
    size_t n = 0;
    if (isnan(now))
        return 0;
    set_origin(w, now);
    if (!w->has_origin) /* now == -INFINITY before any finite time: nothing to advance */
        return 0;
    advance(w, tick_of(w, now));
    while (n < max && w->nready > 0) {
        uint32_t slot = w->heap[0];
        if (!(w->expire[slot] <= now))
            break;
        heap_remove_at(w, 0);
        w->where[slot] = W_NONE;
        w->expire[slot] = (double)INFINITY;
        w->count--;
        w->visited++;
        out[n++] = slot;
    }
    return n;
}

void hc_wheel_clear(hc_wheel *w)
{
    uint32_t i;
    unsigned l;
    for (i = 0; i < w->cap; i++) {
        w->expire[i] = (double)INFINITY;
        w->node[i].prev = w->node[i].next = HC_NIL;
        w->where[i] = W_NONE;
    }
    for (l = 0; l < NLISTS; l++) {
        w->head[l] = HC_NIL;
        w->bmin[l] = (double)INFINITY;
    }
    memset(w->bitmap, 0, sizeof w->bitmap);
    w->count = w->nready = 0;
    w->ovf_min = UINT64_MAX;
    w->has_origin = 0;
    w->origin = 0.0;
    w->cur = CUR_START;
}

size_t hc_wheel_count(const hc_wheel *w)
{
    return w->count;
}

size_t hc_wheel_bytes(const hc_wheel *w)
{
    return sizeof *w + (size_t)w->cap * (sizeof *w->expire + sizeof *w->node +
                                         sizeof *w->where + sizeof *w->heap);
}

uint64_t hc_wheel_visited(const hc_wheel *w)
{
    return w->visited;
}

/* ---- checking ---- */

#define FAIL(...)                                   \
    do {                                            \
        if (msg && msglen)                          \
            snprintf(msg, msglen, __VA_ARGS__);     \
        return -1;                                  \
    } while (0)

int hc_wheel_check(const hc_wheel *w, char *msg, size_t msglen)
{
    uint32_t i;
    unsigned list, level;
    size_t scheduled = 0, linked = 0;

    if (w->nready > w->count || w->count > w->cap)
        FAIL("wheel: count %zu, ready %zu, cap %u", w->count, w->nready, (unsigned)w->cap);
    if (w->seq == UINT64_MAX)
        FAIL("wheel: schedule sequence exhausted");
    /* per slot: expire <-> where <-> the place the invariant gives */
    for (i = 0; i < w->cap; i++) {
        double e = w->expire[i];
        unsigned where = w->where[i];
        if (where == W_NONE) {
            if (e != (double)INFINITY)
                FAIL("wheel: slot %u unscheduled but expire_at %g", (unsigned)i, e);
            continue;
        }
        scheduled++;
        if (isnan(e) || e == (double)INFINITY)
            FAIL("wheel: slot %u scheduled at %g", (unsigned)i, e);
        if (!w->has_origin)
            FAIL("wheel: slot %u scheduled but no origin", (unsigned)i);
        if (w->node[i].seq == 0 || w->node[i].seq > w->seq)
            FAIL("wheel: slot %u has sequence %llu of %llu", (unsigned)i,
                 (unsigned long long)w->node[i].seq, (unsigned long long)w->seq);
        if (where != place_of(w, tick_of(w, e)))
            FAIL("wheel: slot %u (expire_at %.17g) is in list %u, belongs in %u", (unsigned)i, e,
                 where, place_of(w, tick_of(w, e)));
        if (where == W_OVERFLOW && tick_of(w, e) < w->ovf_min)
            FAIL("wheel: slot %u overflow tick below ovf_min", (unsigned)i);
        if (where == W_READY) {
            uint32_t pos = w->node[i].prev;
            if (pos >= w->nready || w->heap[pos] != i)
                FAIL("wheel: slot %u heap index %u wrong", (unsigned)i, (unsigned)pos);
        }
    }
    if (scheduled != w->count)
        FAIL("wheel: count %zu but %zu slots scheduled", w->count, scheduled);
    /* lists: links, membership, bitmaps */
    for (list = 0; list < NLISTS; list++) {
        uint32_t prev = HC_NIL, slot = w->head[list];
        size_t steps = 0;
        if (list < W_OVERFLOW) {
            int bit = (int)(w->bitmap[list / NBUCKETS] >> (list % NBUCKETS) & 1);
            if (bit != (slot != HC_NIL))
                FAIL("wheel: bitmap bit of bucket %u/%u is %d", list / NBUCKETS,
                     list % NBUCKETS, bit);
        } else if (slot == HC_NIL && w->ovf_min != UINT64_MAX) {
            FAIL("wheel: overflow empty but ovf_min set");
        }
        if (slot == HC_NIL && w->bmin[list] != (double)INFINITY)
            FAIL("wheel: list %u empty but its bound is %.17g", list, w->bmin[list]);
        for (; slot != HC_NIL; prev = slot, slot = w->node[slot].next) {
            if (slot >= w->cap || ++steps > w->count)
                FAIL("wheel: list %u broken (slot %u, step %zu)", list, (unsigned)slot, steps);
            if (w->where[slot] != list)
                FAIL("wheel: slot %u linked in list %u but where = %u", (unsigned)slot, list,
                     (unsigned)w->where[slot]);
            if (!(w->bmin[list] <= w->expire[slot]))
                FAIL("wheel: slot %u expire_at %.17g below its list's bound %.17g",
                     (unsigned)slot, w->expire[slot], w->bmin[list]);
            if (w->node[slot].prev != prev)
                FAIL("wheel: slot %u prev link %u, expected %u", (unsigned)slot,
                     (unsigned)w->node[slot].prev, (unsigned)prev);
        }
        linked += steps;
    }
    if (linked + w->nready != w->count)
        FAIL("wheel: %zu linked + %zu ready != count %zu", linked, w->nready, w->count);
    /* only buckets above cur's digit may be occupied */
    for (level = 0; level < NLEVELS; level++) {
        unsigned d = digit(w->cur, level);
        uint64_t low = d == NBUCKETS - 1 ? ~(uint64_t)0 : ((uint64_t)1 << (d + 1)) - 1;
        if (w->bitmap[level] & low)
            FAIL("wheel: level %u has a bucket at or below the current digit %u", level, d);
    }
    /* heap: membership and order */
    for (i = 0; i < w->nready; i++) {
        uint32_t slot = w->heap[i];
        if (slot >= w->cap || w->where[slot] != W_READY || w->node[slot].prev != i)
            FAIL("wheel: heap[%u] = %u inconsistent", (unsigned)i, (unsigned)slot);
        if (i > 0 && ready_less(w, slot, w->heap[(i - 1) / 2]))
            FAIL("wheel: heap order broken at %u", (unsigned)i);
    }
    return 0;
}
