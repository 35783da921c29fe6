"""The native miss path of TieredCache (ReadThrough armed, hotcache._native.front.pxi) and the disk
tier's one-frame read (hotcache.disk._hit): the same answers, counters, TTLs, clean-entry flags
and generation rule as the Python miss path (TieredCache._load), which a subclass overriding a
step of it keeps, and the general path for everything the one-frame read does not handle."""
from __future__ import annotations

import pytest

import hotcache
from hotcache.tiers import DiskTier, TieredCache
from hotcache.tiers.tiered import _plain_misses

pytestmark = pytest.mark.usefixtures("needs_lmdb")

# keys around the native encoder's edges: the int range it encodes itself (|n| < 2**62), the
# ints beyond it (the tier's _rkey), text with non-ASCII and lone surrogates, other types
KEYS = [0, -1, 7, 10**18, -(10**18), 2**62 - 1, -(2**62) + 1, 2**62, -(2**62), 2**70, -(2**70),
        "", "plain", "é€😀", "a\udc80b", ("t", 1), None, 2.5, b"by", True]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make(tmp_path):
    made = []

    def build(l1=None, tier=None, cls=TieredCache, **tier_kw):
        tier_kw.setdefault("maxsize", "8MB")
        if tier is None:
            tier = DiskTier(str(tmp_path / ("d%d" % len(made))), **tier_kw)
        c = cls(l1 if l1 is not None else hotcache.LRUCache(64), tier)
        made.append(c)
        return c

    yield build
    for c in made:
        c.close()


def seed(t, items, ttl=None):
    """Write ``items`` into t's tier (as a spill would) and empty the L1."""
    tier = t.tier
    for key, value in items:
        tier._write(tier._rkey(key), value, ttl)
    assert t.flush(10)
    t.l1.clear()


def test_a_plain_tiered_cache_is_armed_a_subclass_of_a_step_is_not():
    class Plain(TieredCache):
        pass

    class OwnPromote(TieredCache):
        def _promote(self, *args):
            return TieredCache._promote(self, *args)

    assert _plain_misses(TieredCache) and _plain_misses(Plain)
    assert not _plain_misses(OwnPromote)


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_native_key_encoding_matches_the_tiers(make, key):
    t = make()
    seed(t, [(key, "v")])
    assert t[key] == "v"                       # found under the tier's own key: same bytes
    assert t.l1[key] == "v"                    # promoted
    assert t.stats().l2_hits == 1


def test_hits_misses_and_values_as_the_python_path(make):
    class PyPath(TieredCache):                 # overrides a step: misses run TieredCache._load
        def _settle(self, *args):
            return TieredCache._settle(self, *args)

    native, python = make(), make(cls=PyPath)
    items = [(i, {"id": i, "tags": ["a", i], "x": i * 0.5}) for i in range(20)]
    for t in (native, python):
        seed(t, items)
        got = [t[i] for i in range(20)] + [t.get("absent", "d"), t.get(999)]
        with pytest.raises(KeyError):
            t["nope"]
        assert got == [v for _, v in items] + ["d", None]
        st = t.stats()
        assert (st.l2_hits, st.l2_misses, st.misses) == (20, 3, 23)
        assert st.levels[0]["l2_hits"] == 20


def test_promoted_entries_are_clean_and_keep_the_time_left(make):
    clock = Clock()
    t = make(l1=hotcache.LRUCache(2, timer=clock), timer=clock)
    seed(t, [("a", 1), ("b", 2), ("c", 3)], ttl=100)
    clock.now += 40
    assert t["a"] == 1 and t["b"] == 2          # promoted with 60 s left
    spilled = t.stats().spilled
    assert t["c"] == 3                          # evicts "a": clean, not written again
    assert t.flush(10)
    assert t.stats().spilled == spilled
    clock.now += 61
    assert t.l1.get("c") is None               # the L1 copy did not outlive the tier's
    assert t.get("c") is None


def test_a_write_racing_the_read_wins(make, tmp_path):
    tier = DiskTier(str(tmp_path / "race"), maxsize="8MB")
    read = tier._fetch_counted
    box = {}

    def racing(rkey):
        hit = read(rkey)
        box["t"].set("k", "new")               # lands between the read and the promotion
        return hit

    tier._fetch_counted = racing                # what the front arms with
    t = make(tier=tier)
    box["t"] = t
    seed(t, [("k", "old")])
    assert t["k"] == "old"                      # this read's answer ...
    assert t.l1["k"] == "new"                   # ... is not promoted over the write


def test_the_general_path_takes_the_rest(make):
    t = make()
    long_key = "k" * 600                        # a hashed LMDB key
    seed(t, [(long_key, "long")])
    assert t[long_key] == "long"
    t.tier._write(t.tier._rkey("queued"), "pending", None)   # not applied yet: served from the queue
    assert t["queued"] == "pending"
    t.l1.clear()
    t.tier._invalidate(t.tier._rkey(long_key))             # a queued delete reads as a miss
    assert t.get(long_key) is None
    st = t.stats()
    assert (st.l2_hits, st.l2_misses) == (2, 1)
    t.tier.close()
    assert t.get("queued", "closed") == "closed"            # a closed tier misses
    assert t.stats().l2_misses == 2


def test_an_l1_too_small_for_the_value_serves_it_unkept(make):
    l1 = hotcache.LRUCache(4, getsizeof=len)
    t = make(l1=l1)
    seed(t, [("big", "x" * 10)])
    assert t["big"] == "x" * 10 and "big" not in l1


def test_a_chain_hit_copies_up_through_the_native_path(make, tmp_path):
    upper = DiskTier(str(tmp_path / "upper"), maxsize="8MB")
    lower = DiskTier(str(tmp_path / "lower"), maxsize="8MB")
    t = TieredCache(hotcache.LRUCache(8), upper, lower)
    try:
        lower._write(lower._rkey("k"), "deep", None)
        assert lower.flush(10)
        assert t["k"] == "deep"
        assert t.flush(10)
        assert upper.get("k") == "deep"         # copied into the level above
        levels = t.stats().levels
        assert (levels[0]["l2_misses"], levels[1]["l2_hits"]) == (1, 1)
    finally:
        t.close()
