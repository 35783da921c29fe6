"""The cache classes: each picks one configuration of the C-backed core type.

Drop-in for cachetools 8 (same constructors, semantics and corner cases), plus keyword-only
extensions on every class: ``ttl=``, ``maxmemory=``, ``sizeof=``, ``timer=``, ``on_evict=``,
``sizing=`` (hotcache.sizing).
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable, ClassVar, Dict, Optional, Tuple, TypeVar, Union

from ._config import parse_ttl
from ._flight import aget_or_set as _aget_or_set, get_or_set as _get_or_set
from ._native.core import Core, Timer, _type_flags_of

__all__ = [
    "Cache", "FIFOCache", "LFUCache", "LRUCache", "RRCache", "S3FIFOCache", "TLRUCache", "TTLCache",
    "Timer", "TinyLFUCache",
]

K = TypeVar("K")
V = TypeVar("V")
Memory = Union[int, str, None]
OnEvict = Optional[Callable[[Any, Any, str], Any]]


class Cache(Core[K, V]):  # type: ignore[misc]
    """Mutable mapping that evicts in first-insertion order (cachetools' ``Cache``).

    Re-assigning a key keeps its place. Every hotcache class accepts the keyword-only
    extensions ``ttl`` (default seconds to live), ``maxmemory`` (bytes, or "64MB"),
    ``sizeof(key, value)`` (bytes charged per entry), ``timer``, ``on_evict(key, value, cause)``
    and ``sizing`` (a sample rate in (0, 1]: the sizing advisor, read with ``sizing()``).
    """

    # No instance __dict__ (a method lookup on a dict-less object is a specialised fast path);
    # Python subclasses that add attributes get a __dict__ as usual.
    __slots__ = ("__weakref__",)
    _policy_name = "insertion"
    _cachetools_kind: ClassVar[Optional[str]] = None  # "ttl"/"tlru": cachetools' timed classes call expire()
    _hc_flags: ClassVar[Tuple[int, int]]  # what the class overrides, set when it is created

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Decided once per class: which paths its instances take. A class that overrides one of
        # the methods cachetools calls on self (docs/compat.md) gets cachetools' call
        # graph; one that overrides none keeps the native paths.
        super().__init_subclass__(**kwargs)
        cls._hc_flags = _type_flags_of(cls)

    def __init__(self, maxsize: float, getsizeof: Optional[Callable[[Any], int]] = None, *,
                 ttl: Optional[float] = None, maxmemory: Memory = None,
                 sizeof: Optional[Callable[[Any, Any], int]] = None,
                 timer: Callable[[], Any] = time.monotonic, on_evict: OnEvict = None, sizing: Optional[float] = None) -> None:
        Core.__init__(self, maxsize, getsizeof, policy=self._policy_name,
                      ttl=_extension_ttl(ttl), timer=timer, maxmemory=maxmemory,
                      sizeof_fn=sizeof, on_evict=on_evict, sizing=sizing)

    def ttl(self, key: Any) -> Optional[float]:
        """Seconds until ``key`` expires, ``None`` if it never does (KeyError if absent)."""
        return self.ttl_left(key)

    def get_or_set(self, key: Any, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside: the value of ``key``, else ``loader()`` stored (with ``ttl``) and returned.
        Single-flight: concurrent callers missing the same key run ``loader`` once."""
        return _get_or_set(self, key, loader, ttl=ttl)

    async def aget_or_set(self, key: Any, loader: Callable[[], Any],
                          ttl: Optional[float] = None) -> Any:
        """``get_or_set`` for asyncio: ``loader`` may be a coroutine function; concurrent tasks
        missing the same key await one load."""
        return await _aget_or_set(self, key, loader, ttl=ttl)


class LRUCache(Cache):
    """Least Recently Used: reads and re-assignments are uses; ``in`` is not."""

    __slots__ = ()

    _policy_name = "lru"


class LFUCache(Cache):
    """Least Frequently Used, O(1) frequency buckets; ties go to the least recently used."""

    __slots__ = ()

    _policy_name = "lfu"


class FIFOCache(Cache):
    """First In First Out: reads don't reorder; re-assigning a key makes it the newest."""

    __slots__ = ()

    _policy_name = "fifo"


class S3FIFOCache(Cache):
    """S3-FIFO (Yang et al., SOSP 2023): a small FIFO for new keys (10 %), a main FIFO (90 %)
    and a ghost of keys recently evicted from small.

    A read only bumps the entry's 2-bit use counter (nothing moves, so a hit costs what a FIFO
    hit costs); a key read again while in small is promoted to main when it reaches the front,
    a key the ghost remembers goes straight to main. ``popitem()`` removes the next victim
    (counted as an eviction by the policy: its key enters the ghost, as on eviction).
    """

    __slots__ = ()

    _policy_name = "s3fifo"

    def policy_info(self) -> Dict[str, Any]:
        """The policy's queues: ``small_weight``/``main_weight`` (sizes, or byte charges when
        only maxmemory bounds the cache), ``small_len``/``main_len``, their bounds
        ``small_max``/``main_max`` and ``ghost_len`` (hashes the ghost remembers)."""
        return self._policy_info()  # type: ignore[no-any-return]


class TinyLFUCache(Cache):
    """W-TinyLFU (Einziger et al., TOS 2017, on Caffeine's design): a window LRU for new keys, a
    segmented main (probation and protected LRUs), and a 4-bit count-min sketch of every key's
    recent frequency, lookups that miss included. A candidate leaving the window enters main
    only if the sketch estimates it more frequent than main's victim; the window's share adapts
    by hill climbing, so recency-heavy and frequency-heavy workloads both do well.

    The recommended cache for general use. ``seed=`` seeds the admission jitter (1 in 128
    admissions of a frequent candidate ignore the sketch, so crafted keys cannot lock main);
    ``None`` draws one.
    """

    __slots__ = ()

    _policy_name = "tinylfu"

    def __init__(self, maxsize: float, getsizeof: Optional[Callable[[Any], int]] = None, *,
                 ttl: Optional[float] = None, maxmemory: Memory = None,
                 sizeof: Optional[Callable[[Any, Any], int]] = None,
                 timer: Callable[[], Any] = time.monotonic, on_evict: OnEvict = None,
                 seed: Optional[int] = None, sizing: Optional[float] = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError("seed must be an int or None, not %s" % type(seed).__name__)
        Core.__init__(self, maxsize, getsizeof, policy="tinylfu", ttl=_extension_ttl(ttl),
                      timer=timer, maxmemory=maxmemory, sizeof_fn=sizeof, on_evict=on_evict,
                      seed=seed, sizing=sizing)

    def policy_info(self) -> Dict[str, Any]:
        """The policy's regions: ``window_weight``/``probation_weight``/``protected_weight``
        (sizes, or byte charges when only maxmemory bounds the cache), their ``*_len``,
        ``window_max``, ``protected_max``, ``protected_share`` (of main), ``ghost_len``,
        ``ghost_sample`` (the ghost keeps one victim in this many) and ``sketch_capacity``."""
        return self._policy_info()  # type: ignore[no-any-return]

    def frequency(self, key: Any) -> int:
        """The sketch's estimate (0..15) of how often ``key`` was used or missed lately."""
        return self._policy_frequency(key)  # type: ignore[no-any-return]


class RRCache(Cache):
    """Random Replacement: a uniformly random victim.

    With the default ``choice=random.choice`` the victim comes from a native seeded PRNG
    (``seed=`` makes it reproducible); any other ``choice`` is called with the current keys.
    """

    __slots__ = ()

    _policy_name = "random"

    def __init__(self, maxsize: float, choice: Callable[[Any], Any] = random.choice,
                 getsizeof: Optional[Callable[[Any], int]] = None, *,
                 seed: Optional[int] = None, ttl: Optional[float] = None,
                 maxmemory: Memory = None, sizeof: Optional[Callable[[Any, Any], int]] = None,
                 timer: Callable[[], Any] = time.monotonic, on_evict: OnEvict = None, sizing: Optional[float] = None) -> None:
        Core.__init__(self, maxsize, getsizeof, policy="random", ttl=_extension_ttl(ttl),
                      timer=timer, maxmemory=maxmemory, sizeof_fn=sizeof, on_evict=on_evict,
                      choice=choice, seed=seed, sizing=sizing)

    @property
    def choice(self) -> Callable[[Any], Any]:
        """The ``choice`` function given to the constructor."""
        return self._get_choice()


class TTLCache(Cache):
    """LRU cache whose items expire ``ttl`` after they were stored (timer units, or a timedelta
    with a datetime timer)."""

    __slots__ = ()
    _cachetools_kind = "ttl"

    def __init__(self, maxsize: float, ttl: Any, timer: Callable[[], Any] = time.monotonic,
                 getsizeof: Optional[Callable[[Any], int]] = None, *, maxmemory: Memory = None,
                 sizeof: Optional[Callable[[Any, Any], int]] = None,
                 on_evict: OnEvict = None, sizing: Optional[float] = None) -> None:
        Core.__init__(self, maxsize, getsizeof, policy="lru", ttl=_cachetools_ttl(ttl),
                      timer=timer, maxmemory=maxmemory, sizeof_fn=sizeof, on_evict=on_evict, sizing=sizing)

    @property
    def ttl(self) -> Any:
        """The time-to-live value of the cache's items."""
        return self.default_ttl


class TLRUCache(Cache):
    """LRU cache whose items expire at ``ttu(key, value, now)`` (capped at ``now + ttl`` when
    the keyword ``ttl`` is given)."""

    __slots__ = ()
    _cachetools_kind = "tlru"

    def __init__(self, maxsize: float, ttu: Callable[[Any, Any, Any], Any],
                 timer: Callable[[], Any] = time.monotonic,
                 getsizeof: Optional[Callable[[Any], int]] = None, *, ttl: Optional[float] = None,
                 maxmemory: Memory = None, sizeof: Optional[Callable[[Any, Any], int]] = None,
                 on_evict: OnEvict = None, sizing: Optional[float] = None) -> None:
        Core.__init__(self, maxsize, getsizeof, policy="lru", ttu=ttu, ttl=_extension_ttl(ttl),
                      timer=timer, maxmemory=maxmemory, sizeof_fn=sizeof, on_evict=on_evict, sizing=sizing)

    @property
    def ttu(self) -> Callable[[Any, Any, Any], Any]:
        """The time-to-use function."""
        return self._get_ttu()


Cache._hc_flags = _type_flags_of(Cache)


def _extension_ttl(ttl: Any) -> Optional[float]:
    return parse_ttl(ttl)


def _cachetools_ttl(ttl: Any) -> Any:
    """TTLCache's positional ttl: any number or timedelta, as cachetools accepts it; a plain
    int becomes a float so the hot path adds doubles."""
    if ttl is None:
        raise TypeError("TTLCache needs a ttl")
    if isinstance(ttl, int) and not isinstance(ttl, bool):
        return float(ttl)
    return ttl

