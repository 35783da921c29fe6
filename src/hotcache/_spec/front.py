"""The pure-Python twin of ``hotcache._native.core.ReadThrough``: a mapping front that reads an L1 and
hands misses to ``type(self)._load(self, key, default)`` (the fallback when the extension can't load).
"""
from __future__ import annotations

from typing import Any

__all__ = ["ReadThrough"]

_MISSING: Any = object()


class ReadThrough:
    """``ReadThrough(l1)``: ``self[key]`` and ``self.get(key, default)`` read ``l1``; a miss
    returns ``type(self)._load(self, key, default)``; ``__getitem__`` raises KeyError when that
    returns the sentinel it passed as default."""

    # the generation state of hotcache.tiers.state._Tiered lives in the front (the native one
    # reads it in its miss path; see _native/front.pxi)
    __slots__ = ("_rt_l1", "_rt_load", "_lock", "_gen", "_floor", "_touched", "_index",
                 "_index_limit", "_insync", "_raise")

    def __init__(self, l1: Any) -> None:
        load = getattr(type(self), "_load", None)
        if not callable(load):
            raise TypeError("a ReadThrough subclass must define _load(self, key, default)")
        self._rt_l1 = l1
        self._rt_load = load

    def _rt_arm(self, tier: Any, prefix: Any = None) -> None:
        """The native front runs an armed tiered cache's misses itself; here _load always does
        (the same steps, in Python)."""
        if prefix is not None and not isinstance(prefix, bytes):
            raise TypeError("prefix must be bytes or None")

    def __getitem__(self, key: Any) -> Any:
        try:
            return self._rt_l1[key]
        except KeyError:
            pass
        value = self._rt_load(self, key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self._rt_l1[key]
        except KeyError:
            pass
        return self._rt_load(self, key, default)
