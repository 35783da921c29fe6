"""benchmarks/disk_engines.py -- which storage engine under hotcache's disk cache: the raw engines,
measured on the issue's workload, beside diskcache (the library a user would otherwise pick).

    python benchmarks/disk_engines.py            # about 60 s on an idle 2-core box
    python benchmarks/disk_engines.py --quick    # about 20 s
    python benchmarks/disk_engines.py --json out.json

Needs the peers: pip install lmdb diskcache==5.6.3.

Workload (the issue's): 20,000 entries of a ~130-byte dict value, key "user:{i}".

    set 1/txn     for each key: serialize, one committed write (LMDB: one write transaction;
                  SQLite: one autocommit INSERT OR REPLACE; diskcache: Cache.set)
    set batch     the same 20,000 writes in batches of 1,000 per transaction (diskcache:
                  Cache.set inside `with cache.transact()`)
    get hit       for each key (shuffled): read + deserialize (LMDB: one read transaction per get;
                  SQLite: one SELECT; diskcache: Cache.get)
    4 procs mixed 4 processes (fork) over one directory, each 5,000 ops: 80% get / 20% set of
                  random keys of the 20,000 (set: one committed write each); wall time of the
                  whole, as total ops/s

Engines: LMDB through py-lmdb (sync=False: committed transactions survive the death of the
process, not of the machine; see the note in hotcache/disk/_store.py), SQLite in WAL mode from
the standard library (synchronous=NORMAL, a WITHOUT ROWID table), diskcache 5.6.3 with its
defaults (SQLite WAL, pickle). Values are JSON for LMDB and SQLite (hotcache's default
serializer) and pickle for diskcache (its default). Every figure is the median of the rounds;
rounds rotate the engines' order; garbage collector off while timing.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

N = 20_000
BATCH = 1_000


def value_of(i: int) -> Dict[str, Any]:
    """A ~130-byte JSON dict (124-140 bytes as i grows)."""
    return {"id": i, "name": "user-%d" % i, "email": "user%d@example.com" % i, "score": 1.5 + i,
            "tags": ["alpha", "beta"], "active": True, "plan": "professional"}


KEYS = ["user:%d" % i for i in range(N)]
VALUES = [value_of(i) for i in range(N)]


# -- engines: each is make(dir) -> object with set1(k, v), set_batch(items), get(k), close() ----
class LMDB:
    name = "lmdb"

    def __init__(self, path: str) -> None:
        import lmdb

        self.env = lmdb.open(path, map_size=1 << 30, sync=False, metasync=False, max_dbs=4,
                             readahead=False, max_spare_txns=1)
        self.db = self.env.open_db(b"data")
        self.dumps = json.JSONEncoder(separators=(",", ":")).encode
        self.loads = json.JSONDecoder().decode

    def set1(self, k: str, v: Any) -> None:
        with self.env.begin(write=True, db=self.db) as txn:
            txn.put(k.encode(), self.dumps(v).encode())

    def set_batch(self, items: List[Any]) -> None:
        dumps = self.dumps
        with self.env.begin(write=True, db=self.db) as txn:
            put = txn.put
            for k, v in items:
                put(k.encode(), dumps(v).encode())

    def get(self, k: str) -> Any:
        with self.env.begin(db=self.db, buffers=False) as txn:
            data = txn.get(k.encode())
        return None if data is None else self.loads(data.decode())

    def close(self) -> None:
        self.env.close()


class SQLite:
    name = "sqlite-wal"

    def __init__(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        self.db = sqlite3.connect(os.path.join(path, "cache.db"), isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.execute("CREATE TABLE IF NOT EXISTS c (k BLOB PRIMARY KEY, expire REAL, v BLOB) "
                        "WITHOUT ROWID")
        self.dumps = json.JSONEncoder(separators=(",", ":")).encode
        self.loads = json.JSONDecoder().decode

    def set1(self, k: str, v: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO c VALUES (?, ?, ?)", (k.encode(), None,
                                                                      self.dumps(v).encode()))

    def set_batch(self, items: List[Any]) -> None:
        dumps = self.dumps
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT OR REPLACE INTO c VALUES (?, ?, ?)",
                            [(k.encode(), None, dumps(v).encode()) for k, v in items])
        self.db.execute("COMMIT")

    def get(self, k: str) -> Any:
        row = self.db.execute("SELECT v, expire FROM c WHERE k = ?", (k.encode(),)).fetchone()
        return None if row is None else self.loads(row[0].decode())

    def close(self) -> None:
        self.db.close()


class DiskcachePeer:
    name = "diskcache"

    def __init__(self, path: str) -> None:
        import diskcache

        self.c = diskcache.Cache(path)

    def set1(self, k: str, v: Any) -> None:
        self.c.set(k, v)

    def set_batch(self, items: List[Any]) -> None:
        with self.c.transact():
            for k, v in items:
                self.c.set(k, v)

    def get(self, k: str) -> Any:
        return self.c.get(k)

    def close(self) -> None:
        self.c.close()


ENGINES: List[Callable[[str], Any]] = [LMDB, SQLite, DiskcachePeer]


def timed(fn: Callable[[], None]) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - t0) / 1e3
    finally:
        gc.enable()


def single_process(engine: Callable[[str], Any], root: str, n: int) -> Dict[str, float]:
    path = tempfile.mkdtemp(dir=root)
    e = engine(path)
    keys, values = KEYS[:n], VALUES[:n]
    try:
        def set1() -> None:
            s = e.set1
            for k, v in zip(keys, values):
                s(k, v)

        def batch() -> None:
            for i in range(0, n, BATCH):
                e.set_batch(list(zip(keys[i:i + BATCH], values[i:i + BATCH])))

        order = list(keys)
        random.Random(1).shuffle(order)

        def get() -> None:
            g = e.get
            for k in order:
                g(k)

        out = {"set 1/txn": timed(set1) / n, "set batch": timed(batch) / n, "get hit": timed(get) / n}
        assert e.get(keys[-1]) == values[-1]
        return out
    finally:
        e.close()
        shutil.rmtree(path, ignore_errors=True)


def _worker(engine: Callable[[str], Any], path: str, seed: int, ops: int, start: Any, n: int) -> None:
    e = engine(path)
    rng = random.Random(seed)
    plan = [(rng.random() < 0.2, rng.randrange(n)) for _ in range(ops)]
    start.wait()
    for write, i in plan:
        if write:
            e.set1(KEYS[i], VALUES[i])
        else:
            e.get(KEYS[i])
    e.close()


def four_processes(engine: Callable[[str], Any], root: str, n: int, ops: int) -> float:
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    path = tempfile.mkdtemp(dir=root)
    e = engine(path)
    e.set_batch(list(zip(KEYS[:n], VALUES[:n])))
    e.close()
    start = ctx.Barrier(5)
    procs = [ctx.Process(target=_worker, args=(engine, path, s, ops, start, n)) for s in range(4)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    shutil.rmtree(path, ignore_errors=True)
    if any(p.exitcode for p in procs):
        raise RuntimeError("a %s worker failed" % engine.name)
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
    root = tempfile.mkdtemp(prefix="hc-engines-")
    samples: Dict[str, Dict[str, List[float]]] = {e.name: {} for e in ENGINES}
    try:
        for r in range(rounds):
            order = ENGINES[r % len(ENGINES):] + ENGINES[:r % len(ENGINES)]
            for engine in order:
                for name, us in single_process(engine, root, n).items():
                    samples[engine.name].setdefault(name, []).append(us)
                samples[engine.name].setdefault("4 procs mixed", []).append(four_processes(engine, root, n, ops))
            print("round %d/%d done" % (r + 1, rounds), file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cols = ["set 1/txn", "set batch", "get hit", "4 procs mixed"]
    print("engines, %d entries of a ~%d-byte value, %d rounds, median (min-max); python %s"
          % (n, len(json.dumps(VALUES[0], separators=(",", ":"))), rounds, sys.version.split()[0]))
    print("%-12s" % "engine" + "".join("%26s" % c for c in cols))
    for name, s in samples.items():
        row = "%-12s" % name
        for c in cols:
            unit = "ops/s" if c == "4 procs mixed" else "us"
            row += "%26s" % ("%.2f %s (%.2f-%.2f)" % (statistics.median(s[c]), unit, min(s[c]), max(s[c]))
                             if unit == "us" else "%.0f %s (%.0f-%.0f)" % (statistics.median(s[c]), unit,
                                                                            min(s[c]), max(s[c])))
        print(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(samples, f, indent=1)


if __name__ == "__main__":
    main()
