"""benchmarks/policy_traces.py -- the hit-ratio traces of the policy issue, as raw uint64 files.

The traces are the ones the shared anchor script (hitratio_anchors.py) replays, generated the
same way (same seeds, same densification), so the C replay driver (csrc/tools/hc_replay.c) and
the anchors see identical request streams:

    zipf0.99   Zipf(0.99) over 1M keys, 2M requests, seed 1
    zipf0.7    Zipf(0.7)  over 1M keys, 2M requests, seed 2
    scan-mix   Zipf(0.9) over 200k keys, a one-shot 20k-key scan every 50k requests, seed 3
    cloudPhysics   cloudPhysicsIO.txt (113,872 requests)   } both in the libcachesim 0.3.5
    twitter52      twitter_cluster52.csv (its 1M requests) } sdist on PyPI (src/libCacheSim/data)

plus traces that are NOT in the issue's table, for checking that tuning generalises:

    zipf0.8s7  Zipf(0.8) over 1M keys, 2M requests, seed 7
    zipf1.1s8  Zipf(1.1) over 1M keys, 2M requests, seed 8
    loop       a 120k-key loop repeated (LRU's worst case), with Zipf(0.9) noise, seed 9
    shift      Zipf(0.9) whose popular set changes every 500k requests (recency matters), seed 10

Keys are densified to 0..distinct-1 (as the anchor script does), written little-endian.

    python benchmarks/policy_traces.py DATA_DIR OUT_DIR [--extra]

writes OUT_DIR/<name>.bin and OUT_DIR/traces.json ({name: {"requests", "distinct"}}).
Needs numpy.
"""

import argparse
import json
import os
import sys

import numpy as np


def zipf(n_keys, n_req, a, seed):
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, n_keys + 1, dtype=np.float64)
    p = ranks ** -a
    p /= p.sum()
    perm = rng.permutation(n_keys).astype(np.uint64)
    return perm[rng.choice(n_keys, size=n_req, p=p)]


def scan_mix(n_keys, n_req, seed):
    z = zipf(n_keys, n_req, 0.9, seed)
    out, scan_base, i = [], 10 ** 12, 0
    for start in range(0, n_req, 50_000):
        out.append(z[start:start + 50_000])
        out.append(np.arange(scan_base + i, scan_base + i + 20_000, dtype=np.uint64))
        i += 20_000
    return np.concatenate(out)


def loop_trace(seed):
    """A 120k-key loop, 10 rounds, interleaved 1:4 with Zipf(0.9) requests over 200k other keys."""
    loop = np.tile(np.arange(120_000, dtype=np.uint64), 10)
    noise = zipf(200_000, len(loop) // 4, 0.9, seed) + np.uint64(10 ** 9)
    out = np.empty(len(loop) + len(noise), dtype=np.uint64)
    pos = np.arange(len(out))
    is_noise = (pos % 5) == 4
    out[is_noise] = noise[: is_noise.sum()]
    out[~is_noise] = loop[: (~is_noise).sum()]
    return out


def shifting(seed):
    """Zipf(0.9) over 300k keys; every 500k requests the popularity ranks are re-drawn."""
    parts = []
    for k in range(4):
        parts.append(zipf(300_000, 500_000, 0.9, seed + k))
    return np.concatenate(parts)


def load_cloudphysics(d):
    return np.loadtxt(os.path.join(d, "cloudPhysicsIO.txt"), dtype=np.uint64)


def load_twitter(d, n=2_000_000):
    ids = []
    with open(os.path.join(d, "twitter_cluster52.csv")) as f:
        next(f)
        for i, line in enumerate(f):
            if i >= n:
                break
            ids.append(int(line.split(",", 2)[1]))
    return np.array(ids, dtype=np.uint64)


def densify(tr):
    _, inv = np.unique(tr, return_inverse=True)
    return inv.astype(np.uint64)


TABLE = ("zipf0.99", "zipf0.7", "scan-mix", "cloudPhysics", "twitter52")
EXTRA = ("zipf0.8s7", "zipf1.1s8", "loop", "shift")


def build(name, data_dir):
    if name == "zipf0.99":
        return zipf(1_000_000, 2_000_000, 0.99, 1)
    if name == "zipf0.7":
        return zipf(1_000_000, 2_000_000, 0.7, 2)
    if name == "scan-mix":
        return scan_mix(200_000, 2_000_000, 3)
    if name == "cloudPhysics":
        return load_cloudphysics(data_dir)
    if name == "twitter52":
        return load_twitter(data_dir)
    if name == "zipf0.8s7":
        return zipf(1_000_000, 2_000_000, 0.8, 7)
    if name == "zipf1.1s8":
        return zipf(1_000_000, 2_000_000, 1.1, 8)
    if name == "loop":
        return loop_trace(9)
    if name == "shift":
        return shifting(10)
    raise ValueError(name)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="directory with cloudPhysicsIO.txt and twitter_cluster52.csv")
    ap.add_argument("out", help="output directory")
    ap.add_argument("--extra", action="store_true", help="also the traces not in the issue's table")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    meta = {}
    for name in TABLE + (EXTRA if a.extra else ()):
        tr = densify(build(name, a.data))
        tr.astype("<u8").tofile(os.path.join(a.out, name + ".bin"))
        meta[name] = {"requests": int(len(tr)), "distinct": int(tr.max()) + 1}
        print(name, meta[name], flush=True)
    with open(os.path.join(a.out, "traces.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
