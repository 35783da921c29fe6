"""hotcache.tiers: ``TieredCache``, an in-process L1 cache in front of a shared L2 tier (Redis).

The L1 serves hits at its own speed; its size/memory evictions spill to L2; its misses read through
L2 and promote. ``TieredStats`` is the snapshot ``TieredCache.stats()`` returns.
"""
from __future__ import annotations

import sys
from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Protocol, Tuple

from ._tier_state import _AUTO, _MISSING, MISS, _live, _Tiered, _ids, popped
from .stats import CacheStats

try:
    from ._native.core import ReadThrough  # type: ignore[attr-defined]
except ImportError:  # the extension could not load: the pure twin
    from ._spec.front import ReadThrough  # type: ignore[assignment]

__all__ = ["Tier", "TieredCache", "TieredStats"]

_OPTIONS = {"frozen": True}
if sys.version_info >= (3, 10):
    _OPTIONS["slots"] = True



@dataclass(**_OPTIONS)  # type: ignore[call-overload]
class TieredStats(CacheStats):
    """The L1's CacheStats plus the second tier's counters.

    ``hits``/``misses`` are L1 lookups. An L1 miss then reads L2: ``l2_hits`` (found, promoted)
    or ``l2_misses`` (absent, expired, rejected, skipped because the breaker is open, or failed).
    ``l2_errors`` counts failed Redis calls and failed commands, ``spilled`` entries written to
    Redis by spills (and, in shared mode, by writes), ``spill_dropped`` writes given up (queue
    full, breaker open, write failed, unserializable), ``rejected`` stored values that failed
    authentication or decoding. ``breaker_state`` is "closed", "open" or "half_open".
    ``invalidations`` counts keys other processes announced as changed (dropped from this L1),
    ``resyncs`` how often the subscription was lost (each time the L1 was cleared), and
    ``invalidation_state`` is "off", "live" or "lost".
    """

    l2_hits: int = 0
    l2_misses: int = 0
    l2_errors: int = 0
    spilled: int = 0
    spill_dropped: int = 0
    rejected: int = 0
    breaker_state: str = "closed"
    invalidations: int = 0
    resyncs: int = 0
    invalidation_state: str = "off"


class Tier(Protocol):
    """What a tiered cache asks of its second tier (RedisTier is the implementation; a disk
    tier or an N-tier chain follows the same contract). Every method is called by
    TieredCache/AsyncTieredCache only; callers use the public API.

    Keys and reads:
      ``_rkey(key) -> bytes``        the tier's key for a cache key; TypeError if it has none.
                                     Equal cache keys (1, 1.0, True) get the same bytes.
      ``_fetch(rkey)``               (value, seconds left or None) or MISS; never raises unless
                                     the tier was built with raise_on_error. Pending writes of
                                     this process win over the store: a queued write is served,
                                     a queued delete reads as MISS. (Awaitable on async tiers.)
      ``_tally(hit) -> hit``         counts an answer of _fetch as an L2 hit or miss.
    Writes (queued in one order per tier, applied in that order; never dropped silently: a
    delete or shared write that cannot be applied keeps reading as MISS until it is):
      ``_write(rkey, value, ttl)``   store ``value`` (ttl None: the tier's default).
      ``_invalidate(rkey)``          delete ``rkey``.
      ``_spill_hook(index)``         the L1 eviction hook (key, value, cause, ttl_left) for spill
                                     mode; it must skip an entry whose ``index[rkey][1]`` is the
                                     evicted object (clean: the tier holds it) and pop its
                                     index entry.
      ``_cancel_spills(rkeys)``      forget queued spills of keys another process changed.
      ``_mark()`` / ``_confirm(mark, timeout) -> bool``   write-through: wait until everything
                                     queued before the mark was applied (awaitable on async).
      ``_clear_with(l1_clear)``      clear the tier's namespace, calling ``l1_clear()`` once no
                                     write is in flight (awaitable on async).
    Invalidation (optional; a tier without other processes returns None from _subscriber):
      ``_subscriber(sink)``          an object with ensure()/drop()/halt() that calls
                                     ``sink._inv_keys(rkeys)``, ``sink._inv_clear()`` and
                                     ``sink._inv_state(live)`` (see hotcache._invalidate).
      ``breaker``                    has add_listener/remove_listener (its opening counts as a
                                     lost subscription).
    Lifecycle and stats: ``ttl``, ``flush(timeout)``, ``close(timeout)``/``aclose``,
    ``counters() -> dict`` (l2_hits, l2_misses, l2_errors, spilled, spill_dropped, rejected,
    breaker_state).
    """

    ttl: float
    breaker: Any

    def _rkey(self, key: Any) -> bytes: ...
    def _fetch(self, rkey: bytes) -> Any: ...
    def _tally(self, hit: Any) -> Any: ...
    def _write(self, rkey: bytes, value: Any, ttl: Optional[float]) -> None: ...
    def _invalidate(self, rkey: bytes) -> None: ...
    def _spill_hook(self, index: Dict[bytes, Tuple[Any, Any]]) -> Any: ...
    def _cancel_spills(self, rkeys: List[bytes]) -> None: ...
    def _mark(self) -> Any: ...
    def _confirm(self, mark: Any, timeout: Optional[float]) -> Any: ...
    def _clear_with(self, l1_clear: Any) -> Any: ...
    def _subscriber(self, sink: Any) -> Any: ...
    def counters(self) -> Dict[str, Any]: ...


