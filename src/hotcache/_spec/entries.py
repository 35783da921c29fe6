"""What a twin cache stores: keys with their hash taken once, entries, and the ``_State`` record
that holds all of a cache's state (see hotcache._spec.cache for how they are used).
"""

from __future__ import annotations

import heapq
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from .timer import Timer

__all__ = ["OnEvict", "_Entry", "_Key", "_State"]

OnEvict = Callable[[Any, Any, str], Any]

class _Key:
    """A key with its hash computed once (``hash(key)`` runs once per public call).

    The cache's dict is keyed by these; equal keys compare by identity first, then ``==``.
    Pickle and deepcopy rebuild it from the key, so the hash is recomputed (hash randomization).
    """

    __slots__ = ("key", "hash")

    def __init__(self, key: Any) -> None:
        self.key = key
        self.hash = hash(key)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: Any) -> bool:
        return self.key is other.key or bool(self.key == other.key)

    def __reduce__(self) -> Tuple[Any, ...]:
        return _Key, (self.key,)

    def __repr__(self) -> str:
        return repr(self.key)


class _Entry:
    """One item: its key, value, size, memory charge, expiry time (None = never) and the
    sequence number of its current expiry-heap item (0 = removed).

    Entries hash by identity, so the policies and the expiry heap, which refer to entries, never
    run user code. A removed entry is emptied, so a stale heap item keeps nothing alive.
    """

    def __init__(self, k: _Key, value: Any, size: int, charge: int) -> None:
        self.k: Optional[_Key] = k
        self.value = value
        self.size = size
        self.charge = charge
        self.expires: Any = None
        self.seq = 0

    def copy(self) -> "_Entry":
        new = _Entry.__new__(_Entry)
        new.__dict__.update(self.__dict__)
        return new

    def __repr__(self) -> str:  # so that repr(state.data) reads like {key: value}
        return repr(self.value)


class _State:
    """Everything a cache owns (one attribute, so copy.copy can replace it wholesale)."""

    def __init__(self) -> None:
        self.data: Dict[_Key, _Entry] = {}
        self.currsize = 0
        self.maxsize: Union[int, float] = 0
        self.bound: Optional[int] = 0
        self.maxmemory: Optional[int] = None
        self.memory = 0
        self.sizeof: Optional[Callable[[Any, Any], int]] = None
        self.expiring = 0  # entries whose expires is not None
        self.heap: List[Tuple[Any, int, _Entry]] = []
        self.seq = 0
        self.kind: Optional[str] = None  # None, "ttl" (TTLCache) or "tlru" (TLRUCache)
        self.slow_evict = False  # stores evict through self.popitem() (see Cache.__setup)
        self.popping: Optional["_Entry"] = None  # the victim a hooked popitem() is deleting
        self.ttl_value: Any = None  # TTLCache's positional ttl
        self.ttu: Optional[Callable[[Any, Any, Any], Any]] = None
        self.default_ttl: Optional[float] = None  # the ttl= extension
        self.timer = Timer(time.monotonic)
        self.on_evict: Optional[OnEvict] = None
        self.spill: Optional[Callable[..., Any]] = None
        self.sizing: Any = None  # the sizing advisor's sampler (hotcache.sizing.sampler) or None
        self.policy: Any = None
        self.hits = self.misses = self.inserts = self.updates = 0
        self.evictions_size = self.evictions_memory = self.expirations = 0

    def copy(self) -> "_State":
        new = _State.__new__(_State)
        new.__dict__.update(self.__dict__)
        copies = {id(e): e.copy() for e in self.data.values()}

        def remap(entry: _Entry) -> _Entry:
            return copies[id(entry)]

        new.data = {k: remap(e) for k, e in self.data.items()}
        new.heap = [(x, s, remap(e)) for (x, s, e) in self.heap if e.seq == s]  # drops stale items
        heapq.heapify(new.heap)
        new.timer = self.timer.__copy__()
        new.policy = self.policy.copy(remap)
        new.spill = None  # a tier hook belongs to one cache: copies start without it
        new.sizing = None  # so does the sizing advisor (as the native copies)
        return new

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["spill"] = None
        state["sizing"] = None
        return state

    def reschedule(self) -> None:
        """Give equal expiry times the policy's order (pickle, deepcopy): as cachetools'
        TTLCache.__setstate__, which re-sorts its expiry list stably from its LRU order."""
        self.heap = []
        for entry in self.policy.entries():
            if entry.expires is not None:
                self.seq += 1
                entry.seq = self.seq
                self.heap.append((entry.expires, entry.seq, entry))
        heapq.heapify(self.heap)


class ClassicHooks:
    """The hooks the adaptive policies (policy_s3fifo, policy_tinylfu) need from the cache, as
    no-ops for the classical policies, so the cache calls them unconditionally: ``miss(h)`` (a
    lookup of hash h missed), ``evict(entry)`` (remove it as the policy's victim),
    ``charge(entry, old_size, old_charge)`` (its weight changed, before update()),
    ``limits(bound, maxmemory)`` (the cache's bounds changed)."""

    def miss(self, h: int) -> None:
        pass

    def evict(self, entry: "_Entry") -> None:
        self.remove(entry)  # type: ignore[attr-defined]

    def charge(self, entry: "_Entry", old_size: int, old_charge: int) -> None:
        pass

    def limits(self, bound: Optional[int], maxmemory: Optional[int]) -> None:
        pass
