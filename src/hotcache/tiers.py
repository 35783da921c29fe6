"""hotcache.tiers: ``TieredCache``, an in-process L1 cache in front of a shared L2 tier (Redis).

The L1 serves hits at its own speed; its size/memory evictions spill to L2; its misses read through
L2 and promote. ``TieredStats`` is the snapshot ``TieredCache.stats()`` returns.
"""
from __future__ import annotations

import itertools
import os
import sys
import threading
import weakref
from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Tuple

from .stats import CacheStats

try:
    from ._core import ReadThrough  # type: ignore[attr-defined]
except ImportError:  # the extension could not load: the pure twin
    from ._pure_front import ReadThrough  # type: ignore[assignment]

__all__ = ["TieredCache", "TieredStats"]

_OPTIONS = {"frozen": True}
if sys.version_info >= (3, 10):
    _OPTIONS["slots"] = True

_MISSING: Any = object()
MISS: Any = None  # what a tier's _fetch returns for a miss (a hit is a (value, ttl) tuple)


@dataclass(**_OPTIONS)  # type: ignore[call-overload]
class TieredStats(CacheStats):
    """The L1's CacheStats plus the second tier's counters.

    ``hits``/``misses`` are L1 lookups. An L1 miss then reads L2: ``l2_hits`` (found, promoted)
    or ``l2_misses`` (absent, expired, rejected, skipped because the breaker is open, or failed).
    ``l2_errors`` counts failed Redis calls and failed commands, ``spilled`` entries written to
    Redis, ``spill_dropped`` spills given up (queue full, breaker open, write failed,
    unserializable), ``rejected`` stored values that failed authentication or decoding.
    ``breaker_state`` is "closed", "open" or "half_open".
    """

    l2_hits: int = 0
    l2_misses: int = 0
    l2_errors: int = 0
    spilled: int = 0
    spill_dropped: int = 0
    rejected: int = 0
    breaker_state: str = "closed"


# id(L1) -> (weakref to it, token of the tiered cache whose spill hook it carries). Caches are
# unhashable mappings, hence ids; the weakref tells a live owner from a recycled id.
_owners: Dict[int, Tuple["weakref.ref[Any]", object]] = {}
_owners_lock = threading.Lock()


def _forget(ident: int, ref: "weakref.ref[Any]") -> None:
    with _owners_lock:
        entry = _owners.get(ident)
        if entry is not None and entry[0] is ref:
            del _owners[ident]


def attach(l1: Any, hook: Any) -> object:
    """Give ``l1`` the spill hook of a new tiered cache; ValueError if another live tiered
    cache already owns it. Returns the ownership token for ``detach``."""
    token = object()
    ident = id(l1)
    with _owners_lock:
        entry = _owners.get(ident)
        if entry is not None and entry[0]() is l1:
            raise ValueError("this L1 already belongs to another TieredCache; close() that one first")
        _owners[ident] = (weakref.ref(l1, lambda ref: _forget(ident, ref)), token)
    l1._set_spill_hook(hook)
    return token


def detach(l1: Any, token: object) -> None:
    """Remove the spill hook ``attach`` installed (a no-op once another owner took over)."""
    with _owners_lock:
        entry = _owners.get(id(l1))
        if entry is None or entry[1] is not token:
            return
        del _owners[id(l1)]
    try:
        l1._set_spill_hook(None)
    except Exception:  # the L1 is being torn down as well
        pass


