"""hotcache.redis.lock: a single-instance Redis lock (SET NX PX + token-checked Lua release/extend).

Public names are re-exported by hotcache.redis; sync (redis.Redis / RedisCluster) and asyncio flavours.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
import math
import random
import secrets
import time
from typing import Any, Dict, Optional, Union

__all__ = [
    "RedisLock",
    "AsyncRedisLock",
    "LockError",
    "LockNotOwnedError",
    "LockTimeoutError",
]

# HOW IT WORKS
#
# acquire:  SET <name> <token> NX PX <ttl ms>     token = 16 random bytes as hex, new per acquire
# release:  if GET <name> == token then DEL            (one Lua script: atomic on the server)
# extend:   if GET <name> == token then PEXPIRE <ms>   (one Lua script)
#
# A holder whose ttl lapsed no longer matches once someone else has SET the key, so its release
# or extend can only fail (LockNotOwnedError), never delete or prolong the next holder's lock.
# This is the single-instance algorithm from the Redis docs ("Distributed locks with Redis");
# it is as safe as that one Redis (or that one cluster shard): a failover that loses the key
# can let two holders in. It is not Redlock.
#
# Ownership is per thread and per asyncio task: the token lives in a contextvars.ContextVar
# (a copy-on-write dict keyed by the lock object's serial), so one lock object can be shared
# like threading.Lock and each thread/task that acquires it gets its own token. A task or an
# executor job created while the lock is held starts with a copy of the context and so
# inherits the token (it may release the lock).

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_TOKENS: "contextvars.ContextVar[Dict[int, bytes]]" = contextvars.ContextVar("hotcache_redis_lock_tokens")
_serials = itertools.count(1)


class LockError(RuntimeError):
    """Base class of the lock errors."""


class LockNotOwnedError(LockError):
    """release()/extend() by a caller that does not hold the lock (never acquired, released
    already, or its ttl lapsed and the key is gone or belongs to another holder now)."""


class LockTimeoutError(LockError, TimeoutError):
    """The ``with`` statement could not acquire the lock within the lock's timeout."""


