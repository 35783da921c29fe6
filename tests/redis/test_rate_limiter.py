"""hotcache.redis.RateLimiter / AsyncRateLimiter against a real redis-server and a 3-master cluster.

Accuracy under concurrency is exact (long windows, so nothing refills or slides during a test).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from hotcache.redis import ALGORITHMS, AsyncRateLimiter, RateLimiter, RateLimitResult

HANG = 30
LONG = 1e6  # a window no test outlives: a token bucket refills 1e-4 of a token per second at limit 100


@pytest.fixture(params=ALGORITHMS)
def algorithm(request):
    return request.param


# -- construction ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, exc",
    [
        (("k", 0, 1), ValueError),
        (("k", -1, 1), ValueError),
        (("k", 1.5, 1), TypeError),
        (("k", True, 1), TypeError),
        (("k", 10, 0), ValueError),
        (("k", 10, -1), ValueError),
        (("k", 10, float("nan")), ValueError),
        (("k", 10, float("inf")), ValueError),
        (("k", 10, "1"), TypeError),
        ((1, 10, 1), TypeError),
        (("", 10, 1), ValueError),
        (("k", 10, 1, "leaky"), ValueError),
        (("k", 10, 1, None), TypeError),
    ],
)
def test_invalid_arguments(redis_client, args, exc):
    with pytest.raises(exc):
        RateLimiter(redis_client, *args)


def test_client_type_is_checked(redis_server):
    with pytest.raises(TypeError):
        RateLimiter(object(), "k", 1, 1)
    with pytest.raises(TypeError, match="AsyncRateLimiter"):
        RateLimiter(redis_server.async_client(), "k", 1, 1)
    with pytest.raises(TypeError, match="RateLimiter"):
        AsyncRateLimiter(redis_server.client(), "k", 1, 1)


def test_cost_validation(redis_client, algorithm):
    rl = RateLimiter(redis_client, "rl:cost", 5, LONG, algorithm)
    with pytest.raises(ValueError, match="exceeds the limit"):
        rl.hit(6)
    with pytest.raises(ValueError):
        rl.hit(0)
    with pytest.raises(TypeError):
        rl.hit(1.0)
    with pytest.raises(TypeError):
        rl.hit(True)
    assert redis_client.exists("rl:cost") == 0  # nothing was sent


# -- semantics per algorithm ----------------------------------------------------------------------
def test_counts_down_then_denies(redis_client, algorithm):
    rl = RateLimiter(redis_client, "rl:basic", 5, 60, algorithm)
    results = [rl.hit() for _ in range(7)]
    assert [r.allowed for r in results] == [True] * 5 + [False] * 2
    assert [r.remaining for r in results] == [4, 3, 2, 1, 0, 0, 0]
    for r in results:
        assert isinstance(r, RateLimitResult) and r.limit == 5
        assert bool(r) is r.allowed
        assert 0.0 <= r.reset_after <= 60.0
    for r in results[:5]:
        assert r.retry_after == 0.0
    for r in results[5:]:
        assert 0.0 < r.retry_after <= 60.0
    if algorithm == "token_bucket":
        assert results[5].retry_after <= 60.0 / 5 + 0.5  # one token comes back after window/limit
    else:
        assert results[5].retry_after > 50.0  # the window has to pass
    with pytest.raises(Exception):
        RateLimitResult(True, 1, 0.0, 1, 0.0).allowed = False  # frozen


def test_denied_hits_consume_nothing_and_cost_counts(redis_client, algorithm):
    rl = RateLimiter(redis_client, "rl:costs", 10, LONG, algorithm)
    assert rl.hit(4).remaining == 6
    assert rl.hit(5).remaining == 1
    denied = rl.hit(2)
    assert not denied.allowed and denied.remaining == 1 and denied.retry_after > 0
    assert rl.hit(1).allowed
    assert not rl.hit(1).allowed
    assert rl.hit(1).remaining == 0


def test_peek_and_reset(redis_client, algorithm):
    rl = RateLimiter(redis_client, "rl:peek", 3, LONG, algorithm)
    assert rl.peek() == RateLimitResult(True, 3, 0.0, 3, 0.0)
    rl.hit(2)
    for _ in range(3):
        p = rl.peek()
        assert p.allowed and p.remaining == 1
    rl.hit()
    p = rl.peek()
    assert not p.allowed and p.remaining == 0 and p.retry_after > 0
    rl.reset()
    assert redis_client.exists("rl:peek") == 0
    assert rl.hit(3).allowed


def test_keys_always_have_a_ttl(redis_client, algorithm):
    window = 120
    rl = RateLimiter(redis_client, "rl:ttl", 4, window, algorithm)
    for _ in range(6):
        rl.hit()
        pttl = redis_client.pttl("rl:ttl")
        assert 0 < pttl <= window * 1000
    rl.peek()
    assert 0 < redis_client.pttl("rl:ttl") <= window * 1000


def test_fixed_window_resets_after_the_window(redis_client):
    rl = RateLimiter(redis_client, "rl:fw", 2, 0.15, "fixed_window")
    assert rl.hit() and rl.hit()
    denied = rl.hit()
    assert not denied.allowed and 0 < denied.retry_after <= 0.15
    time.sleep(denied.retry_after + 0.05)  # sleep never returns early: the server's window is over
    again = rl.hit()
    assert again.allowed and again.remaining == 1


def test_token_bucket_refills_continuously(redis_client):
    rl = RateLimiter(redis_client, "rl:tb", 10, 1.0, "token_bucket")  # 10 tokens/s
    assert all(rl.hit().allowed for _ in range(10))
    denied = rl.hit(3)
    assert not denied.allowed
    assert 0 < denied.retry_after <= 0.3 + 1e-6  # three tokens at 10/s
    time.sleep(denied.retry_after + 0.02)
    assert rl.hit(3).allowed
    assert 0 < redis_client.pttl("rl:tb") <= 1000  # expires once the bucket would be full


def test_sliding_window_retry_after_points_at_the_oldest_needed_entry(redis_client):
    rl = RateLimiter(redis_client, "rl:sw", 3, 0.4, "sliding_window")
    assert rl.hit().allowed
    time.sleep(0.1)
    assert rl.hit(2).allowed
    denied = rl.hit()
    # the first hit leaves the window first: well before the later two
    assert not denied.allowed and 0 < denied.retry_after <= 0.4 - 0.1 + 1e-6
    time.sleep(denied.retry_after + 0.02)
    assert rl.hit().allowed  # the first unit slid out
    # the two units from the second hit are still inside; they need up to the window again
    d2 = rl.hit()
    if not d2.allowed:
        assert d2.retry_after <= 0.4
    # the log holds exactly the live units (no leftovers beyond the limit)
    assert redis_client.zcard("rl:sw") <= 3


# -- accuracy under concurrency -------------------------------------------------------------------
def test_exact_under_8_threads(redis_server, algorithm):
    key = "rl:threads:" + algorithm
    redis_server.client().delete(key)
    allowed = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker():
        c = redis_server.client()
        rl = RateLimiter(c, key, 100, LONG, algorithm)
        barrier.wait(HANG)
        mine = sum(rl.hit().allowed for _ in range(50))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert len(allowed) == 8
    assert sum(allowed) == 100
    if algorithm == "sliding_window":
        assert redis_server.client().zcard(key) == 100


def test_exact_under_asyncio(redis_server, algorithm):
    key = "rl:async:" + algorithm

    async def main():
        c = redis_server.async_client()
        try:
            await c.delete(key)
            rl = AsyncRateLimiter(c, key, 20, LONG, algorithm)
            results = await asyncio.wait_for(asyncio.gather(*(rl.hit() for _ in range(60))), HANG)
            assert sum(r.allowed for r in results) == 20
            p = await rl.peek()
            assert not p.allowed and p.remaining == 0
            await rl.reset()
            assert (await rl.hit(20)).allowed
            assert 0 < await c.pttl(key)
        finally:
            await c.aclose()

    asyncio.run(main())


def test_decode_responses_client(redis_server, algorithm):
    c = redis_server.client(decode_responses=True)
    c.delete("rl:str")
    rl = RateLimiter(c, "rl:str", 2, LONG, algorithm)
    assert [rl.hit().allowed for _ in range(3)] == [True, True, False]


# -- cluster --------------------------------------------------------------------------------------
def test_cluster_exact_and_spread_over_shards(redis_cluster, algorithm):
    c = redis_cluster.client()
    # six keys that cover every shard: one key per node first, then any keys (a random draw of
    # six leaves a node empty now and then; this makes the spread certain)
    nodes = {n.port for n in c.get_primaries()}
    prefix = "rl:cluster:%s:%s" % (algorithm, uuid.uuid4().hex)
    first, rest = {}, []
    for i in range(1000):
        k = "%s:%d" % (prefix, i)
        port = c.get_node_from_key(k).port
        if port not in first:
            first[port] = k
        elif len(rest) < 6:
            rest.append(k)
        if len(first) == len(nodes) and len(first) + len(rest) >= 6:
            break
    keys = (list(first.values()) + rest)[:max(6, len(nodes))]
    assert set(first) == nodes and len(nodes) >= 2
    assert len({c.get_node_from_key(k).port for k in keys}) == len(nodes)
    for k in keys:
        rl = RateLimiter(c, k, 5, LONG, algorithm)
        assert [rl.hit().allowed for _ in range(7)] == [True] * 5 + [False] * 2
        assert c.pttl(k) > 0
        rl.reset()
        assert c.exists(k) == 0


def test_cluster_threads_and_async(redis_cluster, algorithm):
    c = redis_cluster.client()
    key = "rl:cluster:threads:%s:%s" % (algorithm, uuid.uuid4().hex)
    rl = RateLimiter(c, key, 30, LONG, algorithm)
    counts = []
    lock = threading.Lock()

    def worker():
        n = sum(rl.hit().allowed for _ in range(20))
        with lock:
            counts.append(n)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert sum(counts) == 30

    async def main():
        ac = redis_cluster.async_client()
        try:
            await ac.initialize()  # redis-py 8.1: concurrent first commands on a cold cluster client race
            arl = AsyncRateLimiter(ac, key + ":a", 10, LONG, algorithm)
            results = await asyncio.gather(*(arl.hit() for _ in range(25)))
            assert sum(r.allowed for r in results) == 10
            await arl.reset()
        finally:
            await ac.aclose()

    asyncio.run(main())
