"""Key functions for the memoizing decorators: ``hashkey``, ``typedkey``, ``methodkey``,
``typedmethodkey``, with cachetools 8's semantics (a key is a plain tuple).

Contracts (shared with cachetools 8, whose ``test_keys.py`` runs against this module):

* ``hashkey(*args, **kwargs)`` is ``args`` itself when there are no keyword arguments, else
  ``args + (mark,) + tuple(sorted(kwargs.items()))``: keyword order does not matter,
  ``hashkey(1, 2) == hashkey(1.0, 2.0)``, and a key hashes exactly like the equal plain tuple.
  Building a key never hashes anything; an unhashable argument fails when the key is hashed.
* ``typedkey`` appends the types of the keyword values (in sorted keyword order), then of the
  positional values (cachetools' layout), so ``typedkey(1) != typedkey(1.0)``.
* ``methodkey(self, /, *args, **kwargs)`` and ``typedmethodkey`` ignore their first argument
  (the instance), which is positional-only: ``self=`` may still be a keyword argument.
* The keyword separator ``mark`` is a class object, so it is unique, survives pickling by
  identity, and never equals anything a caller could pass.

``hotcache.cached``'s default key is this module's ``hashkey`` object; the decorators recognise
it and build the same key natively on the hit path.
"""
from __future__ import annotations

from typing import Any, Hashable, Tuple

__all__ = ["hashkey", "methodkey", "typedkey", "typedmethodkey"]


class _KwMark:
    """Separates positional from keyword arguments in a key (the class itself is the mark)."""


_kwmark: Tuple[Any, ...] = (_KwMark,)


def hashkey(*args: Hashable, **kwargs: Hashable) -> Tuple[Any, ...]:
    """Return a cache key for the specified hashable arguments."""
    if kwargs:
        return args + _kwmark + tuple(sorted(kwargs.items()))
    return args


def methodkey(self: Any, /, *args: Hashable, **kwargs: Hashable) -> Tuple[Any, ...]:
    """Return a cache key for use with cached methods: ``hashkey`` without ``self``."""
    if kwargs:
        return args + _kwmark + tuple(sorted(kwargs.items()))
    return args


def typedkey(*args: Hashable, **kwargs: Hashable) -> Tuple[Any, ...]:
    """Return a typed cache key: ``hashkey`` plus the types of the argument values."""
    if kwargs:
        items = tuple(sorted(kwargs.items()))
        return args + _kwmark + items + tuple([type(v) for _, v in items]) + tuple([type(a) for a in args])
    return args + tuple([type(a) for a in args])


def typedmethodkey(self: Any, /, *args: Hashable, **kwargs: Hashable) -> Tuple[Any, ...]:
    """Return a typed cache key for use with cached methods: ``typedkey`` without ``self``."""
    if kwargs:
        items = tuple(sorted(kwargs.items()))
        return args + _kwmark + items + tuple([type(v) for _, v in items]) + tuple([type(a) for a in args])
    return args + tuple([type(a) for a in args])
