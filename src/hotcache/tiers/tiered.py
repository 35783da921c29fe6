"""``TieredCache``: an in-process L1 cache in front of one or more tiers (RedisTier, DiskTier), as
a mapping.

The L1 serves hits at its own speed (through the native ReadThrough front); its size/memory
evictions spill to the tier; its misses read through the tier and promote. The asyncio flavour is
hotcache.tiers.tiered_async; what both share is hotcache.tiers.state.
"""
from __future__ import annotations

from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView
from typing import Any, Optional, Tuple

from .base import TieredStats, check_tier, tiered_stats
from .chain import TierChain
from .state import _AUTO, _MISSING, MISS, _ids, _live, _Tiered, popped

try:
    from .._native.core import ReadThrough  # type: ignore[attr-defined]
except ImportError:  # the extension could not load: the pure twin
    from .._spec.front import ReadThrough  # type: ignore[assignment]

__all__ = ["TieredCache"]


class TieredCache(ReadThrough, _Tiered, MutableMapping):  # type: ignore[misc]
    """A MutableMapping over ``l1`` (a hotcache cache) backed by ``tier`` (a RedisTier or a
    DiskTier), or by several tiers, nearest first.

    ``TieredCache(l1, tier, *more_tiers, mode="spill", invalidation=<"pubsub" in shared mode
    with a RedisTier alone, else None>, write="behind")``. With several tiers (hotcache.tiers.
    chain): a miss walks down them and copies what it finds into the L1 and every level above,
    L1 evictions spill to the nearest, writes and deletes reach every level, ``stats().levels``
    has each level's counters (docs/disk.md). What follows says "Redis" for the tier.

    * ``mode="spill"`` (a process that outgrows its memory): writes stay in the L1 and the
      Redis copy of the key is deleted; the L1's size/memory evictions are written to Redis
      (with the time they had left, or the tier's ttl), except entries Redis still holds
      unchanged (promoted from it and not written since: they are not sent again).
    * ``mode="shared"`` (processes sharing results): every write also goes to Redis with its
      ttl (the tier's ttl when none is given; the L1 copy then never outlives it), so any
      process reads what any other computed. Nothing is spilled.
    * ``invalidation="pubsub"``: a write or delete in one process removes the key from every
      other process's L1 (not from its own) through a Redis channel of the namespace; a lost
      subscription clears the L1 (docs/tiers.md, "Invalidation across processes"). ``None``: other processes'
      L1 copies live until they expire or are evicted; give them an L1 ttl.
    * ``write="behind"``: writes and deletes reach Redis through the tier's ordered background
      queue (``flush()`` waits for it). ``"through"``: ``set``/``del``/``pop`` return once Redis
      applied them (or after at most ``max(1 s, 20 x the tier's timeout)``; a write that did
      not land counts in l2_errors and, with the tier's raise_on_error, raises TimeoutError).

    * ``c[key]`` / ``c.get(key, default)``: an L1 hit runs natively (ReadThrough), never Redis.
      An L1 miss reads L2 (one round trip: value and remaining TTL); a hit is promoted into
      L1 with the TTL Redis has left (capped by the L1's own default ttl), so an L1 copy never
      outlives its Redis copy. Pending writes of this process are consulted first.
    * ``c[key] = v`` / ``c.set(key, v, ttl=None)``: see ``mode``; the Redis side is ordered, so
      an older value can never come back from L2 later.
    * ``del c[key]`` / ``c.pop(key[, default])``: removed from L1 and (queued, ordered) from
      Redis. KeyError only if neither tier had it.
    * ``len(c)``, ``iter(c)``, ``keys()``/``values()``/``items()``, ``==``: the L1's contents
      (the Redis namespace is shared by processes and unbounded; it is never enumerated).
      ``key in c`` checks L1, then L2 (without promoting).
    * ``clear()``: L1, pending writes and every Redis key of the namespace (SCAN + UNLINK);
      with invalidation, every other process's L1 too.
    * ``flush(timeout=None)``, ``close(timeout=5.0)``, context manager, ``stats()`` ->
      TieredStats. One TieredCache per L1 and per tier at a time (ValueError otherwise); it
      cannot be pickled or copied (it owns threads and connections).

    Keys must be encodable by the tier (None, bool, int, float, str, bytes, type, tuples of
    these, or anything the tier's ``key=`` accepts): an unencodable key raises TypeError from
    ``set`` and from a lookup that misses L1. Values must be serializable by the tier's
    serializer; one that is not is kept in L1 and simply not written (counted in spill_dropped).
    Write through the TieredCache: entries put into ``l1`` directly are neither written to
    Redis nor invalidated. Thread-safe as far as the L1 is: reads take no lock; writes,
    promotions and invalidations take one lock.
    """

    # _lock, _gen, _floor, _touched, _index, _index_limit, _insync and _raise are ReadThrough's
    # (its native miss path reads them)
    __slots__ = ("_l1", "_tier", "_shared", "_l1_ttl", "_through", "_sub", "_invalidations",
                 "_losses", "_finalizer", "__weakref__")

    def __init__(self, l1: Any, tier: Any, *more: Any, mode: str = "spill", invalidation: Any = _AUTO,
                 write: str = "behind") -> None:
        if not callable(getattr(l1, "_set_spill_hook", None)) or not callable(getattr(l1, "set", None)):
            raise TypeError("l1 must be a hotcache cache (LRUCache, LFUCache, TTLCache, ...), "
                            "not %s" % type(l1).__name__)
        check_tier(tier, "a hotcache.redis_tier.RedisTier")
        if getattr(tier, "_awaitable", False):
            raise TypeError("an asyncio tier (%s) needs AsyncTieredCache, not TieredCache"
                            % type(tier).__name__)
        if more:
            tier = TierChain((tier,) + more)
        ReadThrough.__init__(self, l1)
        self._setup(l1, tier, mode, invalidation, write)
        if _plain_misses(type(self)):
            self._rt_arm(tier, getattr(tier, "_key_prefix", None))
        _live[next(_ids)] = self
        if self._sub is not None:
            self._sub.ensure()
            # the first reads can promote at once (a dead Redis fails the attempt at once; a
            # stalled one is waited for up to the subscriber's socket timeout)
            self._sub.wait_first(max(1.0, 4 * tier.timeout) + 0.5)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a TieredCache cannot be pickled or copied (copy its l1 instead)")

    # -- the hot path: the L1's C lookup -----------------------------------------------------
    # __getitem__ and get(key, default) are ReadThrough's: an L1 hit runs natively. A miss runs
    # natively too (ReadThrough's armed miss path: the steps of _load below, without their
    # frames) unless the class overrides a step of it (_plain_misses) or the subscription is
    # lost; then ReadThrough calls _load(key, default) (its own sentinel for __getitem__).

    # -- the miss path in Python -----------------------------------------------------------------
    def _load(self, key: Any, default: Any) -> Any:
        tier = self._tier
        rkey = tier._rkey(key)
        gen = self._begin()
        return self._settle(key, rkey, tier._fetch(rkey), gen, default)

    # -- writes --------------------------------------------------------------------------------
    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Store ``value`` (``ttl`` seconds, else the L1's default; in shared mode Redis keeps
        it ``ttl`` seconds, else the tier's ttl). ValueError from the L1 (too large) leaves
        both tiers unchanged."""
        rkey = self._tier._rkey(key)
        if self._sub is not None and not self._insync:
            self._sub.ensure()
        mark = self._store(key, value, ttl, rkey)
        if mark is not None:
            self._confirmed(mark)

    def __setitem__(self, key: Any, value: Any) -> None:  # set(key, value), one frame less
        rkey = self._tier._rkey(key)
        if self._sub is not None and not self._insync:
            self._sub.ensure()
        mark = self._store(key, value, None, rkey)
        if mark is not None:
            self._confirmed(mark)

    def _confirmed(self, mark: Any) -> None:
        tier = self._tier
        if tier._confirm(mark, max(1.0, 20 * tier.timeout)):
            return
        if tier.raise_on_error:
            if tier.breaker.state == "open":
                raise tier._open_error()
            raise TimeoutError("hotcache: Redis did not confirm the write in time")

    def _remove(self, key: Any) -> Any:
        tier = self._tier
        rkey = tier._rkey(key)
        # read L2 first (outside the lock) only when L1 lacks the key, so pop() can return it
        fallback = tier._fetch(rkey) if key not in self._l1 else MISS
        value, mark = self._drop(key, rkey, fallback)
        if mark is not None:
            self._confirmed(mark)
        return value

    def __delitem__(self, key: Any) -> None:
        if self._remove(key) is _MISSING:
            raise KeyError(key)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        return popped(key, self._remove(key), default)

    def popitem(self) -> Tuple[Any, Any]:
        """Remove and return an L1 item (in the L1's eviction order); its Redis copy goes too."""
        return self._pop_item()

    def clear(self) -> None:
        """Empty L1, drop pending writes and remove the namespace from Redis (and, with
        invalidation, tell every other process to clear its L1)."""
        self._tier._clear_with(self._clear_l1)

    # -- L1 views ------------------------------------------------------------------------------
    def __contains__(self, key: Any) -> bool:
        if key in self._l1:
            return True
        return self._tier._fetch(self._tier._rkey(key)) is not MISS

    def keys(self) -> KeysView:
        return self._l1.keys()

    def values(self) -> ValuesView:
        return self._l1.values()

    def items(self) -> ItemsView:
        return self._l1.items()

    @property
    def tier(self) -> Any:
        """The second tier (a RedisTier or a DiskTier; with several tiers, the nearest one)."""
        tier = self._tier
        return tier.levels[0] if isinstance(tier, TierChain) else tier

    @property
    def tiers(self) -> Tuple[Any, ...]:
        """Every tier below the L1, nearest first."""
        tier = self._tier
        return tier.levels if isinstance(tier, TierChain) else (tier,)

    def __repr__(self) -> str:
        return "TieredCache(%r, %s, mode=%r)" % (self._l1, ", ".join(repr(t) for t in self.tiers), self.mode)

    # -- lifecycle and stats -------------------------------------------------------------------
    def flush(self, timeout: Optional[float] = None) -> bool:
        """Block until every write and invalidation queued so far has been written (or given
        up); True if all landed."""
        return bool(self._tier.flush(timeout))

    def close(self, timeout: float = 5.0) -> bool:
        """Stop spilling and listening, drain the queue (at most ``timeout`` seconds) and close
        the tier. The L1 keeps its contents and works on alone."""
        self._finalizer()
        return bool(self._tier.close(timeout))

    def stats(self) -> TieredStats:
        """The L1's counters plus l2_hits, l2_misses, l2_errors, spilled, spill_dropped,
        rejected, breaker_state, invalidations, resyncs and invalidation_state."""
        return tiered_stats(self._l1, self._tier, self._inv_counts())

    def __enter__(self) -> "TieredCache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# the steps of an L1 miss that ReadThrough's native miss path runs in their place: a subclass
# overriding any of them keeps its override (its misses go through _load)
_MISS_STEPS = ("_load", "_begin", "_settle", "_promote", "_cap", "_note")


def _plain_misses(cls: type) -> bool:
    return all(getattr(cls, name) is getattr(TieredCache, name) for name in _MISS_STEPS)
