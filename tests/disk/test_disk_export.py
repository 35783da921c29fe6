"""hotcache.DiskCache: the package root exports the disk cache lazily (lmdb is the optional
extra hotcache[disk]): ``import hotcache`` never needs lmdb, asking for DiskCache without it
names the extra."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import hotcache
import hotcache.disk


def test_root_exports_the_disk_cache():
    assert hotcache.DiskCache is hotcache.disk.DiskCache
    assert "DiskCache" in hotcache.__all__
    assert "DiskCache" in dir(hotcache) or hasattr(hotcache, "DiskCache")


def test_unknown_attribute_is_still_an_attribute_error():
    try:
        hotcache.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("hotcache.NoSuchThing did not raise")


def test_without_lmdb_import_works_and_disk_cache_names_the_extra():
    code = textwrap.dedent("""
        import sys
        sys.modules["lmdb"] = None          # what an environment without lmdb looks like
        import hotcache
        import hotcache.tiers
        assert hotcache.LRUCache(maxsize=2) is not None
        try:
            hotcache.DiskCache
        except ImportError as exc:
            assert "pip install 'hotcache[disk]'" in str(exc), str(exc)
            print("ok")
        else:
            raise SystemExit("hotcache.DiskCache did not raise without lmdb")
        try:
            hotcache.tiers.DiskTier
        except ImportError as exc:
            assert "pip install 'hotcache[disk]'" in str(exc), str(exc)
            print("ok")
        else:
            raise SystemExit("hotcache.tiers.DiskTier did not raise without lmdb")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["ok", "ok"]
