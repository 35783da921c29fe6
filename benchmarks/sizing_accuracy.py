"""sizing_accuracy.py -- the sizing advisor's sampled curves against the exact simulation.

For each trace, runs hotcache.sizing.simulate at sample rate 1 (exact: the real policies on
every request) and at each rate R, and reports per policy the mean and the largest absolute
error of the hit ratio over the sizes, the recommend() check (the size picked from the sampled
curve for targets 0.3..0.8 has an exact hit ratio within 0.02 of the target?) and the
HyperLogLog's working-set error. Issue 13's targets: mean absolute error <= 0.01 at R = 0.01 on
Zipf(0.99) and Zipf(0.7) over 1M keys and on the cloudPhysics and Twitter traces.

    python benchmarks/sizing_accuracy.py                       # Zipf traces only
    python benchmarks/sizing_accuracy.py --data DIR            # + cloudPhysicsIO.txt, twitter_cluster52.csv
    python benchmarks/sizing_accuracy.py --requests 2000000 --rates 0.01 0.05 --json out.json

DIR is the libCacheSim sdist's data/ directory (as ../shared/tools/hitratio_anchors.py uses).
Keys of the real traces are read as ints. Sizes: 7 sizes, x2 apart, from 1/64 to 1x the
trace's distinct keys.
"""
import argparse
import json
import os
import sys
import time

from hotcache.bench.caches import zipf_trace
from hotcache.sizing import DEFAULT_POLICIES, simulate


def load_cloudphysics(d):
    with open(os.path.join(d, "cloudPhysicsIO.txt")) as f:
        return [int(x) for x in f if x.strip()]


def load_twitter(d, n):
    out = []
    with open(os.path.join(d, "twitter_cluster52.csv")) as f:
        next(f)
        for i, line in enumerate(f):
            if i >= n:
                break
            out.append(int(line.split(",", 2)[1]))
    return out


def measure(name, trace, rates, policies):
    distinct = len(set(trace))
    sizes = sorted({max(1, distinct // 2 ** e) for e in range(6, -1, -1)})
    t = time.perf_counter()
    exact = simulate(trace, sizes=sizes, policies=policies, sample=1)
    t_exact = time.perf_counter() - t
    rows = []
    ws_err = (exact.working_set - distinct) / distinct
    print("\n%s: %d requests, %d distinct keys (HyperLogLog %+.2f %%), sizes %s; exact run %.1f s"
          % (name, len(trace), distinct, 100 * ws_err, sizes, t_exact))
    for r in rates:
        t = time.perf_counter()
        rep = simulate(trace, sizes=sizes, policies=policies, sample=r)
        dt = time.perf_counter() - t
        print("  R = %g: %d sampled, %.2f s" % (r, rep.sampled, dt))
        print("    %-8s %8s %8s  %s" % ("policy", "MAE", "max", "recommend() within 0.02 (targets 0.3..0.8)"))
        for p in policies:
            errs = [abs(a - b) for a, b in zip(exact.hit_ratio[p], rep.hit_ratio[p])]
            mae, mx = sum(errs) / len(errs), max(errs)
            checks = []
            for target in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
                pick = rep.recommend(target, policy=p)
                truth = exact.recommend(target, policy=p)
                if pick is None:
                    ok = truth is None or exact.hit_ratio[p][sizes.index(truth[0])] < target + 0.02
                    checks.append("-" if ok else "MISS")
                else:
                    got = exact.hit_ratio[p][sizes.index(pick[0])]
                    checks.append("ok" if got >= target - 0.02 else "%.3f" % got)
            print("    %-8s %8.4f %8.4f  %s" % (p, mae, mx, " ".join(checks)))
            rows.append({"trace": name, "rate": r, "policy": p, "mae": mae, "max": mx,
                         "exact": exact.hit_ratio[p], "sampled": rep.hit_ratio[p], "sizes": sizes,
                         "recommend": checks, "working_set_error": ws_err})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2_000_000, help="Zipf trace length")
    ap.add_argument("--keys", type=int, default=1_000_000, help="Zipf key space")
    ap.add_argument("--rates", type=float, nargs="+", default=[0.01])
    ap.add_argument("--data", help="directory with cloudPhysicsIO.txt and twitter_cluster52.csv")
    ap.add_argument("--twitter-n", type=int, default=1_000_000)
    ap.add_argument("--policies", nargs="+", default=list(DEFAULT_POLICIES))
    ap.add_argument("--only", nargs="+", help="trace names to run (zipf0.99 zipf0.7 cloudphysics twitter)")
    ap.add_argument("--json", help="write the rows to this file")
    a = ap.parse_args()
    traces = [("zipf0.99", lambda: zipf_trace(a.requests, nkeys=a.keys, s=0.99, seed=1)),
              ("zipf0.7", lambda: zipf_trace(a.requests, nkeys=a.keys, s=0.7, seed=2))]
    if a.data:
        traces += [("cloudphysics", lambda: load_cloudphysics(a.data)),
                   ("twitter", lambda: load_twitter(a.data, a.twitter_n))]
    rows = []
    for name, load in traces:
        if a.only and name not in a.only:
            continue
        rows += measure(name, load(), a.rates, a.policies)
        sys.stdout.flush()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
