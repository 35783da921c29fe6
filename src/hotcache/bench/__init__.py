"""hotcache.bench: ``python -m hotcache bench``, hotcache beside dict and the peer caches installed.

    caches.py      the cache operations (get hit/miss, update, set with eviction, Zipf
                   cache-aside, hit ratios) and ``run()``, which prints every table
    decorators.py  a cached call's cost: hotcache's decorators beside functools.lru_cache and
                   the cachetools/cachebox decorators

The top layer, with the entry points (docs/architecture.md): it times the public API as a user
calls it. The longer benchmarks (pytest-benchmark, hit-ratio simulators, memory, Redis) live in
the repository's benchmarks/ folder (docs/benchmarks.md).
"""
from .caches import run

__all__ = ["run"]
