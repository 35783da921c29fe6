/* hc_replay.c -- replays a key trace through the real C core and prints the hit ratio; also the
 * micro-benchmarks whose instruction counts (callgrind) decide hot-path questions.
 *
 *   hc_replay TRACE.bin POLICY CAP [CAP ...]     hit ratio of POLICY at each capacity
 *   hc_replay --bench POLICY N M                 N-entry cache: M hits (uniform), M hits (shuffled
 *                                                rounds of all N keys), then M stores that evict
 *
 * TRACE.bin is raw little-endian uint64 keys (benchmarks/policy_traces.py writes them). Each key
 * is its own hash, as Python's hash() of a small non-negative int is. A request does what the
 * binding does for `c.get(k)` then `c[k] = 1` on a miss: probe; hit -> hc_touch; miss -> hc_miss,
 * then (cache full) hc_prefetch_victim, hc_evict until an entry of size 1 fits, hc_insert. Sizes
 * are 1, so CAP bounds the entry count. Output, one line per capacity:
 *
 *   POLICY CAP HITS REQUESTS HIT_RATIO
 *
 * With HC_REPLAY_CHECK=N in the environment, hc_check() runs every N requests (a replay is
 * then also a long invariant test of the policy; it always runs once at the end). With
 * HC_REPLAY_TRACE=N, every N requests a line "# request hit-ratio-so-far q_max[0..2] q_len[0..2]"
 * goes to stderr (hc_policy_info: S3FIFO's small/main, TINYLFU's window/protected bounds).
 *
 * The bench mode's loops are the non-inlined bench_hits(), bench_rounds() and bench_stores(), so
 *   valgrind --tool=callgrind --toggle-collect=bench_hits hc_replay --bench lru 100000 1000000
 * counts exactly the instructions of M hits (divide Ir by M).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hc.h"

static const char *const names[HC_POLICY_COUNT_] = {
    "insertion", "lru", "lfu", "fifo", "random", "s3fifo", "tinylfu",
};

static int policy_of(const char *name)
{
    int p;
    for (p = 0; p < HC_POLICY_COUNT_; p++)
        if (strcmp(names[p], name) == 0)
            return p;
    fprintf(stderr, "unknown policy %s (one of:", name);
    for (p = 0; p < HC_POLICY_COUNT_; p++)
        fprintf(stderr, " %s", names[p]);
    fprintf(stderr, ")\n");
    exit(2);
}

static hc_cache *make(int policy, uint64_t cap)
{
    hc_config cfg;
    hc_cache *c;
    cfg.policy = policy;
    cfg.max_size = cap;
    cfg.max_bytes = HC_UNBOUNDED;
    cfg.seed = 1;
    cfg.tick = 0;
    c = hc_new(&cfg);
    if (!c) {
        fprintf(stderr, "hc_new failed\n");
        exit(1);
    }
    return c;
}

/* The slot holding hash h, or HC_NIL. */
static inline uint32_t find(const hc_cache *c, uint64_t h)
{
    hc_probe p;
    uint32_t s;
    hc_probe_init(c, h, &p);
    while ((s = hc_probe_next(c, &p)) != HC_NIL)
        if (hc_hash_at(c, s) == h)
            return s;
    return HC_NIL;
}

/* One request; 1 on a hit. */
static inline int request(hc_cache *c, uint64_t h)
{
    uint32_t s = find(c, h);
    int cause;
    if (s != HC_NIL) {
        hc_touch(c, s);
        return 1;
    }
    hc_miss(c, h);
    if (hc_over(c, 1, 0) != HC_CAUSE_NONE) {
        hc_prefetch_victim(c);
        do {
            if (hc_evict(c, 0.0, HC_CAUSE_SIZE, &cause) == HC_NIL)
                break;
        } while (hc_over(c, 1, 0) != HC_CAUSE_NONE);
    }
    if (hc_insert(c, h, 1, 0, INFINITY) == HC_NIL) {
        fprintf(stderr, "hc_insert failed\n");
        exit(1);
    }
    return 0;
}

static uint64_t *read_trace(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    long bytes;
    uint64_t *keys;
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (bytes <= 0 || bytes % 8) {
        fprintf(stderr, "%s: not a uint64 trace\n", path);
        exit(1);
    }
    *n = (size_t)bytes / 8;
    keys = (uint64_t *)malloc((size_t)bytes);
    if (!keys || fread(keys, 8, *n, f) != *n) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(1);
    }
    fclose(f);
    return keys;
}

