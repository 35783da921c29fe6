"""The pure twin's ``Cache``: the mapping, its store and eviction rules, the hooked-subclass paths,
copy/pickle and the invariant checker (the twin of hotcache._native.core.Core with hotcache.cache's
``Cache``; the classes by policy are in hotcache._spec.cache).

Same class names, constructors and behaviour as the C-backed classes (docs/caches.md); written
for obviousness, not speed. Every instance keeps ALL of its state in one ``_State`` record
(hotcache._spec.entries)::

    data     {_Key(key): _Entry}     first-insertion order = iteration order; _Key caches
                                     hash(key): each public call hashes its key ONCE
    _Entry   key, value, size, charge, expires, seq
                                     currsize == sum of sizes <= maxsize; memory == sum of
                                     charges (sizeof + 64; 0 without maxmemory) <= maxmemory
    heap     [(expires, seq, entry)] items whose seq != entry.seq are stale, skipped lazily
    expiring                         number of entries with an expiry
    policy   _Insertion | _FIFO | _LRU | _LFU | _Random (the policy_*.py modules): the entries
             in eviction order

Policies and the heap refer to entries, which hash by identity: they never run user code.
Removing an entry empties it (key, value -> None, seq -> 0), so a stale heap item keeps nothing
alive. Whatever leaves the cache (removed keys and values, overwritten values) goes to the
operation's ``_Pending`` list (hotcache._spec.outbox) and is released at its end, after the structures are consistent
and after the on_evict callbacks; ``clear()`` swaps in empty structures before dropping the old.

HOW A STORE WORKS (``c[k] = v`` / ``c.set(k, v, ttl=)``), in this order; nothing changes before
step 4, so an error in steps 1-3 leaves the cache untouched:

1. ``hash(key)``; read the clock once (only if the cache is *timed*: TTLCache/TLRUCache, a
   default ``ttl=``, an explicit finite ``set(ttl=)``, or any entry currently expiring).
2. expiry: explicit ``set(ttl=)`` > class rule (TTLCache ``now + ttl``; TLRUCache
   ``ttu(key, value, now)`` capped by ``now + ttl=``) > default ``ttl=``; ``inf`` = none.
   Dead on arrival (``not now < expires``): purge expired, silently drop any old entry for the
   key, store nothing (cachetools' TLRU rule, applied to every class).
3. ``getsizeof(value)`` (int; ``> maxsize`` or ``maxsize == 0`` -> "value too large"; ``< 0``
   -> "value size must be non-negative"), then the memory charge if ``maxmemory`` is set.
4. purge every expired entry (on_evict cause "expired").
5. evict policy victims while over ``maxsize`` (cause "size") or else over ``maxmemory``
   (cause "memory"). The key being re-assigned is never chosen by the native victim choice
   (it is skipped; evicting all others always suffices).
6. store; policy insert (new key) or update (re-assignment: LRU/LFU use, FIFO move to newest).
7. on_evict callbacks, after the cache is consistent; the first exception is re-raised;
   then whatever left the cache (victims, the old value) is released.

A *hooked* class (a subclass overriding one of ``_HOOKS``, the methods cachetools calls on
self) and an RRCache with a custom ``choice`` store in cachetools' order instead
(``__store_hooked``): [TTL/TLRU: ``self.expire(now)``] -> expiry (TLRU: ``ttu``) ->
``getsizeof`` -> ``self.popitem()`` while over a bound (which may take the key itself: the
store then counts as an insert) -> store. A hooked class's get/pop/setdefault/popitem and
TTL/TLRU len/currsize/repr go through ``self`` as cachetools' do (docs/compat.md).

Expired entries are invisible to lookups but only removed by purges: every store,
``popitem``, ``len``, ``currsize``, ``repr``, ``stats``, ``resize`` and ``expire`` purge all
of them; ``del``/``pop`` of an expired key removes that entry as an expiration and then
behaves as for a missing key. Lookups (``[]``, ``get``, ``in``, ``peek``, ``ttl_left``,
iteration) never remove anything.

RRCache: with the default ``random.choice`` the victim is ``keys[rng.randrange(len(keys))]``
with ``rng = random.Random(seed)`` over the keys in the policy's dense order; the C core
uses its own PRNG, so core and twin agree on membership and sizes, not on the exact victims.

Not thread-safe beyond what the GIL gives single bytecodes: unlike the C core, a public call is
not atomic with respect to other threads.
"""

