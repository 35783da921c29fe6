"""The ``cachedmethod`` descriptors: cachetools 8's form (a cache getter, a wrapper per instance
kept in the instance ``__dict__``) and per-instance caches (``cachedmethod(maxsize=...)``).

``_MethodDescriptor`` -> ``_BoundMethod[Info]`` / ``_AsyncBoundMethod[Info]`` (the Python call
path of ``hotcache.memo.wrappers._PyWrapper``: cachetools' lock/condition protocols, or single-flight
per (cache, key)); ``_Unbound`` is its class access. ``_PerInstanceMethod`` holds one ``cached``
wrapper per instance.

Per-instance method caches live with their instance and never keep it alive: the wrapper (its
own cache, the plain function, never the instance) is kept in the instance ``__dict__`` under
a private name, in an ``_InstanceEntry`` - a weak reference to its owner that also holds the
wrapper. Without a value referring back to the instance there is no reference cycle, so the
instance and its cache are freed by reference counting alone; a cached value that refers back
to the instance (``Child(parent=self)``) makes a cycle instance -> ``__dict__`` -> wrapper ->
cache -> value -> instance, which the garbage collector frees (no part of it is reachable from
the class). The descriptor keeps only a ``WeakSet`` of the wrappers, for the class-level
``cache_clear()``. An attribute access returns ``MethodType(wrapper, instance)``, so a bound
method kept elsewhere keeps its instance alive exactly like any bound method.

Copies and pickles of an instance start with an empty cache: ``copy.copy`` copies the
``__dict__`` entry, whose owner is then another object, so the copy builds its own wrapper on
first use; pickling and ``copy.deepcopy`` turn the entry into None (its ``__reduce__``).

Instances without a ``__dict__`` (``__slots__`` without ``"__dict__"``), and classes (for
class methods), keep the earlier mechanism: the descriptor maps ``id(instance)`` to (weak
reference, wrapper) and the weak reference's callback drops the entry when the instance dies.
There a cached value referring back to its instance keeps the instance alive (the descriptor,
reachable from the class, holds the wrapper): add ``"__dict__"`` to ``__slots__`` to avoid it.
"""
from __future__ import annotations

import functools
import inspect
import threading
import types
import weakref
from typing import Any, Callable, Dict, Optional, Tuple

from .load import _acall, _Counts, _Loader
from .wrappers import _PyInfoMixin, _PyWrapper

__all__ = ["_AsyncBoundMethod", "_AsyncBoundMethodInfo", "_BoundMethod", "_BoundMethodInfo",
           "_MethodDescriptor", "_PerInstanceMethod", "_Unbound"]

# -- cachedmethod (cachetools 8 form): a descriptor, a wrapper per instance ---------------------

_METHODS_DICT = "__cachetools_cachedmethods"  # cachetools' name: super() wrappers live here


