"""Processes sharing a directory: writers killed with SIGKILL mid-batch, 4 processes at once."""
from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from hotcache.disk import DiskCache

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import disk_workers  # noqa: E402

needs_kill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")


def verify_files(path):
    """lmdb's offline structural verifier (lmdb >= 3.0), if present."""
    try:
        from lmdb import verify
    except ImportError:
        return []
    return verify.verify(path, subdir=True)


@needs_kill
def test_sigkill_of_a_writer_keeps_everything_flushed(cache_dir):
    rng = random.Random(15)
    acked_total = 0
    for round_ in range(6):
        seed = round_
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "disk_workers.py"), "writer",
                                 cache_dir, str(seed)], stdout=subprocess.PIPE, text=True)
        first = proc.stdout.readline()  # the first batch is on disk: the writer is running
        assert first.startswith("acked"), first
        time.sleep(rng.uniform(0.0, 0.25))  # then kill it at an arbitrary point of its loop
        proc.send_signal(signal.SIGKILL)
        # read the rest through the same buffered stream: communicate(timeout=) reads the raw
        # pipe and would lose lines that readline() above already buffered
        rest = proc.stdout.read()
        proc.wait(timeout=30)
        acked = [int(line.split()[1]) for line in [first] + rest.splitlines() if line.startswith("acked")]
        assert acked == list(range(len(acked))), [ln for ln in rest.splitlines() if not ln.startswith("acked")]
        acked_total += len(acked)
        assert verify_files(cache_dir) == []
        with DiskCache(cache_dir, maxsize=disk_workers.MAXSIZE) as c:
            assert c._store.check() == []
            for n in acked:
                for i in range(0, disk_workers.BATCH, 7):
                    assert c["b%d:%d:%d" % (seed, n, i)] == disk_workers.value(n, i)
            # the store still takes writes (a writer killed holding LMDB's write lock releases it)
            c["after-%d" % round_] = round_
            assert c.flush(timeout=20) is True
            assert c["after-%d" % round_] == round_
    assert acked_total >= 6


def _mixed(path, me, shared, n):
    """One of 4 processes: write own keys, read everyone's; any value read must be exact."""
    c = shared if shared is not None else DiskCache(path, maxsize="16MB")
    rng = random.Random(me)
    bad = 0
    for i in range(n):
        c["p%d:%d" % (me, i)] = {"p": me, "i": i}
        other, j = rng.randrange(4), rng.randrange(n)
        got = c.get("p%d:%d" % (other, j))
        if got is not None and got != {"p": other, "i": j}:
            bad += 1
        if i % 100 == 99:
            c.flush()
    ok = c.flush(timeout=30)
    if shared is None:
        c.close()
    os._exit(0 if ok and not bad else 1)


@needs_fork
@pytest.mark.parametrize("inherit", [False, True], ids=["own", "inherited"])
def test_four_processes_share_a_directory(cache_dir, inherit):
    n = 500
    parent = DiskCache(cache_dir, maxsize="16MB")
    parent["from-parent"] = 1
    parent.flush()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_mixed, args=(cache_dir, me, parent if inherit else None, n)) for me in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    for me in range(4):
        for i in range(n):
            assert parent["p%d:%d" % (me, i)] == {"p": me, "i": i}
    assert parent["from-parent"] == 1 and len(parent) == 4 * n + 1
    parent["after"] = 2  # the parent's writer still works after its children used the store
    assert parent.flush() is True and parent._store.check() == []
    parent.close()
