"""The sizing sampler in Python: the twin of ``Sizer`` in hotcache/_native/sizing.pxi.

Layer 0 (foundation); the pure twin (hotcache._spec) runs it with its own cache classes as the
miniature caches, the native binding has the same algorithm in C. Both decide the same samples and
fill the same HyperLogLog registers from the same hashes, so their reports agree.

HOW IT WORKS (SHARDS, Waldspurger et al., FAST 2015; miniature simulations, ATC 2017). A request
for a key with Python hash ``h`` is mixed to ``m = mix64(h)``; it is *sampled* when
``m <= T = R * 2**64`` (its top bits are small), so a key is either always or never sampled, and a
fraction R of the distinct keys is. Each sampled request is replayed on one miniature cache per
(policy, size), of ``max(1, round(R * size))`` entries: the miniature sees a 1-in-1/R spatial sample
of the keys with 1/R of the room, so its hit ratio estimates the full cache's. The miniatures are
the real cache classes (their policies are the very code the caches run). A lookup that misses in
a miniature stores the key (demand fill). A miniature stores the key's hash ``h`` (an int) in
place of the key: no user key is kept alive, and the native miniatures (bare C caches, no Python
object per entry) identify a key by ``h``. ``hash(h) == h`` for every hash value, so the
policies hear the same hashes as in the real cache (TinyLFU's sketch, S3FIFO's ghosts): at
R = 1 the miniature *is* the real cache's run. Two keys are one to the advisor only when their
``hash()`` is equal (e.g. -1 and -2 in CPython). Every request, sampled or not, updates
the HyperLogLog (hotcache.sizing.hll) with the low bits of ``m``.

The native sampler queues sampled lookups and replays them on the miniatures 64 at a time
(flushed before any count is read); the miniatures are independent, so the counts are those
of this twin, which replays each at once.

Memory stays bounded: the miniatures are bounded caches; when the largest would exceed
``MAX_MINI`` entries the rate is lowered to fit (fixed-size SHARDS), and reported.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .hll import M, MASK64, estimate, mix64, register_update
from .report import POLICIES, SizingReport

__all__ = ["MAX_MINI", "PyTwinSizer", "build_report", "check_rate", "check_policies", "check_sizes", "plan"]

# largest miniature cache (entries): 5 policies x (1 + 1/2 + 1/4 ...) of it stay under 2 MB
MAX_MINI = 2048


def check_rate(rate: Any) -> float:
    """A sample rate in (0, 1] as a float, else TypeError / ValueError."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise TypeError("the sizing sample rate must be a number in (0, 1], not %s" % type(rate).__name__)
    r = float(rate)
    if not 0.0 < r <= 1.0:
        raise ValueError("the sizing sample rate must be in (0, 1], got %r" % (rate,))
    return r


def check_policies(policies: Any) -> Tuple[str, ...]:
    if isinstance(policies, str):
        policies = (policies,)
    try:
        names = tuple(policies)
    except TypeError:
        raise TypeError("policies must be an iterable of policy names") from None
    if not names:
        raise ValueError("policies must name at least one policy")
    for p in names:
        if p not in POLICIES:
            raise ValueError("unknown policy %r (expected some of %s)" % (p, ", ".join(POLICIES)))
    if len(set(names)) != len(names):
        raise ValueError("policies names a policy twice: %r" % (names,))
    return names


def check_sizes(sizes: Any) -> List[int]:
    try:
        out = sorted(set(int(s) for s in sizes))
    except (TypeError, ValueError):
        raise TypeError("sizes must be an iterable of positive ints") from None
    if not out or out[0] < 1:
        raise ValueError("sizes must be positive ints, at least one, got %r" % (sizes,))
    return out


def plan(rate: float, sizes: Sequence[int], bounded: bool) -> Tuple[float, List[int]]:
    """The rate used (lowered so the largest miniature has at most MAX_MINI entries when
    ``bounded``) and each size's miniature size."""
    if bounded and rate * max(sizes) > MAX_MINI:
        rate = MAX_MINI / max(sizes)
    return rate, [max(1, int(round(rate * s))) for s in sizes]


