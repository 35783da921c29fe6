"""Untrusted bytes: tampered and moved values, foreign and damaged files, pickle, permissions."""
from __future__ import annotations

import os
import stat
import sys

import pytest

from hotcache.disk import CorruptedError, DiskCache
from hotcache.tiers.redis_codec import encode_key
from hotcache.disk._format import decode_key

SECRET = b"0123456789abcdef-disk-test-secret"


def raw_env(c):
    shared = c._store._env()
    return shared.env, shared.v


def test_pickle_needs_a_secret_or_trust(cache_dir):
    with pytest.raises(ValueError, match="secret= .*trusted=True"):
        DiskCache(cache_dir, maxsize="8MB", serializer="pickle")
    assert not os.path.exists(cache_dir)  # refused before anything was created


def test_tampered_sealed_value_reads_as_a_miss(make_cache):
    c = make_cache(secret=SECRET, serializer="pickle")
    c["k"] = {"v": 1}
    c["other"] = 2
    c.flush()
    env, v = raw_env(c)
    with env.begin(write=True, db=v) as txn:
        record = bytearray(txn.get(b"sk"))
        record[-5] ^= 0x01  # one bit of the ciphertext
        txn.put(b"sk", bytes(record))
    assert c.get("k") is None and "k" not in c
    assert c["other"] == 2
    assert c.stats().rejected == 2


def test_value_moved_to_another_key_is_rejected(make_cache):
    c = make_cache(secret=SECRET)
    c["a"] = "for a"
    c["b"] = "for b"
    c.flush()
    env, v = raw_env(c)
    with env.begin(write=True, db=v) as txn:
        txn.put(b"sb", txn.get(b"sa"))  # the key is bound into the seal
    assert c["a"] == "for a" and c.get("b") is None and c.stats().rejected == 1


def test_wrong_secret_reads_nothing_rotation_reads_all(make_cache, cache_dir):
    c = make_cache(secret=SECRET)
    c["k"] = 1
    c.close()
    with DiskCache(cache_dir, maxsize="8MB", secret=b"another-secret-of-32-bytes-....") as wrong:
        assert wrong.get("k") is None and wrong.stats().rejected == 1
    with DiskCache(cache_dir, maxsize="8MB", secret=[b"new-secret-0123456789abcdef", SECRET]) as rotated:
        assert rotated["k"] == 1


def test_unsealed_values_that_do_not_decode_are_rejected(make_cache):
    c = make_cache()
    c["k"] = 1
    c.flush()
    env, v = raw_env(c)
    with env.begin(write=True, db=v) as txn:
        txn.put(b"sk", b"\0" * 9 + b"{not json")
        txn.put(b"sshort", b"abc")  # shorter than a record header
    assert c.get("k") is None and c.get("short") is None and c.stats().rejected == 2


def _find_record(data, rkey, lead):
    at = data.find(rkey + lead)
    assert at >= 0
    return at + len(rkey)


def test_flipped_bytes_in_the_data_file(make_cache, cache_dir):
    c = make_cache(secret=SECRET)
    c["marker-key"] = "secret value"
    c.close()
    path = os.path.join(cache_dir, "data.mdb")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    start = _find_record(bytes(data), b"smarker-key", b"\0" * 9 + b"\x02")  # header, seal v2
    data[start + 40] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)
    with DiskCache(cache_dir, maxsize="8MB", secret=SECRET) as again:
        assert again.get("marker-key") is None and again.stats().rejected == 1


def test_garbage_data_file(cache_dir):
    os.makedirs(cache_dir)
    with open(os.path.join(cache_dir, "data.mdb"), "wb") as f:
        f.write(os.urandom(3 * 4096))
    with pytest.raises(CorruptedError, match="not a readable LMDB"):
        DiskCache(cache_dir, maxsize="8MB")
    with DiskCache(cache_dir, maxsize="8MB", on_corrupt="rebuild") as c:
        c["k"] = 1
        assert c.flush() and c["k"] == 1
        aside = c._store.quarantined
    assert aside and os.path.exists(os.path.join(aside, "data.mdb"))


def test_foreign_lmdb_environment(cache_dir):
    import lmdb

    env = lmdb.open(cache_dir, map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"someone", b"else's data")
    env.close()
    with pytest.raises(CorruptedError, match="not a hotcache disk cache"):
        DiskCache(cache_dir, maxsize="8MB")


def test_directory_of_other_files_is_left_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CorruptedError, match="not a hotcache disk cache directory"):
        DiskCache(str(tmp_path), maxsize="8MB")
    with pytest.raises(CorruptedError, match="not a hotcache disk cache directory"):
        DiskCache(str(tmp_path), maxsize="8MB", on_corrupt="rebuild")  # never moved aside
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_path_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CorruptedError, match="not a directory"):
        DiskCache(str(target), maxsize="8MB")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_owner_only_permissions(cache_dir):
    old = os.umask(0)
    try:
        with DiskCache(os.path.join(cache_dir, "nested"), maxsize="8MB") as c:
            c["k"] = 1
            c.flush()
            mode = stat.S_IMODE(os.stat(c.path).st_mode)
            files = {n: stat.S_IMODE(os.stat(os.path.join(c.path, n)).st_mode) for n in os.listdir(c.path)}
    finally:
        os.umask(old)
    assert mode == 0o700
    assert files == {"data.mdb": 0o600, "lock.mdb": 0o600, "space.reserve": 0o600}


def test_verify_catches_structural_damage(make_cache, cache_dir):
    pytest.importorskip("lmdb.verify")
    c = make_cache()
    for i in range(2000):
        c[i] = {"i": i}
    c.close()
    path = os.path.join(cache_dir, "data.mdb")
    with open(path, "r+b") as f:
        f.seek(5 * 4096 + 16)  # inside a page past the two meta pages
        f.write(b"\xff" * 64)
    with pytest.raises(CorruptedError, match="verification"):
        DiskCache(cache_dir, maxsize="8MB", verify=True)
    with DiskCache(cache_dir, maxsize="8MB", verify=True, on_corrupt="rebuild") as again:
        assert len(again) == 0 and again._store.quarantined


def test_decoding_a_key_never_imports():
    name = "hotcache_test_module_that_does_not_exist"
    with pytest.raises(ValueError):
        decode_key("y%s:Thing" % name)
    assert name not in sys.modules
    assert decode_key("yhotcache.disk.cache:DiskCache") is DiskCache
    for key in [(1, "\u00e9"), ((), (None, b"\x00")), "t", 2**13000, -0.5]:
        assert decode_key(encode_key(key)) == key
    for bad in ("", "q", "t5:i1", "nx"):
        with pytest.raises(ValueError):
            decode_key(bad)
