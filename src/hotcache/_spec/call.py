"""The pure-Python twin of ``hotcache._native.core.CachedCall``: the decorators' hit path.

The specification of the native type (which must behave exactly like this), the import fallback
when the extension cannot load, and the oracle the tests run the native type against.

HOW IT WORKS. ``CachedCall(func, cache, miss, key=None, mode=0)`` is the object a decorator
returns (decorators.py subclasses it; the subclass adds attributes, never ``__call__``)::

    wrapper(*args, **kwargs)
      key = mode 0: args if not kwargs else key(*args, **kwargs)   (cachetools' hashkey: an
                    args tuple equals and hashes like hashkey(*args))
            mode 1: key(*args, **kwargs)                           (any key function)
            mode 2: _make_key(args, kwargs, typed=False)   (functools.lru_cache's keys)
            mode 3: _make_key(args, kwargs, typed=True)
      value = cache[key]            a hotcache cache never calls __missing__ here unless a
                                    subclass defines one (then, like any other mapping, it is
                                    called: KeyError from it is a miss)
      hit:  self.hits += 1; return value
      miss: modes 0/1: return miss(key, args, kwargs)   (the decorator's Python miss path:
                                    single-flight, locks, ttl=, unless= ...; it counts misses)
            modes 2/3: self.misses += 1; result = func(*args, **kwargs), timed into
                                    load_seconds (exceptions propagate, counted in
                                    load_errors, nothing stored); cache[key] = result unless the cache's
                                    maxsize is 0; return result

Contracts: a hit takes no lock and calls no Python code but the key's ``__hash__``/``__eq__``
(and, in mode 1, the key function). Modes 2/3 hash each argument once per call (the key caches
its hash) and need a hotcache cache. An unhashable key raises
``TypeError("<qualname>: unhashable argument: <original message>")``. ``__wrapped__`` is an
ordinary (writable) instance attribute; the instance has a ``__dict__`` (``update_wrapper``
works) and is weak-referenceable; ``__get__`` binds like a function.
"""
from __future__ import annotations

import time
import types
from typing import Any, Callable, Dict, Optional, Tuple

__all__ = ["CachedCall"]


# -- the unhashable-argument error every decorator raises (hotcache.memo.load re-uses these) ----

def _name_of(func: Any) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


def _unhashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return True
    return False


def _unhashable_error(func: Any, exc: BaseException) -> TypeError:
    """The TypeError for an unhashable argument of ``func`` (raise it ``from None``)."""
    return TypeError("%s: unhashable argument: %s" % (_name_of(func), exc))


class _HashedKey(list):  # type: ignore[type-arg]
    """A flat key of several arguments that hashes them once: the hash is taken when the key is
    made and stored (a cache may hash a key several times per call)."""

    __slots__ = ("hashvalue",)

    def __init__(self, items: Tuple[Any, ...]) -> None:
        self[:] = items
        self.hashvalue = hash(items)

    def __hash__(self) -> int:  # type: ignore[override]
        return self.hashvalue


_KWD_MARK = (object(),)  # separates positional from keyword arguments
_FAST_TYPES = frozenset((int, str))


def _make_key(args: Tuple[Any, ...], kwargs: Dict[str, Any], typed: bool) -> Any:
    """functools.lru_cache's key rule (CPython's own helper for it is private, so it is written
    out here; the native type's ``_functools_key`` is the same rule): the positional arguments,
    then a marker and the keyword items in call order, then with ``typed`` the type of every
    argument; a lone untyped int or str argument is its own key. Hashes each argument once.
    Raises TypeError for an unhashable argument."""
    key = args
    if kwargs:
        key += _KWD_MARK
        for item in kwargs.items():
            key += item
    if typed:
        key += tuple([type(v) for v in args])
        if kwargs:
            key += tuple([type(v) for v in kwargs.values()])
    elif len(key) == 1 and type(key[0]) in _FAST_TYPES:
        return key[0]
    return _HashedKey(key)


Miss = Callable[[Any, Tuple[Any, ...], Dict[str, Any]], Any]

_MISS: Any = object()  # a lookup that raised KeyError


def _is_hotcache_cache(cache: Any) -> bool:
    from .core import Cache

    if isinstance(cache, Cache):
        return True
    try:
        from .._native.core import Core
    except ImportError:
        return False
    return isinstance(cache, Core)


class CachedCall:
    """``CachedCall(func, cache, miss, key=None, mode=0)``: call ``func`` through ``cache``.

    Raises TypeError for a non-callable ``func``, ``key`` (mode 1) or ``miss`` (modes 0/1), or
    a cache that is not a hotcache cache in modes 2/3; ValueError for another mode.
    """

    __slots__ = ("_func", "_cache", "_miss", "_key", "_mode", "_never_store", "hits", "misses",
                 "load_errors", "load_seconds", "__dict__", "__weakref__")

    def __init__(self, func: Callable[..., Any], cache: Any, miss: Optional[Miss],
                 key: Optional[Callable[..., Any]] = None, mode: int = 0) -> None:
        if not callable(func):
            raise TypeError("the cached function must be callable")
        if mode not in (0, 1, 2, 3):
            raise ValueError("mode must be 0, 1, 2 or 3")
        if mode == 1 and not callable(key):
            raise TypeError("key must be callable")
        if mode < 2 and not callable(miss):
            raise TypeError("miss must be callable")
        if mode >= 2 and not _is_hotcache_cache(cache):
            raise TypeError("modes 2 and 3 need a hotcache cache")
        self._func = func
        self._cache = cache
        self._miss = miss
        self._key = key
        self._mode = mode
        self._never_store = mode >= 2 and cache.maxsize == 0
        self.hits = 0
        self.misses = 0
        self.load_errors = 0          # modes 2/3: calls of func that raised
        self.load_seconds = 0.0       # modes 2/3: seconds spent in func on misses
        self.__wrapped__ = func

    @property
    def cache(self) -> Any:
        """The mapping the results are stored in."""
        return self._cache

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return types.MethodType(self, obj)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        mode = self._mode
        if mode == 0:
            key = args if not kwargs else self._key(*args, **kwargs)  # type: ignore[misc]
        elif mode == 1:
            key = self._key(*args, **kwargs)  # type: ignore[misc]
        else:
            try:
                key = _make_key(args, kwargs, mode == 3)  # hashes the arguments, once
            except TypeError as exc:
                raise _unhashable_error(self._func, exc) from None
        try:
            value = self._cache[key]
        except KeyError:
            value = _MISS  # the miss runs below, outside the handler: no KeyError context
        except TypeError as exc:
            if _unhashable(key):
                raise _unhashable_error(self._func, exc) from None
            raise
        if value is _MISS:
            if mode < 2:
                return self._miss(key, args, kwargs)  # type: ignore[misc]
            self.misses += 1
            start = time.monotonic()
            try:
                result = self._func(*args, **kwargs)
            except BaseException:
                self.load_errors += 1
                self.load_seconds += time.monotonic() - start
                raise
            self.load_seconds += time.monotonic() - start
            if not self._never_store:
                self._cache[key] = result
            return result
        self.hits += 1
        return value
