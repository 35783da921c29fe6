"""The pure-Python twin of hotcache's cache classes: the test oracle and the import fallback.

Same class names, constructors and behaviour as the C-backed classes (see API.md); written for
obviousness, not speed. Every instance keeps ALL of its state in one ``_State`` record::

    data     {key: value}            first-insertion order = iteration order
    sizes    {key: getsizeof(value)} currsize == sum(sizes.values()) <= maxsize
    charges  {key: sizeof + 64}      only with maxmemory; memory == sum(charges.values())
    exp      {key: (expires, seq)}   entries that expire; heap holds (expires, seq, key),
    heap     [(expires, seq, key)]   stale tuples (seq no longer in exp) are skipped lazily
    policy   _Insertion | _FIFO | _LRU | _LFU | _Random: the eviction order, next victim first

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
   (it is skipped; evicting all others always suffices). A subclass that overrides
   ``popitem`` is called instead, like cachetools, and may return the key itself; the store
   then counts as an insert.
6. store; policy insert (new key) or update (re-assignment: LRU/LFU use, FIFO move to newest).
7. on_evict callbacks, after the cache is consistent; the first exception is re-raised.

Expired entries are invisible to lookups but only removed by purges: every store,
``popitem``, ``len``, ``currsize``, ``repr``, ``stats``, ``resize`` and ``expire`` purge all
of them; ``del``/``pop`` of an expired key removes that entry as an expiration and then
behaves as for a missing key. Lookups (``[]``, ``get``, ``in``, ``peek``, ``ttl_left``,
iteration) never remove anything.

RRCache: with the default ``random.choice`` the victim is ``keys[rng.randrange(len(keys))]``
with ``rng = random.Random(seed)`` over the keys in the order they entered the policy; the C core
uses its own PRNG, so core and twin agree on membership and sizes, not on the exact victims.

Not thread-safe beyond what the GIL gives single bytecodes: unlike the C core, a public call is
not atomic with respect to other threads.
"""

from __future__ import annotations

import collections
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

from ._config import ENTRY_OVERHEAD, default_sizeof, parse_maxsize, parse_memory, parse_ttl
from .stats import CacheStats

__all__ = [
    "ENTRY_OVERHEAD",
    "Cache",
    "FIFOCache",
    "LFUCache",
    "LRUCache",
    "RRCache",
    "TLRUCache",
    "TTLCache",
    "Timer",
]

_MARKER: Any = object()  # "no default given" / "no ttl given" / "no key to protect"
_NO_CLOCK = contextlib.nullcontext()  # enters as None: an untimed operation reads no clock
_HEAP_SLACK = 2  # rebuild the expiry heap when it holds > 2x the expiring entries (+16)

OnEvict = Callable[[Any, Any, str], Any]


class Timer:
    """Wraps a cache's timer: ``t()`` reads it; ``with t as now:`` freezes it (nesting counts)."""

    def __init__(self, timer: Callable[[], Any]) -> None:
        self.__timer = timer
        self.__nesting = 0
        self.__time: Any = None

    def __call__(self) -> Any:
        if self.__nesting == 0:
            return self.__timer()
        return self.__time

    def __enter__(self) -> Any:
        if self.__nesting == 0:
            self.__time = now = self.__timer()
        else:
            now = self.__time
        self.__nesting += 1
        return now

    def __exit__(self, *exc: Any) -> None:
        self.__nesting -= 1

    def __copy__(self) -> "Timer":
        return Timer(self.__timer)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Timer":
        # defined so that __getattr__ doesn't forward to the wrapped timer's __deepcopy__
        return Timer(_copy.deepcopy(self.__timer, memo))

    def __reduce__(self) -> Tuple[Any, ...]:
        return Timer, (self.__timer,)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__timer, name)

    def __repr__(self) -> str:
        return "Timer(%r)" % (self.__timer,)


