/* fuzz_core.c -- libFuzzer target for the C core: the fuzz input is decoded into a cache
 * configuration and a sequence of operations (lookup + touch / miss, insert, update, remove,
 * popitem, time passing with reclaim / expire, re-timing, byte re-charges, resize, clear, clone,
 * policy order round trips, allocation failures), driven through hc.h the way the binding drives
 * it, against a reference model kept here: per key its slot, size, byte charge and expiry, plus
 * the counters. After every step hc_check() must pass and the core must agree with the model:
 * membership (a probe finds every live key at its slot and no other key), len, size and byte
 * totals, per-entry size/bytes/expiry, stats counters; hc_over() must answer what the model's
 * totals say, so evictions happen only when a bound requires them, and every victim must be a
 * live entry (a due one first, and the exact one for the list policies and LFU); an expired
 * entry is never found again. Any disagreement aborts (a crash for libFuzzer).
 *
 * Build and run: `make -C csrc fuzz` (see csrc/fuzz/README.md). Input layout:
 *   byte 0: policy (mod HC_POLICY_COUNT_)   byte 1: max_size choice   byte 2: max_bytes choice
 *   byte 3: tick choice and seed; then ops: an opcode byte and up to 4 argument bytes each.
 * Reads past the end of the input yield 0, so every input is valid. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hc.h"

void ht_fail_after(long n); /* tests/ht_alloc.c: the allocation after n more succeed fails */

#define K 48          /* distinct keys; a few share a hash (caller-side key compare) */
#define MAX_OPS 4096

typedef struct mkey {
    int present;
    uint32_t slot;
    uint64_t size, bytes;
    double expire;  /* +INFINITY: none */
    uint64_t stamp; /* list policies: order position; LFU: recency */
    uint64_t count; /* LFU: uses */
} mkey;

static mkey m[K];
static hc_stats ms;          /* the counters the core must report */
static uint64_t stamp_clock;
static int policy;
static uint64_t max_size, max_bytes;
static double now;

static const uint8_t *in;
static size_t in_len, in_pos;

static unsigned rd(void) { return in_pos < in_len ? in[in_pos++] : 0; }

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, "fuzz_core: " __VA_ARGS__);                                           \
        fprintf(stderr, " (policy %d, max_size %llu, max_bytes %llu, now %g, input byte %zu)\n", \
                policy, (unsigned long long)max_size, (unsigned long long)max_bytes, now,    \
                in_pos);                                                                      \
        abort();                                                                              \
    } while (0)
