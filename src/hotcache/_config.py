"""Validation helpers shared by the C-backed classes and the pure-Python twin.

Dependency-free on purpose (the foundation layer): ``hotcache._native.core`` imports these for its slow paths (constructor
arguments, ``resize``, ``set(ttl=)``), so both implementations accept and reject exactly the same
values with the same messages.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
from typing import Any, Hashable, Optional, Tuple, Union

__all__ = [
    "ENTRY_OVERHEAD",
    "EVICT_CAUSES",
    "default_sizeof",
    "parse_maxsize",
    "parse_memory",
    "parse_ttl",
]

#: Bytes charged per entry on top of ``sizeof(key, value)`` when ``maxmemory`` is set: what the
#: cache itself spends per entry (index slot, policy links, expiry record). Same in both twins.
ENTRY_OVERHEAD: int = 64

#: The ``cause`` argument of ``on_evict(key, value, cause)``.
EVICT_CAUSES: Tuple[str, str, str] = ("size", "memory", "expired")


def default_sizeof(key: Hashable, value: Any) -> int:
    """The default memory charge of an entry (``ENTRY_OVERHEAD`` is added by the cache)."""
    return sys.getsizeof(key) + sys.getsizeof(value)


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real)


def parse_maxsize(maxsize: Any) -> Tuple[Union[int, float], Optional[int]]:
    """Validate ``maxsize``; return ``(maxsize as given, integer bound or None if unbounded)``.

    Sizes from ``getsizeof`` are ints, so a fractional bound is floored: ``size <= 2.5`` iff
    ``size <= 2``. ``math.inf`` means unbounded (None). Negative -> ValueError (cachetools'
    message); NaN -> ValueError; anything that is not a real number -> TypeError.
    """
    if not _is_real(maxsize):
        raise TypeError("maxsize must be a number, not %s" % type(maxsize).__name__)
    if maxsize != maxsize:
        raise ValueError("maxsize must not be NaN")
    if maxsize < 0:
        raise ValueError("maxsize must be non-negative")
    if maxsize == math.inf:
        return maxsize, None
    return maxsize, int(math.floor(maxsize))


# KB/MB/GB/TB = 1000^n; KiB.. and bare K/M/G/T = 1024^n; B (or nothing) = bytes.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
}
_MEMORY_RE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*\Z")


def parse_memory(value: Any) -> Optional[int]:
    """Parse a ``maxmemory`` value into whole bytes (None = unbounded).

    Accepts an int >= 0, an integral float >= 0, or a string: a non-negative decimal number and
    an optional unit, case-insensitive, optional space between: ``"64MB"``, ``"1.5GiB"``,
    ``"512 KiB"``, ``"100B"``, ``"2gb"``, ``"3K"``, ``"4096"``. Fractions of a byte are
    floored (``"1.5GiB"`` == ``int(1.5 * 1024**3)``). Bad strings, negative, NaN, inf ->
    ValueError naming the value; bool and other types -> TypeError.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("maxmemory must be an int, a string like '64MB' or None, not bool")
    if isinstance(value, numbers.Integral):
        if value < 0:
            raise ValueError("maxmemory must be non-negative, not %r" % (value,))
        return int(value)
    if isinstance(value, float):
        if value != value or value in (math.inf, -math.inf) or value < 0 or not value.is_integer():
            raise ValueError("maxmemory must be a non-negative whole number of bytes, not %r" % (value,))
        return int(value)
    if isinstance(value, str):
        match = _MEMORY_RE.match(value)
        unit = _UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise ValueError(
                "invalid maxmemory %r: expected bytes like '512', '100B', '64MB', '1.5GiB' "
                "(units B, KB/MB/GB/TB = 1000^n, KiB/MiB/GiB/TiB or K/M/G/T = 1024^n)" % (value,)
            )
        number = match.group(1)
        if "." in number:
            whole, _, frac = number.partition(".")
            frac = frac or "0"
            # exact: (whole + frac / 10^len) * unit, floored
            return (int(whole or "0") * 10 ** len(frac) + int(frac)) * unit // 10 ** len(frac)
        return int(number) * unit
    raise TypeError("maxmemory must be an int, a string like '64MB' or None, not %s" % type(value).__name__)


def parse_ttl(ttl: Any, *, name: str = "ttl") -> Optional[float]:
    """Validate a time-to-live in seconds for the ``ttl=`` extension.

    None or ``math.inf`` -> None (no expiry); a finite number > 0 -> float. Zero, negative or
    NaN -> ValueError; bool and non-numbers (timedelta included) -> TypeError.
    """
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not _is_real(ttl):
        raise TypeError("%s must be a number of seconds or None, not %s" % (name, type(ttl).__name__))
    if ttl != ttl or ttl <= 0:
        raise ValueError("%s must be a positive number of seconds, not %r" % (name, ttl))
    if ttl == math.inf:
        return None
    return float(ttl)
