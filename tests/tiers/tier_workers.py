"""Worker processes for the multi-process tier tests (tests/tiers/test_tier_processes.py, test_tier_cluster.py).

``run_fleet`` spawns N workers sharing one namespace in shared mode. Worker ``i`` owns the keys
``k`` with ``k % N == i`` and is their only writer, so each key's versions are totally ordered;
every worker reads every key. Checked in the workers:

* monotonic reads: a key never reads an older version once a newer one was seen;
* no exception reaches a caller, and no call takes longer than ``max_call`` seconds;
* convergence: after the run every writer writes a final version of each of its keys (again
  until flush() confirms it), and every worker must then read those versions within ``converge``
  seconds (their L1 copies are invalidated, or cleared by a lost subscription).

The test process only starts, disturbs (the ``chaos`` callback: kill or pause Redis, kill a
worker) and collects; this module imports no pytest so a spawned child loads it quickly.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import random
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ["run_fleet"]


def _make_cache(target: Any, namespace: str, l1_size: int) -> Any:
    import hotcache
    from hotcache.breaker import CircuitBreaker
    from hotcache.tiers import RedisTier, TieredCache
    from hotcache.tiers.redis_io import OUTAGE

    breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=0.3, expected_exceptions=OUTAGE)
    if isinstance(target, str):
        tier = RedisTier(target, namespace=namespace, ttl=60, timeout=0.2, breaker=breaker)
    else:  # a cluster: startup nodes
        from redis.cluster import ClusterNode, RedisCluster

        client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in target],
                              socket_timeout=0.5, socket_connect_timeout=0.5)
        tier = RedisTier(client=client, namespace=namespace, ttl=60, breaker=breaker, timeout=0.5)
    return TieredCache(hotcache.LRUCache(l1_size), tier, mode="shared")


def _worker(idx: int, n: int, target: Any, namespace: str, nkeys: int, l1_size: int,
            pace: float, max_call: float, converge: float, stop: Any, out: Any, inbox: Any) -> None:
    report: Dict[str, Any] = {"idx": idx, "violations": [], "errors": [], "slowest": 0.0,
                              "reads": 0, "writes": 0, "hits": 0}
    try:
        cache = _make_cache(target, namespace, l1_size)
        out.put(("ready", idx, None))
        rnd = random.Random(idx)
        mine = [k for k in range(nkeys) if k % n == idx]
        seen: Dict[int, int] = {}
        version = 0
        perf = time.perf_counter

        def read(k: int) -> Optional[int]:
            t0 = perf()
            v = cache.get(k)
            report["slowest"] = max(report["slowest"], perf() - t0)
            report["reads"] += 1
            if v is None:
                return None
            ver = v["v"]
            if ver < seen.get(k, 0):
                report["violations"].append((k, seen[k], ver))
            else:
                seen[k] = ver
            return ver

        while not stop.is_set():
            version += 1
            k = rnd.choice(mine)
            t0 = perf()
            cache[k] = {"w": idx, "v": version}
            report["slowest"] = max(report["slowest"], perf() - t0)
            report["writes"] += 1
            for _ in range(4):
                read(rnd.randrange(nkeys))
            if pace:
                time.sleep(pace)
        # final versions, written until Redis confirms them (it may just have come back)
        finals = {}
        deadline = time.monotonic() + 30
        while True:
            version += 1
            for k in mine:
                cache[k] = {"w": idx, "v": version}
                finals[k] = version
            if cache.flush(timeout=5) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        out.put(("final", idx, finals))
        expected = inbox.get(timeout=120)
        t0 = time.monotonic()
        pending = dict(expected)
        while pending and time.monotonic() - t0 < converge:
            for k, ver in list(pending.items()):
                if read(k) == ver:
                    del pending[k]
            if pending:
                time.sleep(0.005)
        report["converge_s"] = time.monotonic() - t0
        report["not_converged"] = sorted(pending.items())
        st = cache.stats()
        report["hits"] = st.hits
        report["state"] = st.invalidation_state
        report["invalidations"] = st.invalidations
        report["resyncs"] = st.resyncs
        cache.close(timeout=2)
    except BaseException:
        report["errors"].append(traceback.format_exc())
    out.put(("done", idx, report))


def run_fleet(target: Any, namespace: str, *, workers: int = 4, nkeys: int = 48, l1_size: int = 32,
              seconds: float = 3.0, pace: float = 0.002, max_call: float = 1.5,
              converge: float = 10.0,
              chaos: Optional[Callable[[List[Any], float], None]] = None) -> Tuple[List[Dict[str, Any]], List[int]]:
    """Run the fleet; ``chaos(procs, seconds)`` is called once every worker is ready and runs
    during the workload (it returns when the workload may end). Returns (the reports of the
    workers that finished, the indices of workers that died)."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    out = ctx.Queue()
    inboxes = [ctx.Queue() for _ in range(workers)]
    procs = [ctx.Process(target=_worker, name="tier-worker-%d" % i,
                         args=(i, workers, target, namespace, nkeys, l1_size, pace, max_call,
                               converge, stop, out, inboxes[i]), daemon=True)
             for i in range(workers)]
    for p in procs:
        p.start()
    reports: Dict[int, Dict[str, Any]] = {}
    finals: Dict[int, Dict[int, int]] = {}
    killed: List[int] = []

    def receive(deadline: float) -> Tuple[str, int, Any]:
        """The next message; RuntimeError if a worker died unasked or nothing came in time."""
        while True:
            try:
                return out.get(timeout=0.25)
            except Exception:  # queue.Empty
                pass
            for i, p in enumerate(procs):
                if p.exitcode is not None and i not in reports and i not in killed:
                    raise RuntimeError("worker %d exited with %r before reporting" % (i, p.exitcode))
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not report in time")

    try:
        ready = 0
        deadline = time.monotonic() + 120  # spawning interpreters on a loaded box
        while ready < workers:
            kind, idx, payload = receive(deadline)
            if kind == "ready":
                ready += 1
            elif kind == "done":  # failed during start-up
                reports[idx] = payload
                ready += 1
        if chaos is not None:
            chaos(procs, seconds)
        else:
            time.sleep(seconds)  # the workload runs (not an assertion)
        stop.set()
        killed.extend(i for i, p in enumerate(procs) if not p.is_alive() and i not in reports)
        alive = [i for i in range(workers) if i not in killed]
        dead = list(killed)
        deadline = time.monotonic() + 120
        while len([i for i in alive if i in finals or i in reports]) < len(alive):
            kind, idx, payload = receive(deadline)
            if kind == "final":
                finals[idx] = payload
            elif kind == "done":
                reports[idx] = payload
        expected: Dict[int, int] = {}
        for f in finals.values():
            expected.update(f)
        for i in finals:
            inboxes[i].put(expected)
        while len([i for i in alive if i in reports]) < len(alive):
            kind, idx, payload = receive(deadline)
            if kind == "done":
                reports[idx] = payload
        return [reports[i] for i in sorted(reports)], dead
    finally:
        stop.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(5)


def kill_worker(procs: Sequence[Any], which: int) -> None:
    """SIGKILL one worker (it is writing: every worker writes all the time)."""
    os.kill(procs[which].pid, 9)
    procs[which].join(10)
