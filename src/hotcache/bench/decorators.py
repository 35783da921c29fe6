"""The decorator part of `python -m hotcache bench`: a cached call's cost, hotcache's decorators
beside functools.lru_cache and the cachetools/cachebox decorators that are installed.

A short version of benchmarks/decorators.py (the full one has miss, async and lock= rows):
one hit scenario and one miss scenario, contenders interleaved round by round, best round per
contender, and every round checked (a hit round calls the function never, a miss round once per
key), so a decorator that silently stopped caching would show as an error, not as a fast row.
"""
from __future__ import annotations

import functools
import gc
import random
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["run_decorators", "format_decorators"]

HOT_KEYS = 2_000        # cached working set of the hit scenario
MAXSIZE = 4_096         # every contender's bound
MISS_KEYS = 8_192       # fresh keys per miss round (the cache is full: every call evicts)

Make = Callable[[Callable[[Any], Any]], Callable[[Any], Any]]


def _contenders(notes: Optional[List[str]] = None) -> List[Tuple[str, Make]]:
    """hotcache's and functools' decorators, then the peers' that are installed. A peer whose
    decorator cannot be built or called (a broken install, an older API) is left out, with a
    note in ``notes`` when given (an absent peer is noted by the caller's library list)."""
    import importlib

    import hotcache

    out: List[Tuple[str, Make]] = [
        ("functools.lru_cache", lambda f: functools.lru_cache(maxsize=MAXSIZE)(f)),
        ("hotcache.lru_cache", lambda f: hotcache.lru_cache(maxsize=MAXSIZE)(f)),
        ("hotcache.cached", lambda f: hotcache.cached(hotcache.LRUCache(MAXSIZE))(f)),
    ]
    for name in ("cachetools", "cachebox"):
        try:
            mod = importlib.import_module(name)
            make: Make = (lambda mod: lambda f: mod.cached(mod.LRUCache(MAXSIZE))(f))(mod)
            if make(lambda x: x + 1)(1) != 2:
                raise AssertionError("a cached call returned a wrong result")
        except ImportError:
            continue
        except Exception as e:  # never stops the bench
            if notes is not None:
                notes.append("decorators: %s.cached left out (%s: %s)" % (name, type(e).__name__, e))
            continue
        out.append(("%s.cached" % name, make))
    return out


def _loop(f: Callable[[Any], Any], keys: List[int]) -> int:
    t0 = time.perf_counter_ns()
    for k in keys:
        f(k)
    return time.perf_counter_ns() - t0


def run_decorators(rounds: int = 9, seed: int = 4321,
                   notes: Optional[List[str]] = None) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Rows {scenario, library, best_ns, vs_lru_cache} and error notes (failed checks); why a
    peer was left out goes to ``notes`` when given."""
    rng = random.Random(seed)
    hot = rng.sample(range(10**9), HOT_KEYS)
    hit_keys = hot * 5
    rng.shuffle(hit_keys)
    errors: List[str] = []
    rows: List[Dict[str, Any]] = []
    contenders = _contenders(notes)
    for scenario in ("hit 1 arg", "miss 1 arg"):
        runners = []
        for name, make in contenders:
            calls = [0]

            def func(x: Any, calls: List[int] = calls) -> Any:
                calls[0] += 1
                return x

            f = make(func)
            warm = hot if scenario.startswith("hit") else range(-MAXSIZE, 0)
            for k in warm:          # hit: the hot set is cached; miss: the cache is full
                f(k)
            runners.append((name, f, calls))
        best: Dict[str, float] = {}
        fresh = iter(range(10**10, 10**11))
        gc.collect()
        was = gc.isenabled()
        gc.disable()
        try:
            for rnd in range(rounds):
                k0 = rnd % len(runners)
                if scenario.startswith("miss"):
                    keys = [next(fresh) for _ in range(MISS_KEYS)]
                else:
                    keys = hit_keys
                for name, f, calls in runners[k0:] + runners[:k0]:
                    before = calls[0]
                    ns = _loop(f, keys)
                    made = calls[0] - before
                    want = 0 if scenario.startswith("hit") else len(keys)
                    if made != want:
                        errors.append("%s %s: %d calls of the function, expected %d"
                                      % (scenario, name, made, want))
                    per = ns / len(keys)
                    best[name] = min(best.get(name, per), per)
        finally:
            if was:
                gc.enable()
        base: Optional[float] = best.get("functools.lru_cache")
        for name, _, _ in runners:
            rows.append({"scenario": scenario, "library": name, "best_ns": best[name],
                         "vs_lru_cache": best[name] / base if base else None})
    return rows, errors


def format_decorators(rows: List[Dict[str, Any]]) -> str:
    lines = ["%-12s %-22s %10s  %s" % ("decorator", "contender", "best ns", "x lru_cache")]
    for r in rows:
        ratio = "%.2fx" % r["vs_lru_cache"] if r["vs_lru_cache"] is not None else "-"
        lines.append("%-12s %-22s %10.1f  %s" % (r["scenario"], r["library"], r["best_ns"], ratio))
    return "\n".join(lines)
