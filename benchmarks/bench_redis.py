"""bench_redis.py -- pytest-benchmark: the Redis tier beside the bare redis-py calls it replaces.

    pytest benchmarks/bench_redis.py --benchmark-only
    pytest benchmarks/bench_redis.py --benchmark-only --benchmark-columns=min,median,rounds

Groups (divide a round by the op count in the group name for per-op cost):
  redis-l2-hit-1000      bare GET + json.loads, vs TieredCache t[k] (L1 miss -> Redis -> promote),
                         also through an LRUCache(100) that thrashes (clean evictions: no writes)
  redis-spill-20000      one SET per key, redis-py pipeline, TieredCache spill (evictions + flush),
                         shared-mode sets (t[k] = v -> Redis, announced) + flush
  redis-l1-hit-20000     LRUCache c[k] vs TieredCache t[k] with Redis up / stalled / dead
A throwaway redis-server (binary from PATH) is started for the module; the script
benchmarks/redis_tier.py prints the same comparisons as one table with the issue's targets.
"""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

redis = pytest.importorskip("redis")

import hotcache  # noqa: E402
from hotcache.tiers import RedisTier, TieredCache  # noqa: E402
from redis_server import RedisServer, redis_binary  # noqa: E402

L2_KEYS = 1000
SPILL_N = 20_000
HIT_KEYS = list(range(1000)) * 20


def value(i):
    return {"id": i, "name": "user-%d" % i, "tags": ["a", "b", "c"], "score": i * 0.5}


@pytest.fixture(scope="module")
def srv():
    if redis_binary() is None:
        pytest.skip("redis-server not found on PATH")
    with RedisServer() as s:
        yield s


def bare_client(url):
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_timeout=0.05, socket_connect_timeout=0.05,
                                retry=Retry(NoBackoff(), 0), health_check_interval=0)


@pytest.fixture(scope="module")
def l2(srv):
    t = TieredCache(hotcache.LRUCache(L2_KEYS * 2), RedisTier(srv.url, namespace="bench:l2", ttl=3600))
    for k in range(L2_KEYS):
        t.l1[k] = value(k)
    t.l1.resize(maxsize=1)
    t.l1["pad"] = 0
    assert t.flush(timeout=60)
    t.l1.resize(maxsize=L2_KEYS * 2)
    t.l1.clear()
    yield t
    t.close()


@pytest.mark.benchmark(group="redis-l2-hit-%d" % L2_KEYS)
def test_l2_bare_get_loads(benchmark, l2, srv):
    r = bare_client(srv.url)
    rkeys = [l2.tier.redis_key(k) for k in range(L2_KEYS)]
    loads = json.loads

    def run():
        get = r.get
        for rk in rkeys:
            loads(get(rk))

    benchmark(run)


@pytest.mark.benchmark(group="redis-l2-hit-%d" % L2_KEYS)
def test_l2_tiered(benchmark, l2):
    keys = list(range(L2_KEYS))

    def run():
        for k in keys:
            l2[k]

    benchmark.pedantic(run, setup=l2.l1.clear, rounds=15)
    assert l2.stats().l2_misses == 0


@pytest.mark.benchmark(group="redis-l2-hit-%d" % L2_KEYS)
def test_l2_tiered_l1_thrash(benchmark, l2, srv):
    """The same reads through an LRUCache(100): each one misses, promotes and evicts a clean
    entry (nothing is written back)."""
    t = TieredCache(hotcache.LRUCache(100), RedisTier(srv.url, namespace="bench:l2", ttl=3600))
    keys = list(range(L2_KEYS))

    def run():
        for k in keys:
            t[k]

    benchmark.pedantic(run, rounds=15)
    assert t.stats().l2_misses == 0 and t.stats().spilled == 0
    t.close()


@pytest.mark.benchmark(group="redis-spill-%d" % SPILL_N)
def test_shared_mode_sets(benchmark, srv):
    t = TieredCache(hotcache.LRUCache(1000), RedisTier(srv.url, namespace="bench:shared", ttl=3600),
                    mode="shared")
    vals = [value(i) for i in range(SPILL_N)]

    def run():
        for i in range(SPILL_N):
            t[i] = vals[i]
        assert t.flush(timeout=60)

    benchmark.pedantic(run, rounds=5)
    assert t.stats().spill_dropped == 0
    t.close()


@pytest.mark.benchmark(group="redis-spill-%d" % SPILL_N)
def test_spill_one_set_per_key(benchmark, srv):
    r = bare_client(srv.url)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    vals = [value(i) for i in range(SPILL_N)]

    def run():
        for i in range(SPILL_N):
            r.set(b"bench:one:#i%d" % i, dumps(vals[i]).encode(), px=3_600_000)

    benchmark.pedantic(run, rounds=3)


@pytest.mark.benchmark(group="redis-spill-%d" % SPILL_N)
def test_spill_redis_py_pipeline(benchmark, srv):
    r = bare_client(srv.url)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    vals = [value(i) for i in range(SPILL_N)]

    def run():
        for start in range(0, SPILL_N, 1000):
            pipe = r.pipeline(transaction=False)
            for i in range(start, start + 1000):
                pipe.set(b"bench:pipe:#i%d" % i, dumps(vals[i]).encode(), px=3_600_000)
            pipe.execute()

    benchmark.pedantic(run, rounds=5)


@pytest.mark.benchmark(group="redis-spill-%d" % SPILL_N)
def test_spill_tiered(benchmark, srv):
    t = TieredCache(hotcache.LRUCache(1), RedisTier(srv.url, namespace="bench:spill", ttl=3600))
    l1 = t.l1
    vals = [value(i) for i in range(SPILL_N)]

    def run():
        for i in range(SPILL_N):
            l1[i] = vals[i]
        assert t.flush(timeout=60)

    benchmark.pedantic(run, setup=l1.clear, rounds=5)
    assert t.stats().spill_dropped == 0
    t.close()


@pytest.fixture(scope="module")
def hit_caches(srv):
    bare = hotcache.LRUCache(10_000)
    t = TieredCache(hotcache.LRUCache(10_000), RedisTier(srv.url, namespace="bench:hit", ttl=3600))
    for k in range(1000):
        bare[k] = k
        t[k] = k
    assert t.flush(timeout=10)
    yield bare, t
    t.close(timeout=1)


def _lookups(c):
    def run():
        for k in HIT_KEYS:
            c[k]
    return run


@pytest.mark.benchmark(group="redis-l1-hit-%d" % len(HIT_KEYS))
def test_l1_hit_bare(benchmark, hit_caches):
    benchmark(_lookups(hit_caches[0]))


@pytest.mark.benchmark(group="redis-l1-hit-%d" % len(HIT_KEYS))
def test_l1_hit_tiered_redis_up(benchmark, hit_caches):
    benchmark(_lookups(hit_caches[1]))


@pytest.mark.benchmark(group="redis-l1-hit-%d" % len(HIT_KEYS))
def test_l1_hit_tiered_redis_stalled(benchmark, hit_caches, srv):
    srv.pause()
    try:
        benchmark(_lookups(hit_caches[1]))
    finally:
        srv.resume()


@pytest.mark.benchmark(group="redis-l1-hit-%d" % len(HIT_KEYS))
def test_l1_hit_tiered_redis_dead(benchmark, hit_caches, srv):
    srv.kill()
    try:
        benchmark(_lookups(hit_caches[1]))
        assert hit_caches[1].stats().l2_errors == 0
    finally:
        srv.restart()
