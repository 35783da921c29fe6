"""On-disk formats of hotcache's disk cache: sizes, store keys, record headers, index keys.

Pure functions over bytes, shared by the engine (``_store``), the writer and ``DiskCache``.
"""
from __future__ import annotations

import hashlib
import math
import re
import struct
import sys
from typing import Any, List, Optional, Tuple

from ..tiers.redis_codec import encode_key

__all__ = ["FORMAT", "HASHED", "MAX_DIRECT_KEY", "decode_key", "index_key", "lkey_of", "pack_record",
           "parse_size", "stamp_bytes", "unpack_record"]

#: written to the meta database of every store; a directory whose meta says otherwise is foreign
FORMAT = b"hotcache.disk/1"

# ---------------------------------------------------------------------------------------------
# Keys
#
#   cache key --encode_key--> rkey (bytes: type-tagged text, see hotcache._serial)
#   rkey      --lkey_of-----> lkey, the LMDB key:  rkey itself            if len(rkey) <= 400
#                                                  0x00 + BLAKE2b-192(rkey)  otherwise
#
# LMDB keys are at most 511 bytes. An rkey starts with a tag letter (or, for a tier, with its
# namespace, which allows no control character), never 0x00, so the two forms cannot collide. A
# hashed record keeps its rkey (flag HASHED): reads compare it, iteration decodes it.
# ---------------------------------------------------------------------------------------------

MAX_DIRECT_KEY = 400


def lkey_of(rkey: bytes) -> bytes:
    """The LMDB key of ``rkey`` (itself, or a 0x00-prefixed 24-byte digest for long keys)."""
    if len(rkey) <= MAX_DIRECT_KEY:
        return rkey
    return b"\x00" + hashlib.blake2b(rkey, digest_size=24).digest()


def rkey_of(key: Any) -> bytes:
    """The store's bytes for a cache key (TypeError for a type encode_key does not support)."""
    return encode_key(key).encode("utf-8", "surrogatepass")


class _Reader:
    """Decodes the text encode_key made, left to right."""

    __slots__ = ("text", "pos")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0


def decode_key(text: str) -> Any:
    """The cache key whose ``encode_key`` text is ``text`` (its inverse up to equality: ``1.0``
    comes back as ``1``, a NaN as ``float("nan")``). ValueError for text encode_key cannot
    make. A class key (``"y"``) resolves only through modules already imported: decoding never
    imports anything, so a forged key cannot make a process import code."""
    tag, body = text[:1], text[1:]
    if tag == "s":
        return body
    if tag == "i":
        return int(body)
    if tag == "x":
        return int(body, 16)
    if tag == "n" and not body:
        return None
    if tag == "f":
        return float(body)
    if tag == "b":
        return bytes.fromhex(body)
    if tag == "t":
        items: List[Any] = []
        pos = 0
        while pos < len(body):
            colon = body.index(":", pos)
            size = int(body[pos:colon])
            start = colon + 1
            if size < 0 or start + size > len(body):
                raise ValueError("truncated tuple item")
            items.append(decode_key(body[start:start + size]))
            pos = start + size
        return tuple(items)
    if tag == "y":
        module, _, qualname = body.partition(":")
        found: Any = sys.modules.get(module)
        for part in qualname.split("."):
            found = getattr(found, part, None)
        if not isinstance(found, type):
            raise ValueError("class %s.%s is not loaded in this process" % (module, qualname))
        return found
    raise ValueError("not an encoded key: %r" % (text[:40],))


# ---------------------------------------------------------------------------------------------
# Records of the values database
#
#   lkey -> header (9 bytes) | [u16 len(rkey) | rkey, if HASHED] | value bytes
#   header = expire_at (little-endian float64, wall-clock seconds; 0.0: never) | flags (u8)
#
# Value bytes are the codec's output: serializer bytes, or an AES-GCM seal bound to the rkey.
#
# Index databases (keys only, values empty), ordered by LMDB's byte order:
#   lru:    big-endian u64 access stamp (microseconds) | lkey     oldest use first
#   expiry: big-endian u64 expire_at (microseconds)    | lkey     soonest first
# and the access database lkey -> big-endian u64 stamp (the lru key of an entry is found there).
# ---------------------------------------------------------------------------------------------

