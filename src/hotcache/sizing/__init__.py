"""The cache sizing advisor: how big should this cache be, and with which policy?

Hit ratio as a function of cache size for every policy, from live traffic (``sizing=R`` on any
cache class, then ``cache.sizing()``; ``@cached(..., sizing=R)`` then ``f.cache_sizing()``) or from
a trace (``simulate(keys)``, ``python -m hotcache advise TRACE``), with the working set (distinct
keys). Spatial hash sampling (SHARDS) feeds miniature simulations built from the real policies;
a HyperLogLog counts the working set. See docs/sizing.md.
"""
from .report import DEFAULT_POLICIES, POLICIES, SizingReport, default_sizes
from .simulate import simulate

__all__ = ["DEFAULT_POLICIES", "POLICIES", "SizingReport", "default_sizes", "simulate"]
