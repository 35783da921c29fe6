"""What leaves a twin cache during one operation: ``_Pending``, the twin of the native outbox
(hotcache._native's outbox.pxi; rule B of core.pyx's docstring). Removed keys and values, and
overwritten values, are kept here and released at the operation's end, after the structures
are consistent and after the on_evict callbacks and the tier's spill hook.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Dict, Optional

from .entries import OnEvict

__all__ = ["_Pending"]

class _Pending(list):  # type: ignore[type-arg]
    """The (key, value, cause) triples that left the cache during one operation.

    They are released on exit, after the structures are consistent and after the on_evict
    callbacks (which run for the triples whose cause is not None). If the operation itself
    raised, its exception wins and callback errors are dropped; otherwise every callback runs
    and the first callback exception is re-raised.
    """

    def __init__(self, on_evict: Optional[OnEvict], spill: Optional[Callable[..., Any]] = None,
                 timer: Any = None) -> None:
        super().__init__()
        self.on_evict = on_evict
        self.spill = spill            # the tier's hook: (key, value, cause, ttl_left)
        self.timer = timer
        self.expires: Dict[int, Any] = {}  # index -> expiry of a policy victim that had one

    def __enter__(self) -> "_Pending":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        callback = self.on_evict
        first: Optional[BaseException] = None
        try:
            if callback is not None:
                key = value = None
                for key, value, cause in self:
                    if cause is None:
                        continue
                    try:
                        callback(key, value, cause)
                    except BaseException as err:  # noqa: B902 - re-raised below
                        if first is None:
                            first = err
                del key, value
            if self.spill is not None:
                self.__spill()
        finally:
            del self[:]  # user __del__ runs here, with the cache consistent
        if first is not None and exc_type is None:
            raise first

    def __spill(self) -> None:
        """Hand policy victims (causes "size"/"memory") to the spill hook with the seconds they
        had left (None: no expiry); the hook must not raise, its errors are not reported."""
        now = self.timer() if self.expires and self.timer is not None else None
        for i, (key, value, cause) in enumerate(self):
            if cause not in ("size", "memory"):
                continue
            exp = self.expires.get(i)
            left = None if exp is None or now is None else exp - now
            if isinstance(left, datetime.timedelta):
                left = left.total_seconds()
            elif left is not None:
                left = float(left)
            try:
                self.spill(key, value, cause, left)  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - a tier hook must never break the cache
                pass
