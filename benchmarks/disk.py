"""benchmarks/disk.py -- hotcache.disk.DiskCache against diskcache 5.6.3 on the issue's workload,
with the issue's targets computed from the same run.

    python benchmarks/disk.py            # about 60 s on an idle 2-core box
    python benchmarks/disk.py --quick    # about 20 s
    python benchmarks/disk.py --json out.json

Needs the peer: pip install diskcache==5.6.3 (a benchmark peer only: no extra of hotcache installs
it; it is unmaintained and unpickles what its files hold).

Workload: 20,000 entries of a ~130-byte dict value (JSON for DiskCache, its default; pickle for
diskcache, its default), keys "user:{i}", maxsize large enough that nothing is evicted.

    get hit      for k in shuffled keys: c[k]     every key stored and flushed beforehand
    set          for k, v in items: c[k] = v; then c.flush() (DiskCache: the writer's batches,
                 timed until they are on disk); diskcache: c[k] = v (each a committed write)
    4 procs      4 processes (fork), each opening the directory itself and doing 5,000 ops,
                 80% c.get(k) / 20% c[k] = v on random keys of the 20,000, then flush(); wall
                 time of the slowest, reported as total ops/s

Every round runs both caches, in alternating order; garbage collector off while timing; the
table shows the median round and the range. Targets (issue 15): get hit <= 0.5x diskcache's time,
set >= 10x diskcache's throughput, 4-process mixed >= 2x diskcache's throughput.
"""
from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

N = 20_000


def value_of(i: int) -> Dict[str, Any]:
    """A ~130-byte JSON dict (124-140 bytes as i grows)."""
    return {"id": i, "name": "user-%d" % i, "email": "user%d@example.com" % i, "score": 1.5 + i,
            "tags": ["alpha", "beta"], "active": True, "plan": "professional"}


def open_hotcache(path: str) -> Any:
    from hotcache.disk import DiskCache

    return DiskCache(path, maxsize="1GB")


def open_diskcache(path: str) -> Any:
    import diskcache

    return diskcache.Cache(path)


def _flush(c: Any) -> None:
    f = getattr(c, "flush", None)
    if f is not None:
        f()


PEERS: Dict[str, Callable[[str], Any]] = {"hotcache.DiskCache": open_hotcache, "diskcache": open_diskcache}


def timed(fn: Callable[[], None]) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - t0) / 1e3
    finally:
        gc.enable()


def single(opener: Callable[[str], Any], root: str, n: int) -> Dict[str, float]:
    path = tempfile.mkdtemp(dir=root)
    c = opener(path)
    keys = ["user:%d" % i for i in range(n)]
    values = [value_of(i) for i in range(n)]
    try:
        def sets() -> None:
            for k, v in zip(keys, values):
                c[k] = v
            _flush(c)

        order = list(keys)
        random.Random(1).shuffle(order)

        def gets() -> None:
            for k in order:
                c[k]

        out = {"set": timed(sets) / n}
        out["get hit"] = timed(gets) / n
        assert c[keys[7]] == values[7]
        return out
    finally:
        c.close()
        shutil.rmtree(path, ignore_errors=True)


def _worker(name: str, path: str, seed: int, ops: int, n: int, start: Any) -> None:
    c = PEERS[name](path)
    rng = random.Random(seed)
    plan = [(rng.random() < 0.2, rng.randrange(n)) for _ in range(ops)]
    values = {i: value_of(i) for _, i in plan}
    start.wait()
    for write, i in plan:
        if write:
            c["user:%d" % i] = values[i]
        else:
            c.get("user:%d" % i)
    _flush(c)
    c.close()


def four(name: str, root: str, n: int, ops: int) -> float:
    ctx = mp.get_context("fork")
    path = tempfile.mkdtemp(dir=root)
    c = PEERS[name](path)
    for i in range(n):
        c["user:%d" % i] = value_of(i)
    _flush(c)
    c.close()
    start = ctx.Barrier(5)
    procs = [ctx.Process(target=_worker, args=(name, path, s, ops, n, start)) for s in range(4)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    shutil.rmtree(path, ignore_errors=True)
    if any(p.exitcode for p in procs):
        raise RuntimeError("a %s worker failed" % name)
    return 4 * ops / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    n = N // 2 if args.quick else N
    ops = 2_500 if args.quick else 5_000
    root = tempfile.mkdtemp(prefix="hc-disk-bench-")
    samples: Dict[str, Dict[str, List[float]]] = {name: {} for name in PEERS}
    names = list(PEERS)
    try:
        for r in range(rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                for col, us in single(PEERS[name], root, n).items():
                    samples[name].setdefault(col, []).append(us)
                samples[name].setdefault("4 procs", []).append(four(name, root, n, ops))
            print("round %d/%d done" % (r + 1, rounds), file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    size = len(json.dumps(value_of(n - 1), separators=(",", ":")))
    print("DiskCache vs diskcache: %d entries of a %d-byte value, %d rounds, median (min-max); "
          "python %s, load average %.2f" % (n, size, rounds, sys.version.split()[0], os.getloadavg()[0]))
    med = {name: {col: statistics.median(v) for col, v in s.items()} for name, s in samples.items()}
    for name, s in samples.items():
        print("  %-20s set %7.2f us (%.2f-%.2f)   get hit %6.2f us (%.2f-%.2f)   4 procs %7.0f ops/s (%.0f-%.0f)"
              % (name, med[name]["set"], min(s["set"]), max(s["set"]), med[name]["get hit"],
                 min(s["get hit"]), max(s["get hit"]), med[name]["4 procs"], min(s["4 procs"]),
                 max(s["4 procs"])))
    h, d = med["hotcache.DiskCache"], med["diskcache"]
    targets = [
        ("get hit time vs diskcache", h["get hit"] / d["get hit"], "<= 0.5", h["get hit"] / d["get hit"] <= 0.5),
        ("set throughput vs diskcache", d["set"] / h["set"], ">= 10", d["set"] / h["set"] >= 10),
        ("4-process throughput vs diskcache", h["4 procs"] / d["4 procs"], ">= 2", h["4 procs"] / d["4 procs"] >= 2),
    ]
    print("targets (medians):")
    for label, ratio, want, ok in targets:
        print("  %-36s %6.2fx  (target %s)  %s" % (label, ratio, want, "met" if ok else "NOT met"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"samples": samples, "targets": [t[:3] for t in targets]}, f, indent=1)


if __name__ == "__main__":
    main()
