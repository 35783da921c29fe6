"""The pure-Python twin of the C core and its binding: the executable specification.

Layer 1, beside ``hotcache._native`` (see docs/architecture.md). Written for obviousness, not
speed, it is what the native types must do: the tests run both side by side, operation for
operation (Hypothesis state machines with the invariant checker after each step), and it is the
import fallback when the extension cannot load. One module per concern, mirroring ``_native``:

    timer.py          Timer, the cache's clock                   _native/timer.pxi
    entries.py        keys with their hash, entries, the state   (csrc/: arena, index, wheel)
    outbox.py         what leaves during one operation (rule B)  _native/outbox.pxi
    policy_order.py   insertion, FIFO and LRU order              csrc/hc_policy_{insertion,fifo,lru}.c
    policy_lfu.py     LFU with frequency buckets                 csrc/hc_policy_lfu.c
    policy_random.py  random replacement                         csrc/hc_policy_random.c
    policy_s3fifo.py  S3-FIFO (+ ghost.py)                       csrc/hc_policy_s3fifo.c
    policy_tinylfu.py W-TinyLFU (+ sketch.py, ghost.py)          csrc/hc_policy_tinylfu.c
    core.py           Cache: the mapping, its store and eviction _native/core.pyx and the .pxi
                      rules, hooked subclasses, copy/pickle,     it includes (+ hotcache.cache's
                      the invariant checker                      Cache)
    cache.py          the classes by policy                      hotcache/cache.py
    call.py           CachedCall, the decorators' hit path       _native/call.pxi
    front.py          ReadThrough, a tier's L1 front             _native/front.pxi
    sizing.py         the sizing advisor's classes and sampler   _native/sizing.pxi

A new eviction policy's twin is one new ``policy_*.py`` here (plus the line naming it in the
class that uses it). Only the foundations (``hotcache._config``, ``hotcache.stats``) and, for an
``isinstance`` test, ``hotcache._native.core`` are imported.
"""
from .cache import FIFOCache, LFUCache, LRUCache, RRCache, S3FIFOCache, TinyLFUCache, TLRUCache, TTLCache
from .call import CachedCall
from .core import ENTRY_OVERHEAD, Cache, Timer
from .front import ReadThrough

__all__ = [
    "ENTRY_OVERHEAD",
    "CachedCall",
    "Cache",
    "FIFOCache",
    "LFUCache",
    "LRUCache",
    "ReadThrough",
    "RRCache",
    "S3FIFOCache",
    "TLRUCache",
    "TTLCache",
    "Timer",
    "TinyLFUCache",
]
