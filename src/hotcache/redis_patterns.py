"""hotcache.redis_patterns: coordination patterns on Redis: a token-safe lock and server-side rate limiters.

The implementations live in hotcache._redis_lock and hotcache._ratelimit; this module is the public face.
"""

from __future__ import annotations

from ._ratelimit import ALGORITHMS, AsyncRateLimiter, RateLimiter, RateLimitResult
from ._redis_lock import AsyncRedisLock, LockError, LockNotOwnedError, LockTimeoutError, RedisLock

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
