"""The cache's clock: the pure twin of hotcache._native's Timer (timer.pxi).

``timer()`` reads the wrapped timer; ``with timer as now:`` freezes it (nesting counts);
other attributes forward to the wrapped timer, as cachetools' TTLCache timer does.
"""

from __future__ import annotations

import copy as _copy
from typing import Any, Callable, Dict, Tuple

__all__ = ["Timer"]

class Timer:
    """Wraps a cache's timer: ``t()`` reads it; ``with t as now:`` freezes it (nesting counts)."""

    def __init__(self, timer: Callable[[], Any]) -> None:
        self.__timer = timer
        self.__nesting = 0
        self.__time: Any = None

    def __call__(self) -> Any:
        if self.__nesting == 0:
            return self.__timer()
        return self.__time

    def __enter__(self) -> Any:
        if self.__nesting == 0:
            self.__time = now = self.__timer()
        else:
            now = self.__time
        self.__nesting += 1
        return now

    def __exit__(self, *exc: Any) -> None:
        self.__nesting -= 1

    def __copy__(self) -> "Timer":
        return Timer(self.__timer)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Timer":
        # defined so that __getattr__ doesn't forward to the wrapped timer's __deepcopy__
        return Timer(_copy.deepcopy(self.__timer, memo))

    def __reduce__(self) -> Tuple[Any, ...]:
        return Timer, (self.__timer,)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__timer, name)

    def __repr__(self) -> str:
        return "Timer(%r)" % (self.__timer,)
