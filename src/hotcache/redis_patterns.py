"""hotcache.redis_patterns: the Redis lock and rate limiters under their first name.

Kept so that ``from hotcache.redis_patterns import RedisLock`` keeps working; the code lives in
``hotcache.redis`` (docs/redis.md), which is the name to use.
"""
from .redis import (
    ALGORITHMS, AsyncRateLimiter, AsyncRedisLock, LockError, LockNotOwnedError, LockTimeoutError,
    RateLimiter, RateLimitResult, RedisLock,
)

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
