"""Pure-Python twins of the C core's hashing helpers and frequency sketch (csrc/hc_hash.h,
csrc/hc_sketch.{h,c}): the same cells, the same counts, the same halvings, so a policy built on
them makes the C core's decisions exactly (csrc/tests/test_twins.py checks it op for op).

Hashes are the core's: ``hash(key) & MASK64``. All arithmetic is done on Python ints and masked
where C's unsigned types wrap.
"""

from __future__ import annotations

from typing import List, Optional

__all__ = ["MASK64", "Sketch", "fmix64", "reduce32", "uhash"]

MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1

SKETCH_SALT = 0xBB67AE8584CAA73B
WORDS_PER_16_ENTRIES = 15  # table words (16 4-bit counters each) per 16 cache entries
SAMPLE_PER_ENTRY = 16  # additions between halvings, per cache entry
MAX_CAPACITY = 1 << 36
RESET_MASK = 0x7777777777777777
ONE_MASK = 0x1111111111111111


def uhash(h: int) -> int:
    """The core's 64-bit hash of a Python hash value (what ``<uint64_t>hash(key)`` gives)."""
    return h & MASK64


def fmix64(x: int, salt: int) -> int:
    """MurmurHash3's fmix64 of x ^ salt (hc_fmix64)."""
    x = (x ^ salt) & MASK64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    x ^= x >> 33
    return x


def reduce32(x: int, n: int) -> int:
    """x (32 bits) mapped uniformly onto [0, n) (hc_reduce32)."""
    return ((x & MASK32) * n) >> 32


def shape_for(capacity: int) -> Optional[tuple]:
    """(nblocks, sample) for a capacity, or None if too large (shape_for in hc_sketch.c)."""
    if capacity > MAX_CAPACITY:
        return None
    words = max((capacity * WORDS_PER_16_ENTRIES + 15) // 16, 8)
    nblocks = (words + 7) // 8
    smp = capacity * SAMPLE_PER_ENTRY
    sample = SAMPLE_PER_ENTRY if smp == 0 else min(smp, MASK32)
    return nblocks, sample


class Sketch:
    """4-bit count-min sketch, 4 counters per hash inside one 8-word block, halved every
    `sample` additions (hc_sketch). No table: counts nothing, estimates 0."""

    __slots__ = ("table", "nblocks", "sample", "additions", "capacity")

    def __init__(self) -> None:
        self.table: Optional[List[int]] = None
        self.nblocks = 0
        self.sample = 0
        self.additions = 0
        self.capacity = 0

    def size(self, capacity: int) -> bool:
        """(Re)allocate for `capacity` entries, forgetting all counts; False if too large."""
        shape = shape_for(capacity)
        if shape is None:
            return False
        self.nblocks, self.sample = shape
        self.table = [0] * (self.nblocks * 8)
        self.additions = 0
        self.capacity = capacity
        return True

    def _cells(self, h: int) -> List[tuple]:
        """(word index, nibble shift) of the 4 counters of core hash h."""
        m = fmix64(h, SKETCH_SALT)
        block = reduce32(m >> 32, self.nblocks) * 8
        lo = m & MASK32
        cells = []
        for i in range(4):
            x = lo >> (8 * i)
            cells.append((block + 2 * i + (x & 1), ((x >> 1) & 15) * 4))
        return cells

    def add(self, h: int) -> None:
        table = self.table
        if table is None:
            return
        added = False
        for w, sh in self._cells(h):
            if (table[w] >> sh) & 15 != 15:
                table[w] += 1 << sh
                added = True
        if added:
            self.additions += 1
            if self.additions >= self.sample:
                self.halve()

    def halve(self) -> None:
        table = self.table
        assert table is not None
        odd = 0
        for i, word in enumerate(table):
            odd += bin(word & ONE_MASK).count("1")
            table[i] = (word >> 1) & RESET_MASK
        self.additions = (((self.additions - (odd >> 2)) & MASK64) >> 1) & MASK32

    def estimate(self, h: int) -> int:
        table = self.table
        if table is None:
            return 0
        return min((table[w] >> sh) & 15 for w, sh in self._cells(h))

    def copy(self) -> "Sketch":
        new = Sketch()
        new.table = None if self.table is None else list(self.table)
        new.nblocks, new.sample, new.additions, new.capacity = (
            self.nblocks, self.sample, self.additions, self.capacity)
        return new

    def nbytes(self) -> int:
        return 0 if self.table is None else self.nblocks * 64

    def check(self) -> None:
        if self.table is None:
            assert self.capacity == 0 and self.nblocks == 0, "sketch: no table but a shape"
            return
        assert shape_for(self.capacity) == (self.nblocks, self.sample), "sketch: shape"
        assert len(self.table) == self.nblocks * 8, "sketch: table length"
        assert self.additions < self.sample, "sketch: halving overdue"
        assert all(0 <= w <= MASK64 for w in self.table), "sketch: word out of range"
