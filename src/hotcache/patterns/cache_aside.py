"""Cache-aside with stampede protection: ``get_or_set`` and ``aget_or_set``.

Part of ``hotcache.patterns`` (import them from there; every hotcache cache also has them as
methods, ``cache.get_or_set(key, loader, ttl=None)``). Return ``cache[key]``, or run
``loader()`` once among all concurrent callers missing the same ``(cache, key)``, store the
result (with ``ttl`` if given) and return it to all of them; exceptions are not cached.

The functions live in the foundation layer, in ``hotcache._flight`` beside the single-flight they
are built on, because the cache classes' ``get_or_set`` methods call them and the cache classes
sit below this package (docs/architecture.md). One flight table serves every cache, keyed by
``(id(cache), key)``: it only holds a key while its load runs, and the running leader holds the
cache, so an ``id`` cannot be reused while a flight keyed by it exists (nothing is registered per
cache, nothing leaks).
"""
from __future__ import annotations

from .._flight import aget_or_set, get_or_set

__all__ = ["aget_or_set", "get_or_set"]
