"""``simulate()``: the sizing advisor over a trace (any iterable of keys), offline.

Layer 1 (core): it drives the binding's sampler (hotcache._native's ``Sizer``, whose miniature
caches are the C core itself) or, where the extension cannot load, the twin's.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, List, Optional, Sequence

from .report import DEFAULT_POLICIES, SizingReport
from .sampler import PyTwinSizer, check_policies, check_rate, check_sizes

__all__ = ["simulate", "new_sizer"]

Progress = Optional[Callable[[int], Any]]


def new_sizer(rate: float, sizes: Sequence[int], policies: Sequence[str],
              bounded: bool = False) -> Any:
    """The sampler the binding has (native), else the twin's (checked arguments)."""
    try:
        from hotcache._native.core import _new_sizer
    except ImportError:
        return _twin_sizer(rate, sizes, policies, bounded)
    return _new_sizer(rate, list(sizes), list(policies), bounded)


def _twin_sizer(rate: float, sizes: Sequence[int], policies: Sequence[str],
                bounded: bool) -> PyTwinSizer:
    from hotcache import _spec  # noqa: F401  (its classes register themselves)
    from hotcache._spec.sizing import make_mini, twin_class
    for p in policies:
        twin_class(p)   # ValueError for a policy this version's twin lacks
    return PyTwinSizer(rate, sizes, policies, make_mini, bounded)


def simulate(keys: Iterable[Any], sizes: Optional[Iterable[int]] = None,
             policies: Sequence[str] = DEFAULT_POLICIES, sample: Optional[float] = None, *,
             progress: Progress = None, every: int = 1 << 20) -> SizingReport:
    """Predicted hit ratio of each policy at each cache size for the lookups ``keys``.

    Each key is one lookup of a demand-filled cache (a miss stores the key), replayed on
    miniature caches of the real policies. ``sizes``: cache sizes in entries (default: 12 sizes,
    x2 apart, ending at the trace's working set). ``sample``: the spatial sample rate R in (0, 1]
    (default 1: every key, exact). ``progress(n)`` is called every ``every`` keys.

    With ``sizes=None`` the sampled keys are kept until the end (R x the trace's length of
    references) to pick the sizes from the working set; give ``sizes`` for bounded memory.
    """
    rate = 1.0 if sample is None else check_rate(sample)
    names = check_policies(policies)
    if sizes is not None:
        size_list = check_sizes(sizes)
        s = new_sizer(rate, size_list, names)
        n = s.feed(keys, progress, every)
        if n == 0:
            raise ValueError("the trace is empty: no keys to simulate")
        return s.report()
    # sizes from the working set: count first (HyperLogLog, keeping the sampled keys), then
    # replay the kept keys on miniatures sized from it
    probe = new_sizer(rate, [1], [])
    kept: List[Any] = []
    n = probe.feed(keys, progress, every, kept)
    if n == 0:
        raise ValueError("the trace is empty: no keys to simulate")
    ws = probe.report().working_set
    top = max(1, int(round(ws)))
    size_list = sorted({max(1, int(round(top / 2.0 ** e))) for e in range(11, -1, -1)})
    s = new_sizer(rate, size_list, names)
    s.feed(kept)
    return s.report(requests=n, registers=probe.registers())
