"""Least frequently used with O(1) frequency buckets, ties to the least recently used: the twin
of csrc/hc_policy_lfu.c (the policy protocol: hotcache._spec.policy_order).
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, List, Optional

from .entries import ClassicHooks, _Entry

__all__ = ["_LFU"]

class _LFU(ClassicHooks):
    """LFUCache: use counts; a new key starts at 1; ties -> least recently used in the bucket."""

    def __init__(self) -> None:
        self.counts: Dict[_Entry, int] = {}
        self.buckets: Dict[int, "collections.OrderedDict[_Entry, None]"] = {}

    def insert(self, entry: _Entry) -> None:
        self.counts[entry] = 1
        self.buckets.setdefault(1, collections.OrderedDict())[entry] = None

    def _unlink(self, entry: _Entry) -> int:
        count = self.counts.pop(entry)
        bucket = self.buckets[count]
        del bucket[entry]
        if not bucket:
            del self.buckets[count]
        return count

    def touch(self, entry: _Entry) -> None:
        count = self._unlink(entry) + 1
        self.counts[entry] = count
        self.buckets.setdefault(count, collections.OrderedDict())[entry] = None

    update = touch

    def remove(self, entry: _Entry) -> None:
        self._unlink(entry)

    def victim(self, protect: Optional[_Entry] = None) -> _Entry:
        for count in sorted(self.buckets):
            for entry in self.buckets[count]:
                if entry is not protect:
                    return entry
        raise KeyError("no victim")  # pragma: no cover - the cache checks first

    def entries(self) -> List[_Entry]:
        return [e for count in sorted(self.buckets) for e in self.buckets[count]]

    def order(self) -> List[Any]:
        return [e.k.key for e in self.entries()]  # type: ignore[union-attr]

    def clear(self) -> None:
        self.counts.clear()
        self.buckets.clear()

    def copy(self, remap: Callable[[_Entry], _Entry]) -> "_LFU":
        new = _LFU()
        new.counts = {remap(e): n for e, n in self.counts.items()}
        new.buckets = {
            count: collections.OrderedDict((remap(e), None) for e in bucket) for count, bucket in self.buckets.items()
        }
        return new

    def check(self, entries: Dict[int, _Entry]) -> None:
        assert len(self.counts) == len(entries) and all(id(e) in entries for e in self.counts), "LFU != data"
        assert sum(len(b) for b in self.buckets.values()) == len(self.counts), "LFU buckets size"
        for count, bucket in self.buckets.items():
            assert bucket and count >= 1, "empty or invalid LFU bucket"
            assert all(self.counts[e] == count for e in bucket), "LFU key in the wrong bucket"
