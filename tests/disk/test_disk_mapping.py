"""DiskCache as a MutableMapping: the contract, keys and values, persistence, @cached, bad input."""
from __future__ import annotations

import copy
import pickle
import threading

import pytest

import hotcache
from hotcache.disk import DiskCache, DiskStats

SECRET = b"0123456789abcdef-disk-test-secret"


def check(c):
    """The store's databases agree (index entries for every value and nothing else)."""
    c.flush()
    assert c._store.check() == []


@pytest.mark.parametrize("write", ["behind", "through"])
def test_mapping_contract(make_cache, write):
    c = make_cache(write=write)
    assert len(c) == 0 and list(c) == [] and c.get("a") is None and "a" not in c
    c["a"] = {"x": 1}
    c["b"] = [1, 2, 3]
    c.set("c", "text")
    assert c["a"] == {"x": 1} and c.get("b") == [1, 2, 3] and c["c"] == "text"
    assert "a" in c and len(c) == 3 and sorted(c) == ["a", "b", "c"]
    c["a"] = 2  # replace
    assert c["a"] == 2 and len(c) == 3
    del c["a"]
    assert "a" not in c and c.get("a", "dflt") == "dflt"
    with pytest.raises(KeyError):
        c["a"]
    with pytest.raises(KeyError):
        del c["a"]
    assert c.pop("b") == [1, 2, 3] and c.pop("b", None) is None
    with pytest.raises(KeyError):
        c.pop("b")
    assert c.delete("c") is True and c.delete("c") is False
    c.update({"u": 1, "v": 2})
    assert c.setdefault("u", 9) == 1 and c.setdefault("w", 3) == 3
    assert dict(c.items()) == {"u": 1, "v": 2, "w": 3} and c == {"u": 1, "v": 2, "w": 3}
    c.clear()
    assert len(c) == 0 and list(c) == [] and c.get("u") is None
    check(c)


def test_keys_like_a_dict(make_cache):
    c = make_cache()
    long_key = "k" * 5000  # beyond LMDB's key limit: stored under a digest, kept whole
    keys = [None, 0, -7, 2**200, 1.5, float("inf"), "", "é\udc80", b"\x00\xff", (1, ("a", b"b")),
            (), long_key, (long_key, 2), int, hotcache.LRUCache]
    for i, k in enumerate(keys):
        c[k] = i
    for i, k in enumerate(keys):
        assert c[k] == i, k
    assert sorted(map(repr, c)) == sorted(map(repr, keys))
    c[1] = "one"
    assert c[1.0] == "one" and c[True] == "one"  # 1 == 1.0 == True, as in a dict
    c[1.0] = "float"
    assert c[1] == "float" and len(c) == len(keys) + 1
    del c[long_key]
    assert long_key not in c and (long_key, 2) in c
    check(c)


def test_unencodable_key_or_value_leaves_the_cache_unchanged(make_cache):
    c = make_cache()
    c["k"] = 1
    with pytest.raises(TypeError):
        c[object()] = 1
    with pytest.raises(TypeError):
        c[[1, 2]] = 1
    with pytest.raises(TypeError):
        c.get(object())
    with pytest.raises(TypeError):
        c["k"] = {1, 2}  # not JSON
    assert c["k"] == 1 and len(c) == 1


def test_values_too_large_are_refused(make_cache):
    c = make_cache(maxsize="2MB")
    with pytest.raises(ValueError, match="does not fit"):
        c["big"] = "x" * 400_000
    assert "big" not in c
    c["ok"] = "x" * 100_000
    assert len(c["ok"]) == 100_000


@pytest.mark.parametrize("serializer, options", [
    ("json", {}), ("msgpack", {}), ("pickle", {"trusted": True}), ("pickle", {"secret": SECRET}),
    ("json", {"secret": SECRET}),
])
def test_serializers(make_cache, serializer, options):
    c = make_cache(serializer=serializer, **options)
    value = {"a": [1, 2.5, None, True], "b": "é"}
    c["k"] = value
    c.flush()
    assert c["k"] == value
    assert c.serializer == serializer and c.encrypted == ("secret" in options)
    if serializer == "pickle":
        c["t"] = (1, frozenset({2}))
        c.flush()
        assert c["t"] == (1, frozenset({2}))


def test_persists_across_reopen_and_objects(make_cache, cache_dir):
    c = make_cache()
    c["k"] = {"v": 1}
    c.set("t", 2, ttl=3600)
    c.close()
    assert c.closed
    with pytest.raises(ValueError, match="closed"):
        c["k"]
    with pytest.raises(ValueError, match="closed"):
        c["k"] = 1
    with DiskCache(cache_dir, maxsize="8MB") as again:
        assert again["k"] == {"v": 1} and again["t"] == 2
        other = DiskCache(cache_dir, maxsize="8MB")  # a second object in the same process
        other["o"] = 3
        other.flush()
        assert again["o"] == 3
        other.close()
        assert again["k"] == {"v": 1}  # closing one object leaves the other working


