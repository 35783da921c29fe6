"""N tiers: TieredCache(l1, DiskTier(...), RedisTier(...)) over a real redis-server and a fresh
directory. Ordering (L1 evictions go to the disk only), a miss walking down the levels and
promoting upwards with the time left, set/delete invalidating every level, per-level stats, a
Redis outage with the disk still serving, and the argument checks."""
from __future__ import annotations

import pytest

import hotcache
from hotcache.tiers import RedisTier, TieredCache

from hotcache.tiers.chain import Keys, TierChain

pytestmark = pytest.mark.usefixtures("needs_lmdb")


@pytest.fixture
def disk_path(tmp_path):
    return str(tmp_path / "disk")


def make_disk(path, **kw):
    from hotcache.tiers import DiskTier

    kw.setdefault("maxsize", "16MB")
    return DiskTier(path, **kw)


@pytest.fixture
def chain(url, disk_path):
    made = []

    def make(maxsize=2, mode="spill", redis_url=None, disk=None, redis=None, **kw):
        d = disk if disk is not None else make_disk(disk_path, ttl=kw.pop("disk_ttl", None))
        r = redis if redis is not None else RedisTier(redis_url or url, namespace="chain",
                                                      ttl=kw.pop("redis_ttl", 120), **kw)
        c = TieredCache(hotcache.LRUCache(maxsize), d, r, mode=mode)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def seed_redis(url, key, value, ttl=120):
    """Another process writes ``key`` into the Redis level (shared mode, no L1 worth speaking of)."""
    other = TieredCache(hotcache.LRUCache(1), RedisTier(url, namespace="chain", ttl=120),
                        mode="shared", invalidation=None)
    other.set(key, value, ttl=ttl)
    assert other.flush(timeout=10)
    other.close()


def test_l1_evictions_spill_to_the_nearest_level_only(chain):
    c = chain(maxsize=2)
    disk, redis = c.tiers
    assert c.tier is disk
    for i in range(5):
        c.set(i, {"n": i}, ttl=50)
    assert c.flush(timeout=10)
    for i in range(3):
        assert disk.get(i) == {"n": i} and 45 < disk.ttl_left(i) <= 50
        assert redis.get(i) is None
    s = c.stats()
    assert s.spilled == 3 and [lv["spilled"] for lv in s.levels] == [3, 0]


def test_a_miss_walks_down_and_promotes_into_every_level_above(chain, url):
    c = chain(maxsize=2)
    disk, redis = c.tiers
    seed_redis(url, "k", [1, 2], ttl=40)
    assert c["k"] == [1, 2]                         # disk misses, Redis hits
    assert "k" in c.l1 and 30 < c.l1.ttl_left("k") <= 40
    assert c.flush(timeout=10)
    s = c.stats()
    assert s.l2_hits == 1 and s.l2_misses == 0
    assert s.levels[0]["l2_misses"] == 1 and s.levels[1]["l2_hits"] == 1
    assert 30 < disk.ttl_left("k") <= 40            # copied into the disk with the time left
    # the next L1 miss of k is answered by the disk: Redis is not asked
    c.l1.clear()
    assert c["k"] == [1, 2]
    s = c.stats()
    assert s.levels[0]["l2_hits"] == 1 and s.levels[1]["l2_hits"] == 1
    assert c.get("nowhere") is None
    s = c.stats()
    assert s.l2_misses == 1 and s.levels[0]["l2_misses"] == 2 and s.levels[1]["l2_misses"] == 1


def test_the_nearest_level_wins(chain, url):
    c = chain(maxsize=1)
    disk, redis = c.tiers
    seed_redis(url, "k", "from redis")
    c["k"] = "mine"
    c["x"] = 0                                      # spills k to the disk
    assert c.flush(timeout=10)
    assert c["k"] == "mine"


def test_set_and_delete_invalidate_every_level(chain):
    c = chain(maxsize=10, mode="shared")
    disk, redis = c.tiers
    c.set("a", 1, ttl=60)
    assert c.flush(timeout=10)
    assert disk.get("a") == 1 and redis.get("a") == 1
    assert 55 < disk.ttl_left("a") <= 60 and 55 < redis.ttl_left("a") <= 60
    c["a"] = 2
    assert c.flush(timeout=10) and disk.get("a") == 2 and redis.get("a") == 2
    del c["a"]
    assert c.flush(timeout=10)
    assert disk.get("a") is None and redis.get("a") is None and "a" not in c


