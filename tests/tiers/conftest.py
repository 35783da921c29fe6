"""Fixtures of the tier tests: the session's Redis server URL (tests/conftest_redis.py starts it)
and the implementation an L1 is built from; needs_lmdb for the disk tier's tests."""
from __future__ import annotations

import importlib.util
import os

import pytest

import hotcache
import hotcache._spec as pure


@pytest.fixture
def url(redis_client, redis_server):
    """The URL of the session's throwaway redis-server, flushed for this test (redis_client)."""
    return redis_server.url


@pytest.fixture(params=["core", "pure"])
def mod(request):
    """The module whose cache classes the L1 comes from: hotcache (C core) or its pure twin."""
    return hotcache if request.param == "core" else pure


@pytest.fixture
def needs_lmdb():
    """The disk tests' rule (tests/disk/conftest.py) for the disk tier's tests: skipped without
    lmdb (hotcache[disk]), except under CI outside the wheel tests, where it is an install bug."""
    if importlib.util.find_spec("lmdb") is None:
        if os.environ.get("CI") and not os.environ.get("HOTCACHE_WHEEL_TEST"):
            raise ImportError("the disk tier tests need lmdb (pip install -e '.[test]')")
        pytest.skip("lmdb is not installed (hotcache[disk])")
