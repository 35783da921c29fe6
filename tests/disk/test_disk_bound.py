"""The byte bound holds on disk (the directory's files, engine overhead included) and eviction
follows least-recent use closely."""
from __future__ import annotations

import os

from hotcache.disk._store import directory_bytes

VALUE = {"id": 1, "name": "user-1", "email": "user1@example.com", "score": 1.5, "tags": ["a", "b"]}


def dir_size(path):
    total = 0
    for name in os.listdir(path):
        st = os.stat(os.path.join(path, name))
        total += max(st.st_size, st.st_blocks * 512)
    return total


def test_directory_never_exceeds_maxsize(make_cache, cache_dir):
    c = make_cache(maxsize="2MB", batch_size=500)
    peak = 0
    for i in range(40_000):  # ~10 MB of records through a 2 MB cache
        c[i] = dict(VALUE, id=i)
        if i % 2000 == 1999:
            c.flush()
            peak = max(peak, dir_size(cache_dir))
            assert dir_size(cache_dir) <= 2_000_000
    c.flush()
    s = c.stats()
    assert s.evictions > 0 and s.write_failures == 0 and s.disk_full == 0
    assert s.disk_bytes == directory_bytes(cache_dir) <= 2_000_000
    assert peak > 1_000_000  # the budget is used, not just respected
    assert c[39_999] == dict(VALUE, id=39_999)  # the newest entries stay
    assert 2000 < len(c) < 40_000
    assert c._store.check() == []


def test_large_values_and_mixed_sizes_stay_bounded(make_cache, cache_dir):
    c = make_cache(maxsize="3MB", batch_size=64)
    for i in range(300):
        c["big%d" % i] = "x" * (1000 + (i * 7919) % 200_000)
        c["small%d" % i] = i
    c.flush()
    assert dir_size(cache_dir) <= 3_000_000
    assert c.stats().write_failures == 0 and c._store.check() == []


def test_eviction_is_close_to_lru(make_cache):
    """Keys are written in order while a hot set is read between batches; the survivors are
    compared with what an exact LRU of the same number of entries would keep."""
    c = make_cache(maxsize="2MB", batch_size=200)
    use = {}  # key -> time of last use (an operation counter)
    tick = 0
    hot = list(range(100))
    for i in range(20_000):
        c[i] = dict(VALUE, id=i)
        tick += 1
        use[i] = tick
        if i % 200 == 199:
            c.flush()
            for h in hot:
                if c.get(h) is not None:
                    tick += 1
                    use[h] = tick
    c.flush()
    c._writer.step()  # apply the last recorded uses
    survivors = set(c)
    ideal = set(sorted(use, key=use.get)[-len(survivors):])
    overlap = len(survivors & ideal) / len(survivors)
    assert all(h in survivors for h in hot)  # read every 200 writes: never the oldest
    assert overlap >= 0.98, overlap
