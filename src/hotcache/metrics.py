"""hotcache.metrics -- a Prometheus collector for named caches, decorators, tiers and write-behind.

Optional extra ``hotcache[metrics]`` (prometheus_client); values are read at scrape time.

Usage::

    from hotcache import metrics

    users = metrics.register("users", hotcache.LRUCache(10_000))

    @metrics.register("profile")
    @hotcache.cached(maxsize=1024)
    def profile(user_id): ...

Every sample carries the label ``cache="<name>"``.  The collector keeps no counters of its
own and adds nothing to the hot path: each scrape calls the object's own ``stats()`` (and
``cache_stats()`` for a decorated function), so a scrape costs one snapshot per registered
object.  Objects are held by weak reference where they allow it: a cache that is garbage
collected disappears from the output and its name is freed.  What can be registered, by duck
type: a hotcache cache (``stats()`` -> CacheStats, also a WriteThroughCache), a decorated
function (``cache_stats()``, ``.cache``), a TieredCache (TieredStats), a WriteBehindCache or a
LoadingCache (``stats()`` -> dict, ``.cache``).

Choices (documented in docs/monitoring.md):

* Expirations are their own counter, ``hotcache_expirations_total``, not a cause of
  ``hotcache_evictions_total{cause}``: evictions (cause ``"size"`` or ``"memory"``) measure
  capacity pressure, expirations measure TTLs doing their job; adding them up would hide which.
* Load time is a counter of seconds, ``hotcache_load_seconds_total``, beside
  ``hotcache_loads_total`` (every execution of the function, failed ones included):
  ``rate(seconds) / rate(loads)`` is the mean load time.  A histogram would need a hook on
  every miss; reading the decorator's own counters at scrape time needs none.
* The breaker state of a tiered cache is one gauge per state,
  ``hotcache_l2_breaker_state{state="closed"|"open"|"half_open"}``, 1 for the current state.
* A tiered cache's ``hotcache_l2_*`` counters cover its tiers as a whole; each tier also has
  its own ``hotcache_tier_*{level="1"|"2"|...}`` series (level 1 is the nearest the L1), so
  ``TieredCache(l1, DiskTier(...), RedisTier(...))`` shows the disk's and Redis's hits apart.
* For a decorated function, hits and misses are the function's (``cache_stats()``): calls
  answered from the cache and calls that ran or waited for a load.  Evictions, size and memory
  come from the function's cache when it has ``stats()`` (else len/currsize/maxsize).
* ``hotcache_hit_ratio`` is the lifetime ratio; for a recent window use
  ``rate(hotcache_hits_total[5m]) / (rate(hotcache_hits_total[5m]) + rate(hotcache_misses_total[5m]))``.
* ``cache_clear()`` on a decorated function resets its counters: Prometheus sees a counter
  reset, which ``rate()`` and ``increase()`` handle.

prometheus_client's multiprocess mode does not run custom collectors: with several worker
processes each process exports only its own caches, so scrape every process.
"""

from __future__ import annotations

import logging
import threading
import types
import weakref
from typing import (
    Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, TypeVar, Union,
)

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "hotcache.metrics needs prometheus_client, which is not installed: "
        "pip install 'hotcache[metrics]' (%s)" % (_exc,)
    ) from _exc

__all__ = ["HotcacheCollector", "METRICS", "register", "unregister"]

T = TypeVar("T")

_log = logging.getLogger("hotcache.metrics")

_COUNTER = "counter"
_GAUGE = "gauge"

