"""Fixtures of the disk cache tests: a fresh directory path, a fake wall clock, cache factories.

The tests need the lmdb package (``hotcache[disk]``, part of ``[test]``); without it they are
skipped, except under CI outside the wheel tests, where a missing lmdb is an install bug.
"""
from __future__ import annotations

import importlib.util
import os

import pytest

if importlib.util.find_spec("lmdb") is None:
    if os.environ.get("CI") and not os.environ.get("HOTCACHE_WHEEL_TEST"):
        raise ImportError("the disk cache tests need lmdb (pip install -e '.[test]')")
    collect_ignore_glob = ["test_*.py"]


class FakeClock:
    """A wall clock that moves only when told (``clock.advance(s)``)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache_dir(tmp_path):
    """A path for a new cache directory (not created)."""
    return str(tmp_path / "cache")


@pytest.fixture
def make_cache(cache_dir):
    """Build DiskCaches (default: in cache_dir, 8 MB); every one is closed after the test."""
    from hotcache.disk import DiskCache

    made = []

    def make(path=None, **options):
        options.setdefault("maxsize", "8MB")
        c = DiskCache(path or cache_dir, **options)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
