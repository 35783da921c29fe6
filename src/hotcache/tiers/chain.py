"""``TierChain``: several tiers below one L1 (``TieredCache(l1, DiskTier(...), RedisTier(...))``)
behind the one-tier protocol of hotcache.tiers.base, so the tiered caches need no second code path.

    read    L1 miss -> level 1 -> level 2 -> ... ; the first hit is returned, promoted into the L1
            and copied into every level above the one that had it (with the time it has left),
            under the tiered cache's generation rule (a write that raced the read wins).
    spill   the L1's evictions go to level 1 only. A level's own evictions (the disk's byte
            bound, Redis's maxmemory) are not cascaded further down: neither engine reports
            them (LMDB evicts inside the writer's transaction, Redis inside the server), and
            the level below usually holds the value already (shared mode) or holds what the
            level above spilled earlier.
    write   set/delete reach every level, each in its own ordered queue: the copies of a key
            are invalidated (spill mode) or written (shared mode) everywhere.
    stats   one counters() dict per level (TieredStats.levels); l2_hits/l2_misses count the
            chain as a whole (a hit at any level / a miss at every level), the other counters
            are sums.

Keys: each level encodes a key its own way (the disk store's bytes, Redis's namespace prefix), so
the chain's key is a ``Keys`` object: the first level's bytes (what the tiered cache's index and
generations are keyed by, and what level 1's spill hook computes) carrying every level's key.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .base import check_tier
from .state import MISS

__all__ = ["Keys", "TierChain"]


class Keys(bytes):
    """The first level's key (equal to it and hashed as it) with ``all``: every level's key,
    and ``level``: the index of the level a read found it at (set by _fetch). (A bytes
    subclass cannot have __slots__ entries: the two fields live in the instance's dict.)"""

    all: Tuple[bytes, ...]
    level: int


def _encoder(encoders: Sequence[Callable[[Any], bytes]]) -> Callable[[Any], bytes]:
    first, rest = encoders[0], tuple(encoders[1:])

    def rkey(key: Any) -> bytes:
        keys = Keys(first(key))
        keys.all = (bytes(keys),) + tuple(enc(key) for enc in rest)
        return keys

    return rkey


class TierChain:
    """Tiers ``levels[0]`` (nearest the L1) to ``levels[-1]`` as one tier (see the module's
    docstring). Built by TieredCache for two or more tiers; each level stays usable and
    inspectable on its own (``levels``)."""

    _awaitable = False
    _announces = False  # no cross-process L1 invalidation through a chain (docs/disk-tier.md)
    breaker: Any = None

    def __init__(self, levels: Sequence[Any]) -> None:
        levels = tuple(levels)
        if len(levels) < 2:
            raise ValueError("a TierChain needs at least two tiers")
        for tier in levels:
            check_tier(tier, "a hotcache tier (DiskTier, RedisTier)")
            if getattr(tier, "_awaitable", False):
                raise TypeError("an asyncio tier (%s) cannot be one level of a TieredCache"
                                % type(tier).__name__)
            if not callable(getattr(tier, "_spill_put", None)):
                raise TypeError("%s cannot be a level of several tiers (it has no _spill_put)"
                                % type(tier).__name__)
        if len({id(t) for t in levels}) != len(levels):
            raise ValueError("the same tier is given twice")
        self.levels = levels
        self.ttl = levels[0].ttl
        self.timeout = max(float(getattr(t, "timeout", 0.5)) for t in levels)
        self.raise_on_error = any(getattr(t, "raise_on_error", False) for t in levels)
        self._rkey: Callable[[Any], bytes] = _encoder([t._rkey for t in levels])
        self._puts = tuple(t._spill_put() for t in levels)

    # -- reads --------------------------------------------------------------------------------
    def _fetch(self, rkey: Any) -> Any:
        """The first level's answer that is a hit (each level counts its own hit or miss);
        ``rkey.level`` says which level it was."""
        for level, (tier, key) in enumerate(zip(self.levels, rkey.all)):
            counted = getattr(tier, "_fetch_counted", None)  # a DiskTier's one-frame read
            hit = counted(key) if counted is not None else tier._tally(tier._fetch(key))
            if hit is not MISS:
                rkey.level = level
                return hit
        return MISS

    def _tally(self, hit: Any) -> Any:
        return hit  # counted per level in _fetch

    def _fetch_counted(self, rkey: Any) -> Any:  # the native front's read: _fetch counts already
        return self._fetch(rkey)

    def _raise(self, rkey: Any, value: Any, ttl: Optional[float]) -> None:
        """Copy a value found at ``rkey.level`` into every level above it (the tiered cache
        calls this under its lock, after the generation rule allowed the promotion)."""
        level = getattr(rkey, "level", 0)
        for tier, put, key in zip(self.levels[:level], self._puts, rkey.all):
            # no expiry below: the upper level's default (None on a disk level: until evicted)
            put(key, value, tier.ttl if ttl is None else ttl)

    # -- writes -------------------------------------------------------------------------------
    def _write(self, rkey: Any, value: Any, ttl: Optional[float]) -> None:
        for tier, key in zip(self.levels, rkey.all):
            tier._write(key, value, ttl)

    def _invalidate(self, rkey: Any) -> None:
        for tier, key in zip(self.levels, rkey.all):
            tier._invalidate(key)

    def _spill_hook(self, index: Dict[bytes, Tuple[Any, Any]]) -> Callable[..., None]:
        # level 1's own hook: it encodes its key, which equals the Keys the index is keyed by
        return self.levels[0]._spill_hook(index)

    def _cancel_spills(self, rkeys: List[bytes]) -> None:
        self.levels[0]._cancel_spills(rkeys)

    def _mark(self) -> Any:
        return tuple(tier._mark() for tier in self.levels)

    def _confirm(self, mark: Any, timeout: Optional[float]) -> bool:
        return all([tier._confirm(m, timeout) for tier, m in zip(self.levels, mark)])

    def _clear_with(self, l1_clear: Optional[Callable[[], None]]) -> None:
        """Clear every level, the L1 innermost: each level holds its writer's lock while the
        ones below it clear, so nothing queued before the clear lands after it anywhere."""
        def nested(i: int) -> Callable[[], None]:
            if i == len(self.levels):
                return l1_clear if l1_clear is not None else _nothing
            return lambda: self.levels[i]._clear_with(nested(i + 1))
        nested(0)()

    def _subscriber(self, sink: Any) -> Any:
        return None

    # -- lifecycle and stats ------------------------------------------------------------------
    def flush(self, timeout: Optional[float] = None) -> bool:
        return all([tier.flush(timeout) for tier in self.levels])

    def close(self, timeout: float = 5.0) -> bool:
        return all([tier.close(timeout) for tier in self.levels])

    def counters(self) -> Dict[str, Any]:
        """l2_hits (found at any level), l2_misses (at none), the other counters summed,
        breaker_state the worst of the levels', and ``levels``: each level's own counters()."""
        each = [tier.counters() for tier in self.levels]
        out: Dict[str, Any] = {"l2_hits": sum(c["l2_hits"] for c in each),
                               "l2_misses": each[-1]["l2_misses"]}
        for name in ("l2_errors", "spilled", "spill_dropped", "rejected", "pending"):
            out[name] = sum(c.get(name, 0) for c in each)
        states = [c["breaker_state"] for c in each]
        out["breaker_state"] = next((s for s in ("open", "half_open") if s in states), "closed")
        out["levels"] = tuple(each)
        return out

    def __repr__(self) -> str:
        return "TierChain(%s)" % ", ".join(repr(t) for t in self.levels)


def _nothing() -> None:
    return None
