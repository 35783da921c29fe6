"""hotcache.redis_patterns: the Redis lock and rate limiters under their first name.

Kept so that ``from hotcache.redis_patterns import RedisLock`` keeps working; the code lives in
``hotcache.redis`` (docs/redis.md), which is the name to use. Same ``__all__``, same objects.
"""
from .redis import *  # noqa: F401,F403
from .redis import __all__  # noqa: F401