from __future__ import annotations

import collections.abc
import contextlib
import copy as _copy
import datetime
import heapq
import math
import operator
import random
import time
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from .._config import ENTRY_OVERHEAD, default_sizeof, parse_maxsize, parse_memory, parse_ttl
from .._flight import aget_or_set as _aget_or_set, get_or_set as _get_or_set
from ..stats import CacheStats
from .entries import OnEvict, _Entry, _Key, _State
from .outbox import _Pending
from .sizing import start_sizing
from .policy_lfu import _LFU
from .policy_order import _LRU, _Insertion
from .policy_random import _Random
from .policy_tinylfu import TinyLFU
from .timer import Timer

__all__ = ["ENTRY_OVERHEAD", "Cache", "Timer"]

_MARKER: Any = object()  # "no default given" / "no ttl given" / "no key to protect"
# The methods cachetools' classes call on self: a subclass that overrides one of them is "hooked"
# and takes cachetools' call graph everywhere (docs/compat.md; _native/subclass.pxi is the
# C core's side). Overriding __setitem__, get, pop, setdefault, clear, __len__, getsizeof or
# __missing__ alone needs nothing: the plain paths call those where cachetools does, or nowhere.
_HOOKS = ("__getitem__", "__delitem__", "__contains__", "__iter__", "popitem", "expire")
_NO_CLOCK = contextlib.nullcontext()  # enters as None: an untimed operation reads no clock
_HEAP_SLACK = 2  # rebuild the expiry heap when it holds > 2x the expiring entries (+16)