_TIER_METHODS = ("_rkey", "_fetch", "_tally", "_write", "_invalidate", "_spill_hook",
                 "_cancel_spills", "_mark", "_confirm", "_clear_with", "_subscriber", "counters")


def check_tier(tier: Any, kind: str) -> None:
    """TypeError unless ``tier`` implements the Tier protocol."""
    missing = [name for name in _TIER_METHODS if not callable(getattr(tier, name, None))]
    if missing:
        raise TypeError("tier must be %s (a hotcache tier), not %s (it lacks %s)"
                        % (kind, type(tier).__name__, ", ".join(missing)))


class TieredCache(ReadThrough, _Tiered, MutableMapping):  # type: ignore[misc]
    """A MutableMapping over ``l1`` (a hotcache cache) backed by ``tier`` (a RedisTier).

    ``TieredCache(l1, tier, *, mode="spill", invalidation=<"pubsub" in shared mode, else None>,
    write="behind")``.

    * ``mode="spill"`` (a process that outgrows its memory): writes stay in the L1 and the
      Redis copy of the key is deleted; the L1's size/memory evictions are written to Redis
      (with the time they had left, or the tier's ttl), except entries Redis still holds
      unchanged (promoted from it and not written since: they are not sent again).
    * ``mode="shared"`` (processes sharing results): every write also goes to Redis with its
      ttl (the tier's ttl when none is given; the L1 copy then never outlives it), so any
      process reads what any other computed. Nothing is spilled.
    * ``invalidation="pubsub"``: a write or delete in one process removes the key from every
      other process's L1 (not from its own) through a Redis channel of the namespace; a lost
      subscription clears the L1 (see the README: "Invalidation"). ``None``: other processes'
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

    __slots__ = ("_l1", "_tier", "_lock", "_gen", "_floor", "_touched", "_index", "_index_limit",
                 "_shared", "_l1_ttl", "_through", "_sub", "_insync", "_invalidations", "_losses",
                 "_finalizer", "__weakref__")

    def __init__(self, l1: Any, tier: Any, *, mode: str = "spill", invalidation: Any = _AUTO,
                 write: str = "behind") -> None:
        if not callable(getattr(l1, "_set_spill_hook", None)) or not callable(getattr(l1, "set", None)):
            raise TypeError("l1 must be a hotcache cache (LRUCache, LFUCache, TTLCache, ...), "
                            "not %s" % type(l1).__name__)
        check_tier(tier, "a hotcache.redis_tier.RedisTier")
        if getattr(tier, "_awaitable", False):
            raise TypeError("an AsyncRedisTier needs AsyncTieredCache, not TieredCache")
        ReadThrough.__init__(self, l1)
        self._setup(l1, tier, mode, invalidation, write)
        _live[next(_ids)] = self
        if self._sub is not None:
            self._sub.ensure()
            # the first reads can promote at once (a dead Redis fails the attempt at once; a
            # stalled one is waited for up to the subscriber's socket timeout)
            self._sub.wait_first(max(1.0, 4 * tier.timeout) + 0.5)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a TieredCache cannot be pickled or copied (copy its l1 instead)")

    # -- the hot path: one Python frame around the L1's C lookup -------------------------------
    # __getitem__ and get(key, default) are ReadThrough's: an L1 hit runs natively, a miss
    # calls _load(key, default) below (ReadThrough passes its own sentinel for __getitem__).

    # -- the slow path -------------------------------------------------------------------------
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
        """The second tier (a RedisTier)."""
        return self._tier

    def __repr__(self) -> str:
        return "TieredCache(%r, %r, mode=%r)" % (self._l1, self._tier, self.mode)

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


def tiered_stats(l1: Any, tier: Any, extra: Optional[Dict[str, Any]] = None) -> TieredStats:
    """TieredStats from an L1's stats(), a tier's counters() and the cache's own ``extra``."""
    base = l1.stats()
    counts = tier.counters()
    fields = {name: getattr(base, name) for name in CacheStats.__dataclass_fields__}
    for name in ("l2_hits", "l2_misses", "l2_errors", "spilled", "spill_dropped", "rejected",
                 "breaker_state"):
        fields[name] = counts[name]
    if extra:
        fields.update(extra)
    return TieredStats(**fields)
