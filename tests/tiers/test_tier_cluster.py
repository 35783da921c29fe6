"""The Redis tier on a 3-master Redis Cluster (redis-py's cluster client, started by the tests).

Spilled keys land on all three masters; batches go through the cluster pipeline (grouped by slot),
reads through a one-key Lua script, clear() scans every primary.
"""
from __future__ import annotations

import asyncio

import pytest

import hotcache
from hotcache.tiers import AsyncRedisTier, AsyncTieredCache, RedisTier, TieredCache


@pytest.fixture
def cluster(redis_cluster):
    client = redis_cluster.client(socket_timeout=2, socket_connect_timeout=2)
    yield redis_cluster, client


def _per_master(client, pattern):
    counts = []
    for node in client.get_primaries():
        r = client.get_redis_connection(node)
        counts.append(len(r.keys(pattern)))
    return counts


def test_cluster_spill_promote_clear(cluster):
    redis_cluster, client = cluster
    t = TieredCache(hotcache.LRUCache(10), RedisTier(client=client, namespace="cl:sync", ttl=60))
    t.clear()
    for i in range(300):
        t[("user", i)] = {"i": i}
    assert t.flush(timeout=20)
    assert t.stats().spilled == 290
    counts = _per_master(client, b"cl:sync:#*")
    assert sum(counts) == 290 and all(c > 0 for c in counts)   # spread over every master
    assert 50_000 < client.pttl(t.tier.redis_key(("user", 0))) <= 60_000
    for i in range(0, 290, 7):
        assert t[("user", i)] == {"i": i}
    assert t.stats().l2_hits == len(range(0, 290, 7))
    t[("user", 0)] = "new"                  # invalidation through the cluster pipeline
    del t[("user", 1)]
    assert t.flush(timeout=20)
    assert client.get(t.tier.redis_key(("user", 1))) is None
    assert client.get(t.tier.redis_key(("user", 0))) is None
    t.clear()
    assert _per_master(client, b"cl:sync:#*") == [0, 0, 0]
    t.close()


def test_cluster_encrypted_values_are_bound_to_their_key(cluster):
    redis_cluster, client = cluster
    secret = b"k" * 32
    t = TieredCache(hotcache.LRUCache(1), RedisTier(client=client, namespace="cl:enc", ttl=60,
                                                    secret=secret))
    t["a"] = 1
    t["b"] = 2
    assert t.flush(timeout=20)
    blob = client.get(t.tier.redis_key("a"))
    client.set(t.tier.redis_key("c"), blob, px=60_000)     # another slot, same bytes
    assert t.get("c", "miss") == "miss"
    assert t.stats().rejected == 1
    assert t["a"] == 1
    t.clear()
    t.close()


def test_async_tier_on_a_cluster(redis_cluster):
    async def main():
        client = redis_cluster.async_client(socket_timeout=2, socket_connect_timeout=2)
        tier = AsyncRedisTier(client=client, namespace="cl:async", ttl=60, timeout=2)
        c = AsyncTieredCache(hotcache.LRUCache(5), tier)
        await c.clear()
        for i in range(100):
            await c.set(i, [i])
        assert await c.flush(timeout=20)
        assert c.stats().spilled == 95
        assert await c.get(0) == [0]
        await c.clear()
        assert await c.get(1, "miss") == "miss"
        await c.aclose()
        await client.aclose()

    asyncio.run(main())


# -- cross-process invalidation on a cluster: a sharded channel (SSUBSCRIBE/SPUBLISH) -----------

def _wait_for(cond, timeout=15.0):
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _cluster_tier(redis_cluster, namespace, sharded):
    tier = RedisTier(client=redis_cluster.client(socket_timeout=2, socket_connect_timeout=2),
                     namespace=namespace, ttl=60)
    tier._announcing().sharded = sharded  # False: as a cluster of Redis < 7 falls back
    return tier


@pytest.mark.parametrize("sharded", [True, False], ids=["spublish", "publish"])
def test_cluster_invalidation_between_two_caches(cluster, sharded):
    redis_cluster, _ = cluster
    caches = [TieredCache(hotcache.LRUCache(50), _cluster_tier(redis_cluster, "cl:inv%d" % sharded, sharded),
                          mode="shared") for _ in range(2)]
    a, b = caches
    assert a.tier._channel.sharded is sharded
    assert _wait_for(lambda: b.stats().invalidation_state == "live")
    for i in range(30):                       # keys on every master
        a[i] = i
    assert a.flush(timeout=20)
    assert _wait_for(lambda: b.stats().invalidations >= 30)   # a read racing one is not kept
    assert [b[i] for i in range(30)] == list(range(30)) and len(b.l1) == 30
    for i in range(30):
        a[i] = i + 100
    assert a.flush(timeout=20)
    assert _wait_for(lambda: not any(i in b.l1 for i in range(30)))
    assert [b[i] for i in range(30)] == [i + 100 for i in range(30)]
    a.clear()
    assert _wait_for(lambda: len(b.l1) == 0)
    for c in caches:
        c.close()


def test_cluster_four_workers_monotonic_and_visible(redis_cluster):
    from tier_workers import run_fleet

    reports, dead = run_fleet(redis_cluster.startup_nodes, "cl:fleet", seconds=2.5)
    assert dead == []
    assert len(reports) == 4
    for r in reports:
        assert not r["errors"], r["errors"][0]
        assert r["violations"] == [] and r["not_converged"] == []
        assert r["state"] == "live"
    assert sum(r["invalidations"] for r in reports) > 0


def test_async_cluster_invalidation(redis_cluster):
    async def until(cond, timeout=15.0):
        import time

        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.002)
        return True

    async def main():
        clients = [redis_cluster.async_client(socket_timeout=2, socket_connect_timeout=2) for _ in range(2)]
        for client in clients:
            await client.initialize()   # redis-py 8.1: see RedisCluster.async_client
        a, b = [AsyncTieredCache(hotcache.LRUCache(50),
                                 AsyncRedisTier(client=client, namespace="cl:ainv", ttl=60, timeout=2),
                                 mode="shared") for client in clients]
        await a.get("warm")
        await b.get("warm")
        assert await until(lambda: a.stats().invalidation_state == "live"
                           and b.stats().invalidation_state == "live")
        for i in range(20):
            await a.set(i, i)
        assert await a.flush(timeout=20)
        assert await until(lambda: b.stats().invalidations >= 20)
        assert [await b.get(i) for i in range(20)] == list(range(20)) and len(b.l1) == 20
        for i in range(20):
            await a.set(i, -i)
        assert await a.flush(timeout=20)
        assert await until(lambda: not any(i in b.l1 for i in range(20)))
        assert [await b.get(i) for i in range(20)] == [-i for i in range(20)]
        await a.aclose()
        await b.aclose()
        for client in clients:
            await client.aclose()

    asyncio.run(main())