# name (without the _total suffix of counters) -> (type, help, extra label names).
# Every family also has the label "cache".
METRICS: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {
    # caches (CacheStats) -- and, for hits/misses/hit ratio, decorated functions
    "hotcache_hits": (_COUNTER, "Lookups (for a decorated function: calls) answered from the cache.", ()),
    "hotcache_misses": (_COUNTER, "Lookups (calls) that found no live entry.", ()),
    "hotcache_hit_ratio": (_GAUGE, "hits / (hits + misses) since the cache was created "
                                  "(0 before any lookup).", ()),
    "hotcache_inserts": (_COUNTER, "Stores of new keys.", ()),
    "hotcache_updates": (_COUNTER, "Stores to existing keys.", ()),
    "hotcache_evictions": (_COUNTER, "Entries evicted to make room, by cause: size (maxsize) or "
                                    "memory (maxmemory). Expirations are counted apart.",
                           ("cause",)),
    "hotcache_expirations": (_COUNTER, "Entries removed because their time to live ran out.", ()),
    "hotcache_entries": (_GAUGE, "Number of entries (len).", ()),
    "hotcache_currsize": (_GAUGE, "Current size in getsizeof units (= entries without getsizeof).",
                          ()),
    "hotcache_maxsize": (_GAUGE, "Configured maxsize (+Inf when unbounded).", ()),
    "hotcache_memory_used_bytes": (_GAUGE, "Bytes charged to entries (caches with maxmemory).", ()),
    "hotcache_maxmemory_bytes": (_GAUGE, "Configured maxmemory in bytes.", ()),
    # decorated functions (cache_stats())
    "hotcache_loads": (_COUNTER, "Calls of the decorated function on a miss.", ()),
    "hotcache_load_errors": (_COUNTER, "Loads that raised.", ()),
    "hotcache_load_seconds": (_COUNTER, "Wall seconds spent in loads; rate() of this over rate() "
                                       "of hotcache_loads_total is the mean load time.", ()),
    "hotcache_loads_in_flight": (_GAUGE, "Loads running right now.", ()),
    # refresh-ahead (LoadingCache, and cached(refresh_ahead=...))
    "hotcache_refreshes": (_COUNTER, "Background refreshes started (refresh-ahead).", ()),
    "hotcache_refresh_errors": (_COUNTER, "Background refreshes that raised.", ()),
    "hotcache_stale_served": (_COUNTER, "Stale values served because a reload failed "
                                       "(stale_if_error).", ()),
    "hotcache_refreshes_in_flight": (_GAUGE, "Background refreshes running right now.", ()),
    # TieredCache (TieredStats)
    "hotcache_l2_hits": (_COUNTER, "L1 misses answered by the second tier (promoted into L1).", ()),
    "hotcache_l2_misses": (_COUNTER, "L1 misses the second tier did not answer (absent, expired, "
                                    "rejected, breaker open, or failed).", ()),
    "hotcache_l2_errors": (_COUNTER, "Failed calls and commands to the second tier.", ()),
    "hotcache_l2_spilled": (_COUNTER, "L1 size/memory evictions written to the second tier.", ()),
    "hotcache_l2_spill_dropped": (_COUNTER, "Spills given up (queue full, breaker open, write "
                                           "failed, unserializable).", ()),
    "hotcache_l2_rejected": (_COUNTER, "Stored values that failed authentication or decoding.",
                             ()),
    "hotcache_l2_breaker_state": (_GAUGE, "Circuit breaker of the second tier: 1 for the current "
                                         "state, 0 for the others.", ("state",)),
    # each tier of a TieredCache (TieredStats.levels; level "1" is the nearest the L1)
    "hotcache_tier_hits": (_COUNTER, "L1 misses this tier answered.", ("level",)),
    "hotcache_tier_misses": (_COUNTER, "L1 misses this tier was asked and did not answer.", ("level",)),
    "hotcache_tier_errors": (_COUNTER, "Failed calls to this tier.", ("level",)),
    "hotcache_tier_written": (_COUNTER, "Entries written to this tier (spills, shared writes, "
                                       "copies from a lower tier).", ("level",)),
    "hotcache_tier_dropped": (_COUNTER, "Writes to this tier given up.", ("level",)),
    "hotcache_tier_rejected": (_COUNTER, "Values of this tier that failed authentication or "
                                        "decoding.", ("level",)),
    "hotcache_tier_pending": (_GAUGE, "Writes queued for this tier.", ("level",)),
    # the sizing advisor (caches built with sizing=R, and functions decorated with it)
    "hotcache_sizing_hit_ratio": (_GAUGE, "Hit ratio the sizing advisor predicts for this traffic "
                                          "with the given policy and cache size (entries).",
                                  ("policy", "size")),
    "hotcache_sizing_working_set": (_GAUGE, "Distinct keys looked up so far (HyperLogLog "
                                            "estimate of the sizing advisor).", ()),
    # WriteBehindCache (stats() dict)
    "hotcache_write_behind_pending": (_GAUGE, "Writes queued, not yet flushed.", ()),
    "hotcache_write_behind_flushed_batches": (_COUNTER, "Batches the writer accepted.", ()),
    "hotcache_write_behind_flushed_items": (_COUNTER, "Items in flushed batches.", ()),
    "hotcache_write_behind_failed_batches": (_COUNTER, "Writer calls that raised.", ()),
    "hotcache_write_behind_retries": (_COUNTER, "Batches retried after a writer error.", ()),
    "hotcache_write_behind_abandoned_batches": (_COUNTER, "Batches given up after max_retries "
                                                         "(handed to on_error).", ()),
}

