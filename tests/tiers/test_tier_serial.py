"""Redis tier wire formats: key encoding, serializers, AES-GCM sealing and what gets rejected.

Key encoding is checked without Redis (and in a subprocess with another hash seed); the tamper tests
write forged bytes straight into a real redis-server and read them back through the tier.
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest

import hotcache
from hotcache.tiers.redis_codec import Rejected, encode_key, make_codec, namespace_prefix
from hotcache.tiers import RedisTier, TieredCache

SECRET = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"

SAMPLE_KEYS = [
    None, True, False, 0, 1, -1, 2**70, -(2**70), 2**13000, 1.5, -0.25, 1e300, float("inf"),
    float("-inf"), float("nan"), "", "1", "é€😀", "a:b#c*?[]", "\ud800", b"", b"1", b"\x00\xff",
    (), (1,), ("1",), (b"1",), (1, (2, (3, "x"))), ((), ()), (None, True, 1.5, "s", b"b"),
    int, str, hotcache.LRUCache,
]


def test_type_tags_never_collide():
    distinct = [1, "1", b"1", (1,), ("1",), None, "n", "", b"", (), 1.5, "1.5", "i1", "s1"]
    encoded = [encode_key(k) for k in distinct]
    assert len(set(encoded)) == len(distinct), encoded


def test_numbers_equal_in_python_share_a_key():
    # dict semantics: 1 == 1.0 == True, so L1 treats them as one key; L2 must agree
    assert encode_key(1) == encode_key(1.0) == encode_key(True) == "i1"
    assert encode_key(0) == encode_key(-0.0) == encode_key(False) == "i0"
    assert encode_key((1, 2.0)) == encode_key((True, 2))
    assert encode_key(2.5) != encode_key(2)
    assert encode_key(float("nan")) == "fnan"
    assert encode_key(10**400) == encode_key(10**400)  # decimal digits beyond float range


def test_tuples_are_unambiguous():
    assert encode_key(("a", "b")) != encode_key(("ab",))
    assert encode_key(("a", ("b",))) != encode_key((("a",), "b"))
    assert encode_key((1, 23)) != encode_key((12, 3))
    assert encode_key(("3:sab",)) != encode_key(("", "ab"))


def test_huge_ints_use_hex_and_stay_distinct():
    big = 2**13000
    assert encode_key(big).startswith("x")
    assert encode_key(big) != encode_key(big + 1)


def test_unsupported_types_raise_type_error():
    for bad in (frozenset([1]), 1 + 2j, object(), (1, frozenset())):
        with pytest.raises(TypeError, match="key="):
            encode_key(bad)


def test_hashkey_and_typedkey_keys_encode():
    from hotcache import keys

    assert encode_key(keys.hashkey(1, a=2)) == encode_key(keys.hashkey(1, a=2))
    assert encode_key(keys.typedkey(1, "x")) != encode_key(keys.typedkey(1.0, "x"))


_CHILD = r"""
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
import hotcache
from hotcache.tiers.redis_codec import encode_key
keys = [None, True, False, 0, 1, -1, 2**70, -(2**70), 2**13000, 1.5, -0.25, 1e300, float("inf"),
        float("-inf"), float("nan"), "", "1", "é€😀", "a:b#c*?[]", "\ud800", b"", b"1", b"\x00\xff",
        (), (1,), ("1",), (b"1",), (1, (2, (3, "x"))), ((), ()), (None, True, 1.5, "s", b"b"),
        int, str, hotcache.LRUCache]
