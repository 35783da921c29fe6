"""The C core allocates for the entries it holds, not for ``maxsize``.

A ``maxsize=10_000_000`` cache holding 10 entries must stay small (``cache_overhead_bytes()`` =
bytes allocated by the C core + the slot list), grow roughly linearly with the number of entries,
and shrink back after ``clear()``.  The process-level checks (RSS, and glibc's count of allocated
bytes, which also sees allocated-but-untouched pages that RSS cannot) confirm that 100 such caches
do not reserve memory for ten million entries each."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys

import pytest

from helpers import classes

BIG = 10_000_000
SMALL_LIMIT = 64 * 1024          # bytes for a cache holding a handful of entries
PER_ENTRY = (30, 120)            # bytes per entry at 100k entries (LRUCache)
PROCESS_LIMIT = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def core():
    return classes("core")


def fill(cache, n, start=0):
    for i in range(start, start + n):
        cache[i] = i


def test_overhead_small_for_few_entries(core):
    c = core["LRUCache"](BIG)
    empty = c.cache_overhead_bytes()
    assert 0 < empty < SMALL_LIMIT, empty
    fill(c, 10)
    assert len(c) == 10
    assert c.cache_overhead_bytes() < SMALL_LIMIT, c.cache_overhead_bytes()
    c._check()


def test_overhead_grows_linearly_and_shrinks_on_clear(core):
    c = core["LRUCache"](BIG)
    fill(c, 10)
    few = c.cache_overhead_bytes()
    sizes = {}
    done = 10
    for n in (1_000, 10_000, 100_000):
        fill(c, n - done, start=done)
        done = n
        assert len(c) == n
        sizes[n] = c.cache_overhead_bytes()
    lo, hi = PER_ENTRY
    assert lo * 100_000 <= sizes[100_000] <= hi * 100_000, sizes
    # roughly linear: 10x the entries costs between ~4x and ~20x the bytes (growth is geometric,
    # so a single step may be up to ~2x off from the exact ratio)
    for a, b in ((1_000, 10_000), (10_000, 100_000)):
        ratio = sizes[b] / sizes[a]
        assert 4 <= ratio <= 20, (a, b, sizes)
    assert sizes[1_000] > few
    c._check()

    c.clear()
    assert len(c) == 0
    after = c.cache_overhead_bytes()
    assert after < SMALL_LIMIT, after
    c._check()
    # and it can grow again
    fill(c, 10)
    assert c.cache_overhead_bytes() < SMALL_LIMIT
    fill(c, 10_000, start=10)
    assert c.cache_overhead_bytes() <= hi * 10_010
    c._check()


def test_popitem_to_empty_does_not_grow_past_peak(core):
    """Emptying by popitem (unlike clear()) need not give memory back, like dict; but the
    overhead must not grow past its peak, and refilling reuses the slots."""
    c = core["LRUCache"](BIG)
    fill(c, 100_000)
    peak = c.cache_overhead_bytes()
    while c:
        c.popitem()
    assert c.cache_overhead_bytes() <= peak
    fill(c, 100_000, start=100_000)
    assert c.cache_overhead_bytes() <= peak
    c._check()


@pytest.mark.parametrize("name", ["Cache", "LFUCache", "FIFOCache", "RRCache", "TTLCache", "TLRUCache"])
def test_other_classes_do_not_allocate_for_maxsize(core, name):
    cls = core[name]
    if name == "TTLCache":
        c = cls(BIG, 1e9)
    elif name == "TLRUCache":
        c = cls(BIG, lambda k, v, now: now + 1e9)
    else:
        c = cls(BIG)
    fill(c, 10)
    assert c.cache_overhead_bytes() < SMALL_LIMIT, c.cache_overhead_bytes()
    fill(c, 20_000, start=10)
    # looser bound than LRU's: LFU nodes, the RR dense array and the TTL wheel add per-entry bytes
    assert c.cache_overhead_bytes() <= 200 * len(c), c.cache_overhead_bytes()
    c.clear()
    assert c.cache_overhead_bytes() < SMALL_LIMIT, c.cache_overhead_bytes()
    c._check()


def _rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _malloc_bytes():
    """Bytes currently allocated through glibc malloc (mmapped chunks included), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _Mallinfo2
    fn.argtypes = []
    mi = fn()
    return mi.uordblks + mi.hblkhd


def test_process_memory_for_100_big_caches(core):
    if _rss_bytes() is None and _malloc_bytes() is None:
        pytest.skip("neither /proc/self/statm nor glibc mallinfo2 available")
    gc.collect()
    rss0, mal0 = _rss_bytes(), _malloc_bytes()
    caches = []
    for _ in range(100):
        c = core["LRUCache"](BIG)
        fill(c, 10)
        caches.append(c)
    gc.collect()
    rss1, mal1 = _rss_bytes(), _malloc_bytes()
    assert sum(c.cache_overhead_bytes() for c in caches) < 100 * SMALL_LIMIT
    if rss0 is not None:
        assert rss1 - rss0 < PROCESS_LIMIT, "RSS grew by %d bytes" % (rss1 - rss0)
    if mal0 is not None:
        # sees allocations whose pages were never touched (which RSS would miss)
        assert mal1 - mal0 < PROCESS_LIMIT, "malloc'd bytes grew by %d" % (mal1 - mal0)
    del caches
