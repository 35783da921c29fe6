"""callgrind_decorators.py -- instructions per decorated call (hit and miss), noise-free, beside
functools.lru_cache, cachetools.cached and cachebox.cached.

The decorator rows of issue 16 (``cached(LRUCache)`` hit <= 1.1x ``functools.lru_cache``'s hit,
miss <= 2.5x functools' miss) are decided here; benchmarks/decorators.py times the same loops.
Like callgrind_ops.py, each scenario runs twice under valgrind (the loop over N calls, and the
same set-up with an empty loop) and reports (count(N) - count(0)) / N: one loop iteration, the
loop's own bytecode and the decorated function's body included (the same for every contender).

    python benchmarks/callgrind_decorators.py                       # every contender, hit and miss
    python benchmarks/callgrind_decorators.py hotcache_cached functools --op miss --annotate
    python benchmarks/callgrind_decorators.py --json out.json

Contenders (positional, default all):
  functools          functools.lru_cache(maxsize=SIZE)
  hotcache_cached    hotcache.cached(hotcache.LRUCache(SIZE))        cachetools' hashkey, single-flight
  hotcache_lru       hotcache.lru_cache(maxsize=SIZE)                functools' keys
  cachetools         cachetools.cached(cachetools.LRUCache(SIZE))
  cachebox           cachebox.cached(cachebox.LRUCache(SIZE))
OPS (--op, repeatable; default both):
  hit    ``f(k)`` for SIZE already cached int keys, each once per round, shuffled rounds
  miss   ``f(k)`` for N fresh int keys on a full cache: every call misses, calls the function,
         stores and evicts one entry
The function is ``def g(x): return x``; keys are seeded 62-bit ints; the garbage collector is off;
PYTHONHASHSEED=0.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind_ops import _group, _short, read_callgrind  # noqa: E402  (same output parsing)

CONTENDERS = ("functools", "hotcache_cached", "hotcache_lru", "cachetools", "cachebox")
OPS = ("hit", "miss")

CHILD = r"""
import gc
import random
import sys
who, op, n, size, run = sys.argv[1:6]
n, size, run = int(n), int(size), int(run)


def g(x):
    return x


if who == "functools":
    import functools
    f = functools.lru_cache(maxsize=size)(g)
elif who == "hotcache_cached":
    import hotcache
    f = hotcache.cached(hotcache.LRUCache(size))(g)
elif who == "hotcache_lru":
    import hotcache
    f = hotcache.lru_cache(maxsize=size)(g)
elif who == "cachetools":
    import cachetools
    f = cachetools.cached(cachetools.LRUCache(size))(g)
elif who == "cachebox":
    import cachebox
    f = cachebox.cached(cachebox.LRUCache(size))(g)
rng = random.Random(1234)
keys = [rng.getrandbits(62) for _ in range(size)]
for k in keys:
    f(k)
if op == "hit":
    work = []
    for _ in range(max(n // size, 1)):
        order = keys[:]
        rng.shuffle(order)
        work += order
else:
    work = [rng.getrandbits(62) for _ in range(n)]


def loop(f, keys):
    for k in keys:
        f(k)


gc.disable()
loop(f, work if run else [])
"""


def _valgrind(who, op, n, size, run, python, annotate):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "vg.out")
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, python, "-c", CHILD,
                        who, op, str(n), str(size), str(run)],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return read_callgrind(out, annotate)


def measure(who, op, n, size, python, annotate=False):
    if op == "hit":
        n = max(n // size, 1) * size
    full, ffull = _valgrind(who, op, n, size, 1, python, annotate)
    base, fbase = _valgrind(who, op, n, size, 0, python, annotate)
    per_op = (full["Ir"] - base["Ir"]) / n
    by_func = {}
    for fn in set(ffull) | set(fbase):
        d = (ffull.get(fn, 0) - fbase.get(fn, 0)) / n
        if abs(d) >= 0.05:
            by_func[fn] = d
    return per_op, by_func


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("contenders", nargs="*", default=list(CONTENDERS), help="default: all")
    ap.add_argument("--op", action="append", choices=OPS, help="repeatable; default hit and miss")
    ap.add_argument("-n", type=int, default=100_000, help="calls per scenario")
    ap.add_argument("--size", type=int, default=4096, help="maxsize (and the hit working set)")
    ap.add_argument("--annotate", action="store_true", help="instructions per call by function and by group")
    ap.add_argument("--top", type=int, default=15, help="functions shown with --annotate")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--json", help="write {op/contender: instructions per call} here")
    args = ap.parse_args()
    for who in args.contenders:
        if who not in CONTENDERS:
            ap.error("unknown contender %r (one of %s)" % (who, ", ".join(CONTENDERS)))
    result = {}
    for op in args.op or OPS:
        base = None
        for who in args.contenders:
            per_op, by_func = measure(who, op, args.n, args.size, args.python, args.annotate)
            result["%s/%s" % (op, who)] = round(per_op, 1)
            if who == "functools":
                base = per_op
            ratio = "  %5.2fx functools" % (per_op / base) if base else ""
            print("%-4s %-16s %9.1f instructions/call%s" % (op, who, per_op, ratio), flush=True)
            if args.annotate:
                groups = {}
                for fn, v in by_func.items():
                    groups[_group(fn)] = groups.get(_group(fn), 0.0) + v
                print("    by group: " + ", ".join("%s %.1f" % kv for kv in sorted(groups.items(), key=lambda kv: -kv[1])))
                for fn, v in sorted(by_func.items(), key=lambda kv: -kv[1])[:args.top]:
                    print("    %8.1f  %s" % (v, _short(fn)[:120]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "size": args.size, "instructions_per_call": result}, f, indent=1)


if __name__ == "__main__":
    main()