HASHED = 1
_HEADER = struct.Struct("<dB")
_KLEN = struct.Struct("<H")
HEADER_SIZE = _HEADER.size
_U64 = struct.Struct(">Q")
_U64_MAX = (1 << 64) - 1


def pack_record(lkey: bytes, rkey: bytes, expire_at: float, blob: bytes) -> bytes:
    """The values-database record of ``blob`` (expire_at 0.0: never expires)."""
    if lkey is rkey or lkey == rkey:
        return _HEADER.pack(expire_at, 0) + blob
    return _HEADER.pack(expire_at, HASHED) + _KLEN.pack(len(rkey)) + rkey + blob


def unpack_record(record: bytes) -> Tuple[float, Optional[bytes], bytes]:
    """(expire_at, stored rkey or None, value bytes) of a record; ValueError if it is too short
    to be one (a foreign or damaged record)."""
    if len(record) < HEADER_SIZE:
        raise ValueError("record of %d bytes" % len(record))
    expire_at, flags = _HEADER.unpack_from(record)
    if not flags & HASHED:
        return expire_at, None, record[HEADER_SIZE:]
    if len(record) < HEADER_SIZE + 2:
        raise ValueError("hashed record without its key")
    (klen,) = _KLEN.unpack_from(record, HEADER_SIZE)
    start = HEADER_SIZE + 2
    if start + klen > len(record):
        raise ValueError("hashed record shorter than its key")
    return expire_at, record[start:start + klen], record[start + klen:]


def stamp_bytes(microseconds: float) -> bytes:
    """Big-endian u64 of a time in microseconds, clamped to [0, 2**64-1] (NaN -> 0)."""
    if microseconds != microseconds or microseconds <= 0:
        return _U64.pack(0)
    if microseconds >= _U64_MAX:
        return _U64.pack(_U64_MAX)
    return _U64.pack(int(microseconds))


def index_key(stamp: bytes, lkey: bytes) -> bytes:
    return stamp + lkey


def expire_key(expire_at: float, lkey: bytes) -> bytes:
    """The expiry index key of an entry expiring at ``expire_at`` (seconds)."""
    return stamp_bytes(expire_at * 1e6) + lkey


def stamp_value(stamp: bytes) -> int:
    return _U64.unpack(stamp)[0]


def value_loader(codec: Any) -> Any:
    """``loads(rkey, blob) -> value`` for ``codec`` (raises Rejected). For unsealed JSON it calls
    the C scanner directly (``JSONDecoder.scan_once``): 1.2 us instead of 1.9 us for a 130-byte
    dict, the largest part of a disk hit; text the scanner does not consume whole (whitespace
    around, trailing data) goes through the codec as before."""
    from json import JSONDecoder

    loads = codec.loads
    if codec.sealed or getattr(codec.serializer, "name", None) != "json":
        return loads
    scan = JSONDecoder().scan_once  # type: ignore[attr-defined]

    def fast(rkey: bytes, blob: bytes) -> Any:
        try:
            text = blob.decode("utf-8")
            value, end = scan(text, 0)
        except (StopIteration, ValueError, UnicodeDecodeError, RecursionError):
            return loads(rkey, blob)
        if end != len(text):
            return loads(rkey, blob)
        return value

    return fast


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(name: str, value: Any) -> int:
    """Bytes from an int or a string such as ``"10GB"``, ``"512 MiB"``, ``"1.5g"`` (decimal
    units kB/MB/GB/TB, binary KiB/MiB/GiB/TiB; case-insensitive). TypeError for other types,
    ValueError for malformed text, unknown units or values that are not positive."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("%s must be a number of bytes or a string like '10GB', not %s"
                        % (name, type(value).__name__))
    if isinstance(value, str):
        m = _SIZE.match(value)
        unit = m.group(2).lower() if m else None
        if m is None or unit not in _UNITS:
            raise ValueError("%s: cannot read %r as a size (use e.g. '10GB', '512MiB' or bytes)"
                             % (name, value))
        number = float(m.group(1)) * _UNITS[unit]  # type: ignore[index]
    else:
        number = float(value)
    if not math.isfinite(number) or number < 1:
        raise ValueError("%s must be a positive, finite size, got %r" % (name, value))
    return int(number)
