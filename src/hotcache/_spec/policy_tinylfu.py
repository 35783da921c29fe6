"""Pure-Python twin of the C core's TINYLFU policy (csrc/hc_policy_tinylfu.c): the executable spec
of TinyLFUCache's eviction order, decision for decision (read that file's comment for the why).

W-TinyLFU on Caffeine's design::

    new key -> window (LRU, 1 % at first); the window's oldest is the candidate for main
    main = probation (LRU, its oldest is the victim) + protected (LRU, 80 % of main at first)
    eviction: the one of (candidate, victim) the sketch estimates less frequent goes (ties: the
              candidate; an estimate >= 6 that is not higher wins 1 time in 128 anyway); a
              victim that defended goes round to probation's tail
    a hit: protected -> its tail; window -> its tail (+ sketch); probation -> protected (+ sketch)
    a miss on a hash the ghost remembers moves the region boundaries toward the region that
           would have kept it (window / probation / protected), ARC-style

Policy protocol as in ``_pure.py`` plus ``miss(h)``, ``evict(entry)``, ``charge(entry,
old_size, old_charge)``, ``limits(bound, maxmemory)``, ``aux()`` (the core's per-entry aux:
queue | 4 if demoted) and ``rng`` (the admission-jitter counter, the core's hc_rng_state).
Entries are ``_pure._Entry``-like (``entry.k.hash``, ``entry.size``, ``entry.charge``); the
policy also tracks whether any entry was ever stored with a size other than 1 since the last
clear (the core's arena then holds a size array; the sketch is then sized by entries).
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, List, Optional

from .ghost import Ghost
from .sketch import MASK64, Sketch, fmix64, uhash

__all__ = ["TinyLFU"]

UNBOUNDED = (1 << 64) - 1
MAX_WEIGHT = 1 << 62
Q_WINDOW, Q_PROBATION, Q_PROTECT, Q_MASK, F_DEMOTED = 0, 1, 2, 3, 4
TAG_WINDOW, TAG_FRESH, TAG_DEMOTED = 0, 1, 2
PERCENT_MAIN = 0.99
PERCENT_PROTECT = 0.80
MAX_PROTECT_SHARE = 0.99
TRANSFER_MAX = 1000
ADMIT_HASHDOS = 6
JITTER_MASK = 127
GHOST_MIN = 4096
MAX_STEP_RATIO = 64.0
JITTER_SALT = 0xA54FF53A5F1D36F1
SAMPLE_SALT = 0x510E527FADE682D1


def _ratio(all_: float, part: float) -> float:
    r = all_ / part if part > 0.0 else 1.0
    return r if r < MAX_STEP_RATIO else MAX_STEP_RATIO


def _shift_for(hashes: int) -> int:
    k = 0
    while (hashes >> (k + 1)) >= GHOST_MIN and k < 40:
        k += 1
    return k


class TinyLFU:
    """TinyLFUCache's policy (hc_policy_tinylfu)."""

    def __init__(self, bound: Optional[int] = None, maxmemory: Optional[int] = None, seed: int = 0) -> None:
        self.max_size = UNBOUNDED if bound is None else bound
        self.max_bytes = UNBOUNDED if maxmemory is None else maxmemory
        self.rng = seed & MASK64
        self._reset()
        self._configure()

    def _reset(self) -> None:
        # window, probation, protected: entry -> None, oldest first
        self.queues: List["collections.OrderedDict[Any, None]"] = [
            collections.OrderedDict(), collections.OrderedDict(), collections.OrderedDict()]
        self.weights = [0, 0, 0]
        self.aux_of: Dict[Any, int] = {}
        self.sketch = Sketch()
        self.ghost = Ghost(0)
        self.ghost_shift = 0
        self.last_miss = 0
        self.miss_pending = False
        self.sized = False  # some entry had a size other than 1 (the core's arena size array)

    # ---- weights and bounds

    def _by_bytes(self) -> bool:
        return self.max_size == UNBOUNDED and self.max_bytes != UNBOUNDED

    def _weight(self, entry: Any) -> int:
        return entry.charge if self._by_bytes() else entry.size

    def _configure(self) -> None:
        mx = min(self.max_bytes if self._by_bytes() else self.max_size, MAX_WEIGHT)
        self.maximum = mx
        self.window_max = mx - int(PERCENT_MAIN * float(mx))
        self.protect_share = PERCENT_PROTECT
        self.protect_max = int(self.protect_share * float(mx - self.window_max))
        self.evicted = [0.0, 0.0, 0.0]

    # ---- queues

    def _q(self, entry: Any) -> int:
        return self.aux_of[entry] & Q_MASK

    def _move(self, entry: Any, w: int, src: int, dst: int, aux: int) -> None:
        del self.queues[src][entry]
        self.weights[src] -= w
        self.queues[dst][entry] = None
        self.weights[dst] += w
        self.aux_of[entry] = aux

    def _head(self, q: int, skip: Any = None) -> Any:
        it = iter(self.queues[q])
        for entry in it:
            if entry is not skip:
                return entry
            return next(it, None)  # skip was the head: its successor
        return None

    def _total(self) -> int:
        return self.weights[0] + self.weights[1] + self.weights[2]

    # ---- region maintenance

    def _demote_protected(self) -> None:
        for _ in range(TRANSFER_MAX):
            if self.weights[Q_PROTECT] <= self.protect_max or not self.queues[Q_PROTECT]:
                break
            entry = next(iter(self.queues[Q_PROTECT]))
            self._move(entry, self._weight(entry), Q_PROTECT, Q_PROBATION, Q_PROBATION | F_DEMOTED)

    def _demote_window(self) -> None:
        for entry in list(self.queues[Q_WINDOW]):
            if self.weights[Q_WINDOW] <= self.window_max:
                break
            w = self._weight(entry)
            if w != 0:
                self._move(entry, w, Q_WINDOW, Q_PROBATION, Q_PROBATION)

    def _resplit(self) -> None:
        self.protect_max = int(self.protect_share * float(self.maximum - self.window_max))
        self._demote_protected()

    def _grow_window(self, amount: int) -> None:
        room = self.maximum - self.window_max - 1 if self.maximum > self.window_max + 1 else 0
        quota = min(amount, room)
        self.window_max += quota
        for _ in range(TRANSFER_MAX):
            entry = self._head(Q_PROBATION)
            if entry is not None and self._weight(entry) <= quota:
                quota -= self._weight(entry)
                self._move(entry, self._weight(entry), Q_PROBATION, Q_WINDOW, Q_WINDOW)
                continue
            entry = self._head(Q_PROTECT)
            if entry is None or self._weight(entry) > quota:
                break
            quota -= self._weight(entry)
            self._move(entry, self._weight(entry), Q_PROTECT, Q_WINDOW, Q_WINDOW)
        self._resplit()

    def _shrink_window(self, amount: int) -> None:
        quota = min(amount, self.window_max - 1 if self.window_max > 1 else 0)
        self.window_max -= quota
        for _ in range(TRANSFER_MAX):
            if self.weights[Q_WINDOW] <= self.window_max or not self.queues[Q_WINDOW]:
                break
            entry = next(iter(self.queues[Q_WINDOW]))
            self._move(entry, self._weight(entry), Q_WINDOW, Q_PROBATION, Q_PROBATION)
        self._resplit()

    # ---- adaptation

    def _sampled(self, h: int) -> bool:
        return fmix64(h, SAMPLE_SALT) & ((1 << self.ghost_shift) - 1) == 0

    def _remember(self, entry: Any, w: int) -> None:
        a = self.aux_of[entry]
        q = a & Q_MASK
        tag = TAG_WINDOW if q == Q_WINDOW else TAG_DEMOTED if (q == Q_PROTECT or a & F_DEMOTED) else TAG_FRESH
        keep = 1.0 - 1.0 / (1.0 + float(self.ghost.sized_for))
        h = uhash(entry.k.hash)
        if self.ghost.slot is None or not self._sampled(h):
            return
        self.ghost.add(h, w, tag)
        for k in range(3):
            self.evicted[k] = self.evicted[k] * keep + (k == tag)

    def _feedback(self, h: int) -> None:
        if self.ghost.slot is None or not self._sampled(h):
            return
        tag = self.ghost.take(h)
        if tag < 0:
            return
        n = len(self.aux_of)
        unit = float(1 << self.ghost_shift) * (float(self._total()) / float(n) if n else 1.0)
        ev = self.evicted
        main_ev = ev[TAG_FRESH] + ev[TAG_DEMOTED]
        if tag == TAG_WINDOW:
            self._grow_window(int(_ratio(ev[TAG_WINDOW] + main_ev, ev[TAG_WINDOW]) * unit + 0.5))
            return
        self._shrink_window(int(_ratio(ev[TAG_WINDOW] + main_ev, main_ev) * unit + 0.5))
        main = self.maximum - self.window_max if self.maximum > self.window_max else 1
        share = _ratio(main_ev, ev[tag]) * unit / float(main)
        share = self.protect_share + share if tag == TAG_DEMOTED else self.protect_share - share
        self.protect_share = 0.0 if share < 0.0 else MAX_PROTECT_SHARE if share > MAX_PROTECT_SHARE else share
        self._resplit()

    def _reserve(self, n: int) -> None:
        if self.maximum == MAX_WEIGHT or self._total() < self.maximum // 2:
            return
        weighted = self._by_bytes() or self.sized
        have = self.sketch.capacity
        want = n if weighted else self.maximum
        if weighted and have and have < want < 2 * have:
            want = 2 * have
        if have < want or have > 4 * want + 64 or (not weighted and have != want):
            self.sketch.size(want)
        want = self.sketch.capacity or want
        k = _shift_for(want)
        if self.ghost.slot is None or k != self.ghost_shift or self.ghost.sized_for != want >> k:
            self.ghost.set_life(self.maximum >> k)
            if self.ghost.size(want >> k):
                self.ghost_shift = k
                self.evicted = [0.0, 0.0, 0.0]

    # ---- protocol

    def _choose(self, keep: Any = None) -> Any:
        cand = self._head(Q_WINDOW, keep)
        vict = self._head(Q_PROBATION, keep)
        if vict is None:
            vict = self._head(Q_PROTECT, keep)
        if vict is None:
            return cand
        if cand is None:
            return vict
        if self._weight(cand) > self.maximum:
            return cand
        fc = self.sketch.estimate(uhash(cand.k.hash))
        fv = self.sketch.estimate(uhash(vict.k.hash))
        if fc > fv:
            return vict
        if fc >= ADMIT_HASHDOS and fmix64(self.rng, JITTER_SALT) & JITTER_MASK == 0:
            return vict
        return cand

    def victim(self, protect: Any = None) -> Any:
        entry = self._choose(protect)
        if entry is None:
            raise KeyError("no victim")
        return entry

    def insert(self, entry: Any) -> None:
        self._reserve(len(self.aux_of) + 1)
        if entry.size != 1:
            self.sized = True
        w = self._weight(entry)
        h = uhash(entry.k.hash)
        if not (self.miss_pending and self.last_miss == h):
            self.sketch.add(h)
            self._feedback(h)
        self.miss_pending = False
        self.aux_of[entry] = Q_WINDOW
        self.queues[Q_WINDOW][entry] = None
        self.weights[Q_WINDOW] += w
        if w > self.window_max:  # heavier than the window: its head, the next candidate
            del self.queues[Q_WINDOW][entry]
            self.weights[Q_WINDOW] -= w
            self._demote_window()
            self.queues[Q_WINDOW][entry] = None
            self.queues[Q_WINDOW].move_to_end(entry, last=False)
            self.weights[Q_WINDOW] += w
        else:
            self._demote_window()

    def touch(self, entry: Any) -> None:
        q = self._q(entry)
        if q == Q_PROTECT:
            self.queues[Q_PROTECT].move_to_end(entry)
            return
        self.sketch.add(uhash(entry.k.hash))
        if q == Q_WINDOW:
            self.queues[Q_WINDOW].move_to_end(entry)
            return
        w = self._weight(entry)
        if w > self.protect_max:
            self.queues[Q_PROBATION].move_to_end(entry)
        else:
            self._move(entry, w, Q_PROBATION, Q_PROTECT, Q_PROTECT)
            self._demote_protected()

    def update(self, entry: Any) -> None:
        w = self._weight(entry)
        q = self._q(entry)
        if w <= (self.window_max if q == Q_WINDOW else self.maximum):
            self.touch(entry)
            return
        del self.queues[q][entry]
        self.weights[q] -= w
        self.queues[Q_WINDOW][entry] = None
        self.queues[Q_WINDOW].move_to_end(entry, last=False)
        self.weights[Q_WINDOW] += w
        self.aux_of[entry] = Q_WINDOW

    def miss(self, h: int) -> None:
        h = uhash(h)
        self.sketch.add(h)
        self._feedback(h)
        self.last_miss = h
        self.miss_pending = True

    def remove(self, entry: Any) -> None:
        q = self._q(entry)
        del self.queues[q][entry]
        self.weights[q] -= self._weight(entry)
        del self.aux_of[entry]

    def evict(self, entry: Any) -> None:
        self._remember(entry, self._weight(entry))
        if self._q(entry) == Q_WINDOW and self.queues[Q_PROBATION]:
            self.queues[Q_PROBATION].move_to_end(next(iter(self.queues[Q_PROBATION])))
        self.remove(entry)
        self.rng = (self.rng + 1) & MASK64

    def charge(self, entry: Any, old_size: int, old_charge: int) -> None:
        if entry.size != 1:
            self.sized = True
        old = old_charge if self._by_bytes() else old_size
        self.weights[self._q(entry)] += self._weight(entry) - old

    def limits(self, bound: Optional[int], maxmemory: Optional[int]) -> None:
        self.max_size = UNBOUNDED if bound is None else bound
        self.max_bytes = UNBOUNDED if maxmemory is None else maxmemory
        self.weights = [sum(self._weight(e) for e in q) for q in self.queues]
        self._configure()
        self.ghost.set_life(self.maximum >> self.ghost_shift)
        self._demote_window()
        self._demote_protected()

    def entries(self) -> List[Any]:
        return [e for q in self.queues for e in q]

    def order(self) -> List[Any]:
        return [e.k.key for q in self.queues for e in q]

    def info(self) -> Dict[str, Any]:
        """What the core's hc_policy_info_get reports, by the binding's names."""
        return {
            "window_weight": self.weights[Q_WINDOW], "probation_weight": self.weights[Q_PROBATION],
            "protected_weight": self.weights[Q_PROTECT],
            "window_len": len(self.queues[Q_WINDOW]), "probation_len": len(self.queues[Q_PROBATION]),
            "protected_len": len(self.queues[Q_PROTECT]),
            "window_max": self.window_max, "protected_max": self.protect_max,
            "protected_share": self.protect_share,
            "ghost_len": self.ghost.count(), "ghost_sample": 1 << self.ghost_shift,
            "sketch_capacity": self.sketch.capacity,
        }

    def frequency(self, h: int) -> int:
        """The sketch's estimate of hash h (the core's hc_policy_frequency)."""
        return self.sketch.estimate(uhash(h))  # type: ignore[no-any-return]

    def aux(self) -> List[int]:
        return [self.aux_of[e] for q in self.queues for e in q]

    def clear(self) -> None:
        self._reset()
        self._configure()

    def copy(self, remap: Callable[[Any], Any]) -> "TinyLFU":
        new = TinyLFU.__new__(TinyLFU)
        new.__dict__.update(self.__dict__)
        new.queues = [collections.OrderedDict((remap(e), None) for e in q) for q in self.queues]
        new.weights = list(self.weights)
        new.aux_of = {remap(e): a for e, a in self.aux_of.items()}
        new.evicted = list(self.evicted)
        new.sketch = self.sketch.copy()
        new.ghost = self.ghost.copy()
        return new

    def check(self, entries: Dict[int, Any]) -> None:
        assert len(self.aux_of) == len(entries) and all(id(e) in entries for e in self.aux_of), "TinyLFU != data"
        assert sum(len(q) for q in self.queues) == len(self.aux_of), "TinyLFU queues"
        for i, q in enumerate(self.queues):
            assert all(self.aux_of[e] & Q_MASK == i for e in q), "TinyLFU queue tag"
            assert self.weights[i] == sum(self._weight(e) for e in q), "TinyLFU queue weight"
        assert all(a in (0, 1, 2, 5) for a in self.aux_of.values()), "TinyLFU aux"
        mx = self.maximum
        assert 0.0 <= self.protect_share <= MAX_PROTECT_SHARE, "TinyLFU protected share"
        assert not mx or 1 <= self.window_max <= mx, "TinyLFU window bound"
        assert self.protect_max == int(self.protect_share * float(mx - self.window_max)), "TinyLFU protected bound"
        self.sketch.check()
        self.ghost.check()
