"""The cache classes: each picks one configuration of the C-backed core type.

Drop-in for cachetools 8 (same constructors, semantics and corner cases), plus keyword-only
extensions on every class: ``ttl=``, ``maxmemory=``, ``sizeof=``, ``timer=``, ``on_evict=``,
``sizing=`` (hotcache.sizing).
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable, ClassVar, Optional, Tuple, TypeVar, Union

from ._config import parse_ttl
from ._flight import aget_or_set as _aget_or_set, get_or_set as _get_or_set
from ._native.core import Core, Timer, _type_flags_of

__all__ = ["Cache", "FIFOCache", "LFUCache", "LRUCache", "RRCache", "TLRUCache", "TTLCache", "Timer"]

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