def _seconds(name: str, value: Any, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be seconds as int or float, not %s" % (name, type(value).__name__))
    if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError("%s must be a finite number of seconds %s 0, got %r" % (name, ">=" if allow_zero else ">", value))
    return float(value)


def _ms(seconds: float) -> int:
    """Seconds -> whole milliseconds for PX/PEXPIRE, rounded up (never 0 for a positive ttl)."""
    return max(1, math.ceil(seconds * 1000.0 - 1e-9))


def _is_async_client(client: Any) -> bool:
    return inspect.iscoroutinefunction(getattr(client, "execute_command", None))


class _LockBase:
    """Validation, token bookkeeping and the retry schedule shared by both flavours."""

    _async = False

    def __init__(
        self,
        client: Any,
        name: Union[str, bytes],
        ttl: float,
        blocking: bool = True,
        timeout: Optional[float] = None,
        *,
        retry_interval: float = 0.05,
    ) -> None:
        if not hasattr(client, "register_script") or not hasattr(client, "set"):
            raise TypeError("client must be a redis-py client (redis.Redis, RedisCluster or their asyncio twins)")
        if _is_async_client(client) != self._async:
            other = "RedisLock" if self._async else "AsyncRedisLock"
            kind = "an asyncio" if not self._async else "a synchronous"
            raise TypeError("%s got %s client: use %s" % (type(self).__name__, kind, other))
        if not isinstance(name, (str, bytes)):
            raise TypeError("name must be str or bytes, not %s" % type(name).__name__)
        if not name:
            raise ValueError("name must not be empty")
        if not isinstance(blocking, bool):
            raise TypeError("blocking must be a bool")
        self.client = client
        self.name = name
        self.ttl = _seconds("ttl", ttl, allow_zero=False)
        self.blocking = blocking
        self.timeout = None if timeout is None else _seconds("timeout", timeout, allow_zero=True)
        self.retry_interval = _seconds("retry_interval", retry_interval, allow_zero=False)
        self._serial = next(_serials)
        self._release_script = client.register_script(_RELEASE)
        self._extend_script = client.register_script(_EXTEND)

    def __repr__(self) -> str:
        return "<%s %r ttl=%g held_here=%s>" % (type(self).__name__, self.name, self.ttl, self._token() is not None)

    # -- per-context token ---------------------------------------------------------------------
    def _token(self) -> Optional[bytes]:
        return _TOKENS.get({}).get(self._serial)

    def _set_token(self, token: Optional[bytes]) -> None:
        tokens = dict(_TOKENS.get({}))  # copy on write: other contexts keep their own dict
        if token is None:
            tokens.pop(self._serial, None)
        else:
            tokens[self._serial] = token
        _TOKENS.set(tokens)

    def _plan(self, blocking: Optional[bool], timeout: Optional[float]) -> Optional[float]:
        """Validate acquire()'s arguments; return the deadline (monotonic), inf, or None (one try)."""
        if self._token() is not None:
            raise LockError(
                "%r is already held by this thread/task; it is not re-entrant (release() it first)" % (self.name,)
            )
        if blocking is not None and not isinstance(blocking, bool):
            raise TypeError("blocking must be a bool or None")
        if timeout is not None:
            timeout = _seconds("timeout", timeout, allow_zero=True)
            if blocking is False:
                raise ValueError("can't specify a timeout for a non-blocking acquire")
            blocking = True  # an explicit timeout means "wait up to this long"
        elif blocking is None:
            blocking = self.blocking
        if blocking and timeout is None:
            timeout = self.timeout
        if not blocking:
            return None
        return math.inf if timeout is None else time.monotonic() + timeout

    def _pause(self, deadline: float) -> float:
        """Seconds to sleep before the next attempt (jittered), or -1 when the deadline passed."""
        left = deadline - time.monotonic()
        if left <= 0:
            return -1.0
        return min(left, self.retry_interval * random.uniform(0.5, 1.5))

    def _new_token(self) -> bytes:
        return secrets.token_hex(16).encode("ascii")

    def _not_owned(self, what: str) -> LockNotOwnedError:
        return LockNotOwnedError(
            "cannot %s lock %r: not held by this caller (expired, or taken by another holder)" % (what, self.name)
        )


class RedisLock(_LockBase):
    """A mutual-exclusion lock on one Redis key, for ``redis.Redis`` or ``redis.cluster.RedisCluster``.

    ``RedisLock(client, name, ttl, blocking=True, timeout=None, *, retry_interval=0.05)``:
    ``name`` is the Redis key; ``ttl`` seconds (int or float > 0) bounds how long a crashed
    holder can keep others out; ``blocking``/``timeout`` are the defaults of ``acquire()`` and of
    the ``with`` statement (``timeout=None``: wait forever). A blocked acquire retries every
    ``retry_interval`` seconds, jittered ±50 %, until its deadline.

    Ownership belongs to the calling thread (or asyncio task; see the module notes), so one
    object may be shared between threads; it is not re-entrant. Redis errors (connection,
    timeout) propagate as redis-py raises them. For ``redis.asyncio`` clients use
    :class:`AsyncRedisLock`.
    """

    def acquire(self, blocking: Optional[bool] = None, timeout: Optional[float] = None) -> bool:
        """Try to take the lock; True when this caller now holds it.

        ``blocking`` (default: the constructor's) False makes a single attempt; with
        ``timeout`` seconds (default: the constructor's; None = forever) a blocking acquire gives
        up and returns False once the timeout has passed (``timeout=0``: one attempt). An explicit
        ``timeout`` makes the call blocking; together with ``blocking=False`` it is a ValueError
        (as for threading.Lock). Acquiring a lock this caller already holds is a LockError."""
        deadline = self._plan(blocking, timeout)
        px = _ms(self.ttl)
        while True:
            token = self._new_token()
            if self.client.set(self.name, token, nx=True, px=px):
                self._set_token(token)
                return True
            if deadline is None:
                return False
            pause = self._pause(deadline)
            if pause < 0:
                return False
            time.sleep(pause)

    def release(self) -> None:
        """Release the lock. LockNotOwnedError (and nothing deleted) if this caller does not hold
        it any more; the local token is forgotten either way."""
        token = self._token()
        if token is None:
            raise self._not_owned("release")
        self._set_token(None)
        if not self._release_script(keys=[self.name], args=[token]):
            raise self._not_owned("release")

    def extend(self, ttl: Optional[float] = None) -> None:
        """Make the held lock expire ``ttl`` seconds from now (default: the lock's ttl); this
        replaces the time left, it does not add to it. LockNotOwnedError if not held."""
        seconds = self.ttl if ttl is None else _seconds("ttl", ttl, allow_zero=False)
        token = self._token()
        if token is None or not self._extend_script(keys=[self.name], args=[token, _ms(seconds)]):
            raise self._not_owned("extend")

    def locked(self) -> bool:
        """True if anyone holds the lock right now."""
        return bool(self.client.exists(self.name))

    def owned(self) -> bool:
        """True if this caller holds the lock right now (its token is still the key's value)."""
        token = self._token()
        if token is None:
            return False
        value = self.client.get(self.name)
        if isinstance(value, str):
            value = value.encode("ascii", "replace")
        return value == token

    def __enter__(self) -> "RedisLock":
        if not self.acquire():
            raise LockTimeoutError("could not acquire lock %r within %s s" % (self.name, self.timeout))
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class AsyncRedisLock(_LockBase):
    """The asyncio flavour of :class:`RedisLock`, for ``redis.asyncio`` clients (also the
    asyncio RedisCluster): the same constructor and semantics; ``acquire``, ``release``,
    ``extend``, ``locked`` and ``owned`` are coroutines and ``async with lock:`` holds it.
    Ownership is per asyncio task. A cancelled acquire never leaves a lock behind that nobody
    knows about: if the SET reached Redis, the cancellation releases it again."""

    _async = True

    async def acquire(self, blocking: Optional[bool] = None, timeout: Optional[float] = None) -> bool:
        """See :meth:`RedisLock.acquire`."""
        deadline = self._plan(blocking, timeout)
        px = _ms(self.ttl)
        while True:
            token = self._new_token()
            try:
                ok = await self.client.set(self.name, token, nx=True, px=px)
            except asyncio.CancelledError:
                # the SET may have reached Redis: take back a lock nobody would know it holds
                try:
                    await asyncio.shield(self._release_script(keys=[self.name], args=[token]))
                except Exception:
                    pass  # best effort: the key still expires after ttl
                raise
            if ok:
                self._set_token(token)
                return True
            if deadline is None:
                return False
            pause = self._pause(deadline)
            if pause < 0:
                return False
            await asyncio.sleep(pause)

    async def release(self) -> None:
        """See :meth:`RedisLock.release`."""
        token = self._token()
        if token is None:
            raise self._not_owned("release")
        self._set_token(None)
        if not await self._release_script(keys=[self.name], args=[token]):
            raise self._not_owned("release")

    async def extend(self, ttl: Optional[float] = None) -> None:
        """See :meth:`RedisLock.extend`."""
        seconds = self.ttl if ttl is None else _seconds("ttl", ttl, allow_zero=False)
        token = self._token()
        if token is None or not await self._extend_script(keys=[self.name], args=[token, _ms(seconds)]):
            raise self._not_owned("extend")

    async def locked(self) -> bool:
        """See :meth:`RedisLock.locked`."""
        return bool(await self.client.exists(self.name))

    async def owned(self) -> bool:
        """See :meth:`RedisLock.owned`."""
        token = self._token()
        if token is None:
            return False
        value = await self.client.get(self.name)
        if isinstance(value, str):
            value = value.encode("ascii", "replace")
        return value == token

    async def __aenter__(self) -> "AsyncRedisLock":
        if not await self.acquire():
            raise LockTimeoutError("could not acquire lock %r within %s s" % (self.name, self.timeout))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()
