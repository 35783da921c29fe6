"""HyperLogLog: the working set (distinct keys seen) in 16 KiB, whatever the traffic.

Layer 0 (foundation). The registers are filled by the sizing sampler (hotcache._native's
``Sizer`` in C, the twin's in Python, bit for bit the same); this module holds the register
layout and the estimator, shared by both.

HOW IT WORKS. Each request's key hash is mixed to 64 well-spread bits ``m`` (``mix64``, one
splitmix64 step). The low ``P`` bits pick one of ``M = 2**P`` registers; the register keeps
the largest "rank" seen, the 1-based position of the lowest set bit of ``m >> P`` (a rank of r
happens with probability 2**-r, so the largest rank over n distinct keys is about log2(n / M)).
Duplicates change nothing, so the registers summarise the distinct keys. The sampler uses the
*top* bits of the same ``m`` to decide sampling, so the registers (low bits, trailing zeros) are
independent of the sampling decision.

The estimate is Ertl's improved raw estimator ("New cardinality estimation algorithms for
HyperLogLog sketches", 2017, algorithm 6): no bias table and no switch to linear counting, and
unbiased from 0 to far beyond 2**50 keys. With P = 14 its relative standard error is
1.04 / sqrt(M) = 0.81 % (tests/sizing/test_hll.py measures it).

Why not a library: the PyPI ones (``hyperloglog``, ``datasketch``) are pure Python per add
(~1 us), and the online path must update a register in a few nanoseconds inside the C binding;
the estimator is 30 lines.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

__all__ = ["P", "M", "Q", "MASK64", "mix64", "register_update", "estimate", "count_distinct"]

P = 14                      # index bits: 16384 one-byte registers
M = 1 << P
Q = 64 - P                  # rank bits: ranks are 1 .. Q + 1
MASK64 = (1 << 64) - 1


def mix64(h: int) -> int:
    """splitmix64's step (golden-ratio increment, then the finaliser) on a Python hash taken as
    an unsigned 64-bit word (the same arithmetic as ``hc_sz_mix`` in hotcache/_native/sizing.pxi)."""
    z = (h + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def register_update(regs: bytearray, m: int) -> None:
    """Fold one mixed hash into the registers."""
    idx = m & (M - 1)
    w = m >> P
    rank = Q + 1 if w == 0 else ((w & -w).bit_length())
    if regs[idx] < rank:
        regs[idx] = rank


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_old = z
        z += x * y
        y += y
        if z == z_old:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        z_old = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == z_old:
            return z / 3.0


def estimate(regs: Sequence[int]) -> float:
    """The distinct count the registers summarise (Ertl 2017, improved raw estimator)."""
    m = len(regs)
    counts = [0] * (Q + 2)
    for r in regs:
        counts[r] += 1
    if counts[0] == m:
        return 0.0
    z = m * _tau(1.0 - counts[Q + 1] / m)
    for k in range(Q, 0, -1):
        z = 0.5 * (z + counts[k])
    z += m * _sigma(counts[0] / m)
    if z == 0.0:        # every register at the top rank: beyond what 64-bit hashes can count
        return math.inf
    return m * m / (2.0 * math.log(2.0)) / z


def count_distinct(hashes: Iterable[int]) -> float:
    """Estimate of the distinct values among ``hashes`` (Python hashes), for tests and tools."""
    regs = bytearray(M)
    for h in hashes:
        register_update(regs, mix64(h))
    return estimate(regs)
