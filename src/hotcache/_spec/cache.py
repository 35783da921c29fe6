"""The twin's cache classes by policy, as hotcache.cache defines the native ones: each picks a
policy (``_policy``, or a policy object given to ``Cache.__setup``) and, for the timed classes,
cachetools' kind ("ttl"/"tlru"). Everything else is ``hotcache._spec.core.Cache``'s.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Dict, Optional, Union

from .core import Cache
from .sizing import register
from .entries import OnEvict
from .policy_lfu import _LFU
from .policy_order import _FIFO, _LRU
from .policy_random import _Random
from .policy_s3fifo import S3FIFO
from .policy_tinylfu import TinyLFU
from .._config import parse_maxsize, parse_memory

__all__ = ["FIFOCache", "LFUCache", "LRUCache", "RRCache", "S3FIFOCache", "TLRUCache", "TTLCache", "TinyLFUCache"]


class FIFOCache(Cache):
    """First In First Out (FIFO) cache: re-assignment moves a key to newest, reads don't."""

    _policy = _FIFO


class LFUCache(Cache):
    """Least Frequently Used (LFU) cache: ties go to the least recently used."""

    _policy = _LFU


class LRUCache(Cache):
    """Least Recently Used (LRU) cache."""

    _policy = _LRU


class S3FIFOCache(Cache):
    """S3-FIFO cache: small FIFO, main FIFO with 2-bit use counters, ghost (policy_s3fifo)."""

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
        policy = S3FIFO(parse_maxsize(maxsize)[1], parse_memory(maxmemory))
        self._Cache__setup(maxsize, getsizeof, policy, timer, ttl, maxmemory, sizeof, on_evict,  # type: ignore[attr-defined]
                           sizing=sizing)

    def policy_info(self) -> Dict[str, Any]:
        """The queues' weights, lengths and bounds and the ghost's length (as the native class)."""
        return self._policy_info()


class TinyLFUCache(Cache):
    """W-TinyLFU cache: window LRU, SLRU main, count-min sketch admission, climbing window
    (policy_tinylfu). ``seed`` seeds the admission jitter (None: a random one)."""

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
        seed: Optional[int] = None,
        sizing: Optional[float] = None,
    ) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError("seed must be an int or None, not %s" % type(seed).__name__)
        if seed is None:
            seed = random.getrandbits(64)
        policy = TinyLFU(parse_maxsize(maxsize)[1], parse_memory(maxmemory), seed)
        self._Cache__setup(maxsize, getsizeof, policy, timer, ttl, maxmemory, sizeof, on_evict,  # type: ignore[attr-defined]
                           sizing=sizing)

    def policy_info(self) -> Dict[str, Any]:
        """The regions' weights, lengths and bounds, the ghost and the sketch (as the native class)."""
        return self._policy_info()

    def frequency(self, key: Any) -> int:
        """The sketch's estimate (0..15) of how often ``key`` was used or missed lately."""
        return self._policy_frequency(key)


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
        sizing: Optional[float] = None,
    ) -> None:
        if not callable(choice):
            raise TypeError("choice must be callable, not %s" % type(choice).__name__)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError("seed must be an int or None, not %s" % type(seed).__name__)
        policy = _Random(choice, seed)
        self._Cache__setup(maxsize, getsizeof, policy, timer, ttl, maxmemory, sizeof, on_evict,  # type: ignore[attr-defined]
                           sizing=sizing)

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
        sizing: Optional[float] = None,
    ) -> None:
        self._Cache__setup(  # type: ignore[attr-defined]
            maxsize, getsizeof, _LRU(), timer, None, maxmemory, sizeof, on_evict, kind="ttl", ttl_value=ttl,
            sizing=sizing,
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
        sizing: Optional[float] = None,
    ) -> None:
        self._Cache__setup(  # type: ignore[attr-defined]
            maxsize, getsizeof, _LRU(), timer, ttl, maxmemory, sizeof, on_evict, kind="tlru", ttu=ttu,
            sizing=sizing,
        )

    @property
    def ttu(self) -> Callable[[Any, Any, Any], Any]:
        """The time-to-use function used by the cache."""
        return self._Cache__st.ttu  # type: ignore[attr-defined,no-any-return]



# the sizing advisor's miniature caches (sizing.py): policy name -> twin class
register("lru", LRUCache, _LRU)
register("lfu", LFUCache, _LFU)
register("fifo", FIFOCache, _FIFO)
register("random", RRCache, _Random)
register("s3fifo", S3FIFOCache, S3FIFO)
register("tinylfu", TinyLFUCache, TinyLFU)