def test_spill_mode_write_removes_older_copies_everywhere(chain, url):
    c = chain(maxsize=1)
    disk, redis = c.tiers
    seed_redis(url, "k", "old")
    assert c["k"] == "old"                          # promoted into L1 and the disk
    assert c.flush(timeout=10) and disk.get("k") == "old"
    c["k"] = "new"
    assert c.flush(timeout=10)
    assert disk.get("k") is None and redis.get("k") is None
    c.l1.clear()
    assert c.get("k") is None                       # no level brings "old" back


def test_clear_empties_every_level(chain):
    c = chain(maxsize=10, mode="shared")
    for i in range(3):
        c[i] = i
    assert c.flush(timeout=10)
    c.clear()
    disk, redis = c.tiers
    assert len(c) == 0
    assert all(disk.get(i) is None and redis.get(i) is None for i in range(3))


def test_redis_outage_the_disk_still_serves(fresh_redis, disk_path):
    redis = RedisTier(fresh_redis.url, namespace="chain", ttl=120, timeout=0.05)
    c = TieredCache(hotcache.LRUCache(2), make_disk(disk_path), redis, mode="shared")
    try:
        for i in range(6):
            c[i] = i
        assert c.flush(timeout=10)
        fresh_redis.kill()
        c.l1.clear()
        for i in range(6):                          # served by the disk, no exception
            assert c[i] == i
        assert c.get("never-written") is None       # the disk misses, Redis fails: a miss
        c["during"] = "outage"                      # writes never raise
        c.l1.clear()
        assert c["during"] == "outage"              # the disk has it
        s = c.stats()
        assert s.levels[1]["l2_errors"] >= 1
        assert s.levels[0]["l2_hits"] >= 7
    finally:
        c.close(timeout=1)


def test_three_levels_and_repr(url, tmp_path):
    d1, d2 = make_disk(str(tmp_path / "a")), make_disk(str(tmp_path / "b"), ttl=30)
    r = RedisTier(url, namespace="chain3", ttl=120)
    c = TieredCache(hotcache.LRUCache(1), d1, d2, r, mode="shared")
    try:
        c["k"] = "v"
        assert c.flush(timeout=10)
        assert d1.get("k") == d2.get("k") == r.get("k") == "v"
        d1.clear()
        d2.clear()
        c.l1.clear()
        assert c["k"] == "v"                        # from Redis, copied into both disks
        assert c.flush(timeout=10)
        assert d1.get("k") == "v" and d2.get("k") == "v"
        assert len(c.stats().levels) == 3 and c.tiers == (d1, d2, r)
        assert "DiskTier" in repr(c) and "RedisTier" in repr(c)
    finally:
        c.close()


def test_chain_arguments(url, disk_path):
    d = make_disk(disk_path)
    r = RedisTier(url, namespace="chain", ttl=120)
    try:
        with pytest.raises(ValueError, match="twice"):
            TieredCache(hotcache.LRUCache(2), d, d)
        with pytest.raises(TypeError, match="tier"):
            TieredCache(hotcache.LRUCache(2), d, object())
        with pytest.raises(ValueError, match="invalidation"):
            TieredCache(hotcache.LRUCache(2), d, r, mode="shared", invalidation="pubsub")
        with pytest.raises(ValueError, match="invalidation"):
            TieredCache(hotcache.LRUCache(2), d, mode="shared", invalidation="pubsub")
        c = TieredCache(hotcache.LRUCache(2), d, r, mode="shared")
        assert c.invalidation is None
        c.close()
    finally:
        d.close()
        r.close()


def test_keys_compare_as_the_first_levels_bytes():
    k = Keys(b"abc")
    k.all = (b"abc", b"ns:#abc")
    assert k == b"abc" and hash(k) == hash(b"abc") and {b"abc": 1}[k] == 1
    with pytest.raises(ValueError):
        TierChain([object()])
