"""callgrind_ops.py -- instructions (and simulated cache misses) per operation on the hot paths, noise-free.

Timing on a shared box swings by tens of percent; valgrind's counts do not. This runs each
scenario twice under valgrind, once with the loop over N operations and once with the same set-up
and an empty loop, and reports (count(N) - count(0)) / N: the cost of one loop iteration, the
loop's own bytecode included (the same for every library and before and after a change, so
deltas are the cache's cost). Use it to decide whether a change touches a hot path:

    python benchmarks/callgrind_ops.py                  # hotcache's original scenarios, N = 200000
    python benchmarks/callgrind_ops.py -n 100000 lru_get ttl_set_evict
    python benchmarks/callgrind_ops.py --lib hotcache --lib cachebox --lib dict --size 10000 \\
        rr_getitem lru_aside_miss lru_zipf_aside            # side by side (issue 16)
    python benchmarks/callgrind_ops.py --annotate lru_aside_miss   # + where the instructions go
    python benchmarks/callgrind_ops.py --cache-sim --size 100000 lru_getitem   # + D1/LL misses per op
    python benchmarks/callgrind_ops.py --cache-sim --LL 1048576,16,64 ...     # LL simulated as a 1 MiB L2
    python benchmarks/callgrind_ops.py --json out.json  # also write the numbers

Scenario = KIND_OP. KIND: lru, ttl, fifo, rr, s3fifo, tinylfu (the last two hotcache only),
lru_sub, ttl_sub (a subclass that overrides nothing: hotcache only), lru_sized, tinylfu_sized
(sizing=0.01, after 1M warm-up lookups: the advisor's steady state; hotcache only). OP:
  getitem     ``c[k]`` hits on a full cache, the very key objects stored, every key once per round
              in a shuffled order
  getitem_rand  ``c[k]`` hits, SIZE seeded uniform draws (repeats, gaps) repeated: the pattern on
              which TinyLFU's protected segment does its work (issue 12's hit targets:
              S3FIFO <= 1.1x FIFO's, TinyLFU <= 1.15x LRU's; set_evict <= 1.3x LRU's)
  get         ``c.get(k)`` hits, the same
  set_evict   ``c[k] = k`` of fresh keys on a full cache: every store evicts (dict: a plain
              insert into a copy of the full dict, which grows)
  aside_miss  ``v = c.get(k); if v is None: c[k] = k`` of fresh keys on a full cache: the
              miss -> insert -> evict path of cache-aside (dict: grows)
  zipf_aside  the same loop over a Zipf(0.99) trace of N requests over 100 x SIZE keys
              (hotcache.bench's trace generator), from a cold cache (dict: unbounded)
Libraries (--lib, repeatable; default hotcache): hotcache, cachebox (its class of the same
policy), dict (KIND ignored; a scenario's dict row is printed once). SIZE (--size, default 1000)
is the capacity; keys are distinct seeded 62-bit ints as in ``python -m hotcache bench``. N is
rounded down to a multiple of SIZE for the hit scenarios. TTL caches use their default clock
and ttl=1e9. The loop runs in a function with the garbage collector off; PYTHONHASHSEED=0.

--annotate adds, per scenario, the instructions per operation by function (callgrind_annotate of
both runs, subtracted), grouped as hotcache's C core (csrc/ functions), hotcache's binding
(Cython), cachebox (Rust), CPython and libc. Functions the compiler inlined count in their caller.
--cache-sim runs cachegrind with --cache-sim=yes instead: instructions, D1 and LL (last-level)
read/write misses per operation, on valgrind's simulated caches (their sizes are printed; --D1 and
--LL set them: cachegrind simulates two levels, so --LL picks which of the host's outer levels to
model).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from array import array

KINDS = ("lru", "ttl", "fifo", "rr", "s3fifo", "tinylfu", "lru_sub", "ttl_sub", "lru_sized", "tinylfu_sized")
OPS = ("getitem", "get", "set_evict", "aside_miss", "zipf_aside", "getitem_rand")
SCENARIOS = {k + "_" + op: (k, op) for k in KINDS for op in OPS}
LIBS = ("hotcache", "cachebox", "dict")
DEFAULT = [k + "_" + op for k in ("lru", "ttl", "lru_sub", "ttl_sub") for op in ("getitem", "get", "set_evict")]

CHILD = r"""
import gc
import random
import sys
from array import array
lib, kind, op, n, size, run, trace_file = sys.argv[1:8]
n, size, run = int(n), int(size), int(run)
CLASS = {"lru": "LRUCache", "ttl": "TTLCache", "fifo": "FIFOCache", "rr": "RRCache",
         "s3fifo": "S3FIFOCache", "tinylfu": "TinyLFUCache"}
if lib == "dict":
    make = lambda: {}