def threshold(rate: float) -> int:
    """The largest mixed hash that is sampled at ``rate``."""
    return MASK64 if rate >= 1.0 else int(rate * 2.0 ** 64)


class PyTwinSizer:
    """The sampler, in Python. ``make(policy, size)`` builds a miniature cache (a twin class)."""

    def __init__(self, rate: float, sizes: Sequence[int], policies: Sequence[str],
                 make: Callable[[str, int], Any], bounded: bool) -> None:
        self.rate, self.minis_sizes = plan(rate, sizes, bounded)
        self.sizes = list(sizes)
        self.policies = list(policies)
        self.threshold = threshold(self.rate)
        self.regs = bytearray(M)
        self.requests = 0
        self.sampled = 0
        self.minis = [make(p, n) for p in self.policies for n in self.minis_sizes]
        self.hits = [0] * len(self.minis)

    def observe(self, key: Any, h: Optional[int] = None) -> None:
        """One lookup of ``key`` (hash ``h``, computed if not given)."""
        if h is None:
            h = hash(key)
        m = mix64(h)
        self.requests += 1
        register_update(self.regs, m)
        if m <= self.threshold:
            self.sampled += 1
            marker = _MISS
            for i, c in enumerate(self.minis):
                if c.get(h, marker) is marker:
                    c[h] = None
                else:
                    self.hits[i] += 1

    def feed(self, keys: Iterable[Any], progress: Optional[Callable[[int], Any]] = None,
             every: int = 1 << 20, keep: Optional[List[Any]] = None) -> int:
        """Count a lookup of each key; ``progress(n)`` every ``every`` keys; the sampled keys
        appended to ``keep`` if given. Returns how many keys were read."""
        if every < 1:
            raise ValueError("every must be >= 1")
        n = 0
        for key in keys:
            before = self.sampled
            self.observe(key, hash(key))
            if keep is not None and self.sampled != before:
                keep.append(key)
            n += 1
            if progress is not None and n % every == 0:
                progress(n)
        return n

    def report(self, requests: Optional[int] = None, registers: Optional[bytes] = None) -> SizingReport:
        """The SizingReport so far; ``requests``/``registers`` stand in for the sampler's own
        (as the native Sizer.report)."""
        return build_report(self.sizes, self.policies, self.hits,
                            self.requests if requests is None else requests, self.sampled,
                            self.rate, bytes(self.regs) if registers is None else registers,
                            self.memory())

    def memory(self) -> int:
        """Approximate bytes held: registers, counters and the miniatures' entries."""
        return len(self.regs) + 8 * len(self.hits) + sum(_ENTRY_BYTES * len(c) for c in self.minis)

    def registers(self) -> bytes:
        return bytes(self.regs)


_MISS = object()
_ENTRY_BYTES = 400   # a twin entry: _Key, _Entry, dict slot, policy links (a rough upper figure)


def build_report(sizes: Sequence[int], policies: Sequence[str], hits: Sequence[int], requests: int,
                 sampled: int, rate: float, regs: bytes, memory: int = 0) -> SizingReport:
    """The SizingReport of a sampler's counters (native and twin share this).

    SHARDS_adj (Waldspurger et al. 2015, section 4.3): the sample holds ``sampled`` lookups where
    ``rate * requests`` were expected; the difference is almost always a few very hot keys
    falling in or out of the sample (a spatial sample takes a key's every request or none), and
    hot keys hit in any cache, so the difference is credited (or debited) as hits at every size
    and the ratio taken over the expected count. At rate 1 it changes nothing (the exact run)."""
    ns = len(sizes)
    expected = rate * requests
    ratio: Dict[str, List[float]] = {}
    for j, p in enumerate(policies):
        row = []
        for i in range(ns):
            h = hits[j * ns + i]
            if rate >= 1.0:
                r = h / sampled if sampled else 0.0
            elif expected > 0:
                r = (h + expected - sampled) / expected
            else:
                r = 0.0
            row.append(min(1.0, max(0.0, r)))
        ratio[p] = row
    return SizingReport(sizes, ratio, estimate(regs), requests, sampled, rate, memory)