# Every live tiered cache (weakly), so a forked child can replace locks that a parent thread held
# at fork time (the child has no such thread: the lock would never be released).
_live: "weakref.WeakValueDictionary[int, Any]" = weakref.WeakValueDictionary()
_ids = itertools.count()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in a forked child
    global _owners_lock
    _owners_lock = threading.Lock()
    for cache in list(_live.values()):
        cache._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Tiered:
    """What TieredCache and AsyncTieredCache share: the L1 side of a read, write or removal
    (generation counter, promotion, invalidation), with the tier's I/O left to each flavour.

    THE GENERATION RULE. A read that misses L1 notes ``_gen``, asks the tier (pending writes,
    then Redis) and promotes what it found only if ``_gen`` has not moved meanwhile. Every
    change of the L1 made outside a promotion (set, delete, pop, popitem, clear) first changes
    the L1 and queues the tier's invalidation, and only then bumps ``_gen``, all under the
    lock. So a reader either noted the generation before the bump (its promotion is refused)
    or after it (then the invalidation was already queued and the tier answers a miss): a value
    read from Redis before a write can never be promoted over that write.
    """

    __slots__ = ()  # the subclasses hold the slots (mypy: hence the ignores on _gen)
    _l1: Any
    _tier: Any
    _lock: Any
    _gen: int

    def _settle(self, key: Any, hit: Any, gen: int, default: Any) -> Any:
        """The value of an L1 miss given the tier's answer ``hit`` (read while the generation
        was ``gen``): counted as an L2 hit or miss, a hit promoted into L1."""
        if self._tier._tally(hit) is MISS:
            return default
        value, ttl = hit
        self._promote(key, value, ttl, gen)
        return value

    def _promote(self, key: Any, value: Any, ttl: Optional[float], gen: int) -> None:
        l1 = self._l1
        if ttl is not None:
            own = getattr(l1, "default_ttl", None)
            if isinstance(own, (int, float)) and own < ttl:
                ttl = None  # the L1's own, shorter ttl applies
        with self._lock:
            if self._gen != gen:
                return  # a write raced this read: its value wins, ours is not stored
            try:
                l1.set(key, value, ttl)
            except ValueError:  # larger than the L1 can hold: serve it, don't keep it
                pass

    def _store(self, key: Any, value: Any, ttl: Optional[float], rkey: bytes) -> None:
        """``set``'s L1 write and the ordered invalidation of ``rkey``."""
        with self._lock:
            self._l1.set(key, value, ttl)
            self._tier._invalidate(rkey)
            self._gen += 1  # type: ignore[misc]  # last: see THE GENERATION RULE

    def _drop(self, key: Any, rkey: bytes, fallback: Any) -> Any:
        """Remove ``key`` from L1 and (queued) from Redis; its value, else the L2 value in
        ``fallback`` (a _fetch result read before), else _MISSING."""
        with self._lock:
            try:
                value = self._l1.pop(key, _MISSING)
                self._tier._invalidate(rkey)
            finally:
                self._gen += 1  # type: ignore[misc]  # last: see THE GENERATION RULE
        if value is _MISSING and fallback is not MISS:
            value = fallback[0]
        return value

    def _clear_l1(self) -> None:
        with self._lock:
            try:
                self._l1.clear()
            finally:
                self._gen += 1  # type: ignore[misc]  # last: see THE GENERATION RULE

    def __len__(self) -> int:
        return len(self._l1)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._l1)

    @property
    def l1(self) -> Any:
        """The in-process cache."""
        return self._l1

    def stats(self) -> TieredStats:
        """The L1's counters plus l2_hits, l2_misses, l2_errors, spilled, spill_dropped,
        rejected and breaker_state."""
        return tiered_stats(self._l1, self._tier)


def popped(key: Any, value: Any, default: Any) -> Any:
    """``pop``'s answer for a removed ``value`` (_MISSING: neither tier had ``key``)."""
    if value is _MISSING:
        if default is _MISSING:
            raise KeyError(key)
        return default
    return value