class _MethodDescriptor:
    """``cachedmethod(cache_getter, ...)`` in a class body: cachetools 8's descriptor.

    First instance access builds a wrapper for that instance and stores it in the instance
    ``__dict__`` under the attribute name (later accesses find it there directly); a ``super()``
    access keeps its wrapper in ``__dict__["__cachetools_cachedmethods"]``. Class access returns
    an ``_Unbound`` callable. The descriptor pickles and copies by reference.
    """

    def __init__(self, method: Callable[..., Any], make: Callable[[Any, Any], Any]) -> None:
        self.__owner: Any = None
        self.__attrname: Optional[str] = None
        self.__unbound: Any = None
        self.__make = make  # make(obj, descriptor) -> wrapper

    def __set_name__(self, owner: type, name: str) -> None:
        if self.__attrname is None:
            self.__owner = owner
            self.__attrname = name
        elif name != self.__attrname:
            raise TypeError("Cannot assign the same cachedmethod to two different names (%r and %r)."
                            % (self.__attrname, name))

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        attrname = self.__attrname
        if attrname is None:
            if isinstance(obj, type):  # @classmethod on top (Python < 3.13 calls __get__)
                self.__call__()
            raise TypeError("Cannot use cachedmethod instance without calling __set_name__ on it")
        if obj is None:
            if self.__unbound is None:
                self.__unbound = _Unbound(self)
            return self.__unbound
        for klass in type(obj).__mro__:
            if attrname in klass.__dict__:
                found = klass.__dict__[attrname]
                break
        else:
            found = None  # removed from the class after __set_name__
        if found is self:
            wrapper = self.__make(obj, self)
            try:
                return obj.__dict__.setdefault(attrname, wrapper)
            except (AttributeError, TypeError) as exc:
                raise self.__dict_error(obj, exc) from None
        try:
            wrappers = obj.__dict__.setdefault(_METHODS_DICT, {})
        except (AttributeError, TypeError) as exc:
            raise self.__dict_error(obj, exc) from None
        wrapper = wrappers.get(self)
        if wrapper is None:
            wrapper = wrappers.setdefault(self, self.__make(obj, self))
        return wrapper

    def __reduce__(self) -> Any:
        return (_MethodDescriptor._lookup, (self.__owner, self.__attrname))

    @staticmethod
    def _lookup(owner: type, name: str) -> Any:
        return owner.__dict__[name]

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Cannot call @cachedmethod descriptor directly: @cachedmethod must be the "
                        "outermost decorator, and decorating class methods, static methods or "
                        "properties is not supported (use cachedmethod() without a cache getter "
                        "for per-class caches, or @staticmethod @cached(...))")

    def __dict_error(self, obj: Any, exc: BaseException) -> TypeError:
        if isinstance(exc, AttributeError):
            return TypeError("No '__dict__' attribute on %r instance to cache %r"
                             % (type(obj).__name__, self.__attrname))
        return TypeError("The '__dict__' attribute on %r instance does not support item assignment "
                         "for caching %r" % (type(obj).__name__, self.__attrname))


class _Unbound:
    """Class access to a cachetools-style cached method: call it with the instance first (or
    as the receiver's keyword); binds like a method when aliased in another class."""

    def __init__(self, descriptor: _MethodDescriptor) -> None:
        functools.update_wrapper(self, descriptor.__wrapped__)  # type: ignore[attr-defined]
        self.__descriptor = descriptor
        self.__receiver: Optional[str] = None

    def __reduce__(self) -> Any:
        return (self.__descriptor.__get__, (None,))

    def __repr__(self) -> str:
        return "<cachedmethod %r>" % (self.__wrapped__,)  # type: ignore[attr-defined]

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else self.__descriptor.__get__(obj)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        if args:
            obj, args = args[0], args[1:]
        else:
            obj = self.__pop_receiver(kwargs)
        return self.__descriptor.__get__(obj)(*args, **kwargs)

    def __pop_receiver(self, kwargs: Dict[str, Any]) -> Any:
        if self.__receiver is None:
            self.__receiver = ""
            try:
                first = next(iter(inspect.signature(self).parameters.values()))
            except (ValueError, StopIteration):
                pass
            else:
                if first.kind is first.POSITIONAL_OR_KEYWORD:
                    self.__receiver = first.name
        try:
            return kwargs.pop(self.__receiver)
        except KeyError:
            raise TypeError("Cannot call @cachedmethod through the class without an instance") from None


class _BoundMethod(_PyWrapper):
    """A cachetools-style cached method bound to one instance (kept in its ``__dict__``)."""

    def __init__(self, obj: Any, descriptor: Any, method: Callable[..., Any], cache: Callable[[Any], Any],
                 key: Callable[..., Any], lock: Optional[Callable[[Any], Any]],
                 cond: Optional[Callable[[Any], Any]], loader: _Loader) -> None:
        functools.update_wrapper(self, method)
        self.__obj = obj
        self.__descriptor = descriptor
        self.__cache = cache
        self.__lock = lock
        self.__cond = cond
        self.cache_key = functools.partial(key, obj)  # type: ignore[misc]
        self._w_func = types.MethodType(method, obj)
        self._w_loader = loader
        self._w_counts = _Counts()
        self._w_pending = set()

    def __reduce__(self) -> Any:
        return (self.__descriptor.__get__, (self.__obj,))

    def __repr__(self) -> str:
        return "<cachedmethod %r of %s>" % (self.__wrapped__, object.__repr__(self.__obj))  # type: ignore[attr-defined]

    @property  # type: ignore[override]
    def cache(self) -> Any:
        return self.__cache(self.__obj)

    @property  # type: ignore[override]
    def cache_lock(self) -> Any:
        return None if self.__lock is None else self.__lock(self.__obj)

    @property  # type: ignore[override]
    def cache_condition(self) -> Any:
        return None if self.__cond is None else self.__cond(self.__obj)