# --------------------------------------------------------------------------- policies
# Each policy keeps its own view of the keys; victim(protect) returns the next victim, skipping
# `protect` (the key being re-assigned). The cache guarantees the policy is not empty.


def _same(a: Any, b: Any) -> bool:
    return b is not _MARKER and (a is b or a == b)


class _ListPolicy:
    """Keys in an OrderedDict, next victim first."""

    move_on_touch = False  # a read hit moves the key to the newest end
    move_on_update = False  # a re-assignment does

    def __init__(self) -> None:
        self.keys: "collections.OrderedDict[Any, None]" = collections.OrderedDict()

    def insert(self, key: Any) -> None:
        self.keys[key] = None

    def touch(self, key: Any) -> None:
        if self.move_on_touch:
            self.keys.move_to_end(key)

    def update(self, key: Any) -> None:
        if self.move_on_update:
            self.keys.move_to_end(key)

    def remove(self, key: Any) -> None:
        del self.keys[key]

    def victim(self, protect: Any = _MARKER) -> Any:
        it = iter(self.keys)
        key = next(it)
        return next(it) if _same(key, protect) else key

    def order(self) -> List[Any]:
        return list(self.keys)

    def clear(self) -> None:
        self.keys.clear()

    def copy(self) -> "_ListPolicy":
        new = type(self)()
        new.keys = self.keys.copy()
        return new

    def check(self, data: Dict[Any, Any]) -> None:
        assert len(self.keys) == len(data) and all(k in data for k in self.keys), "policy keys != data keys"


class _Insertion(_ListPolicy):
    """Cache: first-insertion order; nothing moves a key."""


class _FIFO(_ListPolicy):
    """FIFOCache: reads don't reorder; re-assignment moves to newest."""

    move_on_update = True


class _LRU(_ListPolicy):
    """LRUCache, TTLCache, TLRUCache: read hits and re-assignments are uses."""

    move_on_touch = True
    move_on_update = True


class _LFU:
    """LFUCache: use counts; a new key starts at 1; ties -> least recently used in the bucket."""

    def __init__(self) -> None:
        self.counts: Dict[Any, int] = {}
        self.buckets: Dict[int, "collections.OrderedDict[Any, None]"] = {}

    def insert(self, key: Any) -> None:
        self.counts[key] = 1
        self.buckets.setdefault(1, collections.OrderedDict())[key] = None

    def _unlink(self, key: Any) -> int:
        count = self.counts.pop(key)
        bucket = self.buckets[count]
        del bucket[key]
        if not bucket:
            del self.buckets[count]
        return count

    def touch(self, key: Any) -> None:
        count = self._unlink(key) + 1
        self.counts[key] = count
        self.buckets.setdefault(count, collections.OrderedDict())[key] = None

    update = touch

    def remove(self, key: Any) -> None:
        self._unlink(key)

    def victim(self, protect: Any = _MARKER) -> Any:
        for count in sorted(self.buckets):
            for key in self.buckets[count]:
                if not _same(key, protect):
                    return key
        raise KeyError("no victim")  # pragma: no cover - the cache checks first

    def order(self) -> List[Any]:
        return [key for count in sorted(self.buckets) for key in self.buckets[count]]

    def clear(self) -> None:
        self.counts.clear()
        self.buckets.clear()

    def copy(self) -> "_LFU":
        new = _LFU()
        new.counts = self.counts.copy()
        new.buckets = {count: bucket.copy() for count, bucket in self.buckets.items()}
        return new

    def check(self, data: Dict[Any, Any]) -> None:
        assert len(self.counts) == len(data) and all(k in data for k in self.counts), "LFU keys != data keys"
        assert sum(len(b) for b in self.buckets.values()) == len(self.counts), "LFU buckets size"
        for count, bucket in self.buckets.items():
            assert bucket and count >= 1, "empty or invalid LFU bucket"
            assert all(self.counts[k] == count for k in bucket), "LFU key in the wrong bucket"


