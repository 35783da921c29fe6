"""Fixtures of the tier tests: the session's Redis server URL (tests/conftest_redis.py starts it)
and the implementation an L1 is built from."""
from __future__ import annotations

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