print(json.dumps([encode_key(k).encode("utf-8", "surrogatepass").hex() for k in keys]))
"""


def test_encoding_is_identical_in_another_process_with_another_hash_seed():
    mine = [encode_key(k).encode("utf-8", "surrogatepass").hex() for k in SAMPLE_KEYS]
    outs = []
    for seed in ("1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(sys.path)], env=env,
                             capture_output=True, text=True, timeout=60, check=True)
        outs.append(json.loads(out.stdout))
    assert outs[0] == mine
    assert outs[1] == mine


def test_namespace_validation():
    assert namespace_prefix("svc:user") == b"svc:user:#"
    for bad in ("", "a*", "a?", "a[b]", "a\\b", "a#b", "a\nb"):
        with pytest.raises(ValueError):
            namespace_prefix(bad)
    with pytest.raises(TypeError):
        namespace_prefix(b"svc")


def test_serializer_options():
    with pytest.raises(ValueError, match="pickle"):
        make_codec("pickle")
    with pytest.raises(ValueError, match="pickle"):
        make_codec(pickle)  # the module itself is pickle too
    assert make_codec("pickle", trusted=True).serializer.name == "pickle"
    assert make_codec("pickle", secret=SECRET).sealed
    with pytest.raises(ValueError, match="unknown serializer"):
        make_codec("yaml")
    with pytest.raises(TypeError):
        make_codec(42)
    with pytest.raises(ValueError, match="at least 16"):
        make_codec(secret=b"short")
    with pytest.raises(ValueError):
        make_codec(secret=[])
    with pytest.raises(TypeError):
        make_codec(secret=1234567890123456)


def test_custom_and_msgpack_round_trip():
    class Upper:
        @staticmethod
        def dumps(v):
            return v.upper()

        @staticmethod
        def loads(b):
            return b.decode().lower()

    c = make_codec(Upper())
    assert c.loads(b"k", c.dumps(b"k", "abc")) == "abc"
    m = make_codec("msgpack")
    assert m.loads(b"k", m.dumps(b"k", {"a": [1, 2.5, b"x", None]})) == {"a": [1, 2.5, b"x", None]}


def test_msgpack_missing_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(ImportError, match="pip install msgpack"):
        make_codec("msgpack")


def test_sealing_binds_the_key_and_rotates():
    old = make_codec(secret=OTHER)
    new = make_codec(secret=[SECRET, OTHER])
    blob = old.dumps(b"ns:#sk", {"v": 1})
    assert new.loads(b"ns:#sk", blob) == {"v": 1}         # rotation: old secret still decrypts
    with pytest.raises(Rejected):
        old.loads(b"ns:#sk", new.dumps(b"ns:#sk", 2))      # new entries use the new secret
    with pytest.raises(Rejected):
        new.loads(b"ns:#sother", blob)                      # bound to its key
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    for bad in (bytes(flipped), blob[:-1], blob[:20], b"", b"\x01" + blob[1:], b"\x03" + blob[1:],
                b'{"v": 1}'):
        with pytest.raises(Rejected):
            new.loads(b"ns:#sk", bad)
    a, b = new.dumps(b"k", 1), new.dumps(b"k", 1)
    assert a != b                                           # random nonce


def test_sealed_values_carry_a_per_sealer_salt_and_rotate_it():
    from hotcache.tiers.redis_codec import _SALT, _Sealer

    a, b = _Sealer([SECRET], rotate_after=3), _Sealer([SECRET])
    assert a.salt != b.salt and len(a.salt) == _SALT     # each tier instance: its own key
    blobs = [a.seal(b"k", b"x%d" % i) for i in range(4)]
    assert [bl[0] for bl in blobs] == [2] * 4            # version 2
    assert {bl[1:1 + _SALT] for bl in blobs[:3]} == {blobs[0][1:1 + _SALT]}
    assert blobs[3][1:1 + _SALT] != blobs[0][1:1 + _SALT]  # a fresh salt after rotate_after seals
    for i, bl in enumerate(blobs):                       # any sealer with the secret opens them
        assert b.open(b"k", bl) == b"x%d" % i
    forged_salt = bytearray(blobs[0])
    forged_salt[1] ^= 1                                  # another salt derives another key
    with pytest.raises(Rejected):
        b.open(b"k", bytes(forged_salt))


def test_version_1_values_are_rejected_as_foreign():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"hotcache.redis_tier.v1 aes-256-gcm").derive(SECRET)
    nonce = os.urandom(12)
    v1 = b"\x01" + nonce + AESGCM(key).encrypt(nonce, b"1", b"\x01k")  # the old wire format
    with pytest.raises(Rejected):
        make_codec(secret=SECRET).loads(b"k", v1)


def test_decryption_keys_are_cached_per_salt_and_bounded():
    from hotcache.tiers.redis_codec import _SALT_CACHE, _Sealer

    reader = _Sealer([SECRET, OTHER])
    writers = [_Sealer([SECRET]) for _ in range(_SALT_CACHE + 5)]
    for w in writers:
        assert reader.open(b"k", w.seal(b"k", b"v")) == b"v"
    assert len(reader._keys) == _SALT_CACHE
    first = writers[-1].seal(b"k", b"w")
    derived = reader._keys[writers[-1].salt]
    assert reader.open(b"k", first) == b"w" and reader._keys[writers[-1].salt] is derived  # not derived again
    assert reader.open(b"k", writers[0].seal(b"k", b"old")) == b"old"  # evicted: derived again


def test_types_whose_name_does_not_identify_them_are_rejected():
    from hotcache.keys import _KwMark

    def make():
        class Model:
            pass
        return Model

    with pytest.raises(TypeError, match="local class"):
        encode_key(make())
    with pytest.raises(TypeError):
        encode_key((make(), 1))
    with pytest.raises(TypeError):
        encode_key(type("Row", (), {}))                  # not held by this module under "Row"
    assert encode_key(int) == "ybuiltins:int"
    assert encode_key(_KwMark) == "yhotcache.keys:_KwMark"  # hashkey/typedkey's marker
    assert encode_key(Rejected) == "yhotcache.tiers.redis_codec:Rejected"
    assert encode_key(hotcache.LRUCache) == "y%s:%s" % (hotcache.LRUCache.__module__,
                                                       hotcache.LRUCache.__qualname__)


def test_without_secret_undecodable_bytes_are_rejected():
    c = make_codec("json")
    with pytest.raises(Rejected):
        c.loads(b"k", b"\xff\xfe not json")


# -- against a real server -------------------------------------------------------------------

def _spilled(url, namespace, **kw):
    """A TieredCache whose L1 holds 1 entry; "k" is spilled to Redis and flushed."""
    t = TieredCache(hotcache.LRUCache(1), RedisTier(url, namespace=namespace, ttl=60, **kw))
    t["k"] = {"v": 1}
    t["other"] = 0          # evicts "k" -> Redis
    assert t.flush(timeout=10)
    return t


def test_tampered_values_are_rejected_counted_and_never_deserialized(url, redis_client):
    t = _spilled(url, "tamper:t", secret=SECRET, serializer="pickle")
    rkey = t.tier.redis_key("k")
    good = redis_client.get(rkey)
    assert good is not None and good[0] == 2
    forged = []

    class Boom:
        def __reduce__(self):
            return (forged.append, ("unpickled!",))

    flipped = bytearray(good)
    flipped[20] ^= 0x40
    cases = [bytes(flipped), good[:-3], good[:10], pickle.dumps(Boom()), b'{"v": 2}']
    for i, bad in enumerate(cases, 1):
        redis_client.set(rkey, bad, px=60000)
        t.l1.pop("k", None)
        assert t.get("k", "miss") == "miss"
        assert t.stats().rejected == i
    assert forged == []
    # a genuine value copied to another key of the namespace is rejected as well
    redis_client.set(t.tier.redis_key("copy"), good, px=60000)
    assert t.get("copy", "miss") == "miss"
    assert t.stats().rejected == len(cases) + 1
    # the genuine bytes still read back
    redis_client.set(rkey, good, px=60000)
    assert t.get("k") == {"v": 1}
    t.close()


def test_foreign_bytes_without_secret_are_rejected(url, redis_client):
    t = _spilled(url, "tamper:plain")
    redis_client.set(t.tier.redis_key("k"), b"\x80\x04garbage", px=60000)
    assert t.get("k", "miss") == "miss"
    s = t.stats()
    assert s.rejected == 1 and s.l2_misses == 1
    t.close()


def test_trusted_pickle_round_trips_objects(url):
    t = _spilled(url, "pickle:trusted", serializer="pickle", trusted=True)
    t["t"] = (1, {2, 3})
    t["x"] = 0  # evicts "t"
    assert t.flush(timeout=10)
    assert t["t"] == (1, {2, 3})
    assert t["k"] == {"v": 1}
    t.close()


def test_json_turns_tuples_into_lists(url):
    t = _spilled(url, "json:shape")
    t["t"] = (1, 2)
    t["x"] = 0
    assert t.flush(timeout=10)
    assert t["t"] == [1, 2]   # documented: choose msgpack/pickle for exact types
    t.close()


def test_unserializable_values_stay_in_l1_and_count_as_dropped(url):
    t = TieredCache(hotcache.LRUCache(2), RedisTier(url, namespace="json:bad", ttl=60))
    t["a"] = object()
    assert isinstance(t["a"], object)
    t["b"] = 1
    t["c"] = 2           # evicts "a": cannot be serialized
    t.flush(timeout=10)
    assert t.stats().spill_dropped == 1
    assert t.get("a", "miss") == "miss"
    t.close()


def test_sealed_round_trip_and_ttl(url, redis_client):
    t = _spilled(url, "sealed:rt", secret=[SECRET, OTHER])
    pttl = redis_client.pttl(t.tier.redis_key("k"))
    assert 50_000 < pttl <= 60_000
    assert t["k"] == {"v": 1}
    assert t.stats().l2_hits == 1
    t.close()


def test_px_is_rounded_up_with_a_1_ms_minimum_and_expired_spills_are_not_written(monkeypatch):
    from hotcache.tiers import redis_io
    from hotcache.tiers.redis_spill import SPILL, SpillQueue

    now = 1000.0
    monkeypatch.setattr(redis_io.time, "monotonic", lambda: now)
    q = SpillQueue(10, 10)
    batch = [(b"a", [SPILL, 1, now + 1.0001, False, 1]),
             (b"b", [SPILL, 1, now + 1e-7, False, 2]),
             (b"c", [SPILL, 1, now - 1.0, False, 3]),     # expired: not written
             (b"d", [SPILL, 1, now, True, 4])]            # expired but owes an invalidation
    pack = redis_io._Generic
    commands, index, kinds, outcomes = redis_io.plan_batch(batch, make_codec(), q, pack.pack_set,
                                                           pack.pack_unlink)
    assert [c[0] for c in commands] == ["SET", "SET", "UNLINK"]
    assert commands[0][4] == 1001
    assert commands[1][4] == 1
    assert index == [0, 1, 3]
