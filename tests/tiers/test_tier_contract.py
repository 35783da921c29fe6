"""The tier contract, one suite over every tier: RedisTier (a real throwaway redis-server) and
DiskTier (a fresh directory). Spill of L1 evictions with the time they had left, promotion on an
L1 miss with the time the tier has left, invalidation on set/delete, shared-mode writes,
flush()/close(), stats, pickle refused without secret=/trusted=, tampered values read as misses.
"""
from __future__ import annotations

import pytest

import hotcache
from hotcache.tiers import TieredCache, TieredStats

SECRET = b"0123456789abcdef-tier-contract-secret"


class RedisBackend:
    name = "redis"

    def __init__(self, request):
        self.url = request.getfixturevalue("url")
        self.client = request.getfixturevalue("redis_client")

    def make(self, **kw):
        from hotcache.tiers import RedisTier

        kw.setdefault("ttl", 120)
        return RedisTier(self.url, namespace="contract", **kw)

    def tamper(self, tier, key):
        """Flip one bit of the stored value (keeping its expiry)."""
        rkey = tier.redis_key(key)
        data = bytearray(self.client.get(rkey))
        data[-3] ^= 0x01
        self.client.set(rkey, bytes(data), keepttl=True)


class DiskBackend:
    name = "disk"

    def __init__(self, request):
        request.getfixturevalue("needs_lmdb")
        self.path = str(request.getfixturevalue("tmp_path") / "tier")

    def make(self, **kw):
        from hotcache.tiers import DiskTier

        kw.setdefault("ttl", 120)
        return DiskTier(self.path, maxsize="16MB", **kw)

    def tamper(self, tier, key):
        from hotcache.disk._format import lkey_of, rkey_of

        tier.flush()
        shared = tier.cache._store._env()
        lkey = lkey_of(rkey_of(key))
        with shared.env.begin(write=True, db=shared.v) as txn:
            record = bytearray(txn.get(lkey))
            record[-3] ^= 0x01
            txn.put(lkey, bytes(record))


@pytest.fixture(params=["redis", "disk"])
def backend(request):
    return RedisBackend(request) if request.param == "redis" else DiskBackend(request)


@pytest.fixture
def make_tiered(backend):
    made = []

    def make(maxsize=2, l1=None, mode="spill", **kw):
        c = TieredCache(l1 if l1 is not None else hotcache.LRUCache(maxsize), backend.make(**kw), mode=mode)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


# -- spill and promote -----------------------------------------------------------------------------

def test_l1_evictions_spill_with_the_time_they_had_left(make_tiered):
    c = make_tiered(maxsize=2)
    for i in range(4):
        c.set(i, {"n": i}, ttl=30)
    assert c.flush(timeout=10)
    assert sorted(c) == [2, 3]
    tier = c.tier
    for i in (0, 1):
        assert tier.get(i) == {"n": i}
        assert 25 < tier.ttl_left(i) <= 30
    for i in (2, 3):  # written in spill mode: only the L1 has them
        assert tier.get(i) is None
    s = c.stats()
    assert s.spilled == 2 and s.spill_dropped == 0 and s.evictions == 2


def test_entries_without_ttl_spill_with_the_tiers_ttl(make_tiered):
    c = make_tiered(maxsize=1, ttl=77)
    c["a"] = 1
    c["b"] = 2
    assert c.flush(timeout=10)
    assert 70 < c.tier.ttl_left("a") <= 77


def test_l1_miss_promotes_with_the_time_the_tier_has_left(make_tiered):
    c = make_tiered(maxsize=2)
    for i in range(4):
        c.set(i, [i], ttl=30)
    assert c.flush(timeout=10)
    assert c[0] == [0]
    assert 0 in c.l1
    assert 20 < c.l1.ttl_left(0) <= 30
    s = c.stats()
    assert s.l2_hits == 1 and s.l2_misses == 0
    assert c.get("absent", "d") == "d" and c.stats().l2_misses == 1


def test_a_promoted_clean_entry_is_not_spilled_again(make_tiered):
    c = make_tiered(maxsize=1)
    c["a"] = "A"
    c["b"] = "B"                      # spills a
    assert c.flush(timeout=10)
    assert c.stats().spilled == 1
    assert c["a"] == "A"              # promoted (clean), evicts b (dirty: spilled)
    assert c["b"] == "B"              # promoted, evicts a: the tier still holds it unchanged
    assert c.flush(timeout=10)
    assert c.stats().spilled == 2


# -- writes and invalidation -----------------------------------------------------------------------

def test_set_and_delete_invalidate_the_tier_copy(make_tiered):
    c = make_tiered(maxsize=1)
    c["k"] = "old"
    c["x"] = 0                        # spills k
    assert c.flush(timeout=10) and c.tier.get("k") == "old"
    c["k"] = "new"                    # spill mode: the tier's copy goes
    assert c.flush(timeout=10)
    assert c.tier.get("k") is None and c["k"] == "new"
    c["y"] = 1                        # spills k=new
    assert c.flush(timeout=10) and c.tier.get("k") == "new"
    del c["k"]
    assert c.flush(timeout=10)
    assert c.tier.get("k") is None and "k" not in c
    with pytest.raises(KeyError):
        c["k"]
    assert c.pop("k", "gone") == "gone"