def _index(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError("%s must return an int, not %s" % (what, type(value).__name__)) from None


def _no_expiry(expires: Any) -> bool:
    return isinstance(expires, (int, float)) and expires == math.inf


# --------------------------------------------------------------------------- the classes


class Cache(collections.abc.MutableMapping):  # type: ignore[type-arg]
    """Mutable mapping with a size bound; evicts in first-insertion order."""

    __class_getitem__ = classmethod(types.GenericAlias)  # type: ignore[assignment]
    _policy: Callable[[], Any] = _Insertion  # each subclass names its policy here
    _hooked = False  # per class, from __init_subclass__: overrides one of _HOOKS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._hooked = any(getattr(cls, name) is not getattr(Cache, name) for name in _HOOKS)

    def __init__(
        self,
        maxsize: Union[int, float],
        getsizeof: Optional[Callable[[Any], int]] = None,
        *,
        ttl: Optional[float] = None,
        maxmemory: Union[int, str, None] = None,
        sizeof: Optional[Callable[[Any, Any], int]] = None,
        timer: Callable[[], Any] = time.monotonic,
        on_evict: Optional[OnEvict] = None,
        sizing: Optional[float] = None,
    ) -> None:
        self.__setup(maxsize, getsizeof, self._policy(), timer, ttl, maxmemory, sizeof, on_evict,
                     sizing=sizing)

    def __setup(
        self,
        maxsize: Any,
        getsizeof: Any,
        policy: Any,
        timer: Any,
        ttl: Any,
        maxmemory: Any,
        sizeof: Any,
        on_evict: Any,
        kind: Optional[str] = None,
        ttl_value: Any = None,
        ttu: Any = None,
        sizing: Optional[float] = None,
    ) -> None:
        st = _State()
        st.maxsize, st.bound = parse_maxsize(maxsize)
        st.maxmemory = parse_memory(maxmemory)
        st.default_ttl = parse_ttl(ttl)
        for name, fn in (("getsizeof", getsizeof), ("sizeof", sizeof), ("on_evict", on_evict), ("ttu", ttu)):
            if fn is not None and not callable(fn):
                raise TypeError("%s must be callable or None, not %s" % (name, type(fn).__name__))
        if not callable(timer):
            raise TypeError("timer must be callable, not %s" % type(timer).__name__)
        if getsizeof is not None:
            self.getsizeof = getsizeof
        st.sizeof = sizeof
        st.on_evict = on_evict
        st.timer = Timer(timer)
        st.policy = policy
        st.kind = kind
        st.ttl_value = ttl_value
        st.ttu = ttu
        # stores evict through self.popitem(): a hooked class, or an RRCache with its own choice
        st.slow_evict = type(self)._hooked or (isinstance(policy, _Random) and policy.choice is not random.choice)
        st.sizing = None if sizing is None else start_sizing(sizing, st.maxsize, policy)
        self.__st = st

    # ---------------------------------------------------------------- helpers

    def __clock(self, force: bool = False) -> Any:
        """The frozen clock for one operation, or a null context if no entry can expire."""
        st = self.__st
        if force or st.kind is not None or st.default_ttl is not None or st.expiring:
            return st.timer
        return _NO_CLOCK

    def __pending(self) -> _Pending:
        st = self.__st
        return _Pending(st.on_evict, st.spill, st.timer)

    @staticmethod
    def __live(entry: _Entry, now: Any) -> bool:
        return entry.expires is None or now is None or now < entry.expires

    def __lookup(self, k: _Key, now: Any) -> Optional[_Entry]:
        """The live entry of `k`, or None (absent or expired)."""
        entry = self.__st.data.get(k)
        if entry is None or not self.__live(entry, now):
            return None
        return entry

    def __remove(self, entry: _Entry, pending: _Pending, cause: Optional[str], evicted: bool = False) -> Tuple[Any, Any]:
        """Take `entry` out of every structure; its key and value go to `pending` (released
        at the end of the operation, reported to on_evict if `cause`); return them. The policy
        sees an eviction (policy.evict: S3FIFO's ghost, TINYLFU's jitter) if `evicted` (the
        policy's victim, evicted or popped), else a removal (deletes, expiry)."""
        st = self.__st
        k = entry.k
        key, value = k.key, entry.value  # type: ignore[union-attr]
        del st.data[k]  # type: ignore[arg-type]
        st.currsize -= entry.size
        st.memory -= entry.charge
        if entry.expires is not None:
            st.expiring -= 1
        if evicted:
            st.policy.evict(entry)
        else:
            st.policy.remove(entry)
        pending.append((key, value, cause))
        entry.k = entry.value = entry.expires = None  # a stale heap item now holds nothing
        entry.seq = 0
        return key, value

    def __purge(self, now: Any, pending: _Pending) -> List[Tuple[Any, Any]]:
        """Remove every entry with ``not now < expires``, earliest expiry first."""
        st = self.__st
        out: List[Tuple[Any, Any]] = []
        if now is None or not st.expiring:
            return out
        heap = st.heap
        while heap:
            expires, seq, entry = heap[0]
            if entry.seq != seq:
                heapq.heappop(heap)  # stale
                continue
            if now < expires:
                break
            heapq.heappop(heap)
            st.expirations += 1
            out.append(self.__remove(entry, pending, "expired"))
        return out

    def __set_expiry(self, entry: _Entry, expires: Any) -> None:
        st = self.__st
        if entry.expires is not None:
            st.expiring -= 1
        st.seq += 1
        entry.seq = st.seq  # makes the entry's old heap item stale
        entry.expires = expires
        if expires is None:
            return
        st.expiring += 1
        heapq.heappush(st.heap, (expires, st.seq, entry))
        if len(st.heap) > _HEAP_SLACK * st.expiring + 16:
            st.heap = [item for item in st.heap if item[2].seq == item[1]]
            heapq.heapify(st.heap)

    def __expiry(self, key: Any, value: Any, now: Any, ttl: Any) -> Any:
        """Expiry time of a store (None = never); `ttl` is set()'s parsed ttl or _MARKER."""
        st = self.__st
        if ttl is not _MARKER:
            expires = None if ttl is None else now + ttl
        elif st.kind == "ttl":
            expires = now + st.ttl_value
        elif st.kind == "tlru":
            expires = st.ttu(key, value, now)  # type: ignore[misc]
            if st.default_ttl is not None:
                cap = now + st.default_ttl
                if cap < expires:
                    expires = cap
        else:
            expires = None if st.default_ttl is None else now + st.default_ttl
        return None if _no_expiry(expires) else expires

    def __itemsize(self, value: Any) -> int:
        st = self.__st
        getsizeof = self.getsizeof
        size = 1 if getsizeof is Cache.getsizeof else _index(getsizeof(value), "getsizeof()")
        if st.bound is not None and (st.bound == 0 or size > st.bound):
            raise ValueError("value too large")
        if size < 0:
            raise ValueError("value size must be non-negative")
        return size

    def __charge(self, key: Any, value: Any, limit: bool = True) -> int:
        """The memory charge of an entry; ValueError if it alone exceeds maxmemory (`limit`)."""
        st = self.__st
        sizeof = st.sizeof or default_sizeof
        charge = _index(sizeof(key, value), "sizeof()")
        if charge < 0:
            raise ValueError("sizeof() must return a non-negative int")
        charge += ENTRY_OVERHEAD
        if limit and charge > st.maxmemory:  # type: ignore[operator]
            raise ValueError("value too large for maxmemory")
        return charge

    def __make_room(self, k: Optional[_Key], size: int, charge: int, pending: _Pending) -> None:
        """Evict until `k` (or nothing: None) with `size`/`charge` fits both bounds."""
        st = self.__st
        native = not st.slow_evict
        while True:
            entry = st.data.get(k) if k is not None else None
            old_size = entry.size if entry is not None else 0
            over_size = st.bound is not None and st.currsize - old_size + size > st.bound
            over_mem = False
            if st.maxmemory is not None:
                old_charge = entry.charge if entry is not None else 0
                over_mem = st.memory - old_charge + charge > st.maxmemory
            if not (over_size or over_mem):
                return
            cause = "size" if over_size else "memory"
            if native:
                victim_entry = st.policy.victim(entry)
                if victim_entry.expires is not None and pending.spill is not None:
                    pending.expires[len(pending)] = victim_entry.expires
                self.__remove(victim_entry, pending, cause, evicted=True)
            else:  # cachetools' loop: self.popitem() (its result only feeds on_evict)
                before = len(st.data), st.currsize, st.memory
                pair = self.popitem()
                if len(st.data) >= before[0] and st.currsize >= before[1] and st.memory >= before[2]:
                    raise RuntimeError("popitem() did not remove an item")
                if type(pair) is tuple and len(pair) == 2:
                    pending.append((pair[0], pair[1], cause))
                del pair
            if over_size:
                st.evictions_size += 1
            else:
                st.evictions_memory += 1

    def __store(self, k: _Key, value: Any, ttl: Any) -> None:
        st = self.__st
        if st.slow_evict:
            return self.__store_hooked(k, value, ttl)
        with self.__pending() as pending, self.__clock(force=ttl is not _MARKER and ttl is not None) as now:
            expires = self.__expiry(k.key, value, now, ttl)
            if expires is not None and not (now < expires):  # dead on arrival
                self.__purge(now, pending)
                entry = st.data.get(k)
                if entry is not None:
                    self.__remove(entry, pending, None)
                return
            size = self.__itemsize(value)
            charge = self.__charge(k.key, value) if st.maxmemory is not None else 0
            self.__purge(now, pending)
            self.__make_room(k, size, charge, pending)
            self.__put(k, value, size, charge, expires, pending)

    def __store_hooked(self, k: _Key, value: Any, ttl: Any) -> None:
        """A store in cachetools' order: [TTL/TLRU: ``self.expire(now)``, the time frozen for the
        whole store] -> expiry (TLRU: ``ttu``; dead on arrival: any old entry goes without hooks)
        -> ``self.getsizeof(value)`` -> ``self.popitem()`` while the item does not fit -> store.
        Also the path of an RRCache with a custom choice (then popitem() is the plain one)."""
        st = self.__st
        if st.kind is not None and self._hooked:
            with st.timer as now:
                self.expire(now)
                self.__store_evicting(k, value, ttl, now)
        else:
            with self.__clock(force=ttl is not _MARKER and ttl is not None) as now:
                self.__store_evicting(k, value, ttl, now)

    def __store_evicting(self, k: _Key, value: Any, ttl: Any, now: Any) -> None:
        st = self.__st
        with self.__pending() as pending:
            expires = self.__expiry(k.key, value, now, ttl)
            if expires is not None and not (now < expires):  # dead on arrival (TLRU's rule)
                entry = st.data.get(k)
                if entry is not None:
                    self.__remove(entry, pending, None)
                return
            size = self.__itemsize(value)
            charge = self.__charge(k.key, value) if st.maxmemory is not None else 0
            if st.kind is None:
                self.__purge(now, pending)  # the ttl= extension on an untimed class
            self.__make_room(k, size, charge, pending)
            self.__put(k, value, size, charge, expires, pending)

    def __put(self, k: _Key, value: Any, size: int, charge: int, expires: Any, pending: _Pending) -> None:
        """Store (room is made): update the entry of `k` (expired or not) or insert one."""
        st = self.__st
        entry = st.data.get(k)
        if entry is not None:
            pending.append((None, entry.value, None))  # the old value, released at the end
            old_size, old_charge = entry.size, entry.charge
            st.currsize += size - entry.size
            st.memory += charge - entry.charge
            entry.value, entry.size, entry.charge = value, size, charge
            if (old_size, old_charge) != (size, charge):
                st.policy.charge(entry, old_size, old_charge)
            st.policy.update(entry)
            st.updates += 1
        else:
            entry = _Entry(k, value, size, charge)
            st.data[k] = entry
            st.currsize += size
            st.memory += charge
            st.policy.insert(entry)
            st.inserts += 1
        self.__set_expiry(entry, expires)

    # ---------------------------------------------------------------- mapping surface

    def __settle(self) -> None:
        """Purge the expired entries before counting (len, currsize, repr, stats); a hooked
        TTLCache/TLRUCache calls ``self.expire(now)`` instead, as cachetools' do."""
        st = self.__st
        if self._hooked and st.kind is not None:
            with st.timer as now:
                self.expire(now)
            return
        with self.__pending() as pending, self.__clock() as now:
            self.__purge(now, pending)

    def __timed(self) -> Any:
        """cachetools' timed classes run get/pop/setdefault under one frozen time."""
        st = self.__st
        return st.timer if st.kind is not None else _NO_CLOCK

    def __repr__(self) -> str:
        st = self.__st
        self.__settle()
        # _Key and _Entry repr as their key and value: this reads like {key: value}, and
        # dict's own guard stops a cache that contains itself
        return "%s(%r, maxsize=%r, currsize=%r)" % (type(self).__name__, st.data, st.maxsize, st.currsize)

    def __use(self, key: Any) -> Any:
        """The lookup of [] and get(): the value of a live key (a counted hit and use), or
        _MARKER after counting a miss."""
        k = _Key(key)
        st = self.__st
        with self.__clock() as now:
            entry = self.__lookup(k, now)
            if entry is not None:
                st.policy.touch(entry)
                st.hits += 1
                value = entry.value
            else:
                st.misses += 1
                st.policy.miss(k.hash)  # TINYLFU counts the key's frequency (Caffeine: a miss records)
                value = _MARKER
        if st.sizing is not None:   # told after the lookup, as the native _sz_after
            st.sizing.observe(key, k.hash)
        return value

    def __getitem__(self, key: Any) -> Any:
        value = self.__use(key)
        if value is not _MARKER:
            return value
        value = self.__missing__(key)
        st = self.__st
        if st.kind is None and isinstance(st.policy, (_LRU, _LFU)):
            # cachetools' LRUCache/LFUCache count a key that __missing__ stored as used (no hit)
            with self.__clock() as now:
                entry = self.__lookup(_Key(key), now)
                if entry is not None:
                    st.policy.touch(entry)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__store(_Key(key), value, _MARKER)

    def __delitem__(self, key: Any) -> None:
        if self.__pop(_Key(key)) is _MARKER:
            raise KeyError(key)

    def __pop(self, k: _Key) -> Any:
        """Remove `k`; return its value, or _MARKER if it was absent or expired."""
        st = self.__st
        value = _MARKER
        with self.__pending() as pending, self.__clock() as now:
            entry = st.data.get(k)
            if entry is not None:
                if self.__live(entry, now):
                    # a hooked popitem's ``del self[key]`` removes the policy's victim
                    value = self.__remove(entry, pending, None, evicted=entry is st.popping)[1]
                else:
                    st.expirations += 1
                    self.__remove(entry, pending, "expired")
        return value

    def __contains__(self, key: Any) -> bool:
        k = _Key(key)
        with self.__clock() as now:
            return self.__lookup(k, now) is not None

    def __missing__(self, key: Any) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        st = self.__st
        for k in list(st.data):
            with self.__clock() as now:
                alive = self.__lookup(k, now) is not None
            if alive:
                yield k.key

    def __len__(self) -> int:
        self.__settle()
        return len(self.__st.data)

    def get(self, key: Any, default: Any = None) -> Any:
        if self._hooked:  # cachetools' Cache.get
            with self.__timed():
                if key in self:
                    return self[key]
                self.__hooked_miss(key)
                return default
        value = self.__use(key)
        return default if value is _MARKER else value

    def pop(self, key: Any, default: Any = _MARKER) -> Any:
        if self._hooked:  # cachetools' Cache.pop: an expired key is not "in": it stays
            with self.__timed():
                if key in self:
                    value = self[key]
                    del self[key]
                    return value
            if default is _MARKER:
                raise KeyError(key)
            return default
        value = self.__pop(_Key(key))
        if value is not _MARKER:
            return value
        if default is _MARKER:
            raise KeyError(key)
        return default

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if self._hooked:  # cachetools' Cache.setdefault
            with self.__timed():
                if key in self:
                    return self[key]
                self.__hooked_miss(key)
                self[key] = default
                return default
        k = _Key(key)
        st = self.__st
        with self.__clock() as now:  # one clock read for the lookup and the store
            entry = self.__lookup(k, now)
            if entry is not None:
                st.policy.touch(entry)
                st.hits += 1
                return entry.value
            st.misses += 1
            st.policy.miss(k.hash)
            self[key] = default  # a subclass's __setitem__ is honoured
            return default

    def __hooked_miss(self, key: Any) -> None:
        """A hooked lookup (through ``key in self``) missed: the policy hears it (TINYLFU's
        sketch), the counters stay as cachetools' call graph leaves them."""
        if isinstance(self.__st.policy, TinyLFU):
            self.__st.policy.miss(hash(key))

    def popitem(self) -> Tuple[Any, Any]:
        """Remove and return the next victim of the policy (after purging expired entries)."""
        st = self.__st
        if self._hooked:
            if st.kind is not None:  # cachetools' TTLCache/TLRUCache: expire first
                with st.timer as now:
                    self.expire(now)
                    return self.__popitem_del()
            if isinstance(st.policy, _Insertion):  # cachetools' Cache has MutableMapping's
                return collections.abc.MutableMapping.popitem(self)  # type: ignore[no-any-return]
            return self.__popitem_del()
        with self.__pending() as pending, self.__clock() as now:
            self.__purge(now, pending)
            if not st.data:
                raise KeyError("%s is empty" % type(self).__name__) from None
            if not st.slow_evict:
                return self.__remove(st.policy.victim(), pending, None, evicted=True)
        return self.__popitem_del()  # a custom choice: cachetools' way

    def __popitem_del(self) -> Tuple[Any, Any]:
        """cachetools' popitem after its purge: the policy's victim (or a custom choice among the
        keys in the policy's order), its value as stored, then ``del self[key]``."""
        st = self.__st
        policy = st.policy
        if isinstance(policy, _Random) and policy.choice is not random.choice:
            keys = policy.order()
            if not keys:
                raise KeyError("%s is empty" % type(self).__name__) from None
            key = policy.choice(keys)
            entry = st.data.get(_Key(key))
            value = entry.value if entry is not None else self.__missing__(key)
        else:
            if not st.data:
                raise KeyError("%s is empty" % type(self).__name__) from None
            entry = policy.victim()
            key, value = entry.k.key, entry.value  # type: ignore[union-attr]
            st.popping = entry  # the subclass's __delitem__ runs; Cache's sees an eviction
            try:
                del self[key]
            finally:
                st.popping = None
            return key, value
        del self[key]
        return key, value

    def clear(self) -> None:
        st = self.__st
        old = st.data, st.heap  # released last, with the cache consistent (empty)
        st.data = {}
        st.heap = []
        st.policy.clear()
        st.currsize = st.memory = st.expiring = 0
        del old

    def copy(self) -> "Cache":
        """A shallow copy (``copy.copy(self)``)."""
        return _copy.copy(self)

    def __copy__(self) -> "Cache":
        cls = type(self)
        new = cls.__new__(cls)
        new.__dict__.update(self.__dict__)
        new.__st = self.__st.copy()
        return new

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Cache":
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        new.__dict__.update(_copy.deepcopy(self.__dict__, memo))
        new.__st.reschedule()
        if new._hooked and new.__st.kind == "ttl":
            new.expire(new.timer())  # cachetools' TTLCache.__setstate__ does (deepcopy, pickle)
        return new

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__st.reschedule()
        if self._hooked and self.__st.kind == "ttl":
            self.expire(self.timer())  # as cachetools' TTLCache.__setstate__

    # ---------------------------------------------------------------- properties

    @property
    def on_evict(self) -> Optional[OnEvict]:
        """``on_evict(key, value, cause)`` or None; may be replaced at any time."""
        return self.__st.on_evict

    @on_evict.setter
    def on_evict(self, fn: Optional[OnEvict]) -> None:
        if fn is not None and not callable(fn):
            raise TypeError("on_evict must be callable or None")
        self.__st.on_evict = fn

    def _set_spill_hook(self, fn: Optional[Callable[..., Any]]) -> None:
        """Install (None: remove) ``fn(key, value, cause, ttl_left)``, called for entries evicted
        for "size" or "memory" only, after on_evict, with the seconds they had left (None: no
        expiry). For a second tier (hotcache.tiers); not copied or pickled."""
        if fn is not None and not callable(fn):
            raise TypeError("the spill hook must be callable or None")
        self.__st.spill = fn

    @property
    def maxsize(self) -> Union[int, float]:
        """The maximum size of the cache (as given)."""
        return self.__st.maxsize

    @property
    def currsize(self) -> int:
        """The current size of the cache: the sum of ``getsizeof`` of the live entries."""
        self.__settle()
        return self.__st.currsize

    @property
    def maxmemory(self) -> Optional[int]:
        """The memory bound in bytes, or None."""
        return self.__st.maxmemory

    @property
    def memory_used(self) -> Optional[int]:
        """Sum of the byte charges of the live entries (None without maxmemory), as the native
        Core's property."""
        st = self.__st
        if st.maxmemory is None:
            return None
        self.__settle()
        return st.memory

    @property
    def timer(self) -> Timer:
        """The timer wrapper used by the cache."""
        return self.__st.timer

    @staticmethod
    def getsizeof(value: Any) -> int:
        """Return the size of a cache element's value."""
        return 1

    # ---------------------------------------------------------------- extensions

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """``self[key] = value``, with an optional per-entry ttl (seconds; ``math.inf`` = none)."""
        ttl = _MARKER if ttl is None else parse_ttl(ttl)
        self.__store(_Key(key), value, ttl)

    def ttl_left(self, key: Any) -> Optional[float]:
        """Seconds until `key` expires, None if it never does; KeyError if absent or expired."""
        k = _Key(key)
        with self.__clock() as now:
            entry = self.__lookup(k, now)
            if entry is None:
                raise KeyError(key)
            if entry.expires is None:
                return None
            left = entry.expires - now
        if isinstance(left, datetime.timedelta):
            return left.total_seconds()
        return float(left)

    ttl = ttl_left  # TTLCache replaces this by cachetools' `ttl` property

    def get_or_set(self, key: Any, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside with single-flight (see hotcache.patterns.get_or_set)."""
        return _get_or_set(self, key, loader, ttl=ttl)

    async def aget_or_set(self, key: Any, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Async cache-aside with single-flight (see hotcache.patterns.aget_or_set)."""
        return await _aget_or_set(self, key, loader, ttl=ttl)

    def peek(self, key: Any, default: Any = None) -> Any:
        """The value of `key` without a policy update or a stats change (expired -> default)."""
        k = _Key(key)
        with self.__clock() as now:
            entry = self.__lookup(k, now)
            return default if entry is None else entry.value

    def resize(self, maxsize: Union[int, float, None] = None, maxmemory: Union[int, str, None] = None) -> None:
        """Change the bounds (None = keep) and evict now to fit them."""
        st = self.__st
        bounds = parse_maxsize(maxsize) if maxsize is not None else None
        newmem = parse_memory(maxmemory)
        charges = None
        if newmem is not None and st.maxmemory is None:  # start charging: every entry, now
            charges = [(e, self.__charge(e.k.key, e.value, limit=False)) for e in list(st.data.values())]  # type: ignore[union-attr]
        with self.__pending() as pending, self.__clock() as now:
            if bounds is not None:
                st.maxsize, st.bound = bounds
            if newmem is not None:
                if charges is not None:
                    for entry, charge in charges:
                        entry.charge = charge if entry.seq else 0
                    st.memory = sum(e.charge for e in st.data.values())
                st.maxmemory = newmem
            st.policy.limits(st.bound, st.maxmemory)
            self.__purge(now, pending)
            self.__make_room(None, 0, 0, pending)

    def expire(self, time: Any = None) -> List[Tuple[Any, Any]]:
        """Remove the expired entries; return their ``(key, value)`` pairs, earliest first."""
        with self.__pending() as pending, (self.__clock() if time is None else contextlib.nullcontext(time)) as now:
            return self.__purge(now, pending)

    def sizing(self) -> Any:
        """The sizing advisor's SizingReport of the lookups seen so far (``sizing=R`` given to
        the constructor; ValueError otherwise)."""
        sizer = self.__st.sizing
        if sizer is None:
            raise ValueError("sizing is off: construct the cache with sizing=R (a sample rate "
                             "in (0, 1], e.g. 0.01) to get its sizing report")
        return sizer.report()

    def stats(self) -> CacheStats:
        """A snapshot of the counters and bounds (purges expired entries first)."""
        st = self.__st
        self.__settle()
        return CacheStats(
            hits=st.hits,
            misses=st.misses,
            inserts=st.inserts,
            updates=st.updates,
            evictions=st.evictions_size + st.evictions_memory,
            evictions_size=st.evictions_size,
            evictions_memory=st.evictions_memory,
            expirations=st.expirations,
            currsize=st.currsize,
            maxsize=st.maxsize,
            memory_used=st.memory if st.maxmemory is not None else None,
            maxmemory=st.maxmemory,
            len=len(st.data),
        )

    # ---------------------------------------------------------------- test hooks

    def _policy_order(self) -> List[Any]:
        """All keys, next victim first (ignoring expiry; RR: the candidates in policy order)."""
        return self.__st.policy.order()  # type: ignore[no-any-return]

    def _policy_info(self) -> Dict[str, Any]:
        """The adaptive policies' queue weights, bounds, ghost and sketch ({} for the others)."""
        info = getattr(self.__st.policy, "info", None)
        return info() if info is not None else {}

    def _policy_frequency(self, key: Any) -> int:
        """TINYLFU: the sketch's estimate for key; S3FIFO: 1 if the ghost remembers it; else 0."""
        freq = getattr(self.__st.policy, "frequency", None)
        return freq(hash(key)) if freq is not None else 0

    def _check(self) -> None:
        """Raise AssertionError if an internal invariant is broken."""
        st = self.__st
        entries = {id(e): e for e in st.data.values()}
        assert len(entries) == len(st.data), "an entry under two keys"
        assert all(e.k is k and e.seq > 0 for k, e in st.data.items()), "entry/key mismatch"
        assert st.currsize == sum(e.size for e in entries.values()), "currsize != sum of sizes"
        assert all(e.size >= 0 for e in entries.values()), "negative size"
        assert st.bound is None or st.currsize <= st.bound, "currsize > maxsize"
        assert st.memory == sum(e.charge for e in entries.values()), "memory != sum of charges"
        if st.maxmemory is None:
            assert st.memory == 0, "charges without maxmemory"
        else:
            assert st.memory <= st.maxmemory, "memory > maxmemory"
        expiring = {(e.expires, e.seq) for e in entries.values() if e.expires is not None}
        assert st.expiring == len(expiring), "expiring count"
        live = set()
        for expires, seq, entry in st.heap:
            if entry.seq == seq:
                assert id(entry) in entries, "live heap item for a removed entry"
                live.add((expires, seq))
            elif id(entry) not in entries:
                assert entry.k is None and entry.value is None, "a removed entry keeps its key/value"
        assert live == expiring, "expiry heap out of sync"
        heap = st.heap
        for i in range(1, len(heap)):
            assert not heap[i] < heap[(i - 1) // 2], "heap order"
        st.policy.check(entries)