class _Random:
    """RRCache: uniform victim among the keys, in the order they entered the policy."""

    def __init__(self, choice: Callable[[Any], Any], seed: Optional[int]) -> None:
        self.choice = choice
        self.keys: "collections.OrderedDict[Any, None]" = collections.OrderedDict()
        self.rng = random.Random(seed)

    def insert(self, key: Any) -> None:
        self.keys[key] = None

    def touch(self, key: Any) -> None:
        pass

    update = touch

    def remove(self, key: Any) -> None:
        del self.keys[key]

    def victim(self, protect: Any = _MARKER) -> Any:
        keys = [k for k in self.keys if not _same(k, protect)]
        if self.choice is random.choice:
            return keys[self.rng.randrange(len(keys))]
        return self.choice(keys)

    def order(self) -> List[Any]:
        return list(self.keys)

    def clear(self) -> None:
        self.keys.clear()

    def copy(self) -> "_Random":
        new = _Random(self.choice, None)
        new.keys = self.keys.copy()
        new.rng.setstate(self.rng.getstate())
        return new

    def check(self, data: Dict[Any, Any]) -> None:
        assert len(self.keys) == len(data) and all(k in data for k in self.keys), "RR keys != data keys"

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


# --------------------------------------------------------------------------- state


class _State:
    """Everything a cache owns (one attribute, so copy.copy can replace it wholesale)."""

    def __init__(self) -> None:
        self.data: Dict[Any, Any] = {}
        self.sizes: Dict[Any, int] = {}
        self.currsize = 0
        self.maxsize: Union[int, float] = 0
        self.bound: Optional[int] = 0
        self.maxmemory: Optional[int] = None
        self.charges: Dict[Any, int] = {}
        self.memory = 0
        self.sizeof: Optional[Callable[[Any, Any], int]] = None
        self.exp: Dict[Any, Tuple[Any, int]] = {}
        self.heap: List[Tuple[Any, int, Any]] = []
        self.seq = 0
        self.kind: Optional[str] = None  # None, "ttl" (TTLCache) or "tlru" (TLRUCache)
        self.ttl_value: Any = None  # TTLCache's positional ttl
        self.ttu: Optional[Callable[[Any, Any, Any], Any]] = None
        self.default_ttl: Optional[float] = None  # the ttl= extension
        self.timer = Timer(time.monotonic)
        self.on_evict: Optional[OnEvict] = None
        self.policy: Any = None
        self.hits = self.misses = self.inserts = self.updates = 0
        self.evictions_size = self.evictions_memory = self.expirations = 0

    def copy(self) -> "_State":
        new = _State.__new__(_State)
        new.__dict__.update(self.__dict__)
        new.data = self.data.copy()
        new.sizes = self.sizes.copy()
        new.charges = self.charges.copy()
        new.exp = self.exp.copy()
        new.heap = list(self.heap)
        new.timer = self.timer.__copy__()
        new.policy = self.policy.copy()
        return new


