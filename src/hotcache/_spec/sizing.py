"""The twin's side of the sizing advisor (``sizing=R``): which twin class runs each policy's
miniature caches, and the sampler of one cache. Mirrors hotcache/_native/sizing.pxi; the sampler
itself is hotcache.sizing.sampler (shared with the offline driver).

The classes register themselves here (cache.py) so that core.py, which starts a cache's sampler,
needs no import of cache.py (which imports it).
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

__all__ = ["register", "make_mini", "twin_class", "twin_policies", "policy_name", "start_sizing"]

_CLASSES: Dict[str, Tuple[type, type]] = {}   # policy name -> (twin class, its policy type)


def register(name: str, cls: type, policy_type: type) -> None:
    """``cls`` (a twin cache class) runs policy ``name``, whose policy objects are ``policy_type``."""
    _CLASSES[name] = (cls, policy_type)


def twin_policies() -> List[str]:
    """The policy names the twin has a class for."""
    return list(_CLASSES)


def make_mini(policy: str, size: int) -> Any:
    """A miniature cache of ``policy`` with ``size`` entries, seeded with 0 (RRCache and
    TinyLFUCache draw from a PRNG: the same sample gives the same report)."""
    cls = twin_class(policy)
    if policy in ("random", "tinylfu"):
        return cls(size, seed=0)
    return cls(size)


def twin_class(policy: str) -> type:
    """The twin class running ``policy`` (ValueError if this version has none)."""
    try:
        return _CLASSES[policy][0]
    except KeyError:
        raise ValueError("policy %r is not available in hotcache's pure-Python twin (it has %s)"
                         % (policy, ", ".join(_CLASSES))) from None


def policy_name(policy: object) -> str:
    """The name of a twin policy object (``insertion`` for a plain Cache's)."""
    for name, (_, policy_type) in _CLASSES.items():
        if type(policy) is policy_type:
            return name
    return "insertion"


def start_sizing(rate: Any, maxsize: Any, policy: Any) -> Any:
    """The sampler of ``sizing=rate``: sizes 1/8x..8x maxsize, the default policies the twin
    has plus the cache's own, starting at rate 1, bounded (as _sizing_for in _native/sizing.pxi)."""
    from ..sizing.report import DEFAULT_POLICIES, default_sizes
    from ..sizing.sampler import ONLINE_MEMORY, ONLINE_WORK, PyTwinSizer, check_rate

    r = check_rate(rate)
    sizes = default_sizes(maxsize)
    names = [p for p in DEFAULT_POLICIES if p in _CLASSES]
    own = policy_name(policy)
    if own in _CLASSES and own not in names:
        names.append(own)
    return PyTwinSizer(1.0, sizes, names, make_mini, r, ONLINE_WORK, ONLINE_MEMORY)