_BREAKER_STATES = ("closed", "open", "half_open")
_TIERED_FIELDS = ("l2_hits", "l2_misses", "l2_errors", "spilled", "spill_dropped", "rejected")
_LEVEL_FIELDS = (("l2_hits", "hotcache_tier_hits"), ("l2_misses", "hotcache_tier_misses"),
                 ("l2_errors", "hotcache_tier_errors"), ("spilled", "hotcache_tier_written"),
                 ("spill_dropped", "hotcache_tier_dropped"), ("rejected", "hotcache_tier_rejected"),
                 ("pending", "hotcache_tier_pending"))
# stats-dict key -> family, for cache_stats() and for stats() that return a dict
_DICT_FIELDS = {
    "loads": "hotcache_loads", "load_errors": "hotcache_load_errors",
    "load_seconds": "hotcache_load_seconds", "in_flight": "hotcache_loads_in_flight",
    "refreshes": "hotcache_refreshes", "refresh_errors": "hotcache_refresh_errors",
    "stale_served": "hotcache_stale_served", "refreshing": "hotcache_refreshes_in_flight",
    "pending": "hotcache_write_behind_pending",
    "flushed_batches": "hotcache_write_behind_flushed_batches",
    "flushed_items": "hotcache_write_behind_flushed_items",
    "failed_batches": "hotcache_write_behind_failed_batches",
    "retries": "hotcache_write_behind_retries",
    "abandoned_batches": "hotcache_write_behind_abandoned_batches",
}
_REFRESH_FIELDS = ("refreshes", "refresh_errors", "stale_served", "refreshing")

Family = Union[CounterMetricFamily, GaugeMetricFamily]

# One sample of one registered object: (family name, extra label values, value).
Sample = Tuple[str, Tuple[str, ...], float]


def _family(name: str) -> Family:
    kind, doc, extra = METRICS[name]
    labels = ["cache", *extra]
    if kind == _COUNTER:
        return CounterMetricFamily(name, doc, labels=labels)
    return GaugeMetricFamily(name, doc, labels=labels)


