"""The L1 side of a tiered cache: what TieredCache and AsyncTieredCache share.

Per-key write generations (which promotions a write or an invalidation refuses), the index from
Redis keys to L1 keys (which entries are clean, which L1 key another process's message names),
the invalidation sink the subscriber calls, and the ownership of the L1's spill hook.
"""
from __future__ import annotations

import itertools
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

__all__ = ["MISS", "MODES", "WRITES", "attach", "detach", "popped", "_MISSING", "_Tiered", "_live"]

_log = logging.getLogger("hotcache.redis_tier")

_MISSING: Any = object()
MISS: Any = None  # what a tier's _fetch returns for a miss (a hit is a (value, ttl) tuple)
_DIRTY: Any = object()  # index entry of an L1 value that Redis does not hold (spill mode)
_AUTO: Any = object()

MODES = ("spill", "shared")
WRITES = ("behind", "through")
INVALIDATIONS = ("pubsub", None)

TOUCH_LIMIT = 4096     # per-key write generations remembered (see THE GENERATION RULE)
INDEX_MIN = 1024       # the index is pruned when it outgrows max(INDEX_MIN, 2 x its size after the last prune)


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
    """Give ``l1`` the spill hook of a new tiered cache (None: no spills); ValueError if another
    live tiered cache already owns it. Returns the ownership token for ``detach``."""
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
        if cache._sub is not None:
            # messages sent between the fork and the child's own subscription would be missed:
            # the child starts lost (an empty L1, no promotion) until it has subscribed itself
            cache._insync = False
            cache._wipe()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _breaker_listener(ref: "weakref.ref[Any]") -> Any:
    """The tier breaker's listener: when it opens, Redis may be out of reach for this process
    while others still write, so the subscription counts as lost (the L1 is cleared) and the
    subscriber reconnects. It holds the cache weakly."""
    def on_change(breaker: Any, old: str, new: str) -> None:
        cache = ref()
        if new == "open" and cache is not None and cache._sub is not None:
            cache._inv_state(False)
            cache._sub.drop()
    return on_change


def _release(l1: Any, token: object, breaker: Any, listener: Any, sub: Any) -> None:
    """A tiered cache's finalizer (close(), or collection): give the L1 back, stop listening."""
    detach(l1, token)
    if listener is not None:
        try:
            breaker.remove_listener(listener)
        except ValueError:
            pass
    if sub is not None:
        sub.halt()


def popped(key: Any, value: Any, default: Any) -> Any:
    """``pop``'s answer for a removed ``value`` (_MISSING: neither tier had ``key``)."""
    if value is _MISSING:
        if default is _MISSING:
            raise KeyError(key)
        return default
    return value


def _choice(name: str, value: Any, allowed: Tuple[Any, ...]) -> Any:
    if value not in allowed or (value is not None and not isinstance(value, str)):
        if value is not None and not isinstance(value, str):
            raise TypeError("%s must be one of %r, not %s" % (name, allowed, type(value).__name__))
        raise ValueError("%s must be one of %r, got %r" % (name, allowed, value))
    return value


