"""hotcache.redis.ratelimit: Redis rate limiters (fixed window, sliding log, token bucket), one Lua script each.

Public names are re-exported by hotcache.redis; sync (redis.Redis / RedisCluster) and asyncio flavours.
"""

from __future__ import annotations

import inspect
import itertools
import math
import secrets
from dataclasses import dataclass
from typing import Any, List, Union

__all__ = ["RateLimiter", "AsyncRateLimiter", "RateLimitResult", "ALGORITHMS"]

ALGORITHMS = ("sliding_window", "fixed_window", "token_bucket")

# HOW IT WORKS
#
# Each algorithm is one Lua script run with EVALSHA on exactly one key (so it is atomic, and on a
# cluster it runs on the shard owning that key; no hash tags needed). Time is the server's:
# TIME inside the script (sliding_window, token_bucket) or the key's own expiry (fixed_window),
# never the client's clock, so clients with skewed clocks agree. Every script returns
#   {allowed 0/1, remaining, retry_after_us, reset_after_us}
# and every key it writes gets an expiry, so no limiter key is ever immortal.
#
# fixed_window  - a counter (INCRBY) created with PX=window at the first hit: the window starts
#                 at the first hit, not at a wall-clock boundary. Exact within a window; a burst
#                 of up to 2*limit can straddle two adjacent windows. O(1) memory.
# sliding_window - a sorted-set log: one member per unit of cost, scored by the server time in
#                 microseconds. Members older than `window` are trimmed on every call. Exact:
#                 no `window`-long interval ever holds more than `limit` allowed units (at
#                 microsecond resolution). Memory O(limit) per key, so it suits limits up to the
#                 tens of thousands; use token_bucket beyond.
# token_bucket  - a hash {tokens, ts}: capacity `limit`, refilled continuously at limit/window
#                 tokens per second; a hit takes `cost` tokens if there are that many. Allows a
#                 burst of `limit`, then a steady limit/window per second. O(1) memory; the key
#                 expires once the bucket would be full again (a missing key is a full bucket).
# Denied hits never consume anything. Lua numbers are doubles, so times and tokens are written
# back with string.format (Redis would otherwise format them with 14 significant digits).

_FIXED_WINDOW = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local dry = ARGV[4] == '1'
local pttl = redis.call('PTTL', key)
local used = 0
if pttl ~= -2 then used = tonumber(redis.call('GET', key)) or 0 end
local fresh = pttl < 0
if fresh then pttl = window_ms end
if used + cost > limit then
    return {0, math.max(0, limit - used), pttl * 1000, pttl * 1000}
end
if dry then
    if used == 0 then pttl = 0 end
    return {1, limit - used, 0, pttl * 1000}
end
used = redis.call('INCRBY', key, cost)
if fresh then redis.call('PEXPIRE', key, window_ms) end
return {1, math.max(0, limit - used), 0, pttl * 1000}
"""

_SLIDING_WINDOW = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local dry = ARGV[4] == '1'
local nonce = ARGV[5]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now - window))
local used = redis.call('ZCARD', key)
local reset = 0
if used > 0 then
    local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    reset = tonumber(newest[2]) + window - now
end
if used + cost > limit then
    local idx = used + cost - limit - 1
    local entry = redis.call('ZRANGE', key, idx, idx, 'WITHSCORES')
    local retry = tonumber(entry[2]) + window - now
    return {0, math.max(0, limit - used), math.max(1, math.ceil(retry)), math.ceil(reset)}
end
if dry then
    return {1, limit - used, 0, math.ceil(reset)}
end
local score = string.format('%.0f', now)
local i = 1
while i <= cost do
    local args = {}
    local last = math.min(cost, i + 999)
    for j = i, last do
        args[#args + 1] = score
        args[#args + 1] = nonce .. ':' .. j
    end
    redis.call('ZADD', key, unpack(args))
    i = last + 1
end
redis.call('PEXPIRE', key, string.format('%.0f', math.ceil(window / 1000)))
return {1, limit - used - cost, 0, math.ceil(window)}
"""

_TOKEN_BUCKET = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local dry = ARGV[4] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = limit / window
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
    tokens = limit
    ts = now
end
if now > ts then
    tokens = math.min(limit, tokens + (now - ts) * rate)
    ts = now
end
if tokens < cost then
    return {0, math.floor(tokens), math.max(1, math.ceil((cost - tokens) / rate)), math.ceil((limit - tokens) / rate)}
end
if dry then
    return {1, math.floor(tokens), 0, math.ceil((limit - tokens) / rate)}