def _num(value: Any) -> Optional[float]:
    """A stats field as a float, or None when it is absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cache_samples(st: Any, out: List[Sample], lookups: bool = True) -> None:
    """Samples of a CacheStats-like snapshot (attributes); hits/misses only when `lookups`."""
    def put(name: str, field: str, extra: Tuple[str, ...] = ()) -> None:
        v = _num(getattr(st, field, None))
        if v is not None:
            out.append((name, extra, v))

    if lookups:
        _lookup_samples(getattr(st, "hits", None), getattr(st, "misses", None), out)
    put("hotcache_inserts", "inserts")
    put("hotcache_updates", "updates")
    put("hotcache_evictions", "evictions_size", ("size",))
    put("hotcache_evictions", "evictions_memory", ("memory",))
    put("hotcache_expirations", "expirations")
    put("hotcache_entries", "len")
    put("hotcache_currsize", "currsize")
    put("hotcache_maxsize", "maxsize")
    put("hotcache_memory_used_bytes", "memory_used")
    put("hotcache_maxmemory_bytes", "maxmemory")


def _lookup_samples(hits: Any, misses: Any, out: List[Sample]) -> None:
    h, m = _num(hits), _num(misses)
    if h is not None:
        out.append(("hotcache_hits", (), h))
    if m is not None:
        out.append(("hotcache_misses", (), m))
    if h is not None and m is not None:
        out.append(("hotcache_hit_ratio", (), h / (h + m) if h + m else 0.0))


def _tiered_samples(st: Any, out: List[Sample]) -> None:
    for field in _TIERED_FIELDS:
        v = _num(getattr(st, field, None))
        if v is not None:
            name = "hotcache_" + field if field.startswith("l2_") else "hotcache_l2_" + field
            out.append((name, (), v))
    for i, level in enumerate(getattr(st, "levels", None) or (), 1):
        for field, name in _LEVEL_FIELDS:
            v = _num(level.get(field))
            if v is not None:
                out.append((name, (str(i),), v))
    state = getattr(st, "breaker_state", None)
    if isinstance(state, str) and state:
        states = _BREAKER_STATES if state in _BREAKER_STATES else _BREAKER_STATES + (state,)
        for s in states:
            out.append(("hotcache_l2_breaker_state", (s,), 1.0 if s == state else 0.0))


def _inner_cache_samples(cache: Any, out: List[Sample], lookups: bool) -> None:
    """Samples of a wrapped cache (a decorator's or a write-behind cache's `.cache`)."""
    stats = getattr(cache, "stats", None)
    if callable(stats):
        _cache_samples(stats(), out, lookups=lookups)
        return
    # A cache without stats() (a dict, a cachetools cache): what its attributes tell.
    if hasattr(cache, "__len__"):
        out.append(("hotcache_entries", (), float(len(cache))))
    for name, field in (("hotcache_currsize", "currsize"), ("hotcache_maxsize", "maxsize")):
        v = _num(getattr(cache, field, None))
        if v is not None:
            out.append((name, (), v))


def _dict_samples(d: Mapping[str, Any], out: List[Sample], fields: Iterable[str] = _DICT_FIELDS
                  ) -> None:
    for field in fields:
        v = _num(d.get(field))
        if v is not None:
            out.append((_DICT_FIELDS[field], (), v))


def _samples(obj: Any) -> List[Sample]:
    """Everything exported for one object, read now from its own counters.

    Dispatch is by duck type: ``cache_stats()`` (a decorated function: its own hits, misses and
    loads, its ``.cache``'s evictions and sizes, its ``.loading_cache``'s refreshes), else
    ``stats()`` returning a mapping (a WriteBehindCache or a LoadingCache: their counters plus
    their ``.cache``'s) or an object with ``hits`` (CacheStats; TieredStats when it also has
    ``l2_hits``).  Raises whatever those methods raise.
    """
    out: List[Sample] = []
    cache_stats = getattr(obj, "cache_stats", None)
    if callable(cache_stats):
        d = cache_stats()
        _lookup_samples(d.get("hits"), d.get("misses"), out)
        _dict_samples(d, out)
        loading_stats = getattr(getattr(obj, "loading_cache", None), "stats", None)
        if callable(loading_stats):
            _dict_samples(loading_stats(), out, [f for f in _REFRESH_FIELDS if f not in d])
        cache = getattr(obj, "cache", None)
        if cache is not None and not isinstance(cache, (types.FunctionType, types.MethodType)):
            _inner_cache_samples(cache, out, lookups=False)
            _sizing_samples(cache, out)
        return out
    st = obj.stats()
    if isinstance(st, Mapping):
        if "refreshes" in st and "loads" in st:
            # a LoadingCache counts successful loads in "loads"; hotcache_loads_total counts
            # every execution, failed ones included, as the decorators do
            st = dict(st)
            st["loads"] = st["loads"] + (st.get("load_errors") or 0)
        _dict_samples(st, out)
        cache = getattr(obj, "cache", None)
        if cache is not None:
            _inner_cache_samples(cache, out, lookups=True)
        return out
    _cache_samples(st, out)
    if hasattr(st, "l2_hits"):
        _tiered_samples(st, out)
    _sizing_samples(obj, out)
    return out


def _sizing_samples(cache: Any, out: List[Sample]) -> None:
    """The sizing advisor's predicted hit ratios and working set, when ``cache`` has it on."""
    sizing = getattr(cache, "sizing", None)
    if not callable(sizing):
        return
    try:
        rep = sizing()
    except ValueError:      # sizing is off
        return
    for policy, ratios in rep.hit_ratio.items():
        for size, ratio in zip(rep.sizes, ratios):
            out.append(("hotcache_sizing_hit_ratio", (policy, str(size)), float(ratio)))
    out.append(("hotcache_sizing_working_set", (), float(rep.working_set)))


def _reference(obj: Any) -> Callable[[], Any]:
    """A weak reference to obj where it allows one (WeakMethod for bound methods), else a
    strong one: such an object stays exported until unregister()."""
    if isinstance(obj, types.MethodType):
        return weakref.WeakMethod(obj)
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


