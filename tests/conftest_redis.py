"""pytest plugin: Redis fixtures backed by throwaway ``redis-server`` processes (tests/redis_server.py).

Registered from tests/conftest.py with ``pytest_plugins = ["conftest_redis"]``; tests/ is on sys.path there.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

import redis_server as _rs
from redis_server import RedisCluster, RedisServer

__all__ = ["redis_server", "fresh_redis", "redis_cluster", "redis_client"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One server shared by the whole session. Do not kill or pause it: use ``fresh_redis``.

    Missing ``redis-server``/``redis``: the test fails under CI, is skipped otherwise
    (see ``redis_server.require_redis``).
    """
    _rs.require_redis()
    srv = RedisServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fresh_redis() -> Iterator[RedisServer]:
    """A server of the test's own, free to kill -9, pause (SIGSTOP) and restart; stopped afterwards."""
    _rs.require_redis()
    srv = RedisServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 3-master Redis Cluster on loopback shared by the session (use unique keys per test)."""
    _rs.require_redis()
    cluster = RedisCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[Any]:
    """A ``redis.Redis`` (bytes responses) on the shared server with db 0 flushed before the test."""
    if not redis_server.running:  # a test broke the shared server: give the next one a clean start
        redis_server.restart()
    client = redis_server.client()
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Belt and braces: no redis-server outlives the test run (fixtures already stop theirs)."""
    _rs._reap_all()