class _Pending(list):  # type: ignore[type-arg]
    """Evicted (key, value, cause) triples of one operation; on_evict runs on exit.

    If the operation itself raised, its exception wins and callback errors are dropped;
    otherwise every callback runs and the first callback exception is re-raised.
    """

    def __init__(self, on_evict: Optional[OnEvict]) -> None:
        super().__init__()
        self.on_evict = on_evict

    def __enter__(self) -> "_Pending":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        callback = self.on_evict
        if callback is None or not self:
            return
        first: Optional[BaseException] = None
        for key, value, cause in self:
            try:
                callback(key, value, cause)
            except BaseException as err:  # noqa: B902 - re-raised below
                if first is None:
                    first = err
        del self[:]
        if first is not None and exc_type is None:
            raise first


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
    ) -> None:
        self.__setup(maxsize, getsizeof, _Insertion(), timer, ttl, maxmemory, sizeof, on_evict)

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
        self.__st = st

    # ---------------------------------------------------------------- helpers

    def __clock(self, force: bool = False) -> Any:
        """The frozen clock for one operation, or a null context if no entry can expire."""
        st = self.__st
        if force or st.kind is not None or st.default_ttl is not None or st.exp:
            return st.timer
        return _NO_CLOCK

    def __pending(self) -> _Pending:
        return _Pending(self.__st.on_evict)

    def __live(self, key: Any, now: Any) -> bool:
        entry = self.__st.exp.get(key)
        return entry is None or now < entry[0]

    def __remove(self, key: Any) -> Any:
        """Take `key` out of every structure; return its value."""
        st = self.__st
        value = st.data.pop(key)
        st.currsize -= st.sizes.pop(key)
        if st.maxmemory is not None:
            st.memory -= st.charges.pop(key)
        st.exp.pop(key, None)
        st.policy.remove(key)
        return value

    def __purge(self, now: Any, pending: _Pending) -> List[Tuple[Any, Any]]:
        """Remove every entry with ``not now < expires``, earliest expiry first."""
        st = self.__st
        out: List[Tuple[Any, Any]] = []
        if now is None or not st.exp:
            return out
        heap = st.heap
        while heap:
            expires, seq, key = heap[0]
            entry = st.exp.get(key)
            if entry is None or entry[1] != seq:
                heapq.heappop(heap)  # stale
                continue
            if now < expires:
                break
            heapq.heappop(heap)
            value = self.__remove(key)
            st.expirations += 1
            pending.append((key, value, "expired"))
            out.append((key, value))
        return out

    def __set_expiry(self, key: Any, expires: Any) -> None:
        st = self.__st
        if expires is None:
            st.exp.pop(key, None)
            return
        st.seq += 1
        st.exp[key] = (expires, st.seq)
        heapq.heappush(st.heap, (expires, st.seq, key))
        if len(st.heap) > _HEAP_SLACK * len(st.exp) + 16:
            st.heap = [(e, s, k) for (e, s, k) in st.heap if st.exp.get(k, (None, None))[1] == s]
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

    def __make_room(self, key: Any, size: int, charge: int, pending: _Pending) -> None:
        """Evict until `key` (or nothing: _MARKER) with `size`/`charge` fits both bounds."""
        st = self.__st
        native = type(self).popitem is Cache.popitem
        while True:
            present = key is not _MARKER and key in st.data
            old_size = st.sizes[key] if present else 0
            over_size = st.bound is not None and st.currsize - old_size + size > st.bound
            over_mem = False
            if st.maxmemory is not None:
                old_charge = st.charges[key] if present else 0
                over_mem = st.memory - old_charge + charge > st.maxmemory
            if not (over_size or over_mem):
                return
            if native:
                victim = st.policy.victim(key if present else _MARKER)
                value = st.data[victim]  # KeyError if a custom choice returned a stranger
                self.__remove(victim)
            else:
                before = len(st.data)
                victim, value = self.popitem()
                if len(st.data) >= before:
                    raise RuntimeError("popitem() did not remove an item")
            if over_size:
                st.evictions_size += 1
                pending.append((victim, value, "size"))
            else:
                st.evictions_memory += 1
                pending.append((victim, value, "memory"))

    def __store(self, key: Any, value: Any, ttl: Any) -> None:
        st = self.__st
        hash(key)
        with self.__pending() as pending, self.__clock(force=ttl is not _MARKER and ttl is not None) as now:
            expires = self.__expiry(key, value, now, ttl)
            if expires is not None and not (now < expires):  # dead on arrival
                self.__purge(now, pending)
                if key in st.data:
                    self.__remove(key)
                return
            size = self.__itemsize(value)
            charge = self.__charge(key, value) if st.maxmemory is not None else 0
            self.__purge(now, pending)
            self.__make_room(key, size, charge, pending)
            if key in st.data:
                st.currsize += size - st.sizes[key]
                if st.maxmemory is not None:
                    st.memory += charge - st.charges[key]
                    st.charges[key] = charge
                st.data[key] = value
                st.sizes[key] = size
                st.policy.update(key)
                st.updates += 1
            else:
                st.data[key] = value
                st.sizes[key] = size
                st.currsize += size
                if st.maxmemory is not None:
                    st.charges[key] = charge
                    st.memory += charge
                st.policy.insert(key)
                st.inserts += 1
            self.__set_expiry(key, expires)

    # ---------------------------------------------------------------- mapping surface

    def __repr__(self) -> str:
        st = self.__st
        with self.__pending() as pending, self.__clock() as now:
            self.__purge(now, pending)
            return "%s(%r, maxsize=%r, currsize=%r)" % (type(self).__name__, st.data, st.maxsize, st.currsize)

    def __getitem__(self, key: Any) -> Any:
        st = self.__st
        with self.__clock() as now:
            if key in st.data and self.__live(key, now):
                st.policy.touch(key)
                st.hits += 1
                return st.data[key]
            st.misses += 1
        return self.__missing__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__store(key, value, _MARKER)

    def __delitem__(self, key: Any) -> None:
        st = self.__st
        with self.__pending() as pending, self.__clock() as now:
            if key not in st.data:
                raise KeyError(key)
            live = self.__live(key, now)
            value = self.__remove(key)
            if not live:
                st.expirations += 1
                pending.append((key, value, "expired"))
        if not live:
            raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        st = self.__st
        with self.__clock() as now:
            return key in st.data and self.__live(key, now)

    def __missing__(self, key: Any) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        st = self.__st
        for key in list(st.data):
            with self.__clock() as now:
                alive = key in st.data and self.__live(key, now)
            if alive:
                yield key

    def __len__(self) -> int:
        st = self.__st
        with self.__pending() as pending, self.__clock() as now:
            self.__purge(now, pending)
            return len(st.data)

    def get(self, key: Any, default: Any = None) -> Any:
        st = self.__st
        with self.__clock() as now:
            if key in st.data and self.__live(key, now):
                st.policy.touch(key)
                st.hits += 1
                return st.data[key]
            st.misses += 1
            return default

    def pop(self, key: Any, default: Any = _MARKER) -> Any:
        st = self.__st
        found = False
        with self.__pending() as pending, self.__clock() as now:
            if key in st.data:
                live = self.__live(key, now)
                value = self.__remove(key)
                if live:
                    found = True
                else:
                    st.expirations += 1
                    pending.append((key, value, "expired"))
        if found:
            return value
        if default is _MARKER:
            raise KeyError(key)
        return default

    def setdefault(self, key: Any, default: Any = None) -> Any:
        st = self.__st
        with self.__clock() as now:  # one clock read for the lookup and the store
            if key in st.data and self.__live(key, now):
                st.policy.touch(key)
                st.hits += 1
                return st.data[key]
            st.misses += 1
            self[key] = default
            return default

    def popitem(self) -> Tuple[Any, Any]:
        """Remove and return the next victim of the policy (after purging expired entries)."""
        st = self.__st
        with self.__pending() as pending, self.__clock() as now:
            self.__purge(now, pending)
            if not st.data:
                raise KeyError("%s is empty" % type(self).__name__) from None
            key = st.policy.victim()
            value = st.data[key]
            self.__remove(key)
        return (key, value)

    def clear(self) -> None:
        st = self.__st
        st.data.clear()
        st.sizes.clear()
        st.charges.clear()
        st.exp.clear()
        st.heap = []
        st.policy.clear()
        st.currsize = st.memory = 0

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
        return new

    # ---------------------------------------------------------------- properties

    @property
    def maxsize(self) -> Union[int, float]:
        """The maximum size of the cache (as given)."""
        return self.__st.maxsize

    @property
    def currsize(self) -> int:
        """The current size of the cache: the sum of ``getsizeof`` of the live entries."""
        st = self.__st
        with self.__pending() as pending, self.__clock() as now:
            self.__purge(now, pending)
            return st.currsize

    @property
    def maxmemory(self) -> Optional[int]:
        """The memory bound in bytes, or None."""
        return self.__st.maxmemory

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
        self.__store(key, value, _MARKER if ttl is None else parse_ttl(ttl))

    def ttl_left(self, key: Any) -> Optional[float]:
        """Seconds until `key` expires, None if it never does; KeyError if absent or expired."""
        st = self.__st
        with self.__clock() as now:
            if key not in st.data or not self.__live(key, now):
                raise KeyError(key)
            entry = st.exp.get(key)
            if entry is None:
                return None
            left = entry[0] - now
        if isinstance(left, datetime.timedelta):
            return left.total_seconds()
        return float(left)

    ttl = ttl_left  # TTLCache replaces this by cachetools' `ttl` property

    def peek(self, key: Any, default: Any = None) -> Any:
        """The value of `key` without a policy update or a stats change (expired -> default)."""
        st = self.__st
        with self.__clock() as now:
            if key in st.data and self.__live(key, now):
                return st.data[key]
            return default

    def resize(self, maxsize: Union[int, float, None] = None, maxmemory: Union[int, str, None] = None) -> None:
        """Change the bounds (None = keep) and evict now to fit them."""
        st = self.__st
        bounds = parse_maxsize(maxsize) if maxsize is not None else None
        newmem = parse_memory(maxmemory)
        charges = None
        if newmem is not None and st.maxmemory is None:  # start charging: every entry, now
            charges = {key: self.__charge(key, value, limit=False) for key, value in st.data.items()}
        with self.__pending() as pending, self.__clock() as now:
            if bounds is not None:
                st.maxsize, st.bound = bounds
            if newmem is not None:
                if charges is not None:
                    st.charges = charges
                    st.memory = sum(charges.values())
                st.maxmemory = newmem
            self.__purge(now, pending)
            self.__make_room(_MARKER, 0, 0, pending)

    def expire(self, time: Any = None) -> List[Tuple[Any, Any]]:
        """Remove the expired entries; return their ``(key, value)`` pairs, earliest first."""
        with self.__pending() as pending, (self.__clock() if time is None else contextlib.nullcontext(time)) as now:
            return self.__purge(now, pending)

    def stats(self) -> CacheStats:
        """A snapshot of the counters and bounds (purges expired entries first)."""
        st = self.__st
        with self.__pending() as pending, self.__clock() as now:
            self.__purge(now, pending)
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
        return self.__st.policy.order()

    def _check(self) -> None:
        """Raise AssertionError if an internal invariant is broken."""
        st = self.__st
        data = st.data
        assert len(st.sizes) == len(data) and all(k in data for k in st.sizes), "sizes keys != data keys"
        assert st.currsize == sum(st.sizes.values()), "currsize != sum of sizes"
        assert all(s >= 0 for s in st.sizes.values()), "negative size"
        assert st.bound is None or st.currsize <= st.bound, "currsize > maxsize"
        if st.maxmemory is None:
            assert not st.charges and st.memory == 0, "charges without maxmemory"
        else:
            assert len(st.charges) == len(data) and all(k in data for k in st.charges), "charges keys"
            assert st.memory == sum(st.charges.values()), "memory != sum of charges"
            assert st.memory <= st.maxmemory, "memory > maxmemory"
        assert all(k in data for k in st.exp), "expiry for an absent key"
        live = {(e, s) for (e, s, k) in st.heap if st.exp.get(k, (None, None))[1] == s}
        assert live == set(st.exp.values()), "expiry heap out of sync"
        heap = st.heap
        for i in range(1, len(heap)):
            assert not heap[i] < heap[(i - 1) // 2], "heap order"
        st.policy.check(data)


class FIFOCache(Cache):
    """First In First Out (FIFO) cache: re-assignment moves a key to newest, reads don't."""

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
    ) -> None:
        self._Cache__setup(maxsize, getsizeof, _FIFO(), timer, ttl, maxmemory, sizeof, on_evict)  # type: ignore[attr-defined]


