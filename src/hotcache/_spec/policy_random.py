"""Random replacement: the twin of csrc/hc_policy_random.c (the policy protocol:
hotcache._spec.policy_order).
"""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, List, Optional

from .entries import ClassicHooks, _Entry

__all__ = ["_Random"]

class _Random(ClassicHooks):
    """RRCache: a uniform victim among the entries, kept as cachetools keeps its keys (and as the
    C core's random policy does): a dense list, appended to on insert, swap-remove on delete (the
    last entry moves into the hole). A custom ``choice`` gets the keys in that order."""

    def __init__(self, choice: Callable[[Any], Any], seed: Optional[int]) -> None:
        self.choice = choice
        self.dense: List[_Entry] = []
        self.pos: Dict[_Entry, int] = {}  # entry -> its index in dense
        self.rng = random.Random(seed)

    def insert(self, entry: _Entry) -> None:
        self.pos[entry] = len(self.dense)
        self.dense.append(entry)

    def touch(self, entry: _Entry) -> None:
        pass

    update = touch

    def remove(self, entry: _Entry) -> None:
        i = self.pos.pop(entry)
        last = self.dense.pop()
        if last is not entry:
            self.dense[i] = last
            self.pos[last] = i

    def victim(self, protect: Optional[_Entry] = None) -> _Entry:
        """The PRNG's pick. (A custom choice is never asked here: a cache with one evicts
        through popitem(), which calls it as cachetools does.)"""
        entries = [e for e in self.dense if e is not protect]
        return entries[self.rng.randrange(len(entries))]

    def entries(self) -> List[_Entry]:
        return list(self.dense)

    def order(self) -> List[Any]:
        return [e.k.key for e in self.dense]  # type: ignore[union-attr]

    def clear(self) -> None:
        self.dense.clear()
        self.pos.clear()

    def copy(self, remap: Callable[[_Entry], _Entry]) -> "_Random":
        new = _Random(self.choice, None)
        new.dense = [remap(e) for e in self.dense]
        new.pos = {e: i for i, e in enumerate(new.dense)}
        new.rng.setstate(self.rng.getstate())
        return new

    def check(self, entries: Dict[int, _Entry]) -> None:
        assert len(self.dense) == len(entries) == len(self.pos), "RR != data"
        assert all(id(e) in entries and self.pos[e] == i for i, e in enumerate(self.dense)), "RR dense"

    # random.choice is a bound method of random's hidden instance: deepcopy/pickle would copy
    # that instance and lose `choice is random.choice` (the native-PRNG switch), so it is kept
    # by reference; any other choice is copied/pickled as usual.
    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        if state["choice"] is random.choice:
            state["choice"] = None
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.choice is None:
            self.choice = random.choice