class _Tiered:
    """The L1 side of a tiered cache (the subclasses add the tier's I/O, sync or awaited).

    MODES. ``"spill"``: writes stay in the L1 and invalidate the Redis copy; the L1's size and
    memory evictions are written to Redis. ``"shared"``: every write also goes to Redis (with
    its ttl), so any process reads what any other computed; nothing is spilled (Redis has it).

    CLEAN ENTRIES. ``_index`` maps the Redis key of every entry this cache put into its L1 to
    ``(L1 key, clean value)``; the clean value is the stored object itself when Redis holds it
    (promoted from Redis, or written there in shared mode), else _DIRTY. The spill hook skips
    an evicted entry whose clean value is the object evicted: rewriting it would send the value
    Redis already has. Entries that leave the L1 other than by eviction (expiry, a direct L1
    call) leave a stale index entry behind; the index is pruned to the L1's keys whenever it
    has doubled, which costs one ``key in l1`` per insertion on average.

    THE GENERATION RULE. A read that misses L1 notes ``_gen``, asks the tier (pending writes,
    then Redis) and promotes what it found only if no change of that key was noted after that:
    every write, removal and invalidation message first changes the L1 and queues the tier's
    write, and only then bumps ``_gen`` and records it as the key's generation in
    ``_touched``, all under the lock. So a reader either started before the change (its
    promotion is refused) or after it (then the tier answers with the new value or a miss): a
    value read from Redis before a write, or before another process's write was announced, is
    never promoted over it. ``_touched`` holds up to TOUCH_LIMIT keys; when it is full it is
    emptied and ``_floor`` raised to the present, and a read that started below the floor is
    refused (the same for clear, and for the subscription being lost or back). A plain dict
    emptied now and then costs ~0.3 us less per write than an LRU-ordered one.

    INVALIDATION. With a subscriber (``_sub``), ``_insync`` says whether the subscription is
    live. The subscriber calls ``_inv_keys`` (other processes changed these keys: drop them
    from the L1), ``_inv_clear`` and ``_inv_state``: lost or live again, the L1 is cleared
    both times, and nothing read from Redis is promoted while it is lost (it could be
    overwritten unheard); what this process writes meanwhile stays until it is live again.
    """

    if not TYPE_CHECKING:  # the subclasses hold the slots (declared below for type checkers)
        __slots__ = ()
    _l1: Any
    _tier: Any
    _lock: Any
    _gen: int
    _floor: int
    _touched: Dict[bytes, int]
    _index: Dict[bytes, Tuple[Any, Any]]
    _index_limit: int
    _shared: bool
    _l1_ttl: Optional[float]
    _through: bool
    _sub: Any
    _insync: bool
    _invalidations: int
    _losses: int
    _finalizer: Any
    _raise: Any

    def _setup(self, l1: Any, tier: Any, mode: Any, invalidation: Any, write: Any) -> None:
        mode = _choice("mode", mode, MODES)
        announces = getattr(tier, "_announces", True)  # False: a tier without _subscriber (disk, chains)
        if invalidation is _AUTO:
            invalidation = "pubsub" if mode == "shared" and announces else None
        _choice("invalidation", invalidation, INVALIDATIONS)
        if invalidation is not None and not announces:
            raise ValueError("invalidation=%r needs a tier that carries messages between processes "
                             "(a RedisTier alone); %r has none" % (invalidation, tier))
        write = _choice("write", write, WRITES)
        self._l1 = l1
        self._tier = tier
        self._lock = threading.RLock()  # an on_evict callback may write back into this cache
        self._gen = 0
        self._floor = 0
        self._touched = {}
        self._index = {}
        self._index_limit = INDEX_MIN
        self._shared = mode == "shared"
        self._through = write == "through"
        self._l1_ttl = self._cap(tier.ttl)  # a shared write's L1 ttl when it has none
        self._raise = getattr(tier, "_raise", None)  # a chain: copy a lower level's hit upwards
        self._invalidations = 0
        self._losses = 0
        self._insync = True
        self._sub = None
        hook = None if self._shared else tier._spill_hook(self._index)
        token = attach(l1, hook)
        listener = None
        if invalidation is not None:
            self._insync = False
            self._sub = tier._subscriber(self)
            listener = _breaker_listener(weakref.ref(self))
            tier.breaker.add_listener(listener)
        self._finalizer = weakref.finalize(self, _release, l1, token, tier.breaker, listener, self._sub)

    # -- generations --------------------------------------------------------------------------
    def _touch(self, rkey: bytes) -> None:
        """Note a change of ``rkey`` (lock held): reads of it that started before are refused."""
        self._gen = gen = self._gen + 1
        touched = self._touched
        if len(touched) >= TOUCH_LIMIT:  # forget them all: every read in flight is refused
            touched.clear()
            self._floor = gen
        touched[rkey] = gen

    def _wipe(self) -> None:
        """Empty the L1 and the index and refuse every read in flight (lock held)."""
        self._gen += 1
        self._floor = self._gen
        self._touched.clear()
        self._index.clear()
        try:
            self._l1.clear()
        except Exception:  # a value's __del__ raising must not stop a subscriber thread
            _log.exception("hotcache.redis_tier: clearing the L1 failed")

    def _promote(self, key: Any, rkey: bytes, value: Any, ttl: Optional[float], gen: int) -> None:
        left = ttl
        if ttl is not None:
            ttl = self._cap(ttl)
        with self._lock:
            if not self._insync or gen < self._floor:
                return
            seen = self._touched.get(rkey)
            if seen is not None and seen > gen:
                return  # a write raced this read: its value wins, ours is not stored
            if self._raise is not None:
                self._raise(rkey, value, left)
            try:
                self._l1.set(key, value, ttl)
            except ValueError:  # larger than the L1 can hold: serve it, don't keep it
                return
            self._note(rkey, key, value)

    def _cap(self, ttl: Optional[float]) -> Optional[float]:
        """The L1 ttl of a copy that Redis keeps ``ttl`` seconds: None (the L1's default) when
        the L1's own default ttl is shorter, so an L1 copy never outlives its Redis copy (and
        when the tier keeps it forever: ``ttl`` None)."""
        if ttl is None:
            return None
        own = getattr(self._l1, "default_ttl", None)
        if isinstance(own, (int, float)) and own < ttl:
            return None
        return ttl

    def _note(self, rkey: bytes, key: Any, clean: Any) -> None:
        """Index ``rkey`` -> (key, clean value or _DIRTY) (lock held); prune when it doubled."""
        index = self._index
        index[rkey] = (key, clean)
        if len(index) > self._index_limit:
            l1 = self._l1
            for stale in [r for r, entry in index.items() if entry[0] not in l1]:
                del index[stale]
            self._index_limit = max(INDEX_MIN, 2 * len(index))

    # -- the L1 side of reads, writes and removals ----------------------------------------------
    def _settle(self, key: Any, rkey: bytes, hit: Any, gen: int, default: Any) -> Any:
        """The value of an L1 miss given the tier's answer ``hit`` (read while the generation
        was ``gen``): counted as an L2 hit or miss, a hit promoted into L1."""
        if self._tier._tally(hit) is MISS:
            return default
        value, ttl = hit
        self._promote(key, rkey, value, ttl, gen)
        return value

    def _begin(self) -> int:
        """A read is about to ask the tier: the generation to promote against. A lost
        subscription (or a forked child's first read) starts the subscriber again."""
        if not self._insync and self._sub is not None:
            self._sub.ensure()
        return self._gen

    def _store(self, key: Any, value: Any, ttl: Optional[float], rkey: bytes) -> Any:
        """``set``'s L1 write and the ordered tier write (shared) or invalidation (spill) of
        ``rkey``. Returns the tier's write mark for write-through, else None. (_note and _touch
        are inlined: this is every write's path; callgrind, shared-mode writes end to end with
        the flusher: 69.2k -> 67.3k instructions per write.)"""
        tier = self._tier
        with self._lock:
            if self._shared:
                self._l1.set(key, value, ttl if ttl is not None else self._l1_ttl)
                tier._write(rkey, value, ttl)
                clean = value
            else:
                self._l1.set(key, value, ttl)
                tier._invalidate(rkey)
                clean = _DIRTY
            index = self._index
            index[rkey] = (key, clean)  # _note
            if len(index) > self._index_limit:
                self._note(rkey, key, clean)
            self._gen = gen = self._gen + 1  # _touch, last: see THE GENERATION RULE
            touched = self._touched
            if len(touched) >= TOUCH_LIMIT:
                touched.clear()
                self._floor = gen
            touched[rkey] = gen
            return tier._mark() if self._through else None

    def _drop(self, key: Any, rkey: bytes, fallback: Any) -> Tuple[Any, Any]:
        """Remove ``key`` from L1 and (queued) from Redis. Returns (its value, else the L2 value
        in ``fallback`` (a _fetch result read before), else _MISSING; the write mark or None)."""
        with self._lock:
            try:
                value = self._l1.pop(key, _MISSING)
                self._tier._invalidate(rkey)
            finally:
                self._index.pop(rkey, None)
                self._touch(rkey)  # last: see THE GENERATION RULE
            mark = self._tier._mark() if self._through else None
        if value is _MISSING and fallback is not MISS:
            value = fallback[0]
        return value, mark

    def _pop_item(self) -> Tuple[Any, Any]:
        """popitem(): an L1 item in the L1's eviction order; its Redis copy goes too."""
        with self._lock:
            key, value = self._l1.popitem()
            try:
                rkey = self._tier._rkey(key)
            except TypeError:  # a key put into the L1 directly that the tier cannot encode
                self._gen += 1
                return key, value
            self._tier._invalidate(rkey)
            self._index.pop(rkey, None)
            self._touch(rkey)
        return key, value

    def _clear_l1(self) -> None:
        with self._lock:
            self._wipe()

    # -- the invalidation sink (called by hotcache.tiers.redis_invalidate's subscriber) ----------------------
    def _inv_keys(self, rkeys: List[bytes]) -> None:
        with self._lock:
            pop, l1 = self._index.pop, self._l1
            for rkey in rkeys:
                entry = pop(rkey, None)
                if entry is not None:
                    try:
                        l1.pop(entry[0], None)
                    except Exception:
                        _log.exception("hotcache.redis_tier: dropping an invalidated key failed")
                self._touch(rkey)
            if not self._shared:
                self._tier._cancel_spills(rkeys)
            self._invalidations += len(rkeys)

    def _inv_clear(self) -> None:
        with self._lock:
            self._wipe()

    def _inv_state(self, live: bool) -> None:
        with self._lock:
            if not live and not self._insync:
                return  # already lost: the L1 holds only this process's own writes since
            if not live:
                self._losses += 1
            self._wipe()
            self._insync = live

    # -- shared API -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._l1)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._l1)

    @property
    def l1(self) -> Any:
        """The in-process cache."""
        return self._l1

    @property
    def mode(self) -> str:
        """"spill" or "shared"."""
        return "shared" if self._shared else "spill"

    @property
    def invalidation(self) -> Optional[str]:
        """"pubsub" when other processes' writes drop this L1's copies, else None."""
        return None if self._sub is None else "pubsub"

    @property
    def write(self) -> str:
        """"behind" (writes reach Redis in the background) or "through" (set/delete return once
        Redis has them)."""
        return "through" if self._through else "behind"

    def _inv_counts(self) -> Dict[str, Any]:
        state = "off" if self._sub is None else ("live" if self._insync else "lost")
        return {"invalidations": self._invalidations, "resyncs": self._losses,
                "invalidation_state": state}