class HotcacheCollector(Collector):
    """A prometheus_client collector exporting the registered objects under their names.

    ``add(name, obj)`` / ``remove(name)`` manage the set; register the collector with any
    ``CollectorRegistry`` (the module-level ``register()`` does both for you).  Thread-safe:
    scrapes and (un)registrations may run concurrently; ``stats()`` is called without the
    collector's lock held.  An object whose ``stats()`` raises during a scrape is left out of
    that scrape (logged on the ``hotcache.metrics`` logger); the others are exported.
    """

    def __init__(self) -> None:
        # reentrant: dropping the last reference to an object inside the lock may run its
        # finalizer, which may unregister something
        self._lock = threading.RLock()
        self._refs: Dict[str, Callable[[], Any]] = {}

    def add(self, name: str, obj: T) -> T:
        """Export ``obj`` as ``cache=name``; returns obj.

        TypeError if name is not a str or obj has neither ``stats()`` nor ``cache_stats()``;
        ValueError if name is empty or already taken by a live object (a name whose object
        was garbage collected is free again).
        """
        if not isinstance(name, str):
            raise TypeError("metrics name must be a str, not %s" % type(name).__name__)
        if not name:
            raise ValueError("metrics name must not be empty")
        if not (callable(getattr(obj, "cache_stats", None)) or callable(getattr(obj, "stats", None))):
            raise TypeError("cannot export %r: it has neither stats() nor cache_stats()" % (obj,))
        ref = _reference(obj)
        with self._lock:
            old = self._refs.get(name)
            if old is not None and old() is not None:
                raise ValueError("a cache named %r is already registered" % name)
            self._refs[name] = ref
        return obj

    def remove(self, name: str) -> bool:
        """Stop exporting ``name``; True if a live object was registered under it."""
        with self._lock:
            ref = self._refs.pop(name, None)
        return ref is not None and ref() is not None

    def names(self) -> List[str]:
        """The names of the live registered objects, sorted."""
        return sorted(name for name, _ in self._live())

    def _live(self) -> List[Tuple[str, Any]]:
        """(name, object) of the live entries; forgets the dead ones."""
        live = []
        with self._lock:
            dead = []
            for name, ref in self._refs.items():
                obj = ref()
                if obj is None:
                    dead.append(name)
                else:
                    live.append((name, obj))
            for name in dead:
                del self._refs[name]
        live.sort(key=lambda item: item[0])
        return live

    def describe(self) -> List[Metric]:
        """Every family this collector can emit (empty), so a registry can check name clashes."""
        return [_family(name) for name in METRICS]

    def collect(self) -> Iterator[Metric]:
        """One family per metric that has samples, one sample per object (and label value)."""
        families: Dict[str, Family] = {}
        for name, obj in self._live():
            try:
                samples = _samples(obj)
            except Exception:
                _log.exception("hotcache.metrics: reading the stats of %r failed", name)
                continue
            for metric, extra, value in samples:
                fam = families.get(metric)
                if fam is None:
                    fam = families[metric] = _family(metric)
                fam.add_metric([name, *extra], value)
        for metric in METRICS:
            if metric in families:
                yield families[metric]


_collectors: "weakref.WeakKeyDictionary[CollectorRegistry, HotcacheCollector]" = (
    weakref.WeakKeyDictionary())
_collectors_lock = threading.Lock()


def _collector(registry: CollectorRegistry, create: bool) -> Optional[HotcacheCollector]:
    with _collectors_lock:
        col = _collectors.get(registry)
        if col is None and create:
            col = HotcacheCollector()
            registry.register(col)
            _collectors[registry] = col
        return col


_MISSING: Any = object()


def register(name: str, obj: Any = _MISSING, registry: CollectorRegistry = REGISTRY) -> Any:
    """Export ``obj`` under ``cache=name`` in ``registry``; returns obj.

    obj: a hotcache cache (``stats()`` -> CacheStats), a decorated function (``cache_stats()``
    and ``.cache``), a TieredCache (``stats()`` -> TieredStats), a WriteBehindCache or a
    LoadingCache (``stats()`` -> dict, ``.cache``).  It is held by weak reference where it
    allows one: keep your own reference (the return value) or it leaves the output when it is
    garbage collected.  Without obj, returns a decorator: ``@register("users")`` placed
    above ``@hotcache.cached(...)``.  The first call for a registry registers one
    ``HotcacheCollector`` with it.  Names are unique per registry (ValueError); see
    ``HotcacheCollector.add`` for the errors.
    """
    if obj is _MISSING:
        def decorator(target: T) -> T:
            return register(name, target, registry)
        return decorator
    col = _collector(registry, create=True)
    assert col is not None
    return col.add(name, obj)


def unregister(name: str, registry: CollectorRegistry = REGISTRY) -> bool:
    """Stop exporting ``name`` from ``registry``; True if a live object was registered under it
    (False for an unknown name or one whose object was already garbage collected)."""
    col = _collector(registry, create=False)
    return col.remove(name) if col is not None else False
