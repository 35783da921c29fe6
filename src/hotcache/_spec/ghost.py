"""Pure-Python twin of the C core's ghost queue (csrc/hc_ghost.{h,c}): the hashes recently
evicted, as a FIFO bounded by weight, stored as stamped 16-bit-tagged fingerprints in 16-way
buckets with a sweeper. Same buckets, same words, same overwrites, same sweeps as the C code,
so S3-FIFO and W-TinyLFU twins see exactly the ghost hits the core sees.

A word is ``fp << 18 | tag << 16 | stamp``: 14-bit fingerprint (never 0), the caller's 2-bit
tag, the tick (clock // unit, mod 2^16) it was added at. It is live while its age
``(now - stamp) mod 2^16`` is <= ``life // unit`` -- the FIFO position, without a queue.
"""

from __future__ import annotations

from typing import List, Optional

from .sketch import MASK64, fmix64, reduce32

__all__ = ["Ghost"]

WAYS = 16
TICKS = 16384  # live ages stay below this; the sweep period
GHOST_SALT = 0x6A09E667F3BCC908
STAMP_MASK = 0xFFFF
MAX_AGE = 2 * TICKS + 1
MAX_BUCKETS = 0xFFFFFFFF // WAYS


def unit_for(life: int) -> int:
    return 1 if life <= TICKS else (life - 1) // TICKS + 1


class Ghost:
    """hc_ghost: remembers hashes (with a 2-bit tag) for `life` weight units of additions."""

    __slots__ = ("slot", "nbuckets", "sweep", "debt", "clock", "life", "unit", "sized_for")

    def __init__(self, life: int = 0) -> None:
        self.slot: Optional[List[int]] = None
        self.nbuckets = 0
        self.sweep = 0
        self.debt = 0
        self.clock = 0
        self.life = life
        self.unit = unit_for(life)
        self.sized_for = 0

    # ---- shape

    def size(self, hashes: int) -> bool:
        """(Re)allocate for `hashes` remembered hashes (2 ways each), forgetting everything."""
        nb = hashes // 8 + 1
        if nb > MAX_BUCKETS:
            return False
        self.slot = [0] * (nb * WAYS)
        self.nbuckets = nb
        self.sweep = 0
        self.debt = 0
        self.sized_for = hashes if hashes else 1
        return True

    def set_life(self, life: int) -> None:
        unit = unit_for(life)
        self.life = life
        if unit != self.unit:
            self.unit = unit
            if self.slot is not None:
                self.slot = [0] * len(self.slot)
            self.debt = 0

    # ---- helpers

    def _now(self) -> int:
        return (self.clock // self.unit) & STAMP_MASK

    def _life_ticks(self) -> int:
        return self.life // self.unit

    def _bucket(self, h: int) -> tuple:
        """(first word index, 14-bit fingerprint) of core hash h."""
        m = fmix64(h, GHOST_SALT)
        fp = (m & 0x3FFF) or 1
        return reduce32(m >> 32, self.nbuckets) * WAYS, fp

    def _sweep(self, ticks: int) -> None:
        slot = self.slot
        assert slot is not None
        now, life = self._now(), self._life_ticks()
        ticks = min(ticks, TICKS)
        self.debt += ticks * self.nbuckets
        visits = min(self.debt // TICKS, self.nbuckets)
        self.debt %= TICKS
        for _ in range(visits):
            base = self.sweep * WAYS
            for i in range(base, base + WAYS):
                if slot[i] and (now - slot[i]) & STAMP_MASK > life:
                    slot[i] = 0
            self.sweep += 1
            if self.sweep == self.nbuckets:
                self.sweep = 0

    def _find(self, h: int) -> int:
        slot = self.slot
        if slot is None:
            return -1
        base, fp = self._bucket(h)
        now, life = self._now(), self._life_ticks()
        for i in range(base, base + WAYS):
            word = slot[i]
            if word and word >> 18 == fp and (now - word) & STAMP_MASK <= life:
                return i
        return -1

    # ---- API

    def add(self, h: int, weight: int, tag: int = 0) -> None:
        """Remember h (weighing `weight`) in the first empty or dead way of its bucket, else over
        the oldest; the caller adds only hashes it does not remember."""
        slot = self.slot
        if slot is None:
            return
        base, fp = self._bucket(h)
        now, life = self._now(), self._life_ticks()
        way = -1
        oldest_age = 0
        for i in range(base, base + WAYS):
            word = slot[i]
            if not word:
                way = i
                break
            age = (now - word) & STAMP_MASK
            if age > life:
                way = i
                break
            if way < 0 or age > oldest_age:
                way, oldest_age = i, age
        slot[way] = ((fp << 2 | (tag & 3)) << 16) | now
        before = self.clock // self.unit
        self.clock = (self.clock + weight) & MASK64
        after = self.clock // self.unit
        if after != before:
            self._sweep((after - before) & MASK64)

    def take(self, h: int) -> int:
        """The tag h was remembered with (and forget it), or -1."""
        i = self._find(h)
        if i < 0:
            return -1
        assert self.slot is not None
        tag = (self.slot[i] >> 16) & 3
        self.slot[i] = 0
        return tag

    def has(self, h: int) -> bool:
        return self._find(h) >= 0

    def count(self) -> int:
        if self.slot is None:
            return 0
        now, life = self._now(), self._life_ticks()
        return sum(1 for w in self.slot if w and (now - w) & STAMP_MASK <= life)

    def nbytes(self) -> int:
        return 0 if self.slot is None else len(self.slot) * 4

    def copy(self) -> "Ghost":
        new = Ghost.__new__(Ghost)
        for name in Ghost.__slots__:
            setattr(new, name, getattr(self, name))
        new.slot = None if self.slot is None else list(self.slot)
        return new

    def check(self) -> None:
        assert self.unit == unit_for(self.life), "ghost: unit"
        assert self.debt < TICKS, "ghost: sweeper debt"
        if self.slot is None:
            assert self.nbuckets == 0 and self.sized_for == 0, "ghost: sized, no table"
            return
        assert self.nbuckets and self.sweep < self.nbuckets and self.sized_for, "ghost: shape"
        assert len(self.slot) == self.nbuckets * WAYS, "ghost: table length"
        now = self._now()
        for w in self.slot:
            if w:
                assert w >> 18, "ghost: fingerprint 0"
                assert (now - w) & STAMP_MASK <= MAX_AGE, "ghost: the sweeper missed a word"
