"""benchmarks/memory.py -- bytes per entry that a cache costs beyond its keys and values.

Each measurement runs in a FRESH interpreter (one subprocess per library and repeat), so no
library sees another's freed memory:

    1. import the library, build 1M distinct int keys and 1M distinct int values (lists);
    2. gc.collect(), read RSS                         -> before
    3. build the cache and store the 1M pairs         (lru_cache: call f(k) 1M times)
    4. gc.collect(), read RSS                         -> after
    5. (after - before) / 1M                          -> bytes per entry beyond key/value objects

The key and value objects exist before step 2, so their own memory is not counted: what is
left is the container (hash index, entry records, links, node objects). RSS comes from
/proc/self/statm (Linux); elsewhere the peak RSS from getrusage is used (it also counts
transient peaks, e.g. during a resize, and says so in the output).

    python benchmarks/memory.py                    # all installed, 3 repeats each, median
    python benchmarks/memory.py --n 200000 dict hotcache --repeat 1 --json mem.json
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys

LIBS = ("dict", "hotcache", "hotcache-s3fifo", "hotcache-tinylfu", "cachebox", "lru-dict",
        "cachetools", "lru_cache", "theine")
N_DEFAULT = 1_000_000
TARGET_HOTCACHE = 72  # bytes/entry, the target for an LRU entry
TARGET_ADAPTIVE = 8   # issue 12: S3FIFO/TinyLFU <= LRU's bytes/entry + 8 (sketch, ghost included)


def _rss():
    """(bytes, method) for this process's resident set."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE"), "statm"
    except (OSError, ValueError, AttributeError):
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak * (1 if sys.platform == "darwin" else 1024), "peak-maxrss"


def _factory(lib, n):
    """A zero-argument builder for `lib`'s LRU cache of capacity n (imports done here)."""
    if lib == "dict":
        return dict
    if lib == "hotcache":
        from hotcache import LRUCache
        return lambda: LRUCache(n)
    if lib == "hotcache-s3fifo":
        from hotcache import S3FIFOCache
        return lambda: S3FIFOCache(n)
    if lib == "hotcache-tinylfu":
        from hotcache import TinyLFUCache
        return lambda: TinyLFUCache(n)
    if lib == "theine":
        from theine import Cache

        class Theine(Cache):  # the loop below stores with c[k] = v (theine's API is set())
            def __setitem__(self, k, v):
                self.set(k, v)
        return lambda: Theine(n)
    if lib == "cachebox":
        import cachebox
        return lambda: cachebox.LRUCache(n)
    if lib == "lru-dict":
        from lru import LRU
        return lambda: LRU(n)
    if lib == "cachetools":
        import cachetools
        return lambda: cachetools.LRUCache(n)
    if lib == "lru_cache":
        import functools
        return lambda: functools.lru_cache(maxsize=n)
    raise ValueError("unknown library %r" % lib)


def child(lib, n, churn=0):
    """Runs in the fresh subprocess: measure and return the result dict. With churn=c the cache
    (capacity n) gets (1 + c) * n distinct keys, so it evicts c * n times and ends full in its
    steady state (S3-FIFO's and W-TinyLFU's ghosts hold evicted hashes; their memory is touched
    only then). The evicted keys and values stay alive in the lists: only the cache is counted."""
    make = _factory(lib, n)
    keys = list(range(n * (1 + churn)))
    values = [k + len(keys) for k in keys]    # distinct int objects, none shared with keys
    gc.collect()
    before, method = _rss()
    if lib == "lru_cache":
        f = make()(values.__getitem__)    # f(k) stores key k -> values[k]
        for k in keys:
            f(k)
        assert f.cache_info().currsize == min(n, len(keys))
        holder = f
    else:
        c = make()
        for k, v in zip(keys, values):
            c[k] = v
        assert lib == "theine" or len(c) == n or lib == "dict"
        holder = c
    gc.collect()
    after, _ = _rss()
    del holder
    return {"library": lib, "n": n, "churn": churn, "rss_before": before, "rss_after": after,
            "bytes_per_entry": (after - before) / n, "method": method}


def measure(lib, n=N_DEFAULT, timeout=300, churn=0):
    """Measure `lib` in a fresh interpreter; returns the result dict or {"skipped": reason}."""
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", lib,
                           "--n", str(n), "--churn", str(churn)], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        return {"library": lib, "n": n, "skipped": last}
    return json.loads(proc.stdout)


def run(libs=LIBS, n=N_DEFAULT, repeat=3, out=sys.stdout, churn=0):
    """Measure every library `repeat` times (interleaved), print a table, return the rows."""
    samples = {lib: [] for lib in libs}
    skipped = {}
    method = "?"
    for r in range(repeat):
        for lib in libs:
            if lib in skipped:
                continue
            sys.stderr.write("memory: %s, repeat %d/%d\n" % (lib, r + 1, repeat))
            res = measure(lib, n, churn=churn)
            if "skipped" in res:
                skipped[lib] = res["skipped"]
                continue
            method = res["method"]
            samples[lib].append(res["bytes_per_entry"])
    rows = []
    for lib in libs:
        s = samples[lib]
        if s:
            rows.append({"library": lib, "n": n, "median": statistics.median(s),
                         "min": min(s), "max": max(s), "samples": s})
    base = next((r["median"] for r in rows if r["library"] == "dict"), None)
    out.write("RSS growth per entry, %d int->int entries, fresh process each, %d repeat(s), "
              "RSS from %s%s\n" % (n, repeat, method,
                                   ", after %d x n evicting stores (dict grows)" % churn if churn else ""))
    out.write("%-12s %10s %8s %8s %8s\n" % ("library", "B/entry", "min", "max", "vs dict"))
    for r in rows:
        out.write("%-12s %10.1f %8.1f %8.1f %8s\n" % (
            r["library"], r["median"], r["min"], r["max"],
            "%.2fx" % (r["median"] / base) if base else "-"))
    for lib, why in skipped.items():
        out.write("%-12s skipped: %s\n" % (lib, why))
    hc = next((r for r in rows if r["library"] == "hotcache"), None)
    if hc:
        out.write("target: hotcache LRU <= %d B/entry: %.1f -> %s\n" % (
            TARGET_HOTCACHE, hc["median"], "ok" if hc["median"] <= TARGET_HOTCACHE else "MISS"))
        for r in rows:
            if r["library"] in ("hotcache-s3fifo", "hotcache-tinylfu"):
                limit = hc["median"] + TARGET_ADAPTIVE
                out.write("target: %s <= LRU + %d = %.1f B/entry: %.1f -> %s\n" % (
                    r["library"], TARGET_ADAPTIVE, limit, r["median"],
                    "ok" if r["median"] <= limit else "MISS"))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("libs", nargs="*", default=list(LIBS), help="subset of %s" % ", ".join(LIBS))
    p.add_argument("--n", type=int, default=N_DEFAULT, help="entries (default 1M)")
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per library")
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    p.add_argument("--churn", type=int, default=0,
                   help="also store CHURN x n more keys (evictions; the adaptive policies' ghosts fill)")
    p.add_argument("--child", metavar="LIB", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        json.dump(child(a.child, a.n, a.churn), sys.stdout)
        return 0
    for lib in a.libs:
        if lib not in LIBS:
            p.error("unknown library %r (choose from %s)" % (lib, ", ".join(LIBS)))
    rows = run(a.libs, a.n, a.repeat, churn=a.churn)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
