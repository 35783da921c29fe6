"""The Redis test fixtures themselves: start, kill -9, restart on the same port, pause/resume, cluster.

If these fail, every Redis test's verdict is suspect, so they check the processes, not just PING.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from redis_server import RedisServer, free_port, require_redis


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _no_retry(srv, timeout):
    """A client that reports the first failure instead of retrying with backoff."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return srv.client(socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


def _state(pid):
    """The process state letter ('T' = stopped), from /proc (Linux) or ps (macOS, BSD); None if
    neither can tell."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        pass
    try:
        out = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out[:1] or None


STATE_WAIT = 10.0  # seconds: a bound, not a delay (the state usually changes within a millisecond)


def _wait_state(pid, want, timeout=STATE_WAIT):
    """Poll until the process state is ``want`` (or, with ``want`` starting with "!", is not
    that letter); returns the last state read. A signal is delivered asynchronously: right
    after kill(SIGSTOP) the state may still read 'R' or 'S' (on a loaded machine, for a while)."""
    negate = want.startswith("!")
    letter = want.lstrip("!")
    deadline = time.monotonic() + timeout
    while True:
        state = _state(pid)
        if state is None or (state != letter) == negate or time.monotonic() >= deadline:
            return state
        time.sleep(0.005)


def test_shared_server_and_client(redis_server, redis_client):
    assert redis_server.running
    assert redis_server.host == "127.0.0.1"
    assert redis_server.url == "redis://127.0.0.1:%d/0" % redis_server.port
    assert redis_client.ping() is True
    redis_client.set(b"k", b"v")
    assert redis_client.get(b"k") == b"v"  # bytes, not str: decode_responses=False
    assert redis_client.config_get("save")["save"] == ""
    assert redis_client.config_get("appendonly")["appendonly"] == "no"


def test_redis_client_flushes_between_tests_part1(redis_client):
    assert redis_client.dbsize() == 0
    redis_client.set(b"leftover", b"1")


def test_redis_client_flushes_between_tests_part2(redis_client):
    assert redis_client.dbsize() == 0


def test_kill_restart_same_port(fresh_redis):
    c = _no_retry(fresh_redis, 2)
    c.set(b"k", b"v")
    port, pid = fresh_redis.port, fresh_redis.pid
    fresh_redis.kill()
    assert not fresh_redis.running
    assert not _alive(pid)
    import redis

    with pytest.raises(redis.ConnectionError):
        _no_retry(fresh_redis, 2).ping()
    fresh_redis.restart()
    assert fresh_redis.port == port
    assert fresh_redis.pid != pid
    c2 = fresh_redis.client()
    assert c2.ping() is True
    assert c2.get(b"k") is None  # persistence is off: a restarted server is empty


def test_pause_resume(fresh_redis):
    c = _no_retry(fresh_redis, 0.3)
    assert c.ping()
    fresh_redis.pause()
    state = _wait_state(fresh_redis.pid, "T")
    if state is None:
        pytest.skip("the process state cannot be read here (no /proc, no ps)")
    assert state == "T"
    import redis

    # a stalled server times out instead of refusing: redis.TimeoutError, except on Python 3.9
    # with hiredis, where redis-py reports the parser's timeout as a ConnectionError (3.9's
    # builtin TimeoutError is not socket.timeout), "Timeout reading from socket" still in it
    with pytest.raises((redis.TimeoutError, redis.ConnectionError), match="Timeout") as err:
        c.ping()
    assert isinstance(err.value, redis.TimeoutError) or sys.version_info < (3, 10), err.value
    fresh_redis.resume()
    assert _wait_state(fresh_redis.pid, "!T") != "T"
    c2 = fresh_redis.client(socket_timeout=5)
    assert c2.ping() is True


def test_stop_while_paused_does_not_hang_and_leaves_no_process():
    require_redis()
    srv = RedisServer().start()
    pid = srv.pid
    srv.pause()
    srv.stop()
    assert not _alive(pid)
    assert srv.dir is None


def test_context_manager_and_port_race():
    require_redis()
    # hold the port a free_port() call just returned: start() must move on to another one
    with RedisServer() as srv:
        taken = srv.port
        other = RedisServer(avoid_ports=[taken])
        with other:
            assert other.port != taken
            assert other.client().ping()
        assert other.proc is None
        assert srv.client().ping()


def test_fixed_port_in_use_is_reported():
    require_redis()
    from redis_server import RedisStartError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        srv = RedisServer(port=s.getsockname()[1], start_timeout=5)
        with pytest.raises(RedisStartError, match="in use"):
            srv.start()
        srv.stop()
        assert srv.proc is None


def test_free_port_avoids():
    p = free_port()
    assert free_port(avoid=[p]) != p


def test_cluster_slots_and_round_trip(redis_cluster):
    c = redis_cluster.client()
    assert len(redis_cluster.startup_nodes) == 3
    covered = []
    for lo, hi, *_nodes in _slot_ranges(c):
        covered.extend(range(lo, hi + 1))
    assert sorted(covered) == list(range(16384))
    # keys landing on all three masters round-trip through the cluster client
    keys = [b"key:%d" % i for i in range(60)]
    for k in keys:
        c.set(k, k + b"!")
    assert [c.get(k) for k in keys] == [k + b"!" for k in keys]
    slots = {c.keyslot(k) for k in keys}
    owners = {c.get_node_from_key(k).port for k in keys}
    assert len(owners) == 3 and len(slots) > 3
    for k in keys:
        c.delete(k)


def _slot_ranges(c):
    raw = c.execute_command("CLUSTER SLOTS", target_nodes=c.get_random_node())
    if isinstance(raw, dict):  # redis-py's parsed form: {(lo, hi): {...}}
        return [(lo, hi) for (lo, hi) in raw]
    return [(int(r[0]), int(r[1])) for r in raw]


def test_async_client(redis_server):
    import asyncio

    async def main():
        c = redis_server.async_client()
        try:
            await c.set(b"ak", b"1")
            return await c.get(b"ak")
        finally:
            await c.delete(b"ak")
            await c.aclose()

    assert asyncio.run(main()) == b"1"


def test_sigkill_of_server_from_other_thread_is_noticed(fresh_redis):
    # kill() may race with a client: running must flip and restart must work from any thread
    t = threading.Thread(target=fresh_redis.kill)
    t.start()
    t.join(10)
    assert not fresh_redis.running
    fresh_redis.restart()
    assert fresh_redis.client().ping()
    os.kill(fresh_redis.pid, signal.SIGKILL)  # dies behind the object's back
    deadline = time.monotonic() + 10
    while fresh_redis.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not fresh_redis.running
