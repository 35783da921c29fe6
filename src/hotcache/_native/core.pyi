"""Type stub of the Cython core type shared by every hotcache cache class."""
from typing import (
    Any, Callable, Dict, ItemsView, Iterator, KeysView, List, Mapping, MutableMapping, Optional,
    Tuple, TypeVar, Union, ValuesView, overload,
)

from ..stats import CacheStats

_K = TypeVar("_K")
_V = TypeVar("_V")
_T = TypeVar("_T")

class Timer:
    def __init__(self, timer: Callable[[], Any]) -> None: ...
    def __call__(self) -> Any: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: Any) -> None: ...
    def __getattr__(self, name: str) -> Any: ...

class Core(MutableMapping[_K, _V]):
    def __init__(
        self,
        maxsize: float,
        getsizeof: Optional[Callable[[_V], int]] = ...,
        *,
        policy: str = ...,
        ttl: Any = ...,
        ttu: Optional[Callable[[_K, _V, Any], Any]] = ...,
        timer: Callable[[], Any] = ...,
        maxmemory: Union[int, str, None] = ...,
        sizeof_fn: Optional[Callable[[_K, _V], int]] = ...,
        on_evict: Optional[Callable[[_K, _V, str], Any]] = ...,
        choice: Callable[[Any], Any] = ...,
        seed: Optional[int] = ...,
    ) -> None: ...
    def __getitem__(self, key: _K) -> _V:
        """The value of ``key`` (a hit counts as a use); ``__missing__(key)`` if absent or expired."""
    def __setitem__(self, key: _K, value: _V) -> None:
        """Store ``value`` under ``key`` with the cache's default ttl; evicts per policy until it fits."""
    def __delitem__(self, key: _K) -> None:
        """Remove ``key``; KeyError if absent (an expired key is removed as an expiration, then KeyError)."""
    def __iter__(self) -> Iterator[_K]:
        """The live keys in first-insertion order."""
    def __len__(self) -> int:
        """The number of live entries (expired ones are reclaimed first)."""
    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is live; not a use, not counted."""
    def __missing__(self, key: _K) -> _V: ...
    @overload
    def get(self, key: _K) -> Optional[_V]:
        """The value of ``key`` (a use), or ``default`` if absent or expired; never calls ``__missing__``."""
    @overload
    def get(self, key: _K, default: Union[_V, _T]) -> Union[_V, _T]: ...
    @overload
    def pop(self, key: _K) -> _V:
        """Remove ``key`` and return its value; ``default`` (or KeyError) if absent or expired."""
    @overload
    def pop(self, key: _K, default: Union[_V, _T]) -> Union[_V, _T]: ...
    def setdefault(self, key: _K, default: _V = ...) -> _V:  # type: ignore[override]
        """The value of ``key``; if absent, store ``default`` and return it."""
    def popitem(self) -> Tuple[_K, _V]:
        """Remove and return the (key, value) pair the policy would evict next; KeyError if empty."""
    def clear(self) -> None:
        """Remove every entry and reset the policy state (statistics are kept)."""
    def keys(self) -> KeysView[_K]: ...
    def values(self) -> ValuesView[_V]: ...
    def items(self) -> ItemsView[_K, _V]: ...
    def copy(self: _T) -> _T:
        """A shallow copy with the same items and the same policy state."""
    def __copy__(self: _T) -> _T: ...
    def peek(self, key: _K, default: Optional[_V] = ...) -> Optional[_V]:
        """The value of ``key`` without counting a use or a hit (``default`` if absent or expired)."""
    def set(self, key: _K, value: _V, ttl: Optional[float] = ...) -> None:
        """Store ``value`` under ``key``; ``ttl`` (seconds, ``math.inf``: never) overrides the cache's default (and a TLRUCache's ttu) for this entry."""
    def ttl_left(self, key: _K) -> Optional[float]:
        """Seconds until ``key`` expires, None if it never does; KeyError if absent or expired."""
    def expire(self, time: Any = ...) -> List[Tuple[_K, _V]]:
        """Remove expired entries (at ``time``, default now) and return their (key, value) pairs in expiry order."""
    def resize(self, maxsize: Optional[float] = ..., maxmemory: Union[int, str, None] = ...) -> None:
        """Change the bounds (None keeps one) and evict per policy until the cache fits."""
    def stats(self) -> CacheStats:
        """A snapshot of the counters: hits, misses, evictions by cause, sizes, memory."""
    @property
    def on_evict(self) -> Optional[Callable[[_K, _V, str], Any]]:
        """``on_evict(key, value, cause)`` or None; may be replaced at any time."""
    @on_evict.setter
    def on_evict(self, fn: Optional[Callable[[_K, _V, str], Any]]) -> None: ...
    def _set_spill_hook(self, fn: Optional[Callable[[_K, _V, str, Optional[float]], Any]]) -> None: ...
    def cache_overhead_bytes(self) -> int:
        """Bytes the C core has allocated (records, index, policy, wheel), not the keys and values."""
    @property
    def getsizeof(self) -> Callable[[Any], int]:
        """Size of a value for maxsize accounting: the ``getsizeof`` given to the constructor, else a function returning 1."""
    @property
    def currsize(self) -> int:
        """Sum of the sizes (getsizeof) of the live entries."""
    @property
    def maxsize(self) -> float:
        """The bound on currsize."""
    @property
    def maxmemory(self) -> Optional[int]:
        """The bound on the sum of entry charges in bytes, or None."""
    @property
    def memory_used(self) -> Optional[int]:
        """Sum of the byte charges of the entries (None without maxmemory)."""
    @property
    def timer(self) -> Timer:
        """The timer wrapper: call it for the time; ``with cache.timer as t`` freezes time."""
    @property
    def default_ttl(self) -> Any:
        """Default time to live of new entries (None: no expiry)."""
    def _get_choice(self) -> Callable[[Any], Any]: ...
    def _get_ttu(self) -> Callable[[Any, Any, Any], Any]: ...
    def _check(self) -> None: ...
    def _policy_order(self) -> List[_K]: ...
    def _policy_info(self) -> Dict[str, Any]: ...
    def _policy_frequency(self, key: _K) -> int: ...

def _type_flags_of(cls: type) -> Tuple[int, int]: ...