def test_own_writes_are_read_before_they_land(make_cache):
    c = make_cache()
    with c._writer.io_lock:  # the writer cannot apply anything meanwhile
        c["k"] = 1
        assert c["k"] == 1 and c._queue.queue
        del c["k"]
        assert "k" not in c
        c["k"] = 2
        assert c.get("k") == 2
    assert c.flush() is True and c["k"] == 2


def test_other_objects_see_writes_once_flushed(make_cache):
    a = make_cache()
    b = make_cache()
    a["k"] = 1
    assert a.flush() is True
    assert b["k"] == 1
    b.clear()
    assert a.get("k") is None


def test_cached_decorator(make_cache):
    c = make_cache()
    calls = []

    @hotcache.cached(cache=c)
    def square(x):
        calls.append(x)
        return x * x

    assert [square(3), square(3), square(4)] == [9, 9, 16]
    assert calls == [3, 4]
    c.flush()
    assert len(c) == 2

    @hotcache.cached(cache=c, ttl=60)
    def cube(x):
        return x ** 3

    assert cube(2) == 8 and cube(2) == 8


def test_threads_share_one_cache(make_cache):
    c = make_cache()
    errors = []

    def work(n):
        try:
            for i in range(300):
                c["t%d:%d" % (n, i)] = i
                assert c["t%d:%d" % (n, i)] == i
                c.get("t%d:%d" % ((n + 1) % 4, i))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(c) == 1200
    check(c)


def test_stats_and_repr(make_cache):
    c = make_cache()
    c["a"] = 1
    c["a"]
    c.get("zz")
    c.flush()
    s = c.stats()
    assert isinstance(s, DiskStats)
    assert (s.hits, s.misses, s.sets, s.pending, s.entries) == (1, 1, 1, 0, 1)
    assert 0 < s.disk_bytes <= s.maxsize == c.maxsize == 8_000_000 and s.live_bytes > 0
    assert s.hit_ratio == 0.5 and s.last_error is None and s.disk_full == 0
    assert c.volume() == s.disk_bytes
    assert "DiskCache(" in repr(c) and "json" in repr(c)


def test_not_picklable(make_cache):
    c = make_cache()
    for fn in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="cannot be pickled"):
            fn(c)


@pytest.mark.parametrize("options, error", [
    ({"maxsize": "lots"}, ValueError), ({"maxsize": -1}, ValueError), ({"maxsize": 1000}, ValueError),
    ({"maxsize": [1]}, TypeError), ({"maxsize": True}, TypeError), ({"ttl": 0}, ValueError),
    ({"ttl": -1}, ValueError), ({"ttl": "1"}, TypeError), ({"ttl": float("nan")}, ValueError),
    ({"serializer": "yaml"}, ValueError), ({"serializer": 3}, TypeError),
    ({"serializer": "pickle"}, ValueError), ({"secret": b"short"}, ValueError),
    ({"secret": 5}, TypeError), ({"write": "sideways"}, ValueError), ({"write": 1}, TypeError),
    ({"on_corrupt": "ignore"}, ValueError), ({"batch_size": 0}, ValueError),
    ({"batch_size": 1.5}, TypeError), ({"max_pending": 0}, ValueError), ({"interval": 0}, ValueError),
    ({"timer": 5}, TypeError),
])
def test_bad_options(cache_dir, options, error):
    options = dict({"maxsize": "8MB"}, **options)
    with pytest.raises(error):
        DiskCache(cache_dir, **options)


def test_bad_path(tmp_path):
    with pytest.raises(TypeError):
        DiskCache(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DiskCache("")


def test_bad_call_arguments(make_cache):
    c = make_cache()
    with pytest.raises(TypeError):
        c.set("k", 1, ttl="soon")
    with pytest.raises(TypeError):
        c.set("k", 1, ttl=1, expire=2)
    with pytest.raises(TypeError):
        c.expire(now="later")
    assert "k" not in c


@pytest.mark.parametrize("text, expected", [
    ("10GB", 10**10), ("512MiB", 512 << 20), ("1.5 g", 1_500_000_000), ("2048", 2048), (4096, 4096),
])
def test_size_strings(text, expected):
    from hotcache.disk._format import parse_size

    assert parse_size("maxsize", text) == expected


def test_reopen_with_other_options_is_refused(make_cache, cache_dir):
    c = make_cache()
    c["k"] = 1
    c.close()
    with pytest.raises(ValueError, match="maxsize"):
        DiskCache(cache_dir, maxsize="16MB")
    with pytest.raises(ValueError, match="serializer"):
        DiskCache(cache_dir, maxsize="8MB", serializer="msgpack")
    with pytest.raises(ValueError, match="sealed"):
        DiskCache(cache_dir, maxsize="8MB", secret=SECRET)
