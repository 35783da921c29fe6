"""benchmarks/adaptive_speed.py -- issue 12's speed targets for S3FIFOCache and TinyLFUCache, in
one run beside hotcache's FIFOCache/LRUCache and theine's W-TinyLFU ``Cache``.

Full caches of 100k int keys; every round times one pass of 100k operations per contender, the
contenders interleaved round by round (a busy box slows them alike), each round in a freshly
shuffled order; the figure is the best round in ns/op.

    get hit     ``c[k]`` on a key stored (theine: ``c.get(k)``, which returns (value, found);
                ``hotcache get()`` rows give the like-for-like method call)
    set evict   ``c[k] = k`` of fresh keys into the full cache: every store evicts (theine:
                ``c.set(k, k)``); rounds alternate two fresh key sets

Targets (issue 12): S3FIFOCache hit <= 1.10x FIFOCache's; TinyLFUCache hit <= 1.15x LRUCache's;
set evict <= 1.30x LRUCache's; each >= 3x faster than theine on get and on set.

    python benchmarks/adaptive_speed.py [--rounds 15] [--json out.json]

Instruction counts (noise-free) of the same loops: benchmarks/callgrind_ops.py
{fifo,s3fifo,lru,tinylfu}_{getitem,get,set_evict}.
"""

import argparse
import gc
import json
import random
import sys
import time

N = 100_000
SEED = 1234


def _loop_getitem(c, keys):
    for k in keys:
        c[k]


def _loop_get(c, keys):
    for k in keys:
        c.get(k)


def _loop_set(c, keys):
    for k in keys:
        c[k] = k


def _loop_theine_set(c, keys):
    for k in keys:
        c.set(k, k)


def _timed(fn, c, keys):
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        fn(c, keys)
        return (time.perf_counter_ns() - t0) / len(keys)
    finally:
        gc.enable()


def contenders():
    """name -> (constructor(maxsize), hit loop, set loop)."""
    import hotcache

    out = {}
    for name in ("FIFOCache", "S3FIFOCache", "LRUCache", "TinyLFUCache"):
        cls = getattr(hotcache, name)
        out[name] = (cls, _loop_getitem, _loop_set)
        out[name + " get()"] = (cls, _loop_get, None)
    try:
        from theine import Cache
        out["theine"] = (Cache, _loop_get, _loop_theine_set)
    except ImportError:
        sys.stderr.write("theine not installed: its rows are skipped (pip install theine)\n")
    return out


def run(rounds=15, out=sys.stdout):
    rng = random.Random(SEED)
    keys = list(range(N))
    fresh = [list(range(N * (i + 1), N * (i + 2))) for i in range(2)]
    orders = []
    for _ in range(4):
        o = keys[:]
        rng.shuffle(o)
        orders.append(o)
    cons = contenders()
    full = {}
    for name, (make, _, _) in cons.items():
        base = name.split()[0]
        if base not in full:
            c = make(N)
            store = c.set if base == "theine" else c.__setitem__
            for k in keys:
                store(k, k)
            full[base] = c
    setters = {}
    for name, (make, _, set_loop) in cons.items():
        if set_loop is not None:
            c = make(N)
            store = c.set if name == "theine" else c.__setitem__
            for k in keys:
                store(k, k)
            setters[name] = c
    hit = {name: [] for name in cons}
    sets = {name: [] for name in setters}
    for r in range(rounds):
        order = orders[r % len(orders)]
        names = list(cons)
        rng.shuffle(names)                      # no contender always first
        for name in names:
            hit[name].append(_timed(cons[name][1], full[name.split()[0]], order))
        batch = fresh[r % 2]
        for name in names:
            if name in setters:
                sets[name].append(_timed(cons[name][2], setters[name], batch))
        sys.stderr.write("round %d/%d\n" % (r + 1, rounds))
    best_hit = {k: min(v) for k, v in hit.items()}
    best_set = {k: min(v) for k, v in sets.items()}
    w = out.write
    w("full caches of %d int keys; best of %d interleaved rounds, ns/op\n" % (N, rounds))
    w("%-20s %10s %10s\n" % ("contender", "get hit", "set evict"))
    for name in cons:
        w("%-20s %10.1f %10s\n" % (name, best_hit[name],
                                   "%.1f" % best_set[name] if name in best_set else "-"))
    checks = [
        ("S3FIFOCache hit vs FIFOCache", best_hit["S3FIFOCache"] / best_hit["FIFOCache"], 1.10),
        ("TinyLFUCache hit vs LRUCache", best_hit["TinyLFUCache"] / best_hit["LRUCache"], 1.15),
        ("S3FIFOCache set evict vs LRUCache", best_set["S3FIFOCache"] / best_set["LRUCache"], 1.30),
        ("TinyLFUCache set evict vs LRUCache", best_set["TinyLFUCache"] / best_set["LRUCache"], 1.30),
    ]
    if "theine" in cons:
        for name in ("S3FIFOCache", "TinyLFUCache"):
            # >= 3x faster means theine's time / ours >= 3, i.e. ours / theine's <= 1/3
            checks.append(("%s get() vs theine get" % name,
                           best_hit[name + " get()"] / best_hit["theine"], 1 / 3.0))
            checks.append(("%s set evict vs theine set" % name,
                           best_set[name] / best_set["theine"], 1 / 3.0))
    w("\nissue 12 targets (this run):\n")
    rows = []
    for label, ratio, limit in checks:
        ok = ratio <= limit
        w("  %-38s %.2fx (limit %.2fx) %s\n" % (label, ratio, limit, "ok" if ok else "MISS"))
        rows.append({"check": label, "ratio": ratio, "limit": limit, "ok": ok})
    return {"n": N, "rounds": rounds, "hit_ns": best_hit, "set_ns": best_set, "checks": rows,
            "samples": {"hit": hit, "set": sets}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    result = run(a.rounds)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
