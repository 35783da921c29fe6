"""benchmarks/redis_tier.py -- what the Redis tier costs: L2 hits, spill throughput, L1 hits with a
tier attached (Redis up, stalled, dead), against the bare redis-py calls a user would write instead.

    python benchmarks/redis_tier.py            # about 55 s: the numbers in docs/tiers.md
    python benchmarks/redis_tier.py --quick    # about 15 s
    python benchmarks/redis_tier.py --json out.json

Starts its own throwaway redis-server on a free loopback port (tests/redis_server.py; binary from
PATH), so Redis can be stalled (SIGSTOP) and killed for the last section. Every contender runs the
same loop, timed whole with time.perf_counter_ns(), garbage collector off; rounds rotate the
contenders' order and the table shows the best round (the least disturbed) and the median, and
ratios to the bare baseline as best / median.

    L2 hit      for k in keys: t[k]      2,000 keys, each in Redis and not in the L1 (the L1 is
                                         cleared between rounds; it is big enough that promoting
                                         evicts nothing). Bare: for k in keys: json.loads(r.get(rk))
                                         with a client built like the tier's (timeouts, no retries).
                "L1 thrash": the same reads through an LRUCache(100): every read misses, promotes
                and evicts an entry promoted before (clean: Redis holds it, nothing is written).
    writes      the issue's scenario: 1,000 keys already in Redis read 3 times through
                TieredCache(LRUCache(100), RedisTier): Redis commands counted by INFO
                commandstats after CONFIG RESETSTAT (spill and shared mode).
    shared set  t[k] = v on TieredCache(LRUCache(1000), ..., mode="shared") (invalidation on:
                each batch is announced by one PUBLISH) until flush() returns.
    spill       entries evicted from an LRUCache(1000) until flush() returns, end to end (the
                inserting thread and the flusher share the GIL); "flusher alone" queues first
                (the writer's lock held) and times only the writing. Bare: one r.set(k, v, px=)
                per key, and redis-py's own pipeline in batches of 1,000.
    L1 hit      for k in keys: c[k] * 20  1,000 int keys already in the L1 (LRUCache(10,000)).
                Bare: the LRUCache alone; "minimal wrapper": a Python class whose __getitem__ is
                `try: return self._d[key] except KeyError: ...` (the floor for any Python-level
                mapping around the L1). Shared mode: its L1 copies carry the Redis ttl (timed
                entries: every hit reads the clock), so its bare baseline is an LRUCache holding
                the same timed entries.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import redis  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402
from redis.retry import Retry  # noqa: E402

import hotcache  # noqa: E402
from hotcache.tiers import RedisTier, TieredCache  # noqa: E402
from redis_server import RedisServer  # noqa: E402

SECRET = b"benchmark-secret-0123456789abcdef"


class Preset:
    def __init__(self, rounds, l2_keys, spill_n, single_n, hit_reps):
        self.rounds, self.l2_keys, self.spill_n, self.single_n, self.hit_reps = (
            rounds, l2_keys, spill_n, single_n, hit_reps)


FULL = Preset(rounds=15, l2_keys=2000, spill_n=200_000, single_n=20_000, hit_reps=20)
QUICK = Preset(rounds=5, l2_keys=1000, spill_n=50_000, single_n=5_000, hit_reps=10)


def value(i):
    return {"id": i, "name": "user-%d" % i, "tags": ["a", "b", "c"], "score": i * 0.5}


def bare_client(url, timeout=0.05):
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 0), health_check_interval=0)


def timed(fn, before=None):
    """ns of one call of fn() (GC off); before() runs untimed first."""
    if before is not None:
        before()
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        fn()
        return time.perf_counter_ns() - t0
    finally:
        gc.enable()


def rounds(contenders, n_rounds):
    """contenders: {name: (fn, before)}; returns {name: [ns per round]} with rotated order."""
    out = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(n_rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            fn, before = contenders[name]
            out[name].append(timed(fn, before))
    return out


def row(label, samples, per, unit, base=None, scale=1.0):
    """Print best and median per op, and (with ``base``: the baseline's row) both ratios.
    Returns (best, median)."""
    best = min(samples) / per * scale
    med = statistics.median(samples) / per * scale
    ratio = "" if base is None else "%.2fx / %.2fx" % (best / base[0], med / base[1])
    print("  %-52s %10.2f %10.2f %-9s %s" % (label, best, med, unit, ratio))
    return best, med


# -- L2 hit ----------------------------------------------------------------------------------

def reader(t, keys):
    """for k in keys: t[k], where every read must be an L2 hit (SystemExit otherwise)."""
    def run():
        for k in keys:
            try:
                t[k]
            except KeyError:
                raise SystemExit("L2 miss in the L2 hit benchmark: %r" % (t.stats(),))
    return run


def warn_l2(caches):
    """Say so when an L2 hit benchmark's rounds missed or failed (they would time the wrong path)."""
    for t in caches:
        s = t.stats()
        if s.l2_misses or s.l2_errors:
            print("  (warning: %d L2 misses, %d errors during the L2 hit rounds)" % (s.l2_misses, s.l2_errors))


def bench_l2_hit(url, p, results):
    print("\nL2 hit: µs per lookup (best, median) -- %d keys in Redis, none in L1" % p.l2_keys)
    r = bare_client(url)
    loads = json.loads
    plain = TieredCache(hotcache.LRUCache(p.l2_keys * 2), RedisTier(url, namespace="bench:l2", ttl=3600))
    sealed = TieredCache(hotcache.LRUCache(p.l2_keys * 2),
                         RedisTier(url, namespace="bench:l2s", ttl=3600, secret=SECRET))
    thrash = TieredCache(hotcache.LRUCache(100), RedisTier(url, namespace="bench:l2", ttl=3600))
    keys = list(range(p.l2_keys))
    for t in (plain, sealed):
        for k in keys:
            t.l1[k] = value(k)            # straight into the L1 (no invalidation) ...
        t.l1.resize(maxsize=1)            # ... then evicted: every key spills
        t.l1["pad"] = 0                   # (the last one too)
        assert t.flush(timeout=60)
        t.l1.resize(maxsize=p.l2_keys * 2)
        t.l1.clear()
    rkeys = [plain.tier.redis_key(k) for k in keys]
    assert loads(r.get(rkeys[0])) == value(0)

    def bare():
        get = r.get
        for rk in rkeys:
            loads(get(rk))

    def tier_only():
        get = plain.tier.get
        for k in keys:
            get(k)

    res = rounds({
        "bare": (bare, None),
        "tiered": (reader(plain, keys), plain.l1.clear),
        "sealed": (reader(sealed, keys), sealed.l1.clear),
        "thrash": (reader(thrash, keys), None),
        "tier": (tier_only, None),
    }, p.rounds)
    warn_l2((plain, sealed, thrash))
    n = p.l2_keys
    base = row("redis-py GET + json.loads (bare)", res["bare"], n, "µs", scale=1e-3)
    results["l2_bare_us"] = base
    results["l2_tiered_us"] = row("TieredCache t[k]: L1 miss -> Redis -> promote", res["tiered"], n, "µs",
                                  base, 1e-3)
    results["l2_sealed_us"] = row("  same, AES-GCM sealed values", res["sealed"], n, "µs", base, 1e-3)
    results["l2_thrash_us"] = row("  same, LRUCache(100): L1 thrash (evicts clean entries)",
                                  res["thrash"], n, "µs", base, 1e-3)
    row("RedisTier.get(k) (L2 only, no L1)", res["tier"], n, "µs", base, 1e-3)
    results["l2_thrash_spilled"] = thrash.stats().spilled
    print("  (L1 thrash rounds: %d L1 evictions, %d entries written back to Redis)"
          % (thrash.stats().evictions, thrash.stats().spilled))
    thrash.close()
    for t in (plain, sealed):
        t.clear()
        t.close()
    r.close()


# -- spill throughput ------------------------------------------------------------------------

def bench_spill(url, p, results):
    print("\nSpill: entries/s (best, median); %d entries" % p.spill_n)
    r = bare_client(url, timeout=5)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    vals = [value(i) for i in range(p.spill_n)]

    def single():
        setter = r.set
        for i in range(p.single_n):
            setter(b"bench:one:#i%d" % i, dumps(vals[i]).encode(), px=3_600_000)

    def pipelined():
        for start in range(0, p.spill_n, 1000):
            pipe = r.pipeline(transaction=False)
            for i in range(start, min(start + 1000, p.spill_n)):
                pipe.set(b"bench:pipe:#i%d" % i, dumps(vals[i]).encode(), px=3_600_000)
            pipe.execute()

    t = TieredCache(hotcache.LRUCache(1000), RedisTier(url, namespace="bench:spill", ttl=3600,
                                                        max_pending=p.spill_n * 2))
    l1 = t.l1
    n_spills = p.spill_n - 1000

    def tiered_end_to_end():
        for i in range(p.spill_n):
            l1[i] = vals[i]
        assert t.flush(timeout=120)

    def tiered_sets():
        for i in range(p.spill_n):
            t[i] = vals[i]
        assert t.flush(timeout=120)

    def reset():
        l1.clear()

    flusher_ns = []

    def flusher_alone():
        l1.clear()
        with t.tier._io_lock:               # the flusher cannot take a batch meanwhile
            for i in range(p.spill_n):
                l1[i] = vals[i]
        flusher_ns.append(timed(lambda: t.flush(timeout=120)))

    res = rounds({
        "single": (single, None),
        "pipe": (pipelined, None),
        "tiered": (tiered_end_to_end, reset),
        "sets": (tiered_sets, reset),
    }, max(3, p.rounds // 3))
    for _ in range(max(3, p.rounds // 3)):
        flusher_alone()

    def per_s(samples, n):
        return sorted(n / (ns / 1e9) for ns in samples)

    def show(label, samples, n, base=None):
        rates = per_s(samples, n)
        best, med = rates[-1], statistics.median(rates)
        print("  %-52s %10.0f %10.0f %-9s %s" % (label, best, med, "entries/s",
                                                 "" if base is None else "%.1fx" % (best / base)))
        return best

    base = show("redis-py: one SET per key (bare)", res["single"], p.single_n)
    results["spill_single_per_s"] = base
    show("redis-py pipeline, 1000 SETs per batch", res["pipe"], p.spill_n, base)
    results["spill_per_s"] = show("TieredCache spill: L1 evictions -> flush() (end to end)",
                                  res["tiered"], n_spills, base)
    results["spill_flusher_per_s"] = show("  flusher alone (queued first, then written)",
                                          flusher_ns, n_spills, base)
    show("TieredCache t[k] = v churn (+1 UNLINK per set)", res["sets"], p.spill_n, base)
    assert t.stats().spill_dropped == 0
    t.clear()
    t.close()
    r.flushdb()  # our own throwaway server
    r.close()


# -- writes caused by reads (the write-amplification scenario) -----------------------

def bench_write_amplification(url, results):
    print("\nReads through a small L1: Redis commands for 1000 keys read 3 times via LRUCache(100)")
    r = bare_client(url, timeout=5)
    seed = TieredCache(hotcache.LRUCache(1000), RedisTier(url, namespace="bench:amp", ttl=3600),
                       mode="shared", invalidation=None)
    for i in range(1000):
        seed[i] = value(i)
    assert seed.flush(timeout=60)
    seed.close()
    for mode in ("spill", "shared"):
        t = TieredCache(hotcache.LRUCache(100), RedisTier(url, namespace="bench:amp", ttl=3600), mode=mode)
        r.config_resetstat()
        for _ in range(3):
            for i in range(1000):
                t[i]
        assert t.flush(timeout=60)
        calls = {k[len("cmdstat_"):]: v["calls"] for k, v in r.info("commandstats").items()}
        shown = ", ".join("%s %d" % (c.upper(), calls.get(c, 0)) for c in ("get", "pttl", "set", "unlink"))
        print("  mode=%-6s  %s" % (mode, shown))
        results["amp_%s_set" % mode] = calls.get("set", 0)
        t.close()
    r.close()


# -- shared-mode writes ------------------------------------------------------------------------

def bench_shared_set(url, p, results):
    print("\nShared-mode set: entries/s (best, median); %d entries" % p.spill_n)
    vals = [value(i) for i in range(p.spill_n)]
    t = TieredCache(hotcache.LRUCache(1000), RedisTier(url, namespace="bench:shared", ttl=3600,
                                                        max_pending=p.spill_n * 2), mode="shared")

    def sets():
        for i in range(p.spill_n):
            t[i] = vals[i]
        assert t.flush(timeout=120)

    res = rounds({"shared": (sets, None)}, max(3, p.rounds // 3))
    rates = sorted(p.spill_n / (ns / 1e9) for ns in res["shared"])
    print("  %-52s %10.0f %10.0f %-9s" % ("TieredCache t[k] = v, mode=shared (set -> Redis)", rates[-1],
                                          statistics.median(rates), "entries/s"))
    results["shared_set_per_s"] = [rates[-1], statistics.median(rates)]
    s = t.stats()
    assert s.spill_dropped == 0 and s.l2_errors == 0, s
    t.clear()
    t.close()


# -- L1 hit with a tier attached -------------------------------------------------------------

class Minimal:
    """The least a Python mapping wrapper can do on a hit."""

    __slots__ = ("_d",)

    def __init__(self, d):
        self._d = d

    def __getitem__(self, key):
        try:
            return self._d[key]
        except KeyError:
            raise


def bench_l1_hit(srv, p, results):
    print("\nL1 hit: ns per lookup (best, median) -- 1000 keys x %d per round" % p.hit_reps)
    keys = list(range(1000))
    bare = hotcache.LRUCache(10_000)
    for k in keys:
        bare[k] = k
    t = TieredCache(hotcache.LRUCache(10_000), RedisTier(srv.url, namespace="bench:hit", ttl=3600))
    for k in keys:
        t[k] = k
    assert t.flush(timeout=10)
    minimal = Minimal(bare)
    loop = keys * p.hit_reps
    n = len(loop)

    def sub(c):
        def run():
            for k in loop:
                c[k]
        return run

    def get(c):
        def run():
            g = c.get
            for k in loop:
                g(k)
        return run

    contenders = {"bare": (sub(bare), None), "tiered": (sub(t), None),
                  "bare.get": (get(bare), None), "tiered.get": (get(t), None),
                  "minimal": (sub(minimal), None)}
    # shared mode: its L1 copies carry the Redis ttl, so they are timed entries (a hit reads the
    # clock); compared with a bare LRUCache holding the same timed entries
    shared = TieredCache(hotcache.LRUCache(10_000), RedisTier(srv.url, namespace="bench:hit2", ttl=3600),
                         mode="shared")
    bare_timed = hotcache.LRUCache(10_000)
    for k in keys:
        shared[k] = k
        bare_timed.set(k, k, ttl=3600)
    assert shared.flush(timeout=10)
    res = rounds({"bare": (sub(bare), None), "bare-timed": (sub(bare_timed), None),
                  "shared": (sub(shared), None)}, p.rounds)
    print("  Redis up, mode=shared (invalidation live):")
    base = row("  LRUCache c[k] (bare, untimed entries)", res["bare"], n, "ns")
    tbase = row("  LRUCache c[k] (bare, entries with a ttl)", res["bare-timed"], n, "ns", base)
    sh = row("  TieredCache(mode=\"shared\") t[k]", res["shared"], n, "ns", tbase)
    results["l1_hit_ratio_shared"] = [sh[0] / tbase[0], sh[1] / tbase[1]]
    shared.close(timeout=1)
    for state in ("up", "stalled", "dead", "dead-open"):
        if state == "stalled":
            srv.pause()
        elif state == "dead":
            srv.resume()
            srv.kill()
        elif state == "dead-open":
            assert t.tier.breaker.state == "closed" and t.stats().l2_errors == 0  # hits never
            for i in range(5):                                                # touched Redis
                t.get(("miss", i))
            assert t.tier.breaker.state == "open"
        res = rounds(contenders, p.rounds)
        print("  Redis %s (breaker %s):" % (state.replace("-open", ""), t.tier.breaker.state))
        base = row("  LRUCache c[k] (bare)", res["bare"], n, "ns")
        tiered = row("  TieredCache t[k]", res["tiered"], n, "ns", base)
        row("  minimal Python wrapper c[k]", res["minimal"], n, "ns", base)
        gbase = row("  LRUCache c.get(k) (bare)", res["bare.get"], n, "ns")
        gtiered = row("  TieredCache t.get(k)", res["tiered.get"], n, "ns", gbase)
        results["l1_hit_ratio_%s" % state] = [tiered[0] / base[0], tiered[1] / base[1]]
        results["l1_get_ratio_%s" % state] = [gtiered[0] / gbase[0], gtiered[1] / gbase[1]]
    t.close(timeout=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    p = QUICK if args.quick else FULL
    print("hotcache %s, redis-py %s, Python %s, %s" % (
        hotcache.__version__, redis.__version__, platform.python_version(), platform.platform()))
    results = {}
    with RedisServer() as srv:
        info = srv.client().info("server")
        print("redis-server %s on %s (loopback)" % (info["redis_version"], srv.url))
        bench_l2_hit(srv.url, p, results)
        bench_write_amplification(srv.url, results)
        bench_spill(srv.url, p, results)
        bench_shared_set(srv.url, p, results)
        bench_l1_hit(srv, p, results)
    print("\nTargets (ratios: best round / median round):")
    l2 = [results["l2_tiered_us"][i] / results["l2_bare_us"][i] for i in (0, 1)]
    thrash = [results["l2_thrash_us"][i] / results["l2_bare_us"][i] for i in (0, 1)]
    checks = [
        ("spill >= 100k entries/s (end to end)", results["spill_per_s"] >= 100_000,
         "%.0f/s" % results["spill_per_s"]),
        ("shared-mode set >= 100k/s", results["shared_set_per_s"][0] >= 100_000,
         "%.0f/s" % results["shared_set_per_s"][0]),
        ("L2 hit <= 1.3x bare GET + loads", max(l2) <= 1.3, "%.2fx / %.2fx" % tuple(l2)),
        ("L2 hit, L1 thrash <= 1.3x bare", max(thrash) <= 1.3, "%.2fx / %.2fx" % tuple(thrash)),
        ("0 SET from reads (spill / shared)", results["amp_spill_set"] == results["amp_shared_set"] == 0,
         "%d / %d" % (results["amp_spill_set"], results["amp_shared_set"])),
    ]
    ratio = results["l1_hit_ratio_shared"]
    checks.append(("L1 hit, shared mode <= 1.05x bare (same timed entries)", max(ratio) <= 1.05,
                   "%.2fx / %.2fx" % tuple(ratio)))
    for state in ("up", "stalled", "dead", "dead-open"):
        ratio = results["l1_hit_ratio_%s" % state]
        checks.append(("L1 hit with tier <= 1.05x bare (Redis %s)" % state, max(ratio) <= 1.05,
                       "%.2fx / %.2fx" % tuple(ratio)))
    for label, ok, got in checks:
        print("  %-48s %-6s %s" % (label, "met" if ok else "MISSED", got))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
