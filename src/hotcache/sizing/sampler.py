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
of this twin, which replays each at once. Every 64th sampled lookup since the last flush (the
native sampler's full batch) is where the rate may be lowered (below), on both sides.

ADAPTIVE RATE (SHARDS' fixed-size variant, FAST 2015 section 3.3, applied to miniatures as in
ATC 2017 section 4). The rate starts at 1 (every key: exact) and is lowered, never raised, at
those points (unless R = 1: the exact simulation, unbounded, as asked) when either
  * the work bound says so (``work``, online and for sampled offline runs): the rate may fall to
    ``max(R, work / requests)`` -- about ``work`` sampled lookups per ``e``-fold growth of the
    traffic, so short traces and young caches are simulated (nearly) exactly and long ones
    settle at the asked rate R, which is the floor of this bound; or
  * the memory bound says so: the distinct sampled keys (an exact set of their mixed hashes)
    and the miniatures' entries, at ``SET_BYTES`` and ``MINI_BYTES`` each, exceed ``memory``
    bytes; the rate drops in proportion (at least x0.75), below R if need be (memory is a hard
    bound; the report states the rate reached).
Lowering the rate to r' (threshold T') evicts from the set and from every miniature the keys whose
mixed hash is above T' (they are no longer sampled: a uniform rate-r' sample is what is left),
shrinks each miniature to ``max(1, round(r' * size))`` entries (the policy evicts the excess), and
closes a *phase*: the counts of a phase at rate r stand for 1/r times as many requests.

THE ESTIMATE (hotcache.sizing.sampler.build_report). Over N requests a cache's misses are the
compulsory ones (the first request of each distinct key: the working set D) plus the capacity
misses. D comes from the HyperLogLog over *every* request (0.8 % error, no sampling noise); the
capacity misses of a miniature are its misses minus the sampled keys' first requests, scaled by
1/r per phase. So hit ratio = 1 - D/N - sum over phases (misses - fresh) / (r N). Normalising by
r N (the expected sampled count) rather than the actual one is SHARDS_adj (FAST 2015 section
4.3): a few very hot keys falling in or out of a spatial sample move the sampled count a lot, and
hot keys hit at every size, so the surplus or deficit belongs to the hits. Taking the compulsory
misses from the HyperLogLog removes the other big variance term (how many distinct keys the
sample happened to catch): on a 1 % sample of Zipf(0.7) the mean error fell from 0.007 to 0.005
over six samples, on cloudPhysics from 0.033 to 0.021. At rate 1 the report is the exact counts.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .hll import M, MASK64, estimate, mix64, register_update
from .report import POLICIES, SizingReport

__all__ = ["ONLINE_WORK", "OFFLINE_WORK", "ONLINE_MEMORY", "OFFLINE_MEMORY", "PyTwinSizer",
           "build_report", "check_rate", "check_policies", "check_sizes", "mini_size", "threshold",
           "next_rate", "model_bytes"]

BATCH = 64                    # sampled lookups per native batch: where the rate may be lowered
ONLINE_WORK = 1 << 13         # sampled lookups per e-fold growth of a cache's traffic
OFFLINE_WORK = 1 << 17        # the same for simulate(sample=R)
ONLINE_MEMORY = 2 << 20       # the advisor of one cache: 2 MiB (issue 13)
OFFLINE_MEMORY = 64 << 20     # simulate(sample=R): one run on one machine
MARGIN = 2                    # the model counts live entries; the C arenas grow x2 and never
                              # shrink, so it is held under memory / MARGIN
SET_BYTES = 32                # a distinct sampled key in the native set (load 1/4 .. 1/2)
MINI_BYTES = 96               # an entry of a native miniature (66 live; the arena grows x2)
FIXED_BYTES = 64 << 10        # registers, queue, the miniatures' empty structures


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


def mini_size(rate: float, size: int) -> int:
    """The entries of the miniature of a cache of ``size`` entries at ``rate``."""
    return max(1, int(round(rate * size)))


def threshold(rate: float) -> int:
    """The largest mixed hash that is sampled at ``rate``."""
    return MASK64 if rate >= 1.0 else int(rate * 2.0 ** 64)


def model_bytes(n_minis: int, distinct: int, entries: int) -> int:
    """The advisor's memory as the rate control counts it (both samplers, the same figure; the
    native _sz_flush decides a rate at its floor on this formula itself, so keep them one)."""
    return FIXED_BYTES + 512 * n_minis + SET_BYTES * distinct + MINI_BYTES * entries


def next_rate(rate: float, floor: float, work: int, memory: int, requests: int, used: int) -> float:
    """The rate after a full batch: ``rate`` unchanged, or lowered (see the module essay).
    ``work``/``memory`` 0: that bound is off."""
    target = rate
    if floor >= 1.0:        # R = 1 asks for the exact simulation: no bound
        return rate
    if work and requests:
        w = max(floor, work / requests)
        if w <= 0.75 * rate or w == floor < rate:     # steps of x0.75 at least, then R
            target = w
    if memory and used > memory // MARGIN:
        target = min(target, rate * min(0.75, 0.9 * (memory // MARGIN) / used))
    return target


class PyTwinSizer:
    """The sampler, in Python. ``make(policy, size)`` builds a miniature cache (a twin class).
    ``rate``: the rate to start at (1 but for simulate's replay of a sample); ``floor``: the
    asked rate R (the work bound's floor); ``work``/``memory``: the bounds (0: off)."""

    def __init__(self, rate: float, sizes: Sequence[int], policies: Sequence[str],
                 make: Callable[[str, int], Any], floor: float, work: int, memory: int) -> None:
        self.rate = rate
        self.floor, self.work, self.budget = floor, work, memory
        self.sizes = list(sizes)
        self.policies = list(policies)
        self.threshold = threshold(self.rate)
        self.regs = bytearray(M)
        self.requests = 0
        self.sampled = 0
        self.sampled_phase = 0
        self.fresh_phase = 0
        self.fresh = 0
        self.queued = 0
        self.seen: set = set()                 # mixed hashes of the distinct sampled keys
        self.minis = [make(p, mini_size(self.rate, n)) for p in self.policies for n in self.sizes]
        self.hits = [0] * len(self.minis)      # this phase's
        self.acc = [0.0] * len(self.minis)     # capacity misses of the closed phases, scaled

    @property
    def mini_sizes(self) -> List[int]:
        return [mini_size(self.rate, n) for n in self.sizes]

    def observe(self, key: Any, h: Optional[int] = None) -> None:
        """One lookup of ``key`` (hash ``h``, computed if not given)."""
        if h is None:
            h = hash(key)
        m = mix64(h)
        self.requests += 1
        register_update(self.regs, m)
        if m <= self.threshold:
            self.sampled += 1
            self.sampled_phase += 1
            if m not in self.seen:
                self.seen.add(m)
                self.fresh_phase += 1
                self.fresh += 1
            marker = _MISS
            for i, c in enumerate(self.minis):
                if c.get(h, marker) is marker:
                    c[h] = None
                else:
                    self.hits[i] += 1
            self.queued += 1
            if self.queued == BATCH:
                self.queued = 0
                self._adapt()

    def _adapt(self) -> None:
        used = model_bytes(len(self.minis), len(self.seen), sum(len(c) for c in self.minis))
        r = next_rate(self.rate, self.floor, self.work, self.budget, self.requests, used)
        if r < self.rate:
            self.lower(r)

    def lower(self, rate: float) -> None:
        """Lower the sample rate to ``rate`` (see the module essay)."""
        for i in range(len(self.minis)):
            self.acc[i] += (self.sampled_phase - self.hits[i] - self.fresh_phase) / self.rate
            self.hits[i] = 0
        self.sampled_phase = self.fresh_phase = 0
        self.rate = rate
        t = self.threshold = threshold(rate)
        self.seen = {m for m in self.seen if m <= t}
        for i, c in enumerate(self.minis):
            for h in [h for h in c.keys() if mix64(h) > t]:
                del c[h]
            c.resize(maxsize=mini_size(rate, self.sizes[i % len(self.sizes)]))

    def feed(self, keys: Iterable[Any], progress: Optional[Callable[[int], Any]] = None,
             every: int = 1 << 20, keep: Optional[List[Any]] = None) -> int:
        """Count a lookup of each key; ``progress(n)`` every ``every`` keys; the sampled keys
        appended to ``keep`` if given (those the rate drops later are dropped from it). Returns
        how many keys were read."""
        if every < 1:
            raise ValueError("every must be >= 1")
        n = 0
        for key in keys:
            t = self.threshold
            h = hash(key)
            self.observe(key, h)
            if keep is not None:
                if self.threshold != t:
                    keep[:] = [k for k in keep if mix64(hash(k)) <= self.threshold]
                if mix64(h) <= self.threshold:
                    keep.append(key)
            n += 1
            if progress is not None and n % every == 0:
                progress(n)
        self.queued = 0
        return n

    def counts(self) -> Tuple[int, int, List[int]]:
        self.queued = 0
        return self.requests, self.sampled, list(self.hits)

    def report(self, requests: Optional[int] = None, registers: Optional[bytes] = None) -> SizingReport:
        """The SizingReport so far; ``requests``/``registers`` stand in for the sampler's own
        (as the native Sizer.report)."""
        self.queued = 0
        return build_report(self.sizes, self.policies, self.hits, self.acc,
                            self.requests if requests is None else requests, self.sampled,
                            self.sampled_phase, self.fresh_phase, self.fresh, self.rate,
                            bytes(self.regs) if registers is None else registers, self.memory())

    def memory(self) -> int:
        """Approximate bytes held: registers, counters, the sampled set and the miniatures' entries."""
        return (len(self.regs) + 16 * len(self.hits) + 64 * len(self.seen)
                + sum(_ENTRY_BYTES * len(c) for c in self.minis))

    def registers(self) -> bytes:
        return bytes(self.regs)


_MISS = object()
_ENTRY_BYTES = 400   # a twin entry: _Key, _Entry, dict slot, policy links (a rough upper figure)


def build_report(sizes: Sequence[int], policies: Sequence[str], hits: Sequence[int],
                 acc: Sequence[float], requests: int, sampled: int, sampled_phase: int,
                 fresh_phase: int, fresh: int, rate: float, regs: bytes,
                 memory: int = 0) -> SizingReport:
    """The SizingReport of a sampler's counters (native and twin share this): ``hits`` and
    ``sampled_phase``/``fresh_phase`` of the current phase (at ``rate``), ``acc`` the scaled
    capacity misses of the closed ones, per miniature in policy-major order. At rate 1 (never
    lowered) the exact ratios; else the estimate of the module essay."""
    ns = len(sizes)
    ws = estimate(regs)
    ratio: Dict[str, List[float]] = {}
    for j, p in enumerate(policies):
        row = []
        for i in range(ns):
            k = j * ns + i
            if not requests:
                r = 0.0
            elif rate >= 1.0:
                r = hits[k] / requests
            else:
                cap = acc[k] + (sampled_phase - hits[k] - fresh_phase) / rate
                r = 1.0 - (ws + cap) / requests
            row.append(min(1.0, max(0.0, r)))
        ratio[p] = row
    return SizingReport(sizes, ratio, ws, requests, sampled, rate, memory)
