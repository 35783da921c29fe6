"""``simulate()``: the sizing advisor over a trace (any iterable of keys), offline.

Layer 1 (core): it drives the binding's sampler (hotcache._native's ``Sizer``, whose miniature
caches are the C core itself) or, where the extension cannot load, the twin's.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, List, Optional, Sequence

from .report import DEFAULT_POLICIES, SizingReport
from .sampler import OFFLINE_MEMORY, OFFLINE_WORK, PyTwinSizer, check_policies, check_rate, check_sizes

__all__ = ["simulate", "new_sizer"]

Progress = Optional[Callable[[int], Any]]


def new_sizer(rate: float, sizes: Sequence[int], policies: Sequence[str], floor: Optional[float] = None,
              work: int = 0, memory: int = 0) -> Any:
    """The sampler the binding has (native), else the twin's (checked arguments): starting at
    ``rate``, its adaptive rate bounded by ``floor`` (default: ``rate``), ``work`` and ``memory``
    (hotcache.sizing.sampler; 0: off)."""
    fl = rate if floor is None else floor
    try:
        from hotcache._native.core import _new_sizer
    except ImportError:
        return _twin_sizer(rate, sizes, policies, fl, work, memory)
    return _new_sizer(rate, list(sizes), list(policies), fl, work, memory)


def _twin_sizer(rate: float, sizes: Sequence[int], policies: Sequence[str], floor: Optional[float] = None,
                work: int = 0, memory: int = 0) -> PyTwinSizer:
    from hotcache import _spec  # noqa: F401  (its classes register themselves)
    from hotcache._spec.sizing import make_mini, twin_class
    for p in policies:
        twin_class(p)   # ValueError for a policy this version's twin lacks
    return PyTwinSizer(rate, sizes, policies, make_mini, rate if floor is None else floor, work, memory)


def simulate(keys: Iterable[Any], sizes: Optional[Iterable[int]] = None,
             policies: Sequence[str] = DEFAULT_POLICIES, sample: Optional[float] = None, *,
             progress: Progress = None, every: int = 1 << 20, memory: Optional[int] = None,
             length: Optional[int] = None) -> SizingReport:
    """Predicted hit ratio of each policy at each cache size for the lookups ``keys``.

    Each key is one lookup of a demand-filled cache (a miss stores the key), replayed on
    miniature caches of the real policies. ``sizes``: cache sizes in entries (default: 12 sizes,
    x2 apart, ending at the trace's working set). ``sample``: the spatial sample rate R in (0, 1]
    (default 1: every key, exact, whatever memory it takes). With a rate below 1 the simulation starts exact and lowers
    its rate as the trace grows (about OFFLINE_WORK sampled lookups per e-fold growth, never
    below R) or when its memory would pass ``memory`` bytes (default OFFLINE_MEMORY, 64 MiB; this
    bound may take the rate below R); the report's ``sample_rate`` is the rate reached.
    ``progress(n)`` is called every ``every`` keys.

    ``length``: the trace's length when known beforehand (default ``len(keys)`` if ``keys`` has
    one). With it the rate starts where the adaptive rate would end, max(R, OFFLINE_WORK /
    length), and stays there (unless the memory bound lowers it): SHARDS at one fixed rate,
    without the high-rate start that a trace of unknown length needs (which costs about
    ln(length / OFFLINE_WORK) times more sampled lookups).

    With ``sizes=None`` the sampled keys are kept until the end (those of the final rate: about
    OFFLINE_WORK x log of the trace's length) to pick the sizes from the working set.
    """
    rate = 1.0 if sample is None else check_rate(sample)
    names = check_policies(policies)
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory < 1):
        raise ValueError("memory must be a positive int (bytes), got %r" % (memory,))
    if length is None and hasattr(keys, "__len__"):
        length = len(keys)  # type: ignore[arg-type]
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 0):
        raise ValueError("length must be an int >= 0 (the trace's length), got %r" % (length,))
    if rate >= 1.0:     # exact, as asked: no bound
        work, budget = 0, 0
        start = 1.0
    else:
        work, budget = OFFLINE_WORK, OFFLINE_MEMORY if memory is None else memory
        start = 1.0 if not length else max(rate, min(1.0, work / length))
    if sizes is not None:
        size_list = check_sizes(sizes)
        s = new_sizer(start, size_list, names, rate, work, budget)
        n = s.feed(keys, progress, every)
        if n == 0:
            raise ValueError("the trace is empty: no keys to simulate")
        return s.report()
    # sizes from the working set: count first (HyperLogLog, keeping the keys sampled at the
    # rate reached), then replay the kept keys at that rate on miniatures sized from it
    probe = new_sizer(start, [1], [], rate, work, budget)
    kept: List[Any] = []
    n = probe.feed(keys, progress, every, kept)
    if n == 0:
        raise ValueError("the trace is empty: no keys to simulate")
    ws = probe.report().working_set
    top = max(1, int(round(ws)))
    size_list = sorted({max(1, int(round(top / 2.0 ** e))) for e in range(11, -1, -1)})
    s = new_sizer(probe.rate, size_list, names, probe.rate, 0, budget)
    s.feed(kept)
    return s.report(requests=n, registers=probe.registers())
