"""Cache statistics: the ``CacheStats`` snapshot returned by every cache's ``stats()``.

Shared by the C-backed classes and the pure-Python twin.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional, Union

__all__ = ["CacheStats"]

_OPTIONS = {"frozen": True}
if sys.version_info >= (3, 10):  # slots=True is 3.10+
    _OPTIONS["slots"] = True


@dataclass(**_OPTIONS)  # type: ignore[call-overload]
class CacheStats:
    """A point-in-time snapshot of a cache's counters and bounds.

    ``hits``/``misses`` count ``__getitem__``, ``get`` and ``setdefault`` lookups. ``inserts``
    and ``updates`` count stores of new and existing keys. ``evictions`` is
    ``evictions_size + evictions_memory``; ``expirations`` counts entries removed because they
    expired. ``memory_used``/``maxmemory`` are None unless the cache has a ``maxmemory``.
    """

    hits: int
    misses: int
    inserts: int
    updates: int
    evictions: int
    evictions_size: int
    evictions_memory: int
    expirations: int
    currsize: int
    maxsize: Union[int, float]
    memory_used: Optional[int]
    maxmemory: Optional[int]
    len: int

    @property
    def hit_ratio(self) -> float:
        """``hits / (hits + misses)``, or 0.0 before any lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
