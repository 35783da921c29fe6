"""sizing_overhead.py -- what sizing=R costs a hit-heavy loop, timed in interleaved rounds.

    python benchmarks/sizing_overhead.py [--rounds 15] [--rate 0.01]

A full LRUCache(10000) (and TinyLFUCache) is read key by key, every read a hit, with and without
sizing=R; rounds alternate (off, on, off, on ...) and the median ratio on/off is reported.
Issue 13's target: <= 1.05 at R = 0.01. Instruction counts of the sizing-off path (the part
that needs no timing) are benchmarks/callgrind_ops.py's.
"""
import argparse
import gc
import statistics
import time

import hotcache


def loop(c, keys):
    get = c.__getitem__
    t = time.perf_counter()
    for k in keys:
        get(k)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--rate", type=float, default=0.01)
    a = ap.parse_args()
    keys = list(range(10_000)) * 50
    for name in ("LRUCache", "TinyLFUCache"):
        cls = getattr(hotcache, name)
        off, on = cls(10_000), cls(10_000, sizing=a.rate)
        for c in (off, on):
            for k in range(10_000):
                c[k] = k
        gc.disable()
        ratios, t_off, t_on = [], [], []
        for _ in range(a.rounds):
            x = loop(off, keys)
            y = loop(on, keys)
            t_off.append(x)
            t_on.append(y)
            ratios.append(y / x)
        gc.enable()
        print("%-13s R=%g: off %.1f ns/hit, on %.1f ns/hit (medians); median ratio on/off %.3f "
              "(min %.3f, max %.3f, %d rounds)" % (
                  name, a.rate, 1e9 * statistics.median(t_off) / len(keys),
                  1e9 * statistics.median(t_on) / len(keys), statistics.median(ratios),
                  min(ratios), max(ratios), a.rounds))


if __name__ == "__main__":
    main()
