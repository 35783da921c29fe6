"""hotcache.redis.RedisLock / AsyncRedisLock against a real redis-server (and a 3-master cluster).

Exclusion is proven with non-atomic read-modify-write counters (8 threads, 8 tasks, 2 processes).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

from hotcache.redis import (
    AsyncRedisLock,
    LockError,
    LockNotOwnedError,
    LockTimeoutError,
    RedisLock,
)

HANG = 30  # seconds; hang guards only, never a timing assertion


def wait_until(pred, timeout=HANG, step=0.005):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached within %s s" % timeout)
        time.sleep(step)


# -- basics ---------------------------------------------------------------------------------------
def test_acquire_release_sets_token_with_ttl(redis_client):
    lock = RedisLock(redis_client, "lock:a", 10)
    assert not lock.locked() and not lock.owned()
    assert lock.acquire() is True
    assert lock.locked() and lock.owned()
    token = redis_client.get("lock:a")
    assert len(token) == 32 and int(token, 16) >= 0  # 16 random bytes, hex
    assert 9000 < redis_client.pttl("lock:a") <= 10000
    lock.release()
    assert not lock.locked() and redis_client.exists("lock:a") == 0
    with pytest.raises(LockNotOwnedError):
        lock.release()
    # a new acquisition gets a new token
    assert lock.acquire(blocking=False)
    assert redis_client.get("lock:a") != token
    lock.release()


def test_fractional_ttl_is_milliseconds(redis_client):
    lock = RedisLock(redis_client, b"lock:frac", 0.25)
    assert lock.acquire()
    assert 0 < redis_client.pttl(b"lock:frac") <= 250
    lock.release()


@pytest.mark.parametrize(
    "args, kw, exc",
    [
        (("n", 0), {}, ValueError),
        (("n", -1), {}, ValueError),
        (("n", float("nan")), {}, ValueError),
        (("n", float("inf")), {}, ValueError),
        (("n", "10"), {}, TypeError),
        (("n", True), {}, TypeError),
        (("n", None), {}, TypeError),
        ((5, 10), {}, TypeError),
        (("", 10), {}, ValueError),
        (("n", 10), {"blocking": 1}, TypeError),
        (("n", 10), {"timeout": -1}, ValueError),
        (("n", 10), {"timeout": "1"}, TypeError),
        (("n", 10), {"retry_interval": 0}, ValueError),
    ],
)
def test_invalid_arguments(redis_client, args, kw, exc):
    with pytest.raises(exc):
        RedisLock(redis_client, *args, **kw)


def test_client_type_is_checked(redis_server):
    with pytest.raises(TypeError):
        RedisLock(object(), "n", 1)
    async_client = redis_server.async_client()
    with pytest.raises(TypeError, match="AsyncRedisLock"):
        RedisLock(async_client, "n", 1)
    with pytest.raises(TypeError, match="RedisLock"):
        AsyncRedisLock(redis_server.client(), "n", 1)


def test_non_blocking_and_argument_rules(redis_client):
    a = RedisLock(redis_client, "lock:nb", 10)
    b = RedisLock(redis_client, "lock:nb", 10, blocking=False)
    assert a.acquire()
    assert b.acquire() is False  # the constructor's blocking=False
    assert a.acquire is not None
    with pytest.raises(LockError, match="re-entrant"):
        a.acquire()  # the holder itself: not re-entrant
    with pytest.raises(ValueError, match="non-blocking"):
        b.acquire(blocking=False, timeout=1)
    with pytest.raises(TypeError):
        b.acquire(blocking="no")
    assert b.acquire(timeout=0) is False  # one attempt
    with pytest.raises(LockNotOwnedError):
        b.release()  # b never held it: nothing is deleted
    assert a.owned()
    a.release()
    assert b.acquire()
    b.release()


def test_blocking_timeout_returns_false(redis_client):
    holder = RedisLock(redis_client, "lock:timeout", 30)
    assert holder.acquire()
    waiter = RedisLock(redis_client, "lock:timeout", 30, timeout=0.2, retry_interval=0.02)
    t0 = time.monotonic()
    assert waiter.acquire() is False
    assert time.monotonic() - t0 < 0.2 + 10  # hang guard: it gave up
    t0 = time.monotonic()
    assert waiter.acquire(timeout=0.1) is False
    assert time.monotonic() - t0 < 0.1 + 10
    with pytest.raises(LockTimeoutError):
        with waiter:
            pass  # pragma: no cover
    holder.release()


def test_blocked_acquire_gets_the_lock_after_release(redis_client):
    holder = RedisLock(redis_client, "lock:handoff", 30)
    assert holder.acquire()
    got = []
    started = threading.Event()

    def wait_for_it():
        lk = RedisLock(redis_client, "lock:handoff", 30, retry_interval=0.01)
        started.set()
        got.append(lk.acquire(timeout=HANG))
        lk.release()

    t = threading.Thread(target=wait_for_it)
    t.start()
    assert started.wait(HANG)
    holder.release()
    t.join(HANG)
    assert got == [True]


def test_context_manager(redis_client):
    lock = RedisLock(redis_client, "lock:cm", 10)
    with lock as held:
        assert held is lock
        assert lock.owned()
    assert not lock.locked()


# -- expiry and token safety ----------------------------------------------------------------------
def test_expired_holder_cannot_release_or_extend_the_next_holders_lock(redis_client):
    old = RedisLock(redis_client, "lock:exp", 0.1)
    new = RedisLock(redis_client, "lock:exp", 30)
    assert old.acquire()
    wait_until(lambda: redis_client.exists("lock:exp") == 0)  # the ttl lapsed on the server
    assert not old.owned()
    assert new.acquire(blocking=False)
    token = redis_client.get("lock:exp")
    with pytest.raises(LockNotOwnedError):
        old.extend(30)
    with pytest.raises(LockNotOwnedError):
        old.release()
    assert redis_client.get("lock:exp") == token  # untouched: same holder, same ttl range
    assert redis_client.pttl("lock:exp") > 20000
    assert new.owned()
    new.release()
    assert not new.locked()


def test_expired_lock_with_nobody_else_cannot_be_released(redis_client):
    lock = RedisLock(redis_client, "lock:gone", 0.05)
    assert lock.acquire()
    wait_until(lambda: redis_client.exists("lock:gone") == 0)
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert lock.acquire(blocking=False)  # the local token was forgotten: usable again
    lock.release()


def test_with_block_outliving_the_ttl_raises_on_exit(redis_client):
    lock = RedisLock(redis_client, "lock:late", 0.05)
    with pytest.raises(LockNotOwnedError):
        with lock:
            wait_until(lambda: redis_client.exists("lock:late") == 0)


def test_extend_replaces_the_time_left(redis_client):
    lock = RedisLock(redis_client, "lock:ext", 10)
    assert lock.acquire()
    lock.extend(1)
    assert 0 < redis_client.pttl("lock:ext") <= 1000  # replaced, not added
    lock.extend()
    assert redis_client.pttl("lock:ext") > 9000  # default: the lock's ttl
    with pytest.raises(ValueError):
        lock.extend(0)
    lock.release()
    with pytest.raises(LockNotOwnedError):
        lock.extend(5)


def test_decode_responses_client(redis_server):
    c = redis_server.client(decode_responses=True)
    c.delete("lock:str")
    lock = RedisLock(c, "lock:str", 10)
    with lock:
        assert lock.owned()
        lock.extend(5)
    assert not lock.locked()


# -- exclusion ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shared", [True, False], ids=["one-lock-object", "lock-per-thread"])
def test_exclusion_8_threads(redis_client, shared):
    n_threads, rounds = 8, 25
    name = "lock:threads:%s" % shared
    common = RedisLock(redis_client, name, 10, retry_interval=0.002)
    counter = [0]
    inside = []
    overlaps = []
    barrier = threading.Barrier(n_threads)

    def worker():
        lock = common if shared else RedisLock(redis_client, name, 10, retry_interval=0.002)
        barrier.wait(HANG)
        for _ in range(rounds):
            assert lock.acquire(timeout=HANG)
            try:
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(len(inside))
                v = counter[0]
                time.sleep(0)  # invite a thread switch inside the critical section
                counter[0] = v + 1
                inside.pop()
            finally:
                lock.release()

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert not any(t.is_alive() for t in threads)
    assert overlaps == []
    assert counter[0] == n_threads * rounds
    assert redis_client.exists(name) == 0


_CHILD = textwrap.dedent(
    """
    import sys, time, redis
    from hotcache.redis import RedisLock
    port, rounds = int(sys.argv[1]), int(sys.argv[2])
    r = redis.Redis(host="127.0.0.1", port=port)
    lock = RedisLock(r, "lock:procs", 10, retry_interval=0.002)
    r.incr("ready")
    deadline = time.monotonic() + 30
    while int(r.get("ready")) < 2:  # start together
        assert time.monotonic() < deadline
        time.sleep(0.001)
    for _ in range(rounds):
        assert lock.acquire(timeout=30)
        try:
            v = int(r.get("counter") or 0)   # non-atomic read-modify-write
            time.sleep(0.0005)
            r.set("counter", v + 1)
            r.rpush("log", "%d" % v)
        finally:
            lock.release()
    """
)


def test_exclusion_2_processes(redis_server, redis_client):
    import hotcache

    rounds = 60
    src = os.path.dirname(os.path.dirname(os.path.abspath(hotcache.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(redis_server.port), str(rounds)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=HANG * 2)
        assert p.returncode == 0, err.decode()
    assert int(redis_client.get("counter")) == 2 * rounds
    # every value was read exactly once: no two critical sections overlapped
    assert sorted(int(x) for x in redis_client.lrange("log", 0, -1)) == list(range(2 * rounds))


# -- asyncio --------------------------------------------------------------------------------------
def test_async_lock(redis_server, redis_client):
    async def main():
        c = redis_server.async_client()
        try:
            lock = AsyncRedisLock(c, "lock:async", 10, retry_interval=0.002)
            counter = [0]
            inside = [0]
            overlaps = []

            async def task():
                for _ in range(10):
                    async with lock:  # one shared object: ownership is per task
                        inside[0] += 1
                        if inside[0] > 1:
                            overlaps.append(inside[0])
                        v = counter[0]
                        await asyncio.sleep(0)
                        counter[0] = v + 1
                        inside[0] -= 1

            await asyncio.wait_for(asyncio.gather(*(task() for _ in range(8))), HANG)
            assert overlaps == [] and counter[0] == 80
            assert not await lock.locked()

            # ownership is per task: another task cannot release what this one holds
            assert await lock.acquire()
            assert await lock.owned()

            async def intruder():
                assert not await lock.owned()
                with pytest.raises(LockNotOwnedError):
                    await lock.release()
                return await lock.acquire(timeout=0.05)

            # a task created now would copy this context (and the token): use an empty context
            import contextvars

            loop = asyncio.get_running_loop()
            fut = loop.create_task(intruder(), context=contextvars.Context()) if sys.version_info >= (3, 11) else None
            if fut is not None:
                assert await fut is False
            await lock.extend(5)
            assert 0 < await c.pttl("lock:async") <= 5000
            await lock.release()
            with pytest.raises(LockNotOwnedError):
                await lock.release()

            # expiry on asyncio too
            short = AsyncRedisLock(c, "lock:async:exp", 0.05)
            assert await short.acquire()
            while await c.exists("lock:async:exp"):
                await asyncio.sleep(0.005)
            other = AsyncRedisLock(c, "lock:async:exp", 30)
            assert await other.acquire(blocking=False)
            with pytest.raises(LockNotOwnedError):
                await short.release()
            assert await other.owned()
            await other.release()
            # blocking timeout
            assert await lock.acquire()
            waiter = AsyncRedisLock(c, "lock:async", 10, timeout=0.1, retry_interval=0.01)
            assert await waiter.acquire() is False
            with pytest.raises(LockTimeoutError):
                async with waiter:
                    pass  # pragma: no cover
            await lock.release()
        finally:
            await c.aclose()

    asyncio.run(main())


# -- cluster --------------------------------------------------------------------------------------
def test_lock_on_cluster(redis_cluster):
    c = redis_cluster.client()
    # six random names, but at least two shards among them (random names alone all land on
    # one of three shards once in ~240 runs)
    names, ports = [], set()
    while len(names) < 6 or len(ports) < 2:
        name = "lock:cluster:%s:%d" % (uuid.uuid4().hex, len(names))
        port = c.get_node_from_key(name).port
        if len(names) < 5 or len(ports) >= 2 or port not in ports:
            names.append(name)
            ports.add(port)
    assert len(names) == 6 and len(ports) >= 2  # spread over shards
    for name in names:
        a = RedisLock(c, name, 10)
        b = RedisLock(c, name, 10)
        assert a.acquire()
        assert b.acquire(blocking=False) is False
        a.extend(2)
        assert 0 < c.pttl(name) <= 2000
        a.release()
        assert b.acquire(blocking=False)
        with pytest.raises(LockNotOwnedError):
            a.release()
        assert b.owned()
        b.release()
        assert c.exists(name) == 0


def test_lock_exclusion_on_cluster_threads(redis_cluster):
    c = redis_cluster.client()
    name = "lock:cluster:threads:" + uuid.uuid4().hex
    lock = RedisLock(c, name, 10, retry_interval=0.002)
    counter = [0]

    def worker():
        for _ in range(15):
            with lock:
                v = counter[0]
                time.sleep(0)
                counter[0] = v + 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert counter[0] == 60


def test_async_lock_on_cluster(redis_cluster):
    async def main():
        c = redis_cluster.async_client()
        try:
            name = "lock:cluster:async:" + uuid.uuid4().hex
            a = AsyncRedisLock(c, name, 10)
            b = AsyncRedisLock(c, name, 10)
            assert await a.acquire()
            assert await b.acquire(blocking=False) is False
            await a.release()
            async with b:
                assert await b.owned()
            assert not await b.locked()
        finally:
            await c.aclose()

    asyncio.run(main())