#define ENSURE(cond)                                                                          \
    do {                                                                                      \
        if (!(cond))                                                                          \
            FAIL("line %d: %s", __LINE__, #cond);                                             \
    } while (0)

/* Keys k and k+24 for k % 8 == 7 share a hash; the rest are spread or small consecutive ints
 * (Python's int hashes), so probe runs, fragment collisions and full-hash collisions occur. */
static uint64_t hash_of(int k)
{
    if (k % 8 == 7)
        return (uint64_t)(k % 24);
    if (k % 2)
        return (uint64_t)k;
    return (uint64_t)k * UINT64_C(0x100000001B3) ^ UINT64_C(0xDEADBEEF00000000);
}

static int key_of(hc_cache *c, uint32_t slot)
{
    uintptr_t w = (uintptr_t)hc_entry_at(c, slot)->key;
    ENSURE(w >= 1 && w <= K);
    return (int)w - 1;
}

/* The slot holding key k, found as the binding finds it (probe, then the caller's key word). */
static uint32_t find(hc_cache *c, int k)
{
    hc_probe p;
    uint32_t s;
    uint64_t h = hash_of(k);
    hc_probe_init(c, h, &p);
    while ((s = hc_probe_next(c, &p)) != HC_NIL)
        if (hc_hash_at(c, s) == h && hc_entry_at(c, s)->key == (void *)(uintptr_t)(k + 1))
            return s;
    return HC_NIL;
}

static int due(int k) { return m[k].present && m[k].expire <= now; }

static void model_gone(int k) { m[k].present = 0; }

static int list_policy(void)
{
    return policy == HC_POLICY_INSERTION || policy == HC_POLICY_LRU || policy == HC_POLICY_FIFO ||
           policy == HC_POLICY_LFU;
}

/* The list policies' / LFU's victim, never `keep_k` (-1: none). */
static int policy_victim(int keep_k)
{
    int k, best = -1;
    for (k = 0; k < K; k++) {
        if (!m[k].present || k == keep_k)
            continue;
        if (best < 0 ||
            (policy == HC_POLICY_LFU
                 ? (m[k].count < m[best].count ||
                    (m[k].count == m[best].count && m[k].stamp < m[best].stamp))
                 : m[k].stamp < m[best].stamp))
            best = k;
    }
    return best;
}

static double min_due_expire(void)
{
    double t = INFINITY;
    int k;
    for (k = 0; k < K; k++)
        if (due(k) && m[k].expire < t)
            t = m[k].expire;
    return t;
}

static uint64_t model_size(void)
{
    uint64_t s = 0;
    int k;
    for (k = 0; k < K; k++)
        s += m[k].present ? m[k].size : 0;
    return s;
}

static uint64_t model_bytes(void)
{
    uint64_t s = 0;
    int k;
    for (k = 0; k < K; k++)
        s += m[k].present ? m[k].bytes : 0;
    return s;
}

static int model_len(void)
{
    int n = 0, k;
    for (k = 0; k < K; k++)
        n += m[k].present;
    return n;
}

static int model_over(uint64_t add_size, uint64_t add_bytes)
{
    if (max_size != HC_UNBOUNDED && model_size() + add_size > max_size)
        return HC_CAUSE_SIZE;
    if (max_bytes != HC_UNBOUNDED && model_bytes() + add_bytes > max_bytes)
        return HC_CAUSE_MEMORY;
    return HC_CAUSE_NONE;
}

/* Evict until (add_size, add_bytes) fits, as the binding's _evict_until_fits does, checking
 * every victim against the model. keep_k: the entry being re-assigned (never its own victim). */
static void make_room(hc_cache *c, uint64_t add_size, uint64_t add_bytes, int keep_k)
{
    int pressure;
    while ((pressure = hc_over(c, add_size, add_bytes)) != HC_CAUSE_NONE) {
        int cause = -1, v, keep_due = keep_k >= 0 && due(keep_k), any_due = 0, k;
        uint32_t s;
        ENSURE(pressure == model_over(add_size, add_bytes));
        for (k = 0; k < K; k++)
            any_due |= k != keep_k && due(k);
        if (keep_k >= 0)
            s = hc_evict_keep(c, now, pressure, &cause, m[keep_k].slot);
        else
            s = hc_evict(c, now, pressure, &cause);
        if (s == HC_NIL) {
            ENSURE(model_len() == (keep_k >= 0 ? 1 : 0));
            return;
        }
        v = key_of(c, s);
        ENSURE(v != keep_k && m[v].present && m[v].slot == s);
        if (any_due && !keep_due) {
            ENSURE(cause == HC_CAUSE_EXPIRED);
            ENSURE(due(v) && m[v].expire == min_due_expire());
            ms.expirations++;
        } else {
            if (!keep_due)
                ENSURE(cause == pressure);
            if (cause == HC_CAUSE_EXPIRED) {
                ENSURE(due(v));
                ms.expirations++;
            } else {
                ENSURE(cause == pressure);
                if (list_policy())
                    ENSURE(v == policy_victim(keep_k));
                ENSURE(hc_victim_expire_at(c) == m[v].expire);
                if (pressure == HC_CAUSE_SIZE)
                    ms.evictions_size++;
                else
                    ms.evictions_memory++;
            }
        }
        model_gone(v);
    }
    ENSURE(model_over(add_size, add_bytes) == HC_CAUSE_NONE);
}

static double read_expiry(void)
{
    unsigned b = rd();
    if (b < 96)
        return INFINITY;
    if (b < 104)
        return now - (double)(b - 96); /* already due */
    return now + (double)(b - 104) * 0.5 + ((b & 1) ? 0.001 * (double)(b % 7) : 0.0);
}

static uint64_t read_size(void)
{
    unsigned b = rd();
    return b < 200 ? b % 4 : (uint64_t)(b - 200) / 2;
}

static uint64_t read_bytes(void)
{
    unsigned b = rd();
    return b < 128 ? 0 : (uint64_t)(b - 128) * 3;
}

static void op_lookup(hc_cache *c, int k)
{
    uint32_t s = find(c, k);
    ENSURE((s != HC_NIL) == (m[k].present != 0));
    if (s != HC_NIL && hc_timed(c) && hc_expired(c, s, now)) {
        ENSURE(due(k));
        hc_expire_slot(c, s);
        model_gone(k);
        ms.expirations++;
        s = HC_NIL;
    } else if (s != HC_NIL) {
        ENSURE(!due(k));
    }
    if (s != HC_NIL) {
        hc_touch(c, s);
        ms.hits++;
        m[k].count++;
        if (policy == HC_POLICY_LRU || policy == HC_POLICY_LFU)
            m[k].stamp = ++stamp_clock;
    } else {
        ms.misses++;
        if (k % 3)
            hc_miss(c, hash_of(k));
        else
            hc_count_miss(c);
    }
}

static void op_store(hc_cache *c, int k)
{
    uint64_t size = read_size(), bytes = read_bytes();
    double t = read_expiry();
    uint32_t s = find(c, k);
    ENSURE((s != HC_NIL) == (m[k].present != 0));
    if ((max_size != HC_UNBOUNDED && size > max_size) || (max_bytes != HC_UNBOUNDED && bytes > max_bytes))
        return; /* the binding raises ValueError: too large for the cache */
    if (s != HC_NIL && hc_expired(c, s, now)) {
        ENSURE(due(k));
        hc_expire_slot(c, s);
        model_gone(k);
        ms.expirations++;
        s = HC_NIL;
    }
    if (s != HC_NIL) {
        if (hc_prepare_update(c, size, bytes, t) < 0)
            return; /* out of memory: nothing changed */
        hc_update(c, s, size, bytes, t);
        ms.updates++;
        m[k].size = size;
        m[k].bytes = bytes;
        m[k].expire = t;
        m[k].count++;
        if (policy == HC_POLICY_LRU || policy == HC_POLICY_LFU || policy == HC_POLICY_FIFO)
            m[k].stamp = ++stamp_clock;
        make_room(c, 0, 0, k);
        return;
    }
    make_room(c, size, bytes, -1);
    s = hc_insert(c, hash_of(k), size, bytes, t);
    if (s == HC_NIL)
        return; /* out of memory: nothing changed */
    ENSURE(s < hc_capacity(c));
    hc_entry_at(c, s)->key = (void *)(uintptr_t)(k + 1);
    ms.inserts++;
    m[k].present = 1;
    m[k].slot = s;
    m[k].size = size;
    m[k].bytes = bytes;
    m[k].expire = t;
    m[k].stamp = ++stamp_clock;
    m[k].count = 1;
}

/* A plain store (size 1, no bytes, no expiry) the binding's fast path way: the lookup's probe
 * handed to hc_insert_probed(), which evicts at most one policy victim and recycles its slot.
 * The binding takes this path only without timed entries, a byte bound or sizes other than 1
 * (and maxsize >= 1); otherwise this is op_store. */
static void op_store_fused(hc_cache *c, int k)
{
    hc_probe p;
    hc_evicted ev;
    uint64_t h = hash_of(k);
    uint32_t s;
    int j, v = -1, sized = 0;
    for (j = 0; j < K; j++)
        sized |= m[j].present && m[j].size != 1;
    if (hc_timed(c) || sized || max_bytes != HC_UNBOUNDED || max_size == 0) {
        op_store(c, k);
        return;
    }
    hc_probe_init(c, h, &p);
    while ((s = hc_probe_next(c, &p)) != HC_NIL)
        if (hc_hash_at(c, s) == h && hc_entry_at(c, s)->key == (void *)(uintptr_t)(k + 1))
            break;
    ENSURE((s != HC_NIL) == (m[k].present != 0));
    if (s != HC_NIL) { /* an update: as op_store's */
        hc_update(c, s, 1, 0, INFINITY);
        ms.updates++;
        m[k].bytes = 0;
        m[k].expire = INFINITY;
        m[k].count++;
        if (policy == HC_POLICY_LRU || policy == HC_POLICY_LFU || policy == HC_POLICY_FIFO)
            m[k].stamp = ++stamp_clock;
        return;
    }
    if (model_over(1, 0) != HC_CAUSE_NONE && list_policy())
        v = policy_victim(-1);
    s = hc_insert_probed(c, &p, h, &ev);
    if (model_over(1, 0) != HC_CAUSE_NONE) {
        int vk;
        ENSURE(ev.slot != HC_NIL);
        vk = (int)(uintptr_t)ev.key - 1;
        ENSURE(vk >= 0 && vk < K && m[vk].present && m[vk].slot == ev.slot && vk != k);
        if (list_policy())
            ENSURE(vk == v);
        ENSURE(ev.val == NULL);
        ENSURE(hc_victim_expire_at(c) == m[vk].expire);
        ms.evictions_size++;
        model_gone(vk);
    } else {
        ENSURE(ev.slot == HC_NIL && ev.key == NULL);
    }
    if (s == HC_NIL)
        return; /* out of memory: nothing inserted (a victim above is gone all the same) */
    ENSURE(s < hc_capacity(c));
    ENSURE(hc_entry_at(c, s)->key == NULL && hc_entry_at(c, s)->val == NULL);
    hc_entry_at(c, s)->key = (void *)(uintptr_t)(k + 1);
    ms.inserts++;
    m[k].present = 1;
    m[k].slot = s;
    m[k].size = 1;
    m[k].bytes = 0;
    m[k].expire = INFINITY;
    m[k].stamp = ++stamp_clock;
    m[k].count = 1;
}

static void op_remove(hc_cache *c, int k)
{
    uint32_t s = find(c, k);
    ENSURE((s != HC_NIL) == (m[k].present != 0));
    if (s == HC_NIL)
        return;
    if (hc_expired(c, s, now)) {
        ENSURE(due(k));
        hc_expire_slot(c, s);
        ms.expirations++;
    } else {
        hc_remove(c, s);
        ms.deletes++;
    }
    model_gone(k);
}

static void op_popitem(hc_cache *c)
{
    uint32_t s = hc_victim(c);
    int v;
    if (s == HC_NIL) {
        ENSURE(model_len() == 0);
        return;
    }
    ENSURE(hc_victim(c) == s || policy == HC_POLICY_RANDOM); /* stable until something changes */
    v = key_of(c, s);
    ENSURE(m[v].present && m[v].slot == s);
    if (list_policy())
        ENSURE(v == policy_victim(-1));
    hc_remove_victim(c, s);
    ms.deletes++;
    model_gone(v);
}

/* Removed slots in `out` must be due, in ascending expiry order, and leave the model. */
static void take_expired(hc_cache *c, const uint32_t *out, size_t n)
{
    double last = -INFINITY;
    size_t i;
    for (i = 0; i < n; i++) {
        int v = key_of(c, out[i]);
        ENSURE(m[v].present && m[v].slot == out[i] && due(v));
        ENSURE(m[v].expire >= last);
        ENSURE(m[v].expire == min_due_expire());
        last = m[v].expire;
        model_gone(v);
        ms.expirations++;
    }
}

static void op_time(hc_cache *c, unsigned arg, int all)
{
    uint32_t out[K + 1];
    size_t n;
    int k;
    now += (double)(arg % 16) * 0.5 + (arg >= 128 ? 0.0009765625 * (double)(arg % 5) : 0.0);
    if (all) {
        n = hc_expire(c, now, out, K + 1);
        take_expired(c, out, n);
        for (k = 0; k < K; k++)
            ENSURE(!due(k)); /* nothing due is left */
    } else {
        n = hc_reclaim(c, now, out, 1 + arg % 4);
        ENSURE(n <= 1 + arg % 4);
        take_expired(c, out, n);
    }
}

static void op_limits(hc_cache *c, unsigned a, unsigned b)
{
    static const uint64_t sizes[8] = {1, 2, 3, 5, 8, 16, 40, HC_UNBOUNDED};
    static const uint64_t bytes[8] = {0, 10, 30, 100, 300, 1000, HC_UNBOUNDED, HC_UNBOUNDED};
    max_size = sizes[a % 8];
    max_bytes = bytes[b % 8];
    hc_set_limits(c, max_size, max_bytes);
    ENSURE(hc_max_size(c) == max_size && hc_max_bytes(c) == max_bytes);
    make_room(c, 0, 0, -1);
}

/* The policy order is a permutation of the live slots, next victim first; restoring it (the
 * unpickling path) into a clone gives back the same order and a consistent cache. */
static void op_order(hc_cache *c)
{
    uint32_t out[K], out2[K];
    uint64_t aux[K], aux2[K];
    int seen[K] = {0};
    size_t n = hc_policy_order(c, out, aux), i;
    hc_cache *d;
    char msg[256];
    ENSURE(n == (size_t)model_len());
    for (i = 0; i < n; i++) {
        int v = key_of(c, out[i]);
        ENSURE(m[v].present && m[v].slot == out[i] && !seen[v]);
        seen[v] = 1;
    }
    if (list_policy() && n > 0)
        ENSURE(key_of(c, out[0]) == policy_victim(-1));
    d = hc_clone(c);
    if (!d)
        return;
    if (hc_policy_restore(d, out, aux, n) == 0) {
        if (hc_check(d, msg, sizeof msg) != 0)
            FAIL("hc_check after hc_policy_restore: %s", msg);
        ENSURE(hc_policy_order(d, out2, aux2) == n);
        ENSURE(memcmp(out, out2, n * sizeof *out) == 0 && memcmp(aux, aux2, n * sizeof *aux) == 0);
    }
    hc_free(d);
}

/* Everything the core reports must match the model. */
static void compare(hc_cache *c)
{
    char msg[256];
    const hc_stats *st = hc_stats_of(c);
    int k;
    if (hc_check(c, msg, sizeof msg) != 0)
        FAIL("hc_check: %s", msg);
    for (k = 0; k < K; k++) {
        uint32_t s = find(c, k);
        if (!m[k].present) {
            ENSURE(s == HC_NIL); /* removed, evicted or expired keys never come back */
            continue;
        }
        ENSURE(s == m[k].slot);
        ENSURE(hc_entry_size(c, s) == m[k].size && hc_entry_bytes(c, s) == m[k].bytes);
        ENSURE(hc_expire_at(c, s) == m[k].expire);
        ENSURE((hc_timed(c) && hc_expired(c, s, now)) == due(k));
    }
    ENSURE(hc_len(c) == (size_t)model_len());
    ENSURE(hc_size_used(c) == model_size() && hc_bytes_used(c) == model_bytes());
    ENSURE(hc_over(c, 0, 0) == model_over(0, 0));
    ENSURE(st->hits == ms.hits && st->misses == ms.misses && st->inserts == ms.inserts);
    ENSURE(st->updates == ms.updates && st->deletes == ms.deletes);
    ENSURE(st->evictions_size == ms.evictions_size && st->evictions_memory == ms.evictions_memory);
    ENSURE(st->expirations == ms.expirations);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t sizes[8] = {1, 2, 4, 7, 16, 40, HC_UNBOUNDED, HC_UNBOUNDED};
    static const uint64_t bytes[8] = {HC_UNBOUNDED, HC_UNBOUNDED, HC_UNBOUNDED, 0, 20, 90, 400, 2000};
    static const double ticks[4] = {0.0, 0.25, 1.0, 3.0};
    hc_config cfg;
    hc_cache *c;
    unsigned b;
    int ops = 0;

    in = data;
    in_len = size;
    in_pos = 0;
    memset(m, 0, sizeof m);
    memset(&ms, 0, sizeof ms);
    stamp_clock = 0;
    now = 1000.0;
    ht_fail_after(-1);

    policy = (int)(rd() % HC_POLICY_COUNT_);
    max_size = sizes[rd() % 8];
    max_bytes = bytes[rd() % 8];
    b = rd();
    cfg.policy = policy;
    cfg.max_size = max_size;
    cfg.max_bytes = max_bytes;
    cfg.tick = ticks[b % 4];
    cfg.seed = b >> 2;
    c = hc_new(&cfg);
    ENSURE(c != NULL);

    while (in_pos < in_len && ops++ < MAX_OPS) {
        unsigned op = rd(), arg = rd();
        int k = (int)(arg % K);
        switch (op % 16) {
        case 0: case 1: case 2: op_lookup(c, k); break;
        case 3: case 4: op_store(c, k); break;
        case 5: if ((arg / K) & 1) op_store_fused(c, k); else op_store(c, k); break;
        case 6: op_remove(c, k); break;
        case 7: op_popitem(c); break;
        case 8: op_time(c, arg, 0); break;
        case 9: op_time(c, arg, 1); break;
        case 10: { /* re-time a live entry (no policy effect) */
            double t = read_expiry();
            uint32_t s = find(c, k);
            ENSURE((s != HC_NIL) == (m[k].present != 0));
            if (s != HC_NIL && hc_prepare_update(c, m[k].size, m[k].bytes, t) == 0) {
                hc_set_expire(c, s, t);
                m[k].expire = t;
            }
            break;
        }
        case 11: { /* re-charge bytes (a cache that starts bounding memory) */
            uint64_t nb = read_bytes();
            uint32_t s = find(c, k);
            ENSURE((s != HC_NIL) == (m[k].present != 0));
            if (s != HC_NIL && hc_set_bytes(c, s, nb) == 0) {
                m[k].bytes = nb;
                make_room(c, 0, 0, -1);
            }
            break;
        }
        case 12: op_limits(c, arg, rd()); break;
        case 13:
            if (arg % 4 == 0) {
                hc_clear(c);
                memset(m, 0, sizeof m);
            } else {
                op_order(c);
            }
            break;
        case 14: { /* continue on a clone; the original must be left intact too */
            hc_cache *d = hc_clone(c);
            if (d) {
                compare(c);
                hc_free(c);
                c = d;
            }
            break;
        }
        case 15: /* the next op runs with an allocation failing after arg % 4 successes */
            ht_fail_after((long)(arg % 4));
            compare(c);
            continue;
        }
        ht_fail_after(-1);
        compare(c);
    }
    ht_fail_after(-1);
    hc_free(c);
    return 0;
}