class _BoundMethodInfo(_PyInfoMixin, _BoundMethod):
    pass


class _AsyncBoundMethod(_BoundMethod):
    """A cachetools-style cached ``async def`` method bound to one instance: caches the awaited
    result; single-flight without a lock, cachetools' lock protocol with one. Each instance is
    marked as a coroutine function (``_mark_coroutine``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _mark_coroutine(self)

    async def __call__(self, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        key = self.cache_key(*args, **kwargs)
        return await _acall(self._w_counts, self._w_loader, self._w_func, self.cache, key,
                            self.cache_lock, args, kwargs)


class _AsyncBoundMethodInfo(_PyInfoMixin, _AsyncBoundMethod):
    pass


# Marking a callable object as a coroutine function. Python >= 3.12 has a public API for it,
# inspect.markcoroutinefunction (what it stores, and under which name, differs between 3.12 and
# 3.13: only the function itself is used). Python 3.9-3.11 have none: there
# asyncio.iscoroutinefunction also accepts an object whose ``_is_coroutine`` attribute is
# asyncio.coroutines._is_coroutine, a private name, read with a default (absent: no marker, and
# only asyncio.iscoroutinefunction's answer changes; the wrapper is awaited as ever).
_markcoroutinefunction: Optional[Callable[[Any], Any]] = getattr(inspect, "markcoroutinefunction", None)
if _markcoroutinefunction is None:  # Python < 3.12
    import asyncio.coroutines

    _asyncio_marker: Any = getattr(asyncio.coroutines, "_is_coroutine", None)
else:
    _asyncio_marker = None  # asyncio.iscoroutinefunction asks inspect.iscoroutinefunction first


def _mark_coroutine(wrapper: Any) -> None:
    """Let ``inspect.iscoroutinefunction`` (Python >= 3.12) and ``asyncio.iscoroutinefunction``
    (every version) see ``wrapper``, an instance whose ``__call__`` is ``async def``: instances,
    not the class, are marked (calling the class does not return a coroutine)."""
    if _markcoroutinefunction is not None:
        _markcoroutinefunction(wrapper)
    elif _asyncio_marker is not None:
        wrapper._is_coroutine = _asyncio_marker


# -- cachedmethod (per-instance caches) --------------------------------------------------------

class _InstanceEntry(weakref.ref):  # type: ignore[type-arg]
    """``instance.__dict__[descriptor name]``: a weak reference to the instance owning
    ``wrapper`` (a copied ``__dict__`` brings an entry owned by another object: not used)."""

    __slots__ = ("wrapper", "descriptor")
    wrapper: Any
    descriptor: Any

    def __new__(cls, obj: Any, wrapper: Any, descriptor: Any) -> "_InstanceEntry":
        self = weakref.ref.__new__(cls, obj)
        self.wrapper = wrapper
        self.descriptor = descriptor
        return self

    def __init__(self, obj: Any, wrapper: Any, descriptor: Any) -> None:
        super().__init__(obj)  # type: ignore[call-arg]

    def __reduce__(self) -> Any:
        return (type(None), ())  # pickles and deep copies of the instance start empty


class _PerInstanceMethod:
    """``cachedmethod(maxsize=..., ...)``: each instance (or, for class methods, each class)
    gets its own cache (see the module docstring): kept in the instance ``__dict__``, so it
    never keeps the instance alive, even when a cached value refers back to the instance.
    Instances without a ``__dict__`` (``__slots__``) must be weak-referenceable; their caches
    are held by the descriptor, and a cached value referring back to such an instance keeps it
    alive.

    Class access returns the descriptor itself, callable with the instance first;
    ``cache_clear()`` on it clears every live instance's cache.
    """

    def __init__(self, method: Callable[..., Any], build: Callable[[], Any], is_classmethod: bool) -> None:
        functools.update_wrapper(self, method)
        self.__method = method
        self.__build = build  # build() -> a new `cached` wrapper around method
        self.__classmethod = is_classmethod
        # the instance __dict__ key (a descriptor of another class with the same qualified
        # name is told apart by _InstanceEntry.descriptor)
        self.__key = "__hotcache_cachedmethod_%s.%s" % (getattr(method, "__module__", ""),
                                                         getattr(method, "__qualname__", ""))
        self.__wrappers: "weakref.WeakSet[Any]" = weakref.WeakSet()  # those in __dict__s
        self.__instances: Dict[int, Tuple[Any, Any]] = {}  # classes, __slots__ instances
        self.__lock = threading.Lock()

    def __repr__(self) -> str:
        return "<cachedmethod %r>" % (self.__method,)

    def __reduce__(self) -> str:
        return self.__qualname__  # type: ignore[attr-defined, no-any-return]

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if self.__classmethod:
            obj = objtype if obj is None else type(obj)
        elif obj is None:
            return self
        else:
            try:
                d = obj.__dict__
            except AttributeError:
                d = None
            if type(d) is dict:
                entry = d.get(self.__key)
                if type(entry) is _InstanceEntry and entry() is obj and entry.descriptor is self:
                    return types.MethodType(entry.wrapper, obj)
                return types.MethodType(self.__create_in_dict(obj, d), obj)
        entry = self.__instances.get(id(obj))
        if entry is None or entry[0]() is not obj:
            wrapper = self.__create(obj)
        else:
            wrapper = entry[1]
        return types.MethodType(wrapper, obj)

    def __call__(self, receiver: Any, /, *args: Any, **kwargs: Any) -> Any:
        """``Class.method(instance, ...)``; also what ``@classmethod`` on top calls."""
        return self.__get__(receiver, type(receiver))(*args, **kwargs)

    def cache_for(self, obj: Any) -> Any:
        """The cache of ``obj`` (created if needed)."""
        return self.__get__(obj, type(obj)).cache

    def cache_clear(self) -> None:
        """Clear the cache of every live instance."""
        for wrapper in list(self.__wrappers):
            wrapper.cache_clear()
        for _, wrapper in list(self.__instances.values()):
            wrapper.cache_clear()

    def __create_in_dict(self, obj: Any, d: Dict[str, Any]) -> Any:
        with self.__lock:
            entry = d.get(self.__key)
            if type(entry) is _InstanceEntry and entry() is obj and entry.descriptor is self:
                return entry.wrapper
            wrapper = self.__build()
            try:
                entry = _InstanceEntry(obj, wrapper, self)
            except TypeError:
                raise self.__not_weakrefable(obj) from None
            wrapper._w_counts.receiver = weakref.ref(obj)  # not the entry: it holds the wrapper
            d[self.__key] = entry
            self.__wrappers.add(wrapper)
            return wrapper

    def __create(self, obj: Any) -> Any:
        instances = self.__instances
        with self.__lock:
            entry = instances.get(id(obj))
            if entry is not None and entry[0]() is obj:
                return entry[1]
            ident = id(obj)

            def gone(ref: Any, ident: int = ident) -> None:
                found = instances.get(ident)
                if found is not None and found[0] is ref:
                    del instances[ident]

            try:
                ref = weakref.ref(obj, gone)
            except TypeError:
                raise self.__not_weakrefable(obj) from None
            wrapper = self.__build()
            wrapper._w_counts.receiver = weakref.ref(obj)
            instances[ident] = (ref, wrapper)
            return wrapper

    @staticmethod
    def __not_weakrefable(obj: Any) -> TypeError:
        name = type(obj).__name__
        return TypeError("cachedmethod() keeps a cache per %s instance under a weak reference, "
                         "but %r instances are not weak-referenceable (add '__weakref__' to "
                         "__slots__)" % (name, name))
