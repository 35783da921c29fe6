"""Child processes of the disk cache tests (run as ``python disk_workers.py ROLE DIR ...``).

writer DIR SEED   writes batches of 200 entries forever; after each batch's flush() returns it
                  prints "acked N" (so every printed batch must survive a SIGKILL)
"""
from __future__ import annotations

import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
try:  # the installed package wins (as in tests/conftest.py); else the source tree
    import hotcache  # noqa: F401
except ImportError:  # pragma: no cover - only without an install / PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "src"))

from hotcache.disk import DiskCache  # noqa: E402

MAXSIZE = "32MB"
BATCH = 200


def value(n: int, i: int) -> dict:
    return {"n": n, "i": i, "pad": "v" * (i % 50)}


def writer(path: str, seed: int) -> None:
    rng = random.Random(seed)
    c = DiskCache(path, maxsize=MAXSIZE, batch_size=rng.choice([50, 200, 1000]))
    n = 0
    while True:
        for i in range(BATCH):
            c["b%d:%d:%d" % (seed, n, i)] = value(n, i)
            if rng.random() < 0.05:
                c.get("b%d:%d:%d" % (seed, max(n - 1, 0), i))
        if c.flush(timeout=30):
            sys.stdout.write("acked %d\n" % n)
        else:  # the test fails on a gap in the acks; this line says why the flush was refused
            sys.stdout.write("refused %d %r\n" % (n, c.stats()))
        sys.stdout.flush()
        n += 1


if __name__ == "__main__":
    role, directory = sys.argv[1], sys.argv[2]
    if role == "writer":
        writer(directory, int(sys.argv[3]))
    else:
        raise SystemExit("unknown role %r" % role)