class LFUCache(Cache):
    """Least Frequently Used (LFU) cache: ties go to the least recently used."""

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
    ) -> None:
        self._Cache__setup(maxsize, getsizeof, _LFU(), timer, ttl, maxmemory, sizeof, on_evict)  # type: ignore[attr-defined]


class LRUCache(Cache):
    """Least Recently Used (LRU) cache."""

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
    ) -> None:
        self._Cache__setup(maxsize, getsizeof, _LRU(), timer, ttl, maxmemory, sizeof, on_evict)  # type: ignore[attr-defined]


class RRCache(Cache):
    """Random Replacement (RR) cache.

    With the default ``choice=random.choice`` the victim comes from a private
    ``random.Random(seed)``, not from ``random.choice``; the C core uses its own PRNG, so the two
    implementations agree on membership and sizes only, never on which key was the victim.
    """

    def __init__(
        self,
        maxsize: Union[int, float],
        choice: Callable[[Any], Any] = random.choice,
        getsizeof: Optional[Callable[[Any], int]] = None,
        *,
        seed: Optional[int] = None,
        ttl: Optional[float] = None,
        maxmemory: Union[int, str, None] = None,
        sizeof: Optional[Callable[[Any, Any], int]] = None,
        timer: Callable[[], Any] = time.monotonic,
        on_evict: Optional[OnEvict] = None,
    ) -> None:
        if not callable(choice):
            raise TypeError("choice must be callable, not %s" % type(choice).__name__)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError("seed must be an int or None, not %s" % type(seed).__name__)
        policy = _Random(choice, seed)
        self._Cache__setup(maxsize, getsizeof, policy, timer, ttl, maxmemory, sizeof, on_evict)  # type: ignore[attr-defined]

    @property
    def choice(self) -> Callable[[Any], Any]:
        """The `choice` function used by the cache."""
        return self._Cache__st.policy.choice  # type: ignore[attr-defined,no-any-return]