def test_shared_mode_writes_every_write_with_its_ttl(make_tiered):
    c = make_tiered(maxsize=10, mode="shared", ttl=60)
    c.set("a", 1, ttl=40)
    c["b"] = 2
    assert c.flush(timeout=10)
    assert c.tier.get("a") == 1 and 35 < c.tier.ttl_left("a") <= 40
    assert c.tier.get("b") == 2 and 55 < c.tier.ttl_left("b") <= 60
    c["a"] = 3
    assert c.flush(timeout=10) and c.tier.get("a") == 3
    assert c.pop("a") == 3
    assert c.flush(timeout=10) and c.tier.get("a") is None


def test_a_value_the_serializer_refuses_stays_in_l1_only(make_tiered):
    c = make_tiered(maxsize=1)
    thing = object()
    c["o"] = thing
    c["x"] = 1                        # spills o: JSON cannot write it
    assert c.flush(timeout=10) is not None
    assert c.tier.get("o") is None
    assert c.stats().spill_dropped == 1


def test_clear_empties_l1_and_tier(make_tiered):
    c = make_tiered(maxsize=1)
    for i in range(3):
        c[i] = i
    assert c.flush(timeout=10)
    c.clear()
    assert len(c) == 0 and all(c.tier.get(i) is None for i in range(3))
    assert c.get(0) is None


# -- lifecycle and stats ---------------------------------------------------------------------------

def test_flush_and_close(make_tiered):
    c = make_tiered(maxsize=1)
    c["a"] = 1
    c["b"] = 2
    assert c.flush(timeout=10) is True
    tier = c.tier
    assert c.close() is True
    assert tier.get("a") is None      # a closed tier answers misses
    c.l1["z"] = 9                     # the L1 works on alone
    assert c.l1["z"] == 9 and c.close() is True


def test_stats_report_the_tier_as_one_level(make_tiered):
    c = make_tiered(maxsize=1)
    c["a"] = 1
    c["b"] = 2
    assert c.flush(timeout=10)
    assert c["a"] == 1 and c.get("nope") is None   # a promoted evicts b: spilled
    assert c.flush(timeout=10)
    s = c.stats()
    assert isinstance(s, TieredStats)
    assert (s.l2_hits, s.l2_misses, s.spilled, s.rejected, s.l2_errors) == (1, 1, 2, 0, 0)
    assert s.breaker_state == "closed"
    assert len(s.levels) == 1
    level = s.levels[0]
    for name in ("l2_hits", "l2_misses", "l2_errors", "spilled", "spill_dropped", "rejected",
                 "pending", "breaker_state"):
        assert name in level
    assert level["l2_hits"] == 1
    assert len(c.tiers) == 1 and c.tiers[0] is c.tier


# -- untrusted bytes -------------------------------------------------------------------------------

def test_pickle_is_refused_without_secret_or_trust(backend):
    with pytest.raises(ValueError, match="secret="):
        backend.make(serializer="pickle")
    trusted = backend.make(serializer="pickle", trusted=True)
    trusted.close()


def test_sealed_pickle_round_trips(make_tiered):
    c = make_tiered(maxsize=1, serializer="pickle", secret=SECRET)
    c["t"] = ("a", 1, {2})
    c["x"] = 0
    assert c.flush(timeout=10)
    assert c.tier.encrypted and c.tier.get("t") == ("a", 1, {2})


@pytest.mark.parametrize("sealed", [True, False])
def test_tampered_values_are_misses_not_crashes(make_tiered, backend, sealed):
    kw = {"serializer": "pickle", "secret": SECRET} if sealed else {}
    c = make_tiered(maxsize=1, **kw)
    c["k"] = {"v": 1}
    c["other"] = 2                    # spills k
    assert c.flush(timeout=10)
    backend.tamper(c.tier, "k")
    if sealed:
        assert c.get("k") is None and "k" not in c.l1
        assert c.stats().rejected >= 1
    else:  # JSON with a flipped bit: either rejected or a different JSON value, never a crash
        got = c.get("k")
        assert got is None or got != {"v": 1} or c.stats().rejected == 0


def test_cached_short_form_takes_the_tier(backend):
    calls = []

    @hotcache.cached(maxsize=10, ttl=60, tier=backend.make())
    def square(x):
        calls.append(x)
        return x * x

    try:
        assert [square(3), square(3), square(4)] == [9, 9, 16] and calls == [3, 4]
        assert square.cache.flush(timeout=10)
        key = hotcache.keys.hashkey(3)
        assert square.cache.tier.get(key) == 9 and 55 < square.cache.tier.ttl_left(key) <= 60
        square.cache.l1.clear()
        assert square(3) == 9 and calls == [3, 4]      # from the tier
    finally:
        square.cache.close()
