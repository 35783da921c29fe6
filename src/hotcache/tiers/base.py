"""The contract between a tiered cache and its tiers: ``Tier`` (the protocol every tier
implements: RedisTier, DiskTier, and TierChain for several of them), ``check_tier``,
``spill_hook`` (the L1 eviction hook every tier builds), and ``TieredStats`` (what a tiered
cache's ``stats()`` returns, built by ``tiered_stats``).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from ..stats import CacheStats

__all__ = ["Tier", "TieredStats", "check_tier", "spill_hook", "tiered_stats"]

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
    ``invalidation_state`` is "off", "live" or "lost". ``levels``: each tier's own counters
    (a dict per tier, nearest first: the ones above plus ``pending`` and, for a DiskTier,
    ``disk_full`` and ``write_failures``); with several tiers, l2_hits counts hits at any
    level, l2_misses misses at every level, the other counters are the levels' sums.
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
    levels: Tuple[Dict[str, Any], ...] = field(default=(), hash=False)  # dicts: the snapshot stays hashable


class Tier(Protocol):
    """What a tiered cache asks of its tier (RedisTier, DiskTier and their asyncio flavours;
    TierChain presents several tiers as one). Every method is called by
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
                                     ``sink._inv_state(live)`` (see hotcache.tiers.redis_invalidate).
      ``breaker``                    has add_listener/remove_listener (its opening counts as a
                                     lost subscription).
    Lifecycle and stats: ``ttl`` (None on a disk tier: entries live until evicted),
    ``flush(timeout)``, ``close(timeout)``/``aclose``, ``counters() -> dict`` (l2_hits,
    l2_misses, l2_errors, spilled, spill_dropped, rejected, breaker_state; a chain adds
    ``levels``).
    Optional: ``_announces = False`` (a tier without a subscriber: invalidation defaults to
    None and "pubsub" is refused), ``_spill_put() -> put(rkey, value, seconds)`` (a droppable
    write; required of every level of a TierChain, which uses it to copy a lower level's hit
    upwards), ``_raise(rkey, value, ttl)`` (a chain's copy upwards, called by the tiered cache
    under its lock once the generation rule allowed the promotion), ``_fetch_counted(rkey)``
    (``_tally(_fetch(rkey))`` in one call: the native front's read on an L1 miss, taken when
    TieredCache is built), ``_key_prefix`` (bytes with ``_rkey(key) == _key_prefix +
    encode_key(key)`` in UTF-8 for every key, or None: the native front then encodes str and
    int keys itself while ``_rkey`` is unchanged).
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


def tiered_stats(l1: Any, tier: Any, extra: Optional[Dict[str, Any]] = None) -> TieredStats:
    """TieredStats from an L1's stats(), a tier's counters() and the cache's own ``extra``."""
    base = l1.stats()
    counts = tier.counters()
    fields = {name: getattr(base, name) for name in CacheStats.__dataclass_fields__}
    for name in ("l2_hits", "l2_misses", "l2_errors", "spilled", "spill_dropped", "rejected",
                 "breaker_state"):
        fields[name] = counts[name]
    fields["levels"] = counts.get("levels") or (counts,)
    if extra:
        fields.update(extra)
    return TieredStats(**fields)


def spill_hook(put: Callable[[bytes, Any, Optional[float]], None], dropped: Callable[[int], None],
               rkey_of: Callable[[Any], bytes], default_ttl: Optional[float],
               index: Dict[bytes, Tuple[Any, Any]]) -> Callable[[Any, Any, str, Optional[float]], None]:
    """The L1 spill hook of a tier: ``put(rkey, value, seconds)`` queues an evicted entry with the
    time it had left (the tier's ttl when it had none; None: the tier keeps it until it evicts
    it), ``dropped(n)`` counts entries whose key the tier cannot encode. It runs on the evicting
    thread, so ``put`` only encodes and enqueues.

    ``index`` is the tiered cache's map tier key -> (key, clean value): an entry whose clean
    value is the very object evicted came from the tier (or was written there) and has not
    changed since, so the tier still holds it, with the same expiry: it is not written again.
    The hook holds ``put`` and the index, not the tier, so an L1 that outlives its tier does not
    keep the tier alive."""
    pop = index.pop

    def spill(key: Any, value: Any, cause: str, ttl_left: Optional[float]) -> None:
        try:
            rkey = rkey_of(key)
        except Exception:
            dropped(1)
            return
        entry = pop(rkey, None)
        if entry is not None and entry[1] is value:
            return  # clean: the tier holds this value already
        if ttl_left is None or ttl_left == math.inf:
            ttl_left = default_ttl
        elif not ttl_left > 0:
            return  # already expired: not written
        put(rkey, value, ttl_left)

    return spill
