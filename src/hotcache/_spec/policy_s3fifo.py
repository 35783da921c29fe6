"""Pure-Python twin of the C core's S3FIFO policy (csrc/hc_policy_s3fifo.c): the executable spec
of S3FIFOCache's eviction order, decision for decision.

S3-FIFO (Yang et al., SOSP 2023), as libCacheSim's S3FIFO.c::

    new key   -> small FIFO (10 % of the weight); remembered by the ghost -> main FIFO (90 %)
    a hit     -> the entry's 2-bit use counter + 1 (saturating); nothing moves
    eviction  -> main if main is over its share or small is empty, else small:
                 small head: counter >= 2 -> main tail (counter 0); else it goes (into the ghost)
                 main head:  counter > 0 -> main tail with counter - 1; else it goes

It follows the policy protocol of the classes in ``_pure.py`` (insert / touch / update / remove /
victim / order / clear / copy / check) plus what the adaptive policies need from the cache:

    miss(h)          a lookup of core hash h missed (nothing to do here; the protocol's)
    evict(entry)     remove `entry`, which victim() returned, as an eviction (into the ghost)
    charge(entry, old_size, old_charge)   its weight changed (before update() is called)
    limits(bound, maxmemory)              the cache's bounds changed
    aux()            per-entry state in order() order: queue << 2 | counter (the core's aux)

Entries are ``_pure._Entry``-like: ``entry.k.hash`` (Python hash), ``entry.size``,
``entry.charge``. Weights are sizes while `bound` (the size bound) is set or nothing is, else
byte charges (a cache bounded by maxmemory only). The cache calls insert() for a new entry after
making room (the core calls its reserve step there; so does insert() here).
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, List, Optional

from .ghost import Ghost
from .sketch import uhash

__all__ = ["S3FIFO"]

UNBOUNDED = (1 << 64) - 1
MAX_WEIGHT = 1 << 62
Q_MAIN = 4
USE_MASK = 3
PICK_SMALL, PICK_MAIN = 1, 2
PROMOTE_AT = 2


class S3FIFO:
    """S3FIFOCache's policy (hc_policy_s3fifo)."""

    def __init__(self, bound: Optional[int] = None, maxmemory: Optional[int] = None) -> None:
        self.max_size = UNBOUNDED if bound is None else bound
        self.max_bytes = UNBOUNDED if maxmemory is None else maxmemory
        self._reset()
        self._configure()

    def _reset(self) -> None:
        self.small: "collections.OrderedDict[Any, None]" = collections.OrderedDict()
        self.main: "collections.OrderedDict[Any, None]" = collections.OrderedDict()
        self.aux_of: Dict[Any, int] = {}
        self.small_w = self.main_w = 0
        self.has_evicted = False
        self.pick = 0
        self.ghost = Ghost(0)

    # ---- weights and bounds

    def _by_bytes(self) -> bool:
        return self.max_size == UNBOUNDED and self.max_bytes != UNBOUNDED

    def _maximum(self) -> int:
        return self.max_bytes if self._by_bytes() else self.max_size

    def _weight(self, entry: Any) -> int:
        return entry.charge if self._by_bytes() else entry.size

    def _configure(self) -> None:
        mx = min(self._maximum(), MAX_WEIGHT)
        self.small_max = mx // 10 or 1
        self.main_max = mx - self.small_max if mx > self.small_max else 0
        self.ghost.set_life(mx // 10 * 9 + mx % 10 * 9 // 10)

    def _reserve(self, n: int) -> None:
        mx, total = self._maximum(), self.small_w + self.main_w
        if mx == UNBOUNDED or mx == 0 or (total < mx // 2 and not self.has_evicted):
            return
        want = n if total == 0 else int(float(n) * 0.9 * (float(mx) / float(total))) + 1
        have = self.ghost.sized_for
        if want and (have == 0 or have < want // 2 or have > want * 4):
            self.ghost.size(want)

    def _queue(self, entry: Any) -> "collections.OrderedDict[Any, None]":
        return self.main if self.aux_of[entry] & Q_MAIN else self.small

    def _add_weight(self, queue: Any, w: int) -> None:
        if queue is self.main:
            self.main_w += w
        else:
            self.small_w += w

    def _extract(self, entry: Any) -> None:
        q = self._queue(entry)
        del q[entry]
        self._add_weight(q, -self._weight(entry))

    # ---- protocol

    def insert(self, entry: Any) -> None:
        self._reserve(len(self.aux_of) + 1)
        w = self._weight(entry)
        self.pick = 0
        if self.ghost.take(uhash(entry.k.hash)) >= 0 or (
                not self.has_evicted and self.small_w >= self.small_max):
            self.aux_of[entry] = Q_MAIN
            self.main[entry] = None
            self.main_w += w
        else:
            self.aux_of[entry] = 0
            self.small[entry] = None
            if w > self.small_max:  # heavier than small: the next to go
                self.small.move_to_end(entry, last=False)
            self.small_w += w

    def touch(self, entry: Any) -> None:
        a = self.aux_of[entry]
        self.aux_of[entry] = a + ((a & USE_MASK) != USE_MASK)

    update = touch

    def miss(self, h: int) -> None:
        pass

    def remove(self, entry: Any) -> None:
        self._extract(entry)
        del self.aux_of[entry]
        self.pick = 0

    def evict(self, entry: Any) -> None:
        w = self._weight(entry)
        if not self.aux_of[entry] & Q_MAIN:
            self.ghost.add(uhash(entry.k.hash), w)
        self.remove(entry)
        self.has_evicted = True

    def _to_main(self, entry: Any, use: int) -> None:
        w = self._weight(entry)
        del self.small[entry]
        self.small_w -= w
        self.main[entry] = None
        self.main_w += w
        self.aux_of[entry] = Q_MAIN | use

    def _main_again(self, entry: Any, use: int) -> None:
        self.main.move_to_end(entry)
        self.aux_of[entry] = Q_MAIN | use

    def victim(self, protect: Any = None) -> Any:
        if not self.aux_of:
            raise KeyError("no victim")
        while True:
            if not self.pick:
                self.pick = PICK_MAIN if (self.main_w > self.main_max or not self.small) else PICK_SMALL
            if self.pick == PICK_SMALL:
                if not self.small:
                    self.pick = PICK_MAIN
                    continue
                entry = next(iter(self.small))
                if entry is protect or self.aux_of[entry] & USE_MASK >= PROMOTE_AT:
                    self._to_main(entry, 0)
                    continue
                return entry
            if not self.main or (len(self.main) == 1 and next(iter(self.main)) is protect):
                if not self.small:
                    raise KeyError("no victim")  # nothing, or only protect
                self.pick = PICK_SMALL
                continue
            entry = next(iter(self.main))
            use = self.aux_of[entry] & USE_MASK
            if entry is protect:
                self._main_again(entry, use)
            elif use > 0:
                self._main_again(entry, use - 1)
            else:
                return entry

    def charge(self, entry: Any, old_size: int, old_charge: int) -> None:
        old = old_charge if self._by_bytes() else old_size
        self._add_weight(self._queue(entry), self._weight(entry) - old)
        self.pick = 0

    def limits(self, bound: Optional[int], maxmemory: Optional[int]) -> None:
        self.max_size = UNBOUNDED if bound is None else bound
        self.max_bytes = UNBOUNDED if maxmemory is None else maxmemory
        self.small_w = sum(self._weight(e) for e in self.small)
        self.main_w = sum(self._weight(e) for e in self.main)
        self._configure()
        self.pick = 0

    def entries(self) -> List[Any]:
        return list(self.small) + list(self.main)

    def order(self) -> List[Any]:
        return [e.k.key for e in list(self.small) + list(self.main)]

    def info(self) -> Dict[str, Any]:
        """What the core's hc_policy_info_get reports, by the binding's names."""
        return {
            "small_weight": self.small_w, "main_weight": self.main_w,
            "small_len": len(self.small), "main_len": len(self.main),
            "small_max": self.small_max, "main_max": self.main_max,
            "ghost_len": self.ghost.count(),
        }

    def frequency(self, h: int) -> int:
        """1 if the ghost remembers hash h (the core's hc_policy_frequency), else 0."""
        return int(self.ghost.has(uhash(h)))

    def aux(self) -> List[int]:
        return [self.aux_of[e] for e in list(self.small) + list(self.main)]

    def clear(self) -> None:
        self._reset()
        self._configure()

    def copy(self, remap: Callable[[Any], Any]) -> "S3FIFO":
        new = S3FIFO.__new__(S3FIFO)
        new.__dict__.update(self.__dict__)
        new.small = collections.OrderedDict((remap(e), None) for e in self.small)
        new.main = collections.OrderedDict((remap(e), None) for e in self.main)
        new.aux_of = {remap(e): a for e, a in self.aux_of.items()}
        new.ghost = self.ghost.copy()
        return new

    def check(self, entries: Dict[int, Any]) -> None:
        assert len(self.aux_of) == len(entries) and all(id(e) in entries for e in self.aux_of), "S3FIFO != data"
        assert len(self.small) + len(self.main) == len(self.aux_of), "S3FIFO queues"
        assert all(not self.aux_of[e] & Q_MAIN for e in self.small), "S3FIFO small tag"
        assert all(self.aux_of[e] & Q_MAIN for e in self.main), "S3FIFO main tag"
        assert all(0 <= a <= Q_MAIN | USE_MASK for a in self.aux_of.values()), "S3FIFO aux"
        assert self.small_w == sum(self._weight(e) for e in self.small), "S3FIFO small weight"
        assert self.main_w == sum(self._weight(e) for e in self.main), "S3FIFO main weight"
        self.ghost.check()