end
tokens = tokens - cost
local reset = (limit - tokens) / rate
redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.0f', ts))
redis.call('PEXPIRE', key, string.format('%.0f', math.max(1, math.ceil(reset / 1000))))
return {1, math.floor(tokens), 0, math.ceil(reset)}
"""

_SCRIPTS = {"fixed_window": _FIXED_WINDOW, "sliding_window": _SLIDING_WINDOW, "token_bucket": _TOKEN_BUCKET}


@dataclass(frozen=True)
class RateLimitResult:
    """The outcome of one hit (or peek).

    ``allowed``: the hit was admitted (and consumed ``cost``). ``remaining``: how many more
    units the limiter would admit right now (after this hit). ``retry_after``: seconds until a
    hit of the same cost could be admitted (0.0 when allowed). ``limit``: the limiter's limit.
    ``reset_after``: seconds until the limiter is back to its full allowance if nothing else
    hits it. ``bool(result)`` is ``allowed``.
    """

    allowed: bool
    remaining: int
    retry_after: float
    limit: int
    reset_after: float

    def __bool__(self) -> bool:
        return self.allowed


def _is_async_client(client: Any) -> bool:
    return inspect.iscoroutinefunction(getattr(client, "execute_command", None))


class _LimiterBase:
    _async = False

    def __init__(
        self,
        client: Any,
        key: Union[str, bytes],
        limit: int,
        window: float,
        algorithm: str = "sliding_window",
    ) -> None:
        if not hasattr(client, "register_script"):
            raise TypeError("client must be a redis-py client (redis.Redis, RedisCluster or their asyncio twins)")
        if _is_async_client(client) != self._async:
            other = "RateLimiter" if self._async else "AsyncRateLimiter"
            kind = "an asyncio" if not self._async else "a synchronous"
            raise TypeError("%s got %s client: use %s" % (type(self).__name__, kind, other))
        if not isinstance(key, (str, bytes)):
            raise TypeError("key must be str or bytes, not %s" % type(key).__name__)
        if not key:
            raise ValueError("key must not be empty")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError("limit must be an int, not %s" % type(limit).__name__)
        if limit < 1:
            raise ValueError("limit must be >= 1, got %d" % limit)
        if isinstance(window, bool) or not isinstance(window, (int, float)):
            raise TypeError("window must be seconds as int or float, not %s" % type(window).__name__)
        if not (window > 0) or math.isinf(window):
            raise ValueError("window must be a finite number of seconds > 0, got %r" % (window,))
        if not isinstance(algorithm, str):
            raise TypeError("algorithm must be a str")
        if algorithm not in _SCRIPTS:
            raise ValueError("algorithm must be one of %s, got %r" % (", ".join(ALGORITHMS), algorithm))
        self.client = client
        self.key = key
        self.limit = limit
        self.window = float(window)
        self.algorithm = algorithm
        self._script = client.register_script(_SCRIPTS[algorithm])
        if algorithm == "fixed_window":
            self._window_arg = str(max(1, math.ceil(self.window * 1000.0 - 1e-9)))  # milliseconds
        else:
            self._window_arg = repr(self.window * 1e6)  # microseconds
        self._nonce = secrets.token_hex(6)
        self._seq = itertools.count()

    def __repr__(self) -> str:
        return "<%s %r %s limit=%d window=%g>" % (type(self).__name__, self.key, self.algorithm, self.limit, self.window)

    def _args(self, cost: Any, dry: bool) -> List[Any]:
        if isinstance(cost, bool) or not isinstance(cost, int):
            raise TypeError("cost must be an int, not %s" % type(cost).__name__)
        if cost < 1:
            raise ValueError("cost must be >= 1, got %d" % cost)
        if cost > self.limit:
            raise ValueError("cost %d exceeds the limit %d: it could never be allowed" % (cost, self.limit))
        nonce = "%s:%d" % (self._nonce, next(self._seq))
        return [self.limit, self._window_arg, cost, 1 if dry else 0, nonce]

    def _result(self, raw: Any) -> RateLimitResult:
        allowed, remaining, retry_us, reset_us = (int(x) for x in raw)
        return RateLimitResult(
            allowed=bool(allowed),
            remaining=max(0, remaining),
            retry_after=max(0.0, retry_us / 1e6) if not allowed else 0.0,
            limit=self.limit,
            reset_after=max(0.0, reset_us / 1e6),
        )


class RateLimiter(_LimiterBase):
    """Admit at most ``limit`` units per ``window`` seconds for ``key``, decided on the Redis server.

    ``RateLimiter(client, key, limit, window, algorithm="sliding_window")`` with ``client`` a
    ``redis.Redis`` or ``redis.cluster.RedisCluster``; ``algorithm`` is ``"sliding_window"``
    (exact sorted-set log, O(limit) memory), ``"fixed_window"`` (a counter per window that
    starts at the first hit) or ``"token_bucket"`` (capacity ``limit``, refilled continuously at
    ``limit / window`` per second). The state lives under the Redis key ``key`` exactly
    (limiters with different algorithms must not share a key) and always carries an expiry.

    ``hit(cost=1)`` consumes ``cost`` units if they are available and returns a
    :class:`RateLimitResult`; a denied hit consumes nothing. ``cost`` must be an int in
    ``1..limit``: a cost above the limit could never be admitted and is a ValueError rather
    than a silent, permanent denial. ``peek()`` reports what a hit of cost 1 would get without
    consuming; ``reset()`` forgets the key's state. Redis errors propagate as redis-py raises
    them. For ``redis.asyncio`` clients use :class:`AsyncRateLimiter`.
    """

    def hit(self, cost: int = 1) -> RateLimitResult:
        """Consume ``cost`` units if available; see the class docstring."""
        return self._result(self._script(keys=[self.key], args=self._args(cost, False)))

    def peek(self) -> RateLimitResult:
        """What ``hit(1)`` would return now, without consuming anything."""
        return self._result(self._script(keys=[self.key], args=self._args(1, True)))

    def reset(self) -> None:
        """Delete the key's state: the full allowance is available again."""
        self.client.delete(self.key)


class AsyncRateLimiter(_LimiterBase):
    """The asyncio flavour of :class:`RateLimiter` for ``redis.asyncio`` clients (also the
    asyncio RedisCluster): same constructor and semantics; ``hit``, ``peek`` and ``reset`` are
    coroutines."""

    _async = True

    async def hit(self, cost: int = 1) -> RateLimitResult:
        """See :meth:`RateLimiter.hit`."""
        return self._result(await self._script(keys=[self.key], args=self._args(cost, False)))

    async def peek(self) -> RateLimitResult:
        """See :meth:`RateLimiter.peek`."""
        return self._result(await self._script(keys=[self.key], args=self._args(1, True)))

    async def reset(self) -> None:
        """See :meth:`RateLimiter.reset`."""
        await self.client.delete(self.key)
