"""A full disk (ENOSPC): writes degrade to misses, stats() says so, no caller sees an exception.

Two ways: a real size-limited tmpfs (needs root to mount; skipped otherwise) and fault injection
at the engine boundary (Store._apply_in raising LMDB's ENOSPC error)."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from hotcache.disk import DiskCache
from hotcache.disk._store import Store


def wait_until(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_injected_enospc_degrades_to_misses(make_cache, monkeypatch):
    import lmdb

    c = make_cache(interval=0.02)
    c["a"] = 1
    assert c.flush() is True
    real = Store._apply_in
    full = {"on": True}

    def apply_in(self, *args):
        if full["on"]:
            raise lmdb.Error("mdb_txn_commit: No space left on device")
        return real(self, *args)

    monkeypatch.setattr(Store, "_apply_in", apply_in)
    c["b"] = 2
    c["a"] = 3  # replaces a stored value: must not read as the older 1 after failing
    assert c.flush(timeout=10) is False  # never raises
    assert c.get("b") is None and c.get("a") is None and "a" not in c
    s = c.stats()
    assert s.disk_full >= 1 and s.write_failures >= 2
    assert "No space left" in s.last_error
    full["on"] = False  # space again: the failed writes' deletes are retried, new writes land
    assert wait_until(lambda: not c._queue.tombs)
    c["c"] = 4
    assert c.flush() is True
    assert c["c"] == 4 and c.get("a") is None and c.get("b") is None
    assert c._store.check() == []


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs mounted for this test (root only)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % done.stderr.decode(errors="replace").strip())
    try:
        yield str(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_real_full_file_system(small_fs):
    path = os.path.join(small_fs, "cache")
    c = DiskCache(path, maxsize="64MB", batch_size=200)  # the bound is far beyond the disk
    try:
        value = {"payload": "x" * 300}
        for i in range(12_000):  # ~5 MB of records on a 2 MiB file system
            c[i] = value
            if i % 1000 == 999:
                c.flush(timeout=30)  # may be False: never raises
        c.flush(timeout=30)
        s = c.stats()
        assert s.disk_full >= 1, s
        assert 0 < s.entries < 12_000
        # the cache keeps working inside the space it has
        c["after"] = {"ok": True}
        assert wait_until(lambda: c.flush(timeout=5))
        assert c["after"] == {"ok": True}
        assert c[11_999] == value or c.get(11_999) is None
        assert c._store.check() == []
    finally:
        c.close()
