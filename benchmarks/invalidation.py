"""benchmarks/invalidation.py -- how long a write in one process takes to leave every other
process's L1 (TieredCache in shared mode, invalidation over pub/sub).

    python benchmarks/invalidation.py                 # 4 processes x 1000 writes/s, 10 s
    python benchmarks/invalidation.py --seconds 5 --rate 500 --processes 4
    python benchmarks/invalidation.py --json out.json

Starts its own redis-server. Each of N spawned processes owns a TieredCache(LRUCache(2000),
RedisTier(...), mode="shared") on one namespace and, every 1/rate seconds, writes a key of its
own, calls flush() (the write has then reached Redis and been announced) and notes
time.monotonic_ns() as the write's return; between writes it reads 20 hot keys (L1 hits) and 2
cold ones (L1 misses through Redis), like a worker serving requests. Every process records when
its subscriber thread has removed each key another process wrote (the cache's _inv_keys wrapped
by a timer). CLOCK_MONOTONIC is shared by the processes on Linux, so the latency of one write
as seen by one other process is (removed - returned); the table shows p50 / p90 / p99 / max
over every (write, other process) pair. A negative latency means the message was handled before
the writer had returned from flush().
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))


def worker(idx, url, rate, seconds, go, out, finish):
    import hotcache
    from hotcache.tiers import RedisTier, TieredCache

    heard = []  # (rkey, ns)

    class Timed(TieredCache):
        def _inv_keys(self, rkeys):  # called by the subscriber thread for each message
            TieredCache._inv_keys(self, rkeys)
            now = time.monotonic_ns()
            for rk in rkeys:
                heard.append((rk, now))

    cache = Timed(hotcache.LRUCache(2000), RedisTier(url, namespace="bench:inv", ttl=600), mode="shared")
    for j in range(50):
        cache[("hot", idx, j)] = j
    cache.flush(timeout=10)
    out.put(("ready", idx))
    go.wait(120)
    returned = {}
    gap = 1.0 / rate
    nxt = began = time.monotonic()
    end = nxt + seconds
    seq = 0
    while nxt < end:
        seq += 1
        key = ("w", idx, seq)
        cache[key] = seq
        cache.flush(timeout=5)
        returned[cache.tier.redis_key(key)] = time.monotonic_ns()
        for j in range(20):
            cache.get(("hot", idx, j))
        cache.get(("cold", idx, seq % 500))
        cache.get(("cold", (idx + 1) % 4, seq % 500))
        nxt += gap
        pause = nxt - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    elapsed = time.monotonic() - began
    out.put(("wrote", idx))
    finish.wait(120)  # every process has written: the last messages are in flight (not measured)
    st = cache.stats()
    out.put(("done", idx, returned, heard, st.invalidation_state, seq, elapsed, st.resyncs))
    cache.close(timeout=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--rate", type=float, default=1000.0, help="writes/s per process")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args()
    from redis_server import RedisServer

    import hotcache
    import redis

    print("hotcache %s, redis-py %s, Python %s, %s, %d cores, load average %.2f" % (
        hotcache.__version__, redis.__version__, platform.python_version(), platform.platform(),
        os.cpu_count() or 0, os.getloadavg()[0]))
    with RedisServer() as srv:
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        finish = ctx.Event()
        go = ctx.Event()  # every process starts writing at once
        procs = [ctx.Process(target=worker, args=(i, srv.url, args.rate, args.seconds, go, out, finish))
                 for i in range(args.processes)]
        for p in procs:
            p.start()
        ready = [out.get(timeout=120) for _ in procs]
        assert all(r[0] == "ready" for r in ready)
        go.set()
        wrote = [out.get(timeout=args.seconds + 150) for _ in procs]
        assert all(r[0] == "wrote" for r in wrote)
        time.sleep(1.0)  # let the last messages arrive (not a measurement)
        finish.set()
        results = [out.get(timeout=150) for _ in procs]
        for p in procs:
            p.join(10)
    returned = {}
    for _, idx, ret, _, _, _, _, _ in results:
        for rk, ns in ret.items():
            returned[rk] = (idx, ns)
    lat = []
    missing = 0
    for _, idx, _, heard, _, _, _, _ in results:
        got = {}
        for rk, ns in heard:
            got.setdefault(rk, ns)
        for rk, (writer, ns) in returned.items():
            if writer == idx:
                continue
            if rk in got:
                lat.append((got[rk] - ns) / 1e6)
            else:
                missing += 1
    lat.sort()
    writes = sum(r[5] for r in results)

    def pct(q):
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    print("%d processes x %.0f writes/s for %.0f s: %d writes (%.0f/s in all), %d (write, other process) pairs"
          % (args.processes, args.rate, args.seconds, writes, writes / args.seconds, len(lat)))
    print("invalidation latency, ms from the writer's flush() returning to the key leaving another L1:")
    print("  p50 %.3f   p90 %.3f   p99 %.3f   max %.3f   mean %.3f" % (
        pct(0.5), pct(0.9), pct(0.99), lat[-1], statistics.mean(lat)))
    print("  never heard: %d; final states: %s; resyncs: %d; slowest writer kept %.0f writes/s"
          % (missing, sorted({r[4] for r in results}), sum(r[7] for r in results),
             min(r[5] / r[6] for r in results)))
    ok = pct(0.99) <= 10.0 and missing == 0
    print("target p99 <= 10 ms: %s" % ("met" if ok else "MISSED"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": lat[-1],
                       "writes": writes, "pairs": len(lat), "missing": missing}, f, indent=2)


if __name__ == "__main__":
    main()