else:
    mod = __import__(lib)
    base = getattr(mod, CLASS[kind.split("_")[0]])
    if kind.endswith("_sub"):
        class Sub(base):
            pass
        base = Sub
    kw = {"sizing": 0.01} if kind.endswith("_sized") else {}
    make = (lambda: base(size, 1e9, **kw)) if kind.startswith("ttl") else (lambda: base(size, **kw))
rng = random.Random(1234)
keys = [rng.getrandbits(62) for _ in range(size)]
c = make()
if op != "zipf_aside":
    for k in keys:
        c[k] = k
if kind.endswith("_sized") and op != "zipf_aside":
    # the advisor's rate starts at 1 and settles at R after ~ONLINE_WORK / R lookups: measure
    # the steady state
    for _ in range(1_000_000 // size):
        for k in keys:
            c.get(k)
if op in ("getitem", "get"):
    work = []
    for _ in range(max(n // size, 1)):
        order = keys[:]
        rng.shuffle(order)
        work += order
elif op == "getitem_rand":
    work = rng.choices(keys, k=size) * max(n // size, 1)
elif op == "zipf_aside":
    work = array("q")
    with open(trace_file, "rb") as f:
        work.frombytes(f.read())
    work = work.tolist()
else:
    work = [rng.getrandbits(62) for _ in range(n)]
    if lib == "dict":
        c = dict(c)


def getitem(c, keys):
    for k in keys:
        c[k]


def get(c, keys):
    for k in keys:
        c.get(k)


def set_evict(c, keys):
    for k in keys:
        c[k] = k


def aside(c, keys):
    for k in keys:
        v = c.get(k)
        if v is None:
            c[k] = k


loop = {"getitem": getitem, "getitem_rand": getitem, "get": get, "set_evict": set_evict, "aside_miss": aside, "zipf_aside": aside}[op]
gc.disable()
loop(c, work if run else [])
"""

_ANN_LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*$")


def _valgrind(tool_args, lib, kind, op, n, size, run, trace_file, python, annotate):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "vg.out")
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run(["valgrind", *tool_args(out), python, "-c", CHILD, lib, kind, op, str(n), str(size),
                        str(run), trace_file or "-"],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return read_callgrind(out, annotate)


def read_callgrind(out, annotate):
    """(totals by event, self instructions by 'file:function' if ``annotate``) of a callgrind
    output file."""
    with open(out) as f:
        text = f.read()
    events = re.search(r"^events:\s+(.*)$", text, re.M).group(1).split()
    m = re.search(r"^(?:summary|totals):\s+(.*)$", text, re.M)
    if m is None:
        raise RuntimeError("no totals in valgrind output")
    totals = dict(zip(events, (int(x) for x in m.group(1).split())))
    funcs = {}
    if annotate:
        ann = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no",
                              "--show-percs=no", out],
                             check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
        body = ann.split("file:function", 1)[1] if "file:function" in ann else ""
        for line in body.splitlines():
            mm = _ANN_LINE.match(line)
            if mm and ":" in mm.group(2) and not mm.group(2).startswith("=>"):
                funcs[mm.group(2)] = funcs.get(mm.group(2), 0) + int(mm.group(1).replace(",", ""))
    return totals, funcs


def _split(fn):
    """callgrind_annotate's 'file:function [object]' -> (file, function, object)."""
    m = re.match(r"^(.*?):(\S+)(?:\s+\[(.*)\])?$", fn)
    return (m.group(1), m.group(2), m.group(3) or "") if m else (fn, fn, "")


def _group(fn):
    """hotcache core (csrc/ code, the inline probe of hc.h included), hotcache binding (the rest of
    the extension: Cython code and the CPython API it inlines), cachebox (its Rust extension),
    libc, or CPython."""
    path, name, obj = _split(fn)
    if "/csrc/" in path or path.startswith("csrc/"):
        return "hotcache core (csrc)"
    if name.startswith("__pyx") or ("hotcache" in obj and "_native" in obj):
        return "hotcache binding"
    if "cachebox" in obj:
        return "cachebox (Rust)"
    if "libc" in obj or "ld-linux" in obj:
        return "libc"
    return "CPython"


def _short(fn):
    path, name, obj = _split(fn)
    return "%s:%s [%s]" % (re.sub(r"^.*/(Python|Objects|csrc|_native|Include|python3\.\d+)/", r"\1/", path),
                           name, os.path.basename(obj))


def measure(lib, name, n, size, python, annotate=False, cache_sim=False, trace_file=None, caches=()):
    kind, op = SCENARIOS[name]
    if cache_sim:
        def tool(out):
            return ["--tool=cachegrind", "--cache-sim=yes", *caches, "--cachegrind-out-file=" + out]
    else:
        def tool(out):
            return ["--tool=callgrind", "--callgrind-out-file=" + out]
    if op in ("getitem", "get", "getitem_rand"):
        n = max(n // size, 1) * size
    full, ffull = _valgrind(tool, lib, kind, op, n, size, 1, trace_file, python, annotate)
    base, fbase = _valgrind(tool, lib, kind, op, n, size, 0, trace_file, python, annotate)
    per_op = {ev: (full[ev] - base.get(ev, 0)) / n for ev in full}
    by_func = {}
    for fn in set(ffull) | set(fbase):
        d = (ffull.get(fn, 0) - fbase.get(fn, 0)) / n
        if abs(d) >= 0.05:
            by_func[fn] = d
    return per_op, by_func


def _cache_config(python, caches):
    """The simulated caches' sizes (the desc: lines of a cachegrind run of `python -c pass`)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=yes", *caches, "--cachegrind-out-file=" + out,
                        python, "-c", "pass"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            return "; ".join(re.sub(r"\s+", " ", d) for d in re.findall(r"^desc:\s+(.*)$", f.read(), re.M))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", default=DEFAULT, help="default: hotcache's lru/ttl(+_sub) getitem/get/set_evict")
    ap.add_argument("-n", type=int, default=200_000, help="operations per scenario")
    ap.add_argument("--size", type=int, default=1000, help="capacity (keys in the full cache)")
    ap.add_argument("--lib", action="append", choices=LIBS, help="repeatable; default hotcache")
    ap.add_argument("--annotate", action="store_true", help="instructions per op by function and by group")
    ap.add_argument("--top", type=int, default=12, help="functions shown with --annotate")
    ap.add_argument("--cache-sim", action="store_true", help="cachegrind: D1/LL misses per op")
    ap.add_argument("--D1", help="with --cache-sim: simulated D1 as SIZE,ASSOC,LINE (default: the host's)")
    ap.add_argument("--LL", help="with --cache-sim: simulated last level as SIZE,ASSOC,LINE (default: the host's)")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--json", help="write {lib/scenario: per-op counts} here")
    args = ap.parse_args()
    libs = args.lib or ["hotcache"]
    for name in args.scenarios:
        if name not in SCENARIOS:
            ap.error("unknown scenario %r (one of %s)" % (name, ", ".join(SCENARIOS)))
    caches = tuple("--%s=%s" % (lvl, v) for lvl, v in (("D1", args.D1), ("LL", args.LL)) if v)
    if args.cache_sim:
        print("simulated caches: " + _cache_config(args.python, caches), flush=True)
    trace_file = None
    tmp = tempfile.TemporaryDirectory()
    if any(SCENARIOS[s][1] == "zipf_aside" for s in args.scenarios):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
        from hotcache.bench.caches import zipf_trace
        trace_file = os.path.join(tmp.name, "zipf.bin")
        with open(trace_file, "wb") as f:
            f.write(array("q", zipf_trace(args.n, nkeys=100 * args.size)).tobytes())
    result = {}
    done_dict = set()
    for name in args.scenarios:
        kind, op = SCENARIOS[name]
        for lib in libs:
            if (kind.endswith(("_sub", "_sized")) or kind.startswith(("s3fifo", "tinylfu"))) and lib == "cachebox":
                continue
            label = "%s/%s" % (lib, name)
            if lib == "dict":
                key = op
                if key in done_dict:
                    continue
                done_dict.add(key)
                label = "dict/" + op
            per_op, by_func = measure(lib, name, args.n, args.size, args.python, args.annotate,
                                      args.cache_sim, trace_file, caches)
            result[label] = {k: round(v, 3) for k, v in per_op.items()}
            if args.cache_sim:
                print("%-28s Ir %8.1f  D1 miss %6.3f  LL miss %6.3f  (reads: D1 %6.3f LL %6.3f)/op" % (
                    label, per_op["Ir"], per_op["D1mr"] + per_op["D1mw"], per_op["DLmr"] + per_op["DLmw"],
                    per_op["D1mr"], per_op["DLmr"]), flush=True)
            else:
                print("%-28s %10.2f instructions/op" % (label, per_op["Ir"]), flush=True)
            if args.annotate:
                groups = {}
                for fn, v in by_func.items():
                    groups[_group(fn)] = groups.get(_group(fn), 0.0) + v
                print("    by group: " + ", ".join("%s %.1f" % kv for kv in sorted(groups.items(), key=lambda kv: -kv[1])))
                for fn, v in sorted(by_func.items(), key=lambda kv: -kv[1])[:args.top]:
                    print("    %8.1f  %s" % (v, _short(fn)[:120]))
                result[label + " groups"] = {k: round(v, 2) for k, v in groups.items()}
    tmp.cleanup()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "size": args.size, "per_op": result}, f, indent=1)


if __name__ == "__main__":
    main()