static int replay(const char *path, int policy, char **caps, int ncaps)
{
    size_t n, i, every = 0, trace_every = 0;
    uint64_t *keys = read_trace(path, &n);
    const char *env = getenv("HC_REPLAY_CHECK"), *tenv = getenv("HC_REPLAY_TRACE");
    int k;
    if (env)
        every = (size_t)strtoull(env, NULL, 10);
    if (tenv)
        trace_every = (size_t)strtoull(tenv, NULL, 10);
    for (k = 0; k < ncaps; k++) {
        uint64_t cap = strtoull(caps[k], NULL, 10), hits = 0;
        hc_cache *c = make(policy, cap);
        char msg[256];
        for (i = 0; i < n; i++) {
            hits += (uint64_t)request(c, keys[i]);
            if (every && (i + 1) % every == 0 && hc_check(c, msg, sizeof msg) != 0) {
                fprintf(stderr, "hc_check after request %lu: %s\n", (unsigned long)i, msg);
                return 1;
            }
            if (trace_every && (i + 1) % trace_every == 0) {
                hc_policy_info in;
                hc_policy_info_get(c, &in);
                fprintf(stderr, "# %lu %.4f %llu %llu %llu %lu %lu %lu\n", (unsigned long)(i + 1),
                        (double)hits / (double)(i + 1), (unsigned long long)in.q_max[0],
                        (unsigned long long)in.q_max[1], (unsigned long long)in.q_max[2],
                        (unsigned long)in.q_len[0], (unsigned long)in.q_len[1],
                        (unsigned long)in.q_len[2]);
            }
        }
        if (hc_check(c, msg, sizeof msg) != 0) {
            fprintf(stderr, "hc_check after the replay: %s\n", msg);
            return 1;
        }
        printf("%s %llu %llu %llu %.6f\n", names[policy], (unsigned long long)cap,
               (unsigned long long)hits, (unsigned long long)n, (double)hits / (double)n);
        fflush(stdout);
        hc_free(c);
    }
    free(keys);
    return 0;
}

/* xorshift64*: the benchmark's key order, independent of the core's own PRNG. */
static uint64_t next_key(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * UINT64_C(2685821657736338717);
}

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* M lookups of present keys in random order; returns the hits (all of them). */
NOINLINE uint64_t bench_hits(hc_cache *c, const uint64_t *order, size_t m)
{
    uint64_t hits = 0;
    size_t i;
    for (i = 0; i < m; i++)
        hits += (uint64_t)request(c, order[i]);
    return hits;
}

/* The same loop over rounds that read every key once in a shuffled order (the pattern that
 * makes nearly every TINYLFU hit a probation hit); its own function so callgrind can tell. */
NOINLINE uint64_t bench_rounds(hc_cache *c, const uint64_t *order, size_t m)
{
    uint64_t hits = 0;
    size_t i;
    for (i = 0; i < m; i++)
        hits += (uint64_t)request(c, order[i]);
    return hits;
}

/* M requests of keys never seen before: each misses and evicts one entry. */
NOINLINE uint64_t bench_stores(hc_cache *c, uint64_t first, size_t m)
{
    uint64_t hits = 0;
    size_t i;
    for (i = 0; i < m; i++)
        hits += (uint64_t)request(c, first + i);
    return hits;
}

static int bench(int policy, uint64_t n, size_t m)
{
    hc_cache *c = make(policy, n);
    uint64_t *order = (uint64_t *)malloc(m * sizeof(uint64_t)), x = 88172645463325252ull, k;
    uint64_t *rounds = (uint64_t *)malloc(m * sizeof(uint64_t));
    uint64_t hits, stores, rhits;
    size_t i;
    if (!order || !rounds) {
        free(order);
        free(rounds);
        return 1;
    }
    for (k = 0; k < n; k++) /* fill, then warm the policy state with a pass of hits */
        request(c, k);
    for (i = 0; i < m; i++)
        order[i] = next_key(&x) % n;
    for (i = 0; i < m; i++) { /* rounds of all n keys, each round shuffled (Fisher-Yates) */
        size_t r = i - i % n, j = i - r;
        uint64_t swap = next_key(&x) % (j + 1);
        rounds[i] = swap == j ? j : rounds[r + swap];
        rounds[r + swap] = j;
    }
    for (k = 0; k < n; k++)
        request(c, k);
    hits = bench_hits(c, order, m);
    rhits = bench_rounds(c, rounds, m);
    stores = bench_stores(c, UINT64_C(1) << 40, m);
    printf("%s n=%llu m=%llu hits=%llu round_hits=%llu store_hits=%llu overhead_bytes=%llu\n",
           names[policy], (unsigned long long)n, (unsigned long long)m, (unsigned long long)hits,
           (unsigned long long)rhits, (unsigned long long)stores,
           (unsigned long long)hc_overhead_bytes(c));
    free(rounds);
    free(order);
    hc_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--bench") == 0)
        return bench(policy_of(argv[2]), strtoull(argv[3], NULL, 10),
                     (size_t)strtoull(argv[4], NULL, 10));
    if (argc >= 4)
        return replay(argv[1], policy_of(argv[2]), argv + 3, argc - 3);
    fprintf(stderr, "usage: %s TRACE.bin POLICY CAP [CAP ...]\n"
                    "       %s --bench POLICY N M\n",
            argv[0], argv[0]);
    return 2;
}
