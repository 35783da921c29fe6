"""hotcache.redis: coordination patterns on Redis: a token-safe lock and server-side rate limiters.

    lock.py       RedisLock, AsyncRedisLock (and their errors)
    ratelimit.py  RateLimiter, AsyncRateLimiter (fixed window, sliding log, token bucket)

Layer 3, beside hotcache.tiers (docs/architecture.md); nothing in hotcache imports it. The
clients are redis-py's (sync or asyncio, plain or cluster), given by the caller. Every import of
redis-py anywhere in hotcache is absolute, so this package never shadows it. (The circuit
breaker that guards the Redis tier is hotcache.breaker: it wraps any call, not only Redis.)
Also importable under its first name, ``hotcache.redis_patterns``.
"""

from __future__ import annotations

from .ratelimit import ALGORITHMS, AsyncRateLimiter, RateLimiter, RateLimitResult
from .lock import AsyncRedisLock, LockError, LockNotOwnedError, LockTimeoutError, RedisLock

__all__ = [
    "RedisLock",
    "AsyncRedisLock",
    "LockError",
    "LockNotOwnedError",
    "LockTimeoutError",
    "RateLimiter",
    "AsyncRateLimiter",
    "RateLimitResult",
    "ALGORITHMS",
]
