"""The disk tier's read in one Python frame: ``hit_reader`` builds ``read(rkey)``, what
``DiskTier._tally(DiskTier._read(rkey))`` answers, for the native front's miss path.

A disk-tier hit is an LMDB read (~0.8 us) and a JSON decode (~1.2 us for a 130-byte dict); the
general path wraps them in six frames (DiskTier._read, DiskCache._find, Store.read,
DiskCache._decode, unpack_record, the loader), ~1 us more. ``read`` does the common case in one:

    nothing of this process queued, a short key, the store open, no fork under way
      -> one read transaction -> a plain record (no HASHED flag) -> not expired
      -> decode (unsealed JSON: hotcache._native.core.json_scan over the record's bytes in
       place, ~0.55 us against the stdlib scanner's ~0.96 us with its copies; text outside its
       subset goes the general way) -> the use recorded for the LRU
      -> counted as a hit, (value, seconds left or None)
    a missing record -> counted as a miss, MISS

Everything else (queued writes or deletes, hashed long keys, a closed or forked store, an
engine error, a short record, text the scanner does not take whole, a sealed value that fails
to open) goes through ``fallback(rkey)``, the general path, which answers and counts it as
before (an engine error is counted once: the fast read does not count it).
"""
from __future__ import annotations

import struct
import time
from json import JSONDecoder
from typing import Any, Callable, List

from . import _env as envmod
from ._env import active, get_ident
from ._format import HEADER_SIZE, MAX_DIRECT_KEY

try:
    from .._native.core import json_scan  # type: ignore[attr-defined]
except ImportError:  # the extension could not load: the json module's scanner
    json_scan = None

__all__ = ["hit_reader"]

_EXPIRE = struct.Struct("<d").unpack_from
_RETRY: Any = object()


def hit_reader(cache: Any, counts: List[int], timer: Callable[[], float],
               fallback: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """``read(rkey)`` over the DiskCache ``cache`` (see the module's docstring): ``counts`` is
    the tier's [hits, misses], ``timer`` its clock, ``fallback(rkey)`` its counted general
    read. MISS is None (hotcache.tiers.state)."""
    q, store, touches = cache._queue, cache._store, cache._touches
    codec = cache._codec
    loads = cache._loads
    scan = native = None
    if not codec.sealed and getattr(codec.serializer, "name", None) == "json":
        scan = JSONDecoder().scan_once  # type: ignore[attr-defined]
        native = json_scan  # the record's bytes in place (None without the extension)
    now_ns = time.time_ns
    unpack = _EXPIRE
    start = HEADER_SIZE

    def read(rkey: bytes) -> Any:
        if (cache._closed or q.done != q.seq or q.tombs or q.clear_pending
                or len(rkey) > MAX_DIRECT_KEY):
            return fallback(rkey)
        shared = store._shared
        if shared is None:
            return fallback(rkey)
        tid = get_ident()
        active[tid] = 1  # before the fork test: see hotcache.disk._env (a fork waits for readers)
        try:
            if envmod.forking:
                record = _RETRY
            else:
                txn = shared.env.begin(shared.v)  # db positionally: py-lmdb's keyword
                # parsing cost 0.4 us of a 1.0 us begin/get/abort (buffers=False is the default)
                try:
                    record = txn.get(rkey)
                finally:
                    txn.abort()
        except Exception:
            record = _RETRY
        finally:
            del active[tid]
        if record is None:
            counts[1] += 1
            return None
        if record is _RETRY or len(record) < start or record[start - 1]:
            return fallback(rkey)  # an error, a fork, a damaged or a hashed record
        expire_at = unpack(record)[0]
        if expire_at:
            left = expire_at - timer()
            if not left > 0:
                counts[1] += 1
                return None
        else:
            left = None
        if native is not None:
            try:
                value = native(record, start)
            except ValueError:  # outside its subset (escapes, NaN, ...) or not JSON: the stdlib's
                return fallback(rkey)
        elif scan is not None:
            try:
                text = record[start:].decode("utf-8")
                value, end = scan(text, 0)
            except (StopIteration, ValueError, UnicodeDecodeError, RecursionError):
                return fallback(rkey)
            if end != len(text):
                return fallback(rkey)
        else:
            try:
                value = loads(rkey, record[start:])
            except Exception:
                return fallback(rkey)  # Rejected (counted there) or an error of the serializer
        if len(touches) < 65536:
            touches[rkey] = now_ns() // 1000
        counts[0] += 1
        return value, left

    return read