class TieredCache(ReadThrough, _Tiered, MutableMapping):  # type: ignore[misc]
    """A MutableMapping over ``l1`` (a hotcache cache) backed by ``tier`` (a RedisTier).

    * ``c[key]`` / ``c.get(key, default)``: an L1 hit runs natively (ReadThrough), never Redis.
      An L1 miss reads L2 (one round trip: value and remaining TTL); a hit is promoted into
      L1 with the TTL Redis has left (capped by the L1's own default ttl), so an L1 copy never
      outlives its Redis copy. Pending writes of this process are consulted first.
    * ``c[key] = v`` / ``c.set(key, v, ttl=None)``: stored in L1 only; the L2 copy of ``key``
      (if any) is invalidated through the flusher's ordered queue, so an older value can never
      come back from L2 later. Only L1 evictions for size/memory are written to Redis (with the
      time they had left, or the tier's ttl).
    * ``del c[key]`` / ``c.pop(key[, default])``: removed from L1 and (queued, ordered) from
      Redis; ``flush()`` waits until that reached Redis. KeyError only if neither tier had it.
    * ``len(c)``, ``iter(c)``, ``keys()``/``values()``/``items()``, ``==``: the L1's contents
      (the Redis namespace is shared by processes and unbounded; it is never enumerated).
      ``key in c`` checks L1, then L2 (without promoting).
    * ``clear()``: L1, pending writes and every Redis key of the namespace (SCAN + UNLINK).
    * ``flush(timeout=None)``, ``close(timeout=5.0)``, context manager, ``stats()`` ->
      TieredStats. One TieredCache per L1 at a time (ValueError otherwise); it cannot be
      pickled or copied (it owns a thread and connections).

    Keys must be encodable by the tier (None, bool, int, float, str, bytes, type, tuples of
    these, or anything the tier's ``key=`` accepts): an unencodable key raises TypeError from
    ``set`` and from a lookup that misses L1. Values must be serializable by the tier's
    serializer; one that is not is kept in L1 and simply not spilled (counted in spill_dropped).
    Thread-safe as far as the L1 is: reads take no lock; writes and promotions take one lock.
    """

    __slots__ = ("_l1", "_tier", "_lock", "_gen", "_finalizer", "__weakref__")

    def __init__(self, l1: Any, tier: Any) -> None:
        if not callable(getattr(l1, "_set_spill_hook", None)) or not callable(getattr(l1, "set", None)):
            raise TypeError("l1 must be a hotcache cache (LRUCache, LFUCache, TTLCache, ...), "
                            "not %s" % type(l1).__name__)
        if not callable(getattr(tier, "_fetch", None)):
            raise TypeError("tier must be a hotcache.redis_tier.RedisTier, not %s" % type(tier).__name__)
        ReadThrough.__init__(self, l1)
        self._l1 = l1
        self._tier = tier
        self._lock = threading.RLock()  # an on_evict callback may write back into this cache
        self._gen = 0
        self._finalizer = weakref.finalize(self, detach, l1, attach(l1, tier._hook))
        _live[next(_ids)] = self

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a TieredCache cannot be pickled or copied (copy its l1 instead)")

    # -- the hot path: one Python frame around the L1's C lookup -------------------------------
    # __getitem__ and get(key, default) are ReadThrough's: an L1 hit runs natively, a miss
    # calls _load(key, default) below (ReadThrough passes its own sentinel for __getitem__).

    # -- the slow path -------------------------------------------------------------------------
    def _load(self, key: Any, default: Any) -> Any:
        tier = self._tier
        rkey = tier._rkey(key)
        gen = self._gen
        return self._settle(key, tier._fetch(rkey), gen, default)

    # -- writes --------------------------------------------------------------------------------
    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Store ``value`` in L1 (``ttl`` seconds, else the L1's default) and invalidate the
        Redis copy of ``key``. ValueError from the L1 (too large) leaves both tiers unchanged."""
        self._store(key, value, ttl, self._tier._rkey(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set(key, value)

    def _remove(self, key: Any) -> Any:
        tier = self._tier
        rkey = tier._rkey(key)
        # read L2 first (outside the lock) only when L1 lacks the key, so pop() can return it
        fallback = tier._fetch(rkey) if key not in self._l1 else MISS
        return self._drop(key, rkey, fallback)

    def __delitem__(self, key: Any) -> None:
        if self._remove(key) is _MISSING:
            raise KeyError(key)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        return popped(key, self._remove(key), default)

    def popitem(self) -> Tuple[Any, Any]:
        """Remove and return an L1 item (in the L1's eviction order); its Redis copy goes too."""
        with self._lock:
            key, value = self._l1.popitem()
            try:
                self._tier._invalidate(self._tier._rkey(key))
            except TypeError:  # a key put into the L1 directly that the tier cannot encode
                pass
            finally:
                self._gen += 1  # last: see THE GENERATION RULE
        return key, value

    def clear(self) -> None:
        """Empty L1, drop pending writes and remove the namespace from Redis."""
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
        return "TieredCache(%r, %r)" % (self._l1, self._tier)

    # -- lifecycle and stats -------------------------------------------------------------------
    def flush(self, timeout: Optional[float] = None) -> bool:
        """Block until every spill and invalidation queued so far has been written (or given
        up); True if all landed."""
        return bool(self._tier.flush(timeout))

    def close(self, timeout: float = 5.0) -> bool:
        """Stop spilling, drain the queue (at most ``timeout`` seconds) and close the tier. The
        L1 keeps its contents and works on alone."""
        self._finalizer()
        return bool(self._tier.close(timeout))

    def __enter__(self) -> "TieredCache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def tiered_stats(l1: Any, tier: Any) -> TieredStats:
    """TieredStats from an L1's stats() and a tier's counters()."""
    base = l1.stats()
    extra = tier.counters()
    fields = {name: getattr(base, name) for name in CacheStats.__dataclass_fields__}
    for name in ("l2_hits", "l2_misses", "l2_errors", "spilled", "spill_dropped", "rejected",
                 "breaker_state"):
        fields[name] = extra[name]
    return TieredStats(**fields)
