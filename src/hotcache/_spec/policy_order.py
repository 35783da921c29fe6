"""Order-keeping policies: Cache's first-insertion order, FIFO and LRU (the twins of
csrc/hc_policy_insertion.c, hc_policy_fifo.c and hc_policy_lru.c).

THE POLICY PROTOCOL, which every ``policy_*.py`` of this package follows. A policy keeps its own
view of the cache's entries (``hotcache._spec.entries._Entry``, which hash by identity, so a
policy never runs user code): ``insert(entry)`` a new entry, ``touch(entry)`` a read hit,
``update(entry)`` a re-assignment, ``remove(entry)``, ``victim(protect=None)`` the next entry to
evict, skipping ``protect`` (the entry being re-assigned; the cache guarantees the policy is
not empty), ``entries()`` / ``order()`` the entries / keys in eviction order (next victim first),
``clear()``, ``copy(remap)`` the policy onto copied entries (``remap``: old entry -> new entry),
and ``check(entries)`` (AssertionError if its view differs from the cache's ``{id: entry}``).
A class picks its policy with its ``_policy`` attribute (hotcache._spec.cache).
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, List, Optional

from .entries import ClassicHooks, _Entry

__all__ = ["_FIFO", "_Insertion", "_LRU", "_ListPolicy"]

class _ListPolicy(ClassicHooks):
    """Entries in an OrderedDict, next victim first."""

    move_on_touch = False  # a read hit moves the entry to the newest end
    move_on_update = False  # a re-assignment does

    def __init__(self) -> None:
        self.keys: "collections.OrderedDict[_Entry, None]" = collections.OrderedDict()

    def insert(self, entry: _Entry) -> None:
        self.keys[entry] = None

    def touch(self, entry: _Entry) -> None:
        if self.move_on_touch:
            self.keys.move_to_end(entry)

    def update(self, entry: _Entry) -> None:
        if self.move_on_update:
            self.keys.move_to_end(entry)

    def remove(self, entry: _Entry) -> None:
        del self.keys[entry]

    def victim(self, protect: Optional[_Entry] = None) -> _Entry:
        it = iter(self.keys)
        entry = next(it)
        return next(it) if entry is protect else entry

    def entries(self) -> List[_Entry]:
        return list(self.keys)

    def order(self) -> List[Any]:
        return [e.k.key for e in self.keys]  # type: ignore[union-attr]

    def clear(self) -> None:
        self.keys.clear()

    def copy(self, remap: Callable[[_Entry], _Entry]) -> "_ListPolicy":
        new = type(self)()
        new.keys = collections.OrderedDict((remap(e), None) for e in self.keys)
        return new

    def check(self, entries: Dict[int, _Entry]) -> None:
        assert len(self.keys) == len(entries) and all(id(e) in entries for e in self.keys), "policy != data"


class _Insertion(_ListPolicy):
    """Cache: first-insertion order; nothing moves a key."""


class _FIFO(_ListPolicy):
    """FIFOCache: reads don't reorder; re-assignment moves to newest."""

    move_on_update = True


class _LRU(_ListPolicy):
    """LRUCache, TTLCache, TLRUCache: read hits and re-assignments are uses."""

    move_on_touch = True
    move_on_update = True
