"""sizing_offline.py -- `python -m hotcache advise` on a long trace against just reading its keys.

    python benchmarks/sizing_offline.py [--requests 10000000] [--rate 0.01] [--trace FILE]

Writes (once) a seeded Zipf(0.99) trace over 1M keys, one key per line, then times, in
alternating rounds: (a) reading the keys as advise does (hotcache.sizing.cli.read_keys, chained),
(b) simulate() over the same reader with all five policies at rate R and explicit sizes,
(c) the same with default sizes (two passes: the sampled keys are kept). Issue 13's target:
(b) <= 1.5x (a).
"""
import argparse
import itertools
import os
import statistics
import time

from hotcache.bench.caches import zipf_trace
from hotcache.sizing import simulate
from hotcache.sizing.cli import count_lines, read_keys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trace", default="/tmp/hotcache_sizing_trace.txt")
    a = ap.parse_args()
    if not os.path.exists(a.trace):
        t = time.perf_counter()
        with open(a.trace, "w") as f:
            step = 1_000_000
            for i in range(0, a.requests, step):
                f.write("\n".join(map(str, zipf_trace(step, nkeys=1_000_000, s=0.99, seed=i))) + "\n")
        print("wrote %s in %.1f s" % (a.trace, time.perf_counter() - t))

    def keys():
        f = open(a.trace, encoding="utf-8", newline="")
        return f, itertools.chain.from_iterable(read_keys(f))

    def read_only():
        f, ks = keys()
        n = 0
        for _ in ks:
            n += 1
        f.close()
        return n

    def advise(sizes):
        f, ks = keys()
        # as the advise command does: count the file's lines first (timed here), then read
        rep = simulate(ks, sizes=sizes, sample=a.rate, length=count_lines(a.trace))
        f.close()
        return rep

    times = {"read": [], "advise": [], "advise-default-sizes": []}
    for _ in range(a.rounds):
        for name, fn in (("read", read_only),
                         ("advise", lambda: advise([2 ** i * 1000 for i in range(9)])),
                         ("advise-default-sizes", lambda: advise(None))):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["read"])
    for name, ts in times.items():
        print("%-22s median %.2f s  (%.2fx reading)  rounds %s" % (
            name, statistics.median(ts), statistics.median(ts) / base, " ".join("%.2f" % x for x in ts)))


if __name__ == "__main__":
    main()
