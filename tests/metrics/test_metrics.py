"""Tests for hotcache.metrics: exact exported values after known operation sequences.

Each test scrapes a fresh CollectorRegistry; caches run on the C core and on the pure twin.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import subprocess
import sys
import threading
import weakref

import pytest

try:
    import prometheus_client  # noqa: F401
except ImportError:  # the [metrics] extra: required in CI, optional locally
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("prometheus_client is not installed (pip install 'hotcache[metrics]')",
                    pytrace=False)
    pytest.skip("prometheus_client is not installed (pip install 'hotcache[metrics]')",
                allow_module_level=True)
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

import hotcache  # noqa: E402
from hotcache import metrics  # noqa: E402
from hotcache.stats import CacheStats  # noqa: E402

from helpers import FakeTimer, module  # noqa: E402


@pytest.fixture
def registry():
    return CollectorRegistry()


def value(registry, name, cache, **labels):
    return registry.get_sample_value(name, dict(cache=cache, **labels))


def sample_names(registry):
    return {s.name for fam in registry.collect() for s in fam.samples}


# ---------------------------------------------------------------------------------------------
# Plain caches (CacheStats)

def test_lru_counters_after_known_sequence(impl, registry):
    c = module(impl).LRUCache(2)
    assert metrics.register("users", c, registry) is c
    c["a"] = 1
    c["b"] = 2
    c["a"] = 10          # update
    c["a"]               # hit
    c.get("a")           # hit
    c.get("zz")          # miss
    c["c"] = 3           # evicts b (size)
    assert c.get("b") is None   # miss
    assert value(registry, "hotcache_hits_total", "users") == 2.0
    assert value(registry, "hotcache_misses_total", "users") == 2.0
    assert value(registry, "hotcache_hit_ratio", "users") == 0.5
    assert value(registry, "hotcache_inserts_total", "users") == 3.0
    assert value(registry, "hotcache_updates_total", "users") == 1.0
    assert value(registry, "hotcache_evictions_total", "users", cause="size") == 1.0
    assert value(registry, "hotcache_evictions_total", "users", cause="memory") == 0.0
    assert value(registry, "hotcache_expirations_total", "users") == 0.0
    assert value(registry, "hotcache_entries", "users") == 2.0
    assert value(registry, "hotcache_currsize", "users") == 2.0
    assert value(registry, "hotcache_maxsize", "users") == 2.0
    # no maxmemory: no memory gauges at all
    names = sample_names(registry)
    assert "hotcache_memory_used_bytes" not in names
    assert "hotcache_maxmemory_bytes" not in names
    # decorator / tier / write-behind families are absent for a plain cache
    assert not any(n.startswith(("hotcache_load", "hotcache_l2_", "hotcache_write_behind"))
                   for n in names)


def test_hit_ratio_is_zero_before_any_lookup(impl, registry):
    c = metrics.register("empty", module(impl).LRUCache(4), registry)
    assert value(registry, "hotcache_hit_ratio", "empty") == 0.0
    assert value(registry, "hotcache_hits_total", "empty") == 0.0
    assert len(c) == 0


def test_scrape_does_not_change_the_counters(impl, registry):
    c = module(impl).LRUCache(4)
    metrics.register("c", c, registry)
    c["k"] = 1
    c["k"]
    first = generate_latest(registry)
    second = generate_latest(registry)
    assert first == second
    assert c.stats().hits == 1 and c.stats().misses == 0


def test_memory_bound_cache(impl, registry):
    c = module(impl).LRUCache(100, maxmemory=1000, sizeof=lambda k, v: 300)
    metrics.register("blobs", c, registry)
    for i in range(5):
        c[i] = i
    st = c.stats()
    assert st.evictions_memory == 3
    assert value(registry, "hotcache_evictions_total", "blobs", cause="memory") == 3.0
    assert value(registry, "hotcache_evictions_total", "blobs", cause="size") == 0.0
    assert value(registry, "hotcache_memory_used_bytes", "blobs") == float(st.memory_used)
    assert 0 < st.memory_used <= 1000
    assert value(registry, "hotcache_maxmemory_bytes", "blobs") == 1000.0
    assert value(registry, "hotcache_entries", "blobs") == 2.0


def test_expirations_are_their_own_counter(impl, registry):
    timer = FakeTimer()
    c = module(impl).TTLCache(2, 10, timer=timer)
    metrics.register("sessions", c, registry)
    c["a"] = 1
    c["b"] = 2
    c["c"] = 3            # evicts a (size)
    timer.advance(20)
    c.expire()            # b and c expire
    assert value(registry, "hotcache_expirations_total", "sessions") == 2.0
    assert value(registry, "hotcache_evictions_total", "sessions", cause="size") == 1.0
    assert value(registry, "hotcache_evictions_total", "sessions", cause="expired") is None
    assert value(registry, "hotcache_entries", "sessions") == 0.0


def test_unbounded_maxsize_is_plus_inf(impl, registry):
    c = metrics.register("big", module(impl).LRUCache(math.inf), registry)
    assert value(registry, "hotcache_maxsize", "big") == math.inf
    assert b'hotcache_maxsize{cache="big"} +Inf' in generate_latest(registry)
    assert c.maxsize == math.inf


def test_text_exposition(registry):
    c = module("core").LRUCache(8)
    metrics.register("users", c, registry)
    c["x"] = 1
    for _ in range(3):
        c["x"]
    text = generate_latest(registry).decode()
    assert "# TYPE hotcache_hits_total counter" in text
    assert 'hotcache_hits_total{cache="users"} 3.0' in text
    assert "# TYPE hotcache_hit_ratio gauge" in text
    assert 'hotcache_hit_ratio{cache="users"} 1.0' in text
    assert 'hotcache_evictions_total{cache="users",cause="size"} 0.0' in text


def test_several_caches_are_labelled_apart(registry):
    core = module("core")
    a, b = core.LRUCache(4), core.LFUCache(4)
    metrics.register("a", a, registry)
    metrics.register("b", b, registry)
    a["k"] = 1
    a["k"]
    b.get("nope")
    assert value(registry, "hotcache_hits_total", "a") == 1.0
    assert value(registry, "hotcache_misses_total", "a") == 0.0
    assert value(registry, "hotcache_hits_total", "b") == 0.0
    assert value(registry, "hotcache_misses_total", "b") == 1.0
    fam = next(f for f in registry.collect() if f.name == "hotcache_hits")
    assert [s.labels["cache"] for s in fam.samples] == ["a", "b"]


# ---------------------------------------------------------------------------------------------
# Registration rules

def test_names_are_unique(registry):
    core = module("core")
    first = metrics.register("x", core.LRUCache(1), registry)
    with pytest.raises(ValueError, match="already registered"):
        metrics.register("x", core.LRUCache(1), registry)
    assert first.maxsize == 1


def test_same_name_in_two_registries(registry):
    other = CollectorRegistry()
    core = module("core")
    a, b = core.LRUCache(1), core.LRUCache(1)
    metrics.register("x", a, registry)
    metrics.register("x", b, other)
    a.get(1)
    assert value(registry, "hotcache_misses_total", "x") == 1.0
    assert value(other, "hotcache_misses_total", "x") == 0.0


def test_bad_arguments(registry):
    c = module("core").LRUCache(1)
    with pytest.raises(TypeError):
        metrics.register(42, c, registry)
    with pytest.raises(ValueError):
        metrics.register("", c, registry)
    with pytest.raises(TypeError, match="stats"):
        metrics.register("d", {}, registry)
    assert "d" not in metrics._collector(registry, create=False).names()


def test_unregister(registry):
    c = module("core").LRUCache(1)
    metrics.register("x", c, registry)
    assert value(registry, "hotcache_entries", "x") == 0.0
    assert metrics.unregister("x", registry) is True
    assert value(registry, "hotcache_entries", "x") is None
    assert metrics.unregister("x", registry) is False
    assert metrics.unregister("never", CollectorRegistry()) is False
    metrics.register("x", c, registry)          # the name is free again
    assert value(registry, "hotcache_entries", "x") == 0.0


def test_register_as_decorator(registry):
    class Stub:
        def cache_stats(self):
            return {"hits": 1, "misses": 3, "loads": 3, "load_errors": 0,
                    "load_seconds": 0.5, "in_flight": 0}

    stub = Stub()
    deco = metrics.register("fn", registry=registry)
    assert deco(stub) is stub
    assert value(registry, "hotcache_hits_total", "fn") == 1.0
    assert value(registry, "hotcache_hit_ratio", "fn") == 0.25


def test_default_registry():
    from prometheus_client import REGISTRY
    c = module("core").LRUCache(3)
    name = "hotcache-test-default-%d" % id(c)
    metrics.register(name, c)
    try:
        c["k"] = 1
        assert REGISTRY.get_sample_value("hotcache_entries", {"cache": name}) == 1.0
    finally:
        assert metrics.unregister(name) is True
    assert REGISTRY.get_sample_value("hotcache_entries", {"cache": name}) is None


def test_one_collector_per_registry(registry):
    core = module("core")
    metrics.register("a", core.LRUCache(1), registry)
    metrics.register("b", core.LRUCache(1), registry)
    collectors = [c for c in registry._collector_to_names if isinstance(c, metrics.HotcacheCollector)]
    assert len(collectors) == 1


def test_describe_lets_the_registry_catch_clashes(registry):
    metrics.register("a", module("core").LRUCache(1), registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(metrics.HotcacheCollector())
    described = {m.name for m in metrics.HotcacheCollector().describe()}
    assert described == set(metrics.METRICS)


def test_custom_collector_class():
    reg = CollectorRegistry()
    col = metrics.HotcacheCollector()
    reg.register(col)
    c = module("core").LRUCache(5)
    assert col.add("mine", c) is c
    c["a"] = 1
    assert reg.get_sample_value("hotcache_inserts_total", {"cache": "mine"}) == 1.0
    assert col.names() == ["mine"]
    assert col.remove("mine") is True
    assert col.names() == []


# ---------------------------------------------------------------------------------------------
# Weak references: a dropped cache disappears and is not kept alive

def test_dropped_cache_disappears_and_is_freed(impl, registry):
    c = module(impl).LRUCache(4)
    ref = weakref.ref(c)
    metrics.register("tmp", c, registry)
    c["a"] = 1
    assert value(registry, "hotcache_entries", "tmp") == 1.0
    del c
    gc.collect()
    assert ref() is None, "the collector kept the cache alive"
    assert value(registry, "hotcache_entries", "tmp") is None
    assert "hotcache_hits_total" not in sample_names(registry)
    col = metrics._collector(registry, create=False)
    assert col.names() == []
    assert col._refs == {}                      # the entry itself is forgotten too
    assert metrics.unregister("tmp", registry) is False
    metrics.register("tmp", module(impl).LRUCache(1), registry)   # name reusable


def test_dead_name_can_be_reused_before_any_scrape(registry):
    c = module("core").LRUCache(4)
    metrics.register("tmp", c, registry)
    del c
    gc.collect()
    d = module("core").LRUCache(7)
    metrics.register("tmp", d, registry)
    assert value(registry, "hotcache_maxsize", "tmp") == 7.0


def test_unweakrefable_object_is_held_strongly(registry):
    class Slotted:
        __slots__ = ()

        def stats(self):
            return CacheStats(hits=4, misses=0, inserts=0, updates=0, evictions=0,
                              evictions_size=0, evictions_memory=0, expirations=0, currsize=0,
                              maxsize=10, memory_used=None, maxmemory=None, len=0)

    metrics.register("strong", Slotted(), registry)
    gc.collect()
    assert value(registry, "hotcache_hits_total", "strong") == 4.0
    assert metrics.unregister("strong", registry) is True
    assert value(registry, "hotcache_hits_total", "strong") is None


def test_bound_method_is_held_weakly(registry):
    """A method bound to an instance (as a per-instance cached method is) is held through a
    WeakMethod: exporting it does not keep the instance alive."""
    class Owner:
        def method(self):
            return None

    Owner.method.cache_stats = lambda: {"hits": 2, "misses": 0}
    owner = Owner()
    metrics.register("bound", owner.method, registry)   # a fresh bound method, dropped at once
    assert value(registry, "hotcache_hits_total", "bound") == 2.0
    ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert ref() is None
    assert value(registry, "hotcache_hits_total", "bound") is None


# ---------------------------------------------------------------------------------------------
# Decorated functions (duck-typed here; the real decorators are tested below when present)

class FakeDecorated:
    def __init__(self, cache, stats):
        self.cache = cache
        self._stats = stats

    def cache_stats(self):
        return dict(self._stats)


def test_decorator_stand_in(impl, registry):
    cache = module(impl).LRUCache(1)
    cache["a"] = 1
    cache["b"] = 2                              # one size eviction
    cache.get("b")                              # a cache-level hit: not the function's
    f = FakeDecorated(cache, {"hits": 6, "misses": 2, "loads": 2, "load_errors": 1,
                              "load_seconds": 0.25, "in_flight": 1})
    metrics.register("f", f, registry)
    assert value(registry, "hotcache_hits_total", "f") == 6.0       # the function's counts
    assert value(registry, "hotcache_misses_total", "f") == 2.0
    assert value(registry, "hotcache_hit_ratio", "f") == 0.75
    assert value(registry, "hotcache_loads_total", "f") == 2.0
    assert value(registry, "hotcache_load_errors_total", "f") == 1.0
    assert value(registry, "hotcache_load_seconds_total", "f") == 0.25
    assert value(registry, "hotcache_loads_in_flight", "f") == 1.0
    assert value(registry, "hotcache_evictions_total", "f", cause="size") == 1.0   # the cache's
    assert value(registry, "hotcache_entries", "f") == 1.0
    assert value(registry, "hotcache_maxsize", "f") == 1.0
    hits = [s for fam in registry.collect() for s in fam.samples if s.name == "hotcache_hits_total"]
    assert len(hits) == 1                       # not exported twice


def test_decorator_with_a_plain_mapping_cache(registry):
    cachetools = pytest.importorskip("cachetools")
    cache = cachetools.LRUCache(10)
    cache[1] = 1
    f = FakeDecorated(cache, {"hits": 0, "misses": 1, "loads": 1, "load_errors": 0,
                              "load_seconds": 0.0, "in_flight": 0})
    metrics.register("ct", f, registry)
    assert value(registry, "hotcache_entries", "ct") == 1.0
    assert value(registry, "hotcache_currsize", "ct") == 1.0
    assert value(registry, "hotcache_maxsize", "ct") == 10.0
    assert value(registry, "hotcache_evictions_total", "ct", cause="size") is None


# ---------------------------------------------------------------------------------------------
# TieredCache (TieredStats stand-in) and WriteBehindCache (stats() dict stand-in)

@dataclasses.dataclass(frozen=True)
class FakeTieredStats:
    hits: int = 0
    misses: int = 0
    inserts: int = 0
    updates: int = 0
    evictions: int = 0
    evictions_size: int = 0
    evictions_memory: int = 0
    expirations: int = 0
    currsize: int = 0
    maxsize: float = 0
    memory_used: object = None
    maxmemory: object = None
    len: int = 0
    l2_hits: int = 0
    l2_misses: int = 0
    l2_errors: int = 0
    spilled: int = 0
    spill_dropped: int = 0
    rejected: int = 0
    breaker_state: str = "closed"


class FakeTiered:
    def __init__(self, st):
        self.st = st

    def stats(self):
        return self.st


def test_tiered_stand_in(registry):
    t = FakeTiered(FakeTieredStats(hits=5, misses=5, evictions_size=3, len=7, currsize=7,
                                   maxsize=100, l2_hits=4, l2_misses=1, l2_errors=2, spilled=3,
                                   spill_dropped=1, rejected=6, breaker_state="open"))
    metrics.register("tier", t, registry)
    assert value(registry, "hotcache_hits_total", "tier") == 5.0
    assert value(registry, "hotcache_hit_ratio", "tier") == 0.5
    assert value(registry, "hotcache_l2_hits_total", "tier") == 4.0
    assert value(registry, "hotcache_l2_misses_total", "tier") == 1.0
    assert value(registry, "hotcache_l2_errors_total", "tier") == 2.0
    assert value(registry, "hotcache_l2_spilled_total", "tier") == 3.0
    assert value(registry, "hotcache_l2_spill_dropped_total", "tier") == 1.0
    assert value(registry, "hotcache_l2_rejected_total", "tier") == 6.0
    states = {s: value(registry, "hotcache_l2_breaker_state", "tier", state=s)
              for s in ("closed", "open", "half_open")}
    assert states == {"closed": 0.0, "open": 1.0, "half_open": 0.0}
    t.st = dataclasses.replace(t.st, breaker_state="half_open")
    assert value(registry, "hotcache_l2_breaker_state", "tier", state="half_open") == 1.0
    assert value(registry, "hotcache_l2_breaker_state", "tier", state="open") == 0.0


class FakeWriteBehind:
    def __init__(self, cache):
        self.cache = cache

    def stats(self):
        return {"pending": 3, "flushed_batches": 2, "flushed_items": 150, "failed_batches": 1,
                "retries": 4}


def test_write_behind_stand_in(registry):
    inner = module("core").LRUCache(10)
    inner["a"] = 1
    inner["a"]
    wb = metrics.register("wb", FakeWriteBehind(inner), registry)
    assert value(registry, "hotcache_write_behind_pending", "wb") == 3.0
    assert value(registry, "hotcache_write_behind_flushed_batches_total", "wb") == 2.0
    assert value(registry, "hotcache_write_behind_flushed_items_total", "wb") == 150.0
    assert value(registry, "hotcache_write_behind_failed_batches_total", "wb") == 1.0
    assert value(registry, "hotcache_write_behind_retries_total", "wb") == 4.0
    assert value(registry, "hotcache_hits_total", "wb") == 1.0     # the wrapped cache's
    assert value(registry, "hotcache_entries", "wb") == 1.0
    assert wb.cache is inner


# ---------------------------------------------------------------------------------------------
# Failure isolation, concurrency, import hygiene

def test_a_failing_stats_call_skips_only_that_cache(registry, caplog):
    class Broken:
        def stats(self):
            raise RuntimeError("boom")

    broken = Broken()
    good = module("core").LRUCache(2)
    metrics.register("broken", broken, registry)
    metrics.register("good", good, registry)
    good["k"] = 1
    with caplog.at_level("ERROR", logger="hotcache.metrics"):
        assert value(registry, "hotcache_entries", "good") == 1.0
    assert value(registry, "hotcache_entries", "broken") is None
    assert any("broken" in r.getMessage() for r in caplog.records)


def test_concurrent_scrapes_and_registrations(registry):
    core = module("core")
    keep = core.LRUCache(10)
    metrics.register("keep", keep, registry)
    errors = []
    stop = threading.Event()

    def scrape():
        try:
            while not stop.is_set():
                assert b'hotcache_entries{cache="keep"}' in generate_latest(registry)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def churn(tag):
        try:
            for i in range(300):
                name = "%s-%d" % (tag, i % 7)
                c = core.LRUCache(3)
                metrics.unregister(name, registry)
                metrics.register(name, c, registry)
                c[i] = i
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    scrapers = [threading.Thread(target=scrape) for _ in range(2)]
    churners = [threading.Thread(target=churn, args=(t,)) for t in "ab"]
    for t in scrapers + churners:
        t.start()
    for t in churners:
        t.join(timeout=60)
    stop.set()
    for t in scrapers:
        t.join(timeout=60)
    assert not errors, errors
    assert value(registry, "hotcache_entries", "keep") == 0.0


def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


def test_import_hotcache_does_not_import_prometheus_client():
    r = _python("import sys, hotcache; assert 'prometheus_client' not in sys.modules, "
                "sorted(m for m in sys.modules if 'prometheus' in m); print('ok')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_import_without_prometheus_client_names_the_extra():
    r = _python("import sys; sys.modules['prometheus_client'] = None\n"
                "try:\n"
                "    import hotcache.metrics\n"
                "except ImportError as e:\n"
                "    print(e)\n")
    assert r.returncode == 0, r.stderr
    assert "hotcache[metrics]" in r.stdout
    assert "prometheus_client" in r.stdout


# ---------------------------------------------------------------------------------------------
# The real objects: decorators, LoadingCache, WriteBehindCache, TieredCache

CACHE_FIELDS = {"hotcache_hits_total": "hits", "hotcache_misses_total": "misses",
                "hotcache_inserts_total": "inserts", "hotcache_updates_total": "updates",
                "hotcache_expirations_total": "expirations", "hotcache_entries": "len",
                "hotcache_currsize": "currsize", "hotcache_maxsize": "maxsize"}


def assert_exports(registry, name, st):
    """Every CacheStats field of `st` is exported under `name` with its value."""
    for metric, field in CACHE_FIELDS.items():
        assert value(registry, metric, name) == float(getattr(st, field)), metric
    for cause in ("size", "memory"):
        assert value(registry, "hotcache_evictions_total", name, cause=cause) == float(
            getattr(st, "evictions_" + cause)), cause
    assert value(registry, "hotcache_hit_ratio", name) == st.hit_ratio


def test_real_cached_function(registry):
    from hotcache.memo import cached
    core = module("core")

    @metrics.register("square", registry=registry)
    @cached(core.LRUCache(2))
    def square(x):
        if x < 0:
            raise ValueError(x)
        return x * x

    square(1)
    square(1)
    square(2)
    square(3)                                    # evicts 1
    with pytest.raises(ValueError):
        square(-1)
    st = square.cache_stats()
    assert (st["hits"], st["misses"], st["loads"], st["load_errors"]) == (1, 4, 4, 1)
    assert value(registry, "hotcache_hits_total", "square") == 1.0
    assert value(registry, "hotcache_misses_total", "square") == 4.0
    assert value(registry, "hotcache_hit_ratio", "square") == 0.2
    assert value(registry, "hotcache_loads_total", "square") == 4.0
    assert value(registry, "hotcache_load_errors_total", "square") == 1.0
    assert value(registry, "hotcache_loads_in_flight", "square") == 0.0
    seconds = value(registry, "hotcache_load_seconds_total", "square")
    assert seconds == st["load_seconds"] and seconds >= 0.0
    assert value(registry, "hotcache_evictions_total", "square", cause="size") == 1.0
    assert value(registry, "hotcache_entries", "square") == 2.0
    assert value(registry, "hotcache_maxsize", "square") == 2.0
    square.cache_clear()                         # counters reset: a Prometheus counter reset
    assert value(registry, "hotcache_loads_total", "square") == 0.0


def test_real_lru_cache(registry):
    from hotcache.memo import lru_cache

    @lru_cache(maxsize=2)
    def ident(x):
        return x

    metrics.register("ident", ident, registry)
    for x in (1, 1, 1, 2, 3, 1):
        ident(x)
    info = ident.cache_info()
    assert (info.hits, info.misses) == (2, 4)
    assert value(registry, "hotcache_hits_total", "ident") == 2.0
    assert value(registry, "hotcache_misses_total", "ident") == 4.0
    assert value(registry, "hotcache_loads_total", "ident") == 4.0
    assert value(registry, "hotcache_entries", "ident") == 2.0


def test_real_async_cached_function(registry):
    import asyncio

    from hotcache.memo import cached

    @cached(maxsize=10)
    async def double(x):
        return 2 * x

    metrics.register("double", double, registry)

    async def main():
        return [await double(x) for x in (1, 1, 2, 1)]

    assert asyncio.run(main()) == [2, 2, 4, 2]
    assert value(registry, "hotcache_hits_total", "double") == 2.0
    assert value(registry, "hotcache_misses_total", "double") == 2.0
    assert value(registry, "hotcache_loads_total", "double") == 2.0
    assert value(registry, "hotcache_entries", "double") == 2.0
    assert value(registry, "hotcache_maxsize", "double") == 10.0


def test_decorated_function_disappears_with_it(registry):
    from hotcache.memo import cached

    def make():
        @cached(maxsize=4)
        def f(x):
            return x
        return f

    f = make()
    metrics.register("local", f, registry)
    f(1)
    assert value(registry, "hotcache_misses_total", "local") == 1.0
    ref = weakref.ref(f)
    del f
    gc.collect()
    assert ref() is None
    assert value(registry, "hotcache_misses_total", "local") is None


def test_real_loading_cache(registry):
    from hotcache.patterns import LoadingCache

    lc = LoadingCache(module("core").LRUCache(10), loader=lambda k: k * 2)
    metrics.register("loading", lc, registry)
    assert lc.get(1) == 2
    assert lc.get(1) == 2
    with pytest.raises(ZeroDivisionError):
        lc.get(2, loader=lambda: 1 / 0)
    assert value(registry, "hotcache_loads_total", "loading") == 2.0     # failed one included
    assert value(registry, "hotcache_load_errors_total", "loading") == 1.0
    assert value(registry, "hotcache_refreshes_total", "loading") == 0.0
    assert value(registry, "hotcache_refreshes_in_flight", "loading") == 0.0
    assert value(registry, "hotcache_stale_served_total", "loading") == 0.0
    assert value(registry, "hotcache_load_seconds_total", "loading") == lc.stats()["load_seconds"]
    assert_exports(registry, "loading", lc.cache.stats())
    assert value(registry, "hotcache_entries", "loading") == 1.0


def test_real_write_behind_cache(registry):
    from hotcache.patterns import WriteBehindCache

    batches = []
    wb = WriteBehindCache(module("core").LRUCache(10), batches.append, batch_size=100,
                          flush_interval=None)
    try:
        metrics.register("wb", wb, registry)
        wb["a"] = 1
        wb["b"] = 2
        wb["a"] = 3                              # coalesced with the first write of a
        assert value(registry, "hotcache_write_behind_pending", "wb") == 2.0
        assert value(registry, "hotcache_write_behind_flushed_batches_total", "wb") == 0.0
        wb.flush()
        assert batches == [[("a", 3), ("b", 2)]]
        assert value(registry, "hotcache_write_behind_pending", "wb") == 0.0
        assert value(registry, "hotcache_write_behind_flushed_batches_total", "wb") == 1.0
        assert value(registry, "hotcache_write_behind_flushed_items_total", "wb") == 2.0
        assert value(registry, "hotcache_write_behind_failed_batches_total", "wb") == 0.0
        assert value(registry, "hotcache_write_behind_retries_total", "wb") == 0.0
        assert value(registry, "hotcache_write_behind_abandoned_batches_total", "wb") == 0.0
        assert value(registry, "hotcache_entries", "wb") == 2.0
        assert value(registry, "hotcache_updates_total", "wb") == 1.0
    finally:
        wb.close()


def test_real_tiered_cache(registry, redis_client):
    from hotcache.tiers import RedisTier, TieredCache

    l1 = module("core").LRUCache(2)
    t = TieredCache(l1, RedisTier(client=redis_client, namespace="hc-metrics-test"))
    try:
        metrics.register("tiered", t, registry)
        t["a"] = 1
        t["b"] = 2
        t["c"] = 3                               # a leaves L1 for Redis
        t.flush()
        assert t.get("a") == 1                   # L1 miss, L2 hit, promoted (b spills)
        assert t.get("nope") is None             # L1 miss, L2 miss
        t.flush()
        st = t.stats()
        assert (st.l2_hits, st.l2_misses, st.l2_errors) == (1, 1, 0)
        assert st.spilled == 2
        assert value(registry, "hotcache_l2_hits_total", "tiered") == 1.0
        assert value(registry, "hotcache_l2_misses_total", "tiered") == 1.0
        assert value(registry, "hotcache_l2_errors_total", "tiered") == 0.0
        assert value(registry, "hotcache_l2_spilled_total", "tiered") == 2.0
        assert value(registry, "hotcache_l2_spill_dropped_total", "tiered") == 0.0
        assert value(registry, "hotcache_l2_rejected_total", "tiered") == 0.0
        assert value(registry, "hotcache_l2_breaker_state", "tiered", state="closed") == 1.0
        assert value(registry, "hotcache_l2_breaker_state", "tiered", state="open") == 0.0
        assert_exports(registry, "tiered", st)
    finally:
        t.close()


def test_real_tiered_cache_with_two_levels(registry, redis_client, tmp_path):
    """L1 + DiskTier + RedisTier: the hotcache_l2_* counters cover the levels together, the
    hotcache_tier_*{level} series each level on its own."""
    pytest.importorskip("lmdb")
    from hotcache.tiers import DiskTier, RedisTier, TieredCache

    t = TieredCache(module("core").LRUCache(2), DiskTier(str(tmp_path / "d"), maxsize="8MB"),
                    RedisTier(client=redis_client, namespace="hc-metrics-n"))
    try:
        metrics.register("n", t, registry)
        for k in "abc":
            t[k] = k                             # a spills to the disk (level 1)
        t.flush()
        assert t.get("a") == "a"                 # L1 miss, disk hit
        assert t.get("nope") is None             # misses at both levels
        t.flush()
        assert value(registry, "hotcache_l2_hits_total", "n") == 1.0
        assert value(registry, "hotcache_l2_misses_total", "n") == 1.0
        assert value(registry, "hotcache_tier_hits_total", "n", level="1") == 1.0
        assert value(registry, "hotcache_tier_misses_total", "n", level="1") == 1.0
        assert value(registry, "hotcache_tier_hits_total", "n", level="2") == 0.0
        assert value(registry, "hotcache_tier_misses_total", "n", level="2") == 1.0
        assert value(registry, "hotcache_tier_written_total", "n", level="1") == 2.0
        assert value(registry, "hotcache_tier_written_total", "n", level="2") == 0.0
        assert value(registry, "hotcache_tier_pending", "n", level="2") == 0.0
    finally:
        t.close()


def test_real_per_instance_method_cache(registry):
    """A per-instance cachedmethod bound to one instance: its cache is exported while the
    instance lives, and exporting it does not keep the instance alive."""
    from hotcache.memo import cachedmethod

    class Repo:
        @cachedmethod(maxsize=10)
        def find(self, x):
            return x

    repo = Repo()
    metrics.register("repo.find", repo.find, registry)
    repo.find(1)
    repo.find(1)
    repo.find(2)
    assert value(registry, "hotcache_hits_total", "repo.find") == 1.0
    assert value(registry, "hotcache_misses_total", "repo.find") == 2.0
    assert value(registry, "hotcache_entries", "repo.find") == 2.0
    ref = weakref.ref(repo)
    del repo
    gc.collect()
    assert ref() is None
    assert value(registry, "hotcache_hits_total", "repo.find") is None


def test_sizing_gauges():
    """A cache with sizing=R exports the advisor's curve and working set, read at scrape time;
    a cache without it exports neither."""
    reg = CollectorRegistry()
    c = hotcache.LRUCache(8, sizing=1.0)
    plain = hotcache.LRUCache(8)
    metrics.register("sized", c, registry=reg)
    metrics.register("plain", plain, registry=reg)
    for k in [1, 2, 1, 3, 1, 2]:
        c.get(k) or c.__setitem__(k, k)
    rep = c.sizing()
    got = reg.get_sample_value("hotcache_sizing_hit_ratio", {"cache": "sized", "policy": "lru", "size": "8"})
    assert got == rep.hit_ratio["lru"][rep.sizes.index(8)] == 0.5
    assert reg.get_sample_value("hotcache_sizing_working_set", {"cache": "sized"}) == rep.working_set
    assert reg.get_sample_value("hotcache_sizing_working_set", {"cache": "plain"}) is None

    @hotcache.cached(maxsize=4, sizing=1.0)
    def f(x):
        return x

    f(1)
    f(1)
    metrics.register("f", f, registry=reg)
    assert reg.get_sample_value("hotcache_sizing_hit_ratio", {"cache": "f", "policy": "tinylfu", "size": "4"}) == 0.5
