"""benchmarks/hit_ratio.py -- seeded trace-driven hit ratios, hotcache against simulators.

The simulators below are written independently of hotcache (and of its pure-Python twin):
each is the textbook structure for its policy, small enough to check by reading.

    LRU     OrderedDict; a hit moves the key to the end, eviction pops the front
    LFU     frequency -> OrderedDict of keys (O(1) LFU, Shah, Mitra & Matani 2010): a hit moves
            the key to the end of bucket f+1; eviction pops the front of the lowest bucket, so
            ties go to the least recently used; a new key starts at frequency 1
    FIFO    deque of keys in insertion order + set; hits change nothing
    random  dense key list + position map, victim = rng.randrange(len), swap-remove

Workload: cache-aside over the seeded Zipf(0.99) trace of hotcache.bench.caches (the one
`python -m hotcache bench` uses):  v = c.get(k); if v is None: c[k] = compute(k).
LRU, LFU, FIFO (and TTL without expiry, which evicts LRU) must reproduce the simulator's hit
count exactly; random must be within 0.005 of the simulator's mean ratio over several seeds.

    python benchmarks/hit_ratio.py                          # hotcache, 1M requests
    python benchmarks/hit_ratio.py --against cachetools     # validates the simulators
    python benchmarks/hit_ratio.py --length 200000 --json hr.json

Importable (for tests):  check(...) returns one row per (policy, capacity) with "ok".
"""

import argparse
import collections
import importlib
import json
import random
import statistics
import sys

RANDOM_TOLERANCE = 0.005
POLICIES = ("LRU", "LFU", "FIFO", "RR", "TTL")


# ---------------------------------------------------------------------------------------------
# Simulators: each returns the number of hits of a cache-aside run.

def sim_lru(trace, capacity):
    od = collections.OrderedDict()
    hits = 0
    for k in trace:
        if k in od:
            od.move_to_end(k)
            hits += 1
        else:
            if len(od) >= capacity:
                od.popitem(last=False)
            od[k] = True
    return hits


def sim_lfu(trace, capacity):
    freq = {}                                        # key -> frequency
    buckets = collections.defaultdict(collections.OrderedDict)  # frequency -> keys, LRU first
    min_f = 0
    hits = 0
    for k in trace:
        f = freq.get(k)
        if f is not None:
            hits += 1
            b = buckets[f]
            del b[k]
            if not b:
                del buckets[f]
                if min_f == f:
                    min_f = f + 1
            freq[k] = f + 1
            buckets[f + 1][k] = True
        else:
            if len(freq) >= capacity:
                b = buckets[min_f]
                victim, _ = b.popitem(last=False)
                if not b:
                    del buckets[min_f]
                del freq[victim]
            freq[k] = 1
            buckets[1][k] = True
            min_f = 1
    return hits


def sim_fifo(trace, capacity):
    order = collections.deque()
    present = set()
    hits = 0
    for k in trace:
        if k in present:
            hits += 1
        else:
            if len(present) >= capacity:
                present.discard(order.popleft())
            order.append(k)
            present.add(k)
    return hits


def sim_random(trace, capacity, seed):
    rng = random.Random(seed)
    keys = []
    pos = {}
    hits = 0
    for k in trace:
        if k in pos:
            hits += 1
        else:
            if len(keys) >= capacity:
                i = rng.randrange(len(keys))
                victim = keys[i]
                last = keys.pop()
                if last is not victim:
                    keys[i] = last
                    pos[last] = i
                del pos[victim]
            pos[k] = len(keys)
            keys.append(k)
    return hits


# ---------------------------------------------------------------------------------------------
# The system under test.

def cache_aside_hits(cache, trace):
    """Hits of the cache-aside loop on `cache` (the value stored is the key itself)."""
    hits = 0
    for k in trace:
        v = cache.get(k)
        if v is None:
            cache[k] = k
        else:
            hits += 1
    return hits


def classes_of(module_name):
    """policy -> constructor(capacity) for hotcache or a cachetools-compatible module."""
    mod = importlib.import_module(module_name)
    return {
        "LRU": mod.LRUCache,
        "LFU": mod.LFUCache,
        "FIFO": mod.FIFOCache,
        "RR": mod.RRCache,
        "TTL": lambda n: mod.TTLCache(n, ttl=10 ** 9),   # never expires: evicts LRU
    }


def default_trace(length):
    from hotcache.bench.caches import zipf_trace
    return zipf_trace(length)


def check(length=1_000_000, capacities=(100_000, 10_000), policies=POLICIES,
          seeds=(1, 2, 3, 4, 5), rr_runs=3, classes=None, trace=None):
    """Run every policy at every capacity on the trace, simulator beside the cache classes.

    classes: policy -> constructor(capacity); default hotcache's.  Returns a list of rows
    {policy, capacity, requests, simulator, measured, diff, ok}; ratios are hits/requests.
    For RR the simulator value is the mean over `seeds`, the measured one the mean over
    `rr_runs` fresh caches, and ok means |diff| <= RANDOM_TOLERANCE; else exact equality.
    """
    if trace is None:
        trace = default_trace(length)
    if classes is None:
        classes = classes_of("hotcache")
    n = len(trace)
    rows = []
    for pol in policies:
        for cap in capacities:
            if pol == "RR":
                sim = statistics.mean(sim_random(trace, cap, s) for s in seeds) / n
                got = statistics.mean(cache_aside_hits(classes[pol](cap), trace)
                                      for _ in range(rr_runs)) / n
                ok = abs(got - sim) <= RANDOM_TOLERANCE
            else:
                simulate = {"LRU": sim_lru, "TTL": sim_lru, "LFU": sim_lfu,
                            "FIFO": sim_fifo}[pol]
                sim_hits = simulate(trace, cap)
                got_hits = cache_aside_hits(classes[pol](cap), trace)
                sim, got = sim_hits / n, got_hits / n
                ok = sim_hits == got_hits
            rows.append({"policy": pol, "capacity": cap, "requests": n, "simulator": sim,
                         "measured": got, "diff": got - sim, "ok": ok})
    return rows


def format_rows(rows, name):
    lines = ["%-5s %9s %10s %10s %9s  %s" % ("policy", "capacity", "simulator", name,
                                            "diff", "verdict")]
    for r in rows:
        lines.append("%-6s %9d %10.5f %10.5f %+9.5f  %s" % (
            r["policy"], r["capacity"], r["simulator"], r["measured"], r["diff"],
            "ok" if r["ok"] else ("MISMATCH" if r["policy"] != "RR" else "OUT OF TOLERANCE")))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--against", default="hotcache",
                   help="module with cachetools-style classes (default hotcache)")
    p.add_argument("--length", type=int, default=1_000_000, help="trace length (requests)")
    p.add_argument("--capacity", type=int, action="append",
                   help="capacity (repeatable; default 10%% and 1%% of 1M keys)")
    p.add_argument("--policy", action="append", choices=POLICIES, help="repeatable")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    rows = check(length=a.length, capacities=tuple(a.capacity or (100_000, 10_000)),
                 policies=tuple(a.policy or POLICIES), classes=classes_of(a.against))
    print("cache-aside on Zipf(0.99), 1M keys, %d requests; RR: mean of 5 simulator seeds, "
          "tolerance %.3f" % (a.length, RANDOM_TOLERANCE))
    print(format_rows(rows, a.against))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
