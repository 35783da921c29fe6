"""SizingReport: predicted hit ratio per policy and cache size, the working set, and advice.

Layer 0 (foundation): plain data, built by the sizing sampler (native or twin) from its
miniature simulations; ``plot()`` imports matplotlib when called (the optional extra ``plot``)
and otherwise writes SVG itself, so a report can always be drawn.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["SizingReport", "default_sizes", "POLICIES", "DEFAULT_POLICIES"]

# every policy a miniature simulation can run, and the default set (issue 13)
POLICIES = ("lru", "lfu", "fifo", "random", "s3fifo", "tinylfu")
DEFAULT_POLICIES = ("lru", "lfu", "fifo", "s3fifo", "tinylfu")


def default_sizes(maxsize: float) -> List[int]:
    """1/8x ... 8x ``maxsize``, geometric (x2 per step), each at least 1, without repeats."""
    if not (isinstance(maxsize, (int, float)) and maxsize >= 1 and math.isfinite(maxsize)):
        raise ValueError("sizing needs a finite maxsize >= 1 to pick its sizes, got %r" % (maxsize,))
    out: List[int] = []
    for e in range(-3, 4):
        s = max(1, int(round(maxsize * 2.0 ** e)))
        if s not in out:
            out.append(s)
    return out


class SizingReport:
    """The predicted hit ratio of each policy at each cache size, from miniature simulations.

    ``sizes`` (ascending entry counts), ``hit_ratio[policy][i]`` (the hit ratio predicted at
    ``sizes[i]``), ``working_set`` (estimated distinct keys), ``requests`` (lookups seen),
    ``sampled`` (lookups simulated), ``sample_rate`` (the rate used, possibly lowered from the
    one asked to keep the advisor's memory bounded) and ``memory`` (bytes the advisor holds).
    """

    __slots__ = ("sizes", "hit_ratio", "working_set", "requests", "sampled", "sample_rate", "memory")

    def __init__(self, sizes: Sequence[int], hit_ratio: Dict[str, List[float]], working_set: float,
                 requests: int, sampled: int, sample_rate: float, memory: int = 0) -> None:
        self.sizes = list(sizes)
        self.hit_ratio = {p: list(v) for p, v in hit_ratio.items()}
        self.working_set = working_set
        self.requests = requests
        self.sampled = sampled
        self.sample_rate = sample_rate
        self.memory = memory

    @property
    def policies(self) -> List[str]:
        return list(self.hit_ratio)

    def __repr__(self) -> str:
        return "SizingReport(sizes=%r, policies=%r, working_set=%d, requests=%d, sample_rate=%g)" % (
            self.sizes, self.policies, round(self.working_set), self.requests, self.sample_rate)

    def recommend(self, target_hit_ratio: float,
                  policy: Optional[str] = None) -> Optional[Tuple[int, str]]:
        """The smallest size (and the policy) predicted to reach ``target_hit_ratio``, as
        ``(size, policy)``; ties at one size go to the higher hit ratio. ``None`` if no size of
        the report reaches it. ``policy`` restricts the choice to that policy."""
        if isinstance(target_hit_ratio, bool) or not isinstance(target_hit_ratio, (int, float)):
            raise TypeError("target_hit_ratio must be a number, not %s" % type(target_hit_ratio).__name__)
        if not 0.0 <= target_hit_ratio <= 1.0:
            raise ValueError("target_hit_ratio must be within [0, 1], got %r" % (target_hit_ratio,))
        if policy is not None and policy not in self.hit_ratio:
            raise ValueError("policy %r is not in this report (it has %s)" % (policy, ", ".join(self.hit_ratio)))
        names = [policy] if policy is not None else list(self.hit_ratio)
        for i, size in enumerate(self.sizes):
            best = max(names, key=lambda p: self.hit_ratio[p][i])
            if self.hit_ratio[best][i] >= target_hit_ratio:
                return size, best
        return None

    def __str__(self) -> str:
        head = ["size"] + self.policies
        rows = [[str(s)] + ["%.4f" % self.hit_ratio[p][i] for p in self.policies]
                for i, s in enumerate(self.sizes)]
        widths = [max(len(r[c]) for r in [head] + rows) for c in range(len(head))]
        line = lambda r: "  ".join(x.rjust(w) for x, w in zip(r, widths))  # noqa: E731
        out = ["predicted hit ratio by cache size (rows) and policy (columns)",
               line(head), line(["-" * w for w in widths])]
        out += [line(r) for r in rows]
        out.append("working set ~%d keys; %d requests, %d simulated (sample rate %g)" % (
            round(self.working_set), self.requests, self.sampled, self.sample_rate))
        return "\n".join(out)

    def plot(self, path: str, format: Optional[str] = None) -> None:
        """Draw the curves (hit ratio against size, log scale, one line per policy) to ``path``.

        ``.svg`` is written by hotcache itself; any other format (``.png``, ``.pdf`` ...) needs
        matplotlib (``pip install hotcache[plot]``) and raises ImportError saying so without it.
        ``format`` overrides the file suffix."""
        fmt = (format or str(path).rsplit(".", 1)[-1]).lower()
        if fmt == "svg" and format is None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.svg())
            return
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("SizingReport.plot(%r) needs matplotlib for %s files: pip install "
                              "'hotcache[plot]' (or write .svg, which needs nothing)" % (str(path), fmt)) from exc
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for p in self.policies:
            ax.plot(self.sizes, self.hit_ratio[p], marker="o", label=p)
        ax.set_xscale("log")
        ax.set_xlabel("cache size (entries)")
        ax.set_ylabel("predicted hit ratio")
        ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax.set_title("working set ~%d keys, %d requests" % (round(self.working_set), self.requests))
        fig.savefig(path, format=fmt, bbox_inches="tight")
        plt.close(fig)

    def svg(self) -> str:
        """The curves as a standalone SVG document (no dependency)."""
        w, h, left, right, top, bottom = 640, 400, 60, 110, 20, 50
        pw, ph = w - left - right, h - top - bottom
        lo, hi = math.log(min(self.sizes)), math.log(max(self.sizes))
        span = (hi - lo) or 1.0
        x = lambda s: left + (math.log(s) - lo) / span * pw  # noqa: E731
        y = lambda r: top + (1.0 - r) * ph  # noqa: E731
        colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
        parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                 'font-family="sans-serif" font-size="12">' % (w, h),
                 '<rect width="100%" height="100%" fill="white"/>',
                 '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (left, top, pw, ph)]
        for t in range(0, 11, 2):
            parts.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>' % (left - 6, y(t / 10) + 4, t / 10))
        for s in self.sizes:
            parts.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(s), top + ph + 16, s))
        parts.append('<text x="%d" y="%d" text-anchor="middle">cache size (entries)</text>' % (left + pw // 2, h - 10))
        for i, p in enumerate(self.policies):
            c = colours[i % len(colours)]
            pts = " ".join("%.1f,%.1f" % (x(s), y(r)) for s, r in zip(self.sizes, self.hit_ratio[p]))
            parts.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, pts))
            parts.append('<text x="%d" y="%d" fill="%s">%s</text>' % (left + pw + 10, top + 16 + 16 * i, c, p))
        parts.append("</svg>")
        return "\n".join(parts) + "\n"


Number = Union[int, float]
