"""Shared mode across processes: 4 spawned workers on one namespace of a real redis-server, with
Redis killed and restarted, Redis stalled (SIGSTOP), and a worker killed mid-write.

The workers (tests/tier_workers.py) check monotonic reads, bounded calls, no exceptions, and that
every final value becomes visible everywhere; these tests only disturb and assert on the reports.
"""
from __future__ import annotations

import time

from tier_workers import kill_worker, run_fleet


def _check(reports, *, max_call=1.5, expect_resync=False, workers=4):
    assert len(reports) == workers
    for r in reports:
        assert not r["errors"], r["errors"][0]
        assert r["violations"] == [], "non-monotonic reads in worker %d: %r" % (r["idx"], r["violations"][:5])
        assert r["not_converged"] == [], "worker %d never saw %r" % (r["idx"], r["not_converged"][:5])
        assert r["slowest"] < max_call, "worker %d: a call took %.2f s" % (r["idx"], r["slowest"])
        assert r["state"] == "live"
        assert r["reads"] > 50 and r["writes"] > 10
        if expect_resync:
            assert r["resyncs"] >= 1


def test_four_workers_read_monotonically_and_see_every_write(fresh_redis):
    reports, dead = run_fleet(fresh_redis.url, "proc:steady", seconds=2.5)
    assert dead == []
    _check(reports)
    assert sum(r["invalidations"] for r in reports) > 0      # the L1s were kept in step
    assert sum(r["hits"] for r in reports) > 0              # and served hits meanwhile


def test_redis_killed_and_restarted_mid_run(fresh_redis):
    def chaos(procs, seconds):
        time.sleep(seconds / 3)
        fresh_redis.kill()
        time.sleep(seconds / 3)   # the workers run on against a dead Redis
        fresh_redis.restart()
        time.sleep(seconds / 3)

    reports, dead = run_fleet(fresh_redis.url, "proc:restart", seconds=3.0, chaos=chaos)
    assert dead == []
    _check(reports, expect_resync=True)


def test_redis_stalled_mid_run_keeps_every_call_bounded(fresh_redis):
    def chaos(procs, seconds):
        time.sleep(0.5)
        fresh_redis.pause()
        try:
            time.sleep(3.0)       # longer than any call may take
        finally:
            fresh_redis.resume()
        time.sleep(0.5)

    reports, dead = run_fleet(fresh_redis.url, "proc:stall", seconds=4.0, chaos=chaos)
    assert dead == []
    _check(reports, max_call=1.5, expect_resync=True)


def test_a_worker_killed_mid_write_does_not_stop_the_others(fresh_redis):
    def chaos(procs, seconds):
        time.sleep(seconds / 2)
        kill_worker(procs, 3)
        time.sleep(seconds / 2)

    reports, dead = run_fleet(fresh_redis.url, "proc:killw", seconds=2.5, chaos=chaos)
    assert dead == [3]
    _check(reports, workers=3)

