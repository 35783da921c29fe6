"""What the tests share that is not a fixture: the classes of each implementation and how to
build any of them, the fake clock, the invariant check, the notes printed at the end of the run,
and the injection of asynchronous exceptions at named lines. Import it by name (``from helpers
import classes``): tests/ is on sys.path (tests/conftest.py's folder). The fixtures are in the
conftest.py files, at the level of the tests that use them.
"""

from __future__ import annotations

import importlib
import math
import sys

import pytest

CLASS_NAMES = ("Cache", "LRUCache", "LFUCache", "FIFOCache", "RRCache", "TTLCache", "TLRUCache", "S3FIFOCache",
               "TinyLFUCache")
IMPLS = ("core", "pure")

# eviction policy of each class when full ("insertion" = Cache's first-insertion order)
POLICY = {
    "Cache": "insertion",
    "LRUCache": "lru",
    "LFUCache": "lfu",
    "FIFOCache": "fifo",
    "RRCache": "rr",
    "TTLCache": "lru",
    "TLRUCache": "lru",
    "S3FIFOCache": "s3fifo",
    "TinyLFUCache": "tinylfu",
}

# policies whose _policy_order() is the exact sequence of future victims; the adaptive ones list
# their queues oldest first, but the victim also depends on use counters / the sketch (and
# finding it may move entries between queues), so tests compare against a copy's popitem()s
ORDERED = ("insertion", "lru", "lfu", "fifo")

# a time-to-live that never runs out during a test (finite on purpose: inf is tested separately)
FAR = 1e9


class FakeTimer:
    """A deterministic clock: ``timer()`` returns ``timer.time``; ``advance(dt)`` moves it."""

    def __init__(self, time=0.0):
        self.time = time
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.time

    def advance(self, dt):
        self.time += dt
        return self.time


def _load(impl):
    if impl == "pure":
        return importlib.import_module("hotcache._spec")
    try:
        core = importlib.import_module("hotcache._native.core")
    except ImportError as exc:  # FAIL, never skip: CI always builds the extension
        pytest.fail("hotcache._native.core (the C extension) cannot be imported: %r" % (exc,), pytrace=False)
    public = importlib.import_module("hotcache")
    for name in CLASS_NAMES:
        cls = getattr(public, name)
        c_bases = [k for k in cls.__mro__ if getattr(k, "__module__", None) == core.__name__]
        assert c_bases, "hotcache.%s is not backed by %s (mro: %r)" % (name, core.__name__, cls.__mro__)
    return public


def classes(impl):
    """Return {class name: class} for implementation "core" or "pure"."""
    mod = _load(impl)
    return {name: getattr(mod, name) for name in CLASS_NAMES}


def module(impl):
    return _load(impl)


def make(cls, maxsize, name=None, timer=None, getsizeof=None, **kw):
    """Build any class with one signature: TTL classes get a far ttl/ttu and a timer."""
    name = name or _base_name(cls)
    if name == "TTLCache":
        ttl = kw.pop("ttl", FAR)
        return cls(maxsize, ttl, timer or FakeTimer(), getsizeof, **kw)
    if name == "TLRUCache":
        ttu = kw.pop("ttu", far_ttu)
        return cls(maxsize, ttu, timer or FakeTimer(), getsizeof, **kw)
    if timer is not None:
        kw["timer"] = timer
    if name == "RRCache":
        return cls(maxsize, getsizeof=getsizeof, **kw)
    return cls(maxsize, getsizeof, **kw)


def far_ttu(key, value, now):
    return now + FAR


def _base_name(cls):
    for klass in cls.__mro__:
        if klass.__name__ in CLASS_NAMES:
            return klass.__name__
    raise TypeError(cls)


def check(cache):
    """Internal invariants plus the public counters agree with each other."""
    cache._check()
    n = len(cache)
    assert n == len(list(cache))
    assert n == sum(1 for _ in cache.items())
    if cache.getsizeof is not None and n:
        assert cache.currsize >= 0
    assert cache.currsize <= cache.maxsize


def is_nan(x):
    return isinstance(x, float) and math.isnan(x)


# -- notes printed at the end of the run (tests/conftest.py's pytest_terminal_summary) -----------

NOTES = []  # lines a test adds to say what it chose (e.g. which cachetools suite ran, and how)


# -- asynchronous exceptions, injected deterministically ------------------------------------------

class AsyncInterrupt(BaseException):
    """Stands for an asynchronous exception (a signal handler's KeyboardInterrupt, an exception
    raised from SIGALRM): raised by ``raise_at`` at one named line."""


def interrupt_point(code, name):
    """The lines of ``code`` (not of functions nested in it) whose source ends in the comment
    ``interrupt point: NAME``: places the product names for these tests (see hotcache._flight's
    HOW IT WORKS). A line-trace event fires as such a line starts on every CPython version,
    whatever bytecode it compiles to (the lines of a ``finally`` body compiled once per way out
    of its ``try`` are still one line)."""
    import dis
    import linecache
    import re

    marker = re.compile(r"#.*\binterrupt point: %s\s*$" % re.escape(name))
    source = linecache.getlines(code.co_filename)
    lines = {line for _, line in dis.findlinestarts(code) if line is not None}
    found = {line for line in lines if line <= len(source) and marker.search(source[line - 1])}
    assert found, "no line marked 'interrupt point: %s' in %s (%s)" % (name, code.co_name, code.co_filename)
    return found


class raise_at:
    """Context manager: the first time the current thread starts one of the lines ``where`` of
    ``code`` (line numbers, from ``interrupt_point``; None: on entering the function), raise
    ``AsyncInterrupt`` there, as a signal handler would. ``fired`` tells whether it did.

    Line and call events only, never opcode events: on CPython 3.12 and 3.13 (``sys.settrace``
    rebuilt on PEP 669 monitoring) opcode events requested from a frame's call event start only
    with the next run of that code object (measured on 3.12.1 and 3.13.0; CPython gh-103615,
    gh-114480), so an injection by bytecode offset silently never fired on a first run."""

    def __init__(self, code, where=None):
        self.code = code
        self.where = where
        self.fired = False

    def _local(self, frame, event, arg):
        if not self.fired and event == "line" and frame.f_lineno in self.where:
            self.fired = True
            raise AsyncInterrupt("injected at %s:%d" % (self.code.co_name, frame.f_lineno))
        return self._local

    def _global(self, frame, event, arg):
        if self.fired or frame.f_code is not self.code:
            return None
        if self.where is None:
            self.fired = True
            raise AsyncInterrupt("injected entering %s" % self.code.co_name)
        return self._local

    def __enter__(self):
        self._old = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc):
        sys.settrace(self._old)
        return False