class TTLCache(Cache):
    """LRU cache whose items expire ``ttl`` after they were set (cachetools' TTLCache)."""

    def __init__(
        self,
        maxsize: Union[int, float],
        ttl: Any,
        timer: Callable[[], Any] = time.monotonic,
        getsizeof: Optional[Callable[[Any], int]] = None,
        *,
        maxmemory: Union[int, str, None] = None,
        sizeof: Optional[Callable[[Any, Any], int]] = None,
        on_evict: Optional[OnEvict] = None,
    ) -> None:
        self._Cache__setup(  # type: ignore[attr-defined]
            maxsize, getsizeof, _LRU(), timer, None, maxmemory, sizeof, on_evict, kind="ttl", ttl_value=ttl
        )

    @property  # type: ignore[override]
    def ttl(self) -> Any:
        """The time-to-live value of the cache's items."""
        return self._Cache__st.ttl_value  # type: ignore[attr-defined]


class TLRUCache(Cache):
    """Time-aware LRU cache: ``ttu(key, value, now)`` gives each item's expiry time."""

    def __init__(
        self,
        maxsize: Union[int, float],
        ttu: Callable[[Any, Any, Any], Any],
        timer: Callable[[], Any] = time.monotonic,
        getsizeof: Optional[Callable[[Any], int]] = None,
        *,
        ttl: Optional[float] = None,
        maxmemory: Union[int, str, None] = None,
        sizeof: Optional[Callable[[Any, Any], int]] = None,
        on_evict: Optional[OnEvict] = None,
    ) -> None:
        self._Cache__setup(  # type: ignore[attr-defined]
            maxsize, getsizeof, _LRU(), timer, ttl, maxmemory, sizeof, on_evict, kind="tlru", ttu=ttu
        )

    @property
    def ttu(self) -> Callable[[Any, Any, Any], Any]:
        """The time-to-use function used by the cache."""
        return self._Cache__st.ttu  # type: ignore[attr-defined,no-any-return]
