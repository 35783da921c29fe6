"""``RedisTier``: Redis as the second tier of a TieredCache (extra ``hotcache[redis]``).

``TieredCache(l1, RedisTier(url=..., namespace="svc:user"))``: L1 evictions spill to Redis in the
background, L1 misses read through Redis, and a sick Redis costs callers nothing but misses. The
asyncio flavour is hotcache.tiers.redis_async; what both share, hotcache.tiers.redis_base.
"""
from __future__ import annotations

import time
import warnings
import weakref
from typing import Any, Callable, Optional, Tuple

from .redis_base import ASK, _TierBase, client_from_url, given_client
from .redis_codec import Secret
from .redis_io import Writer, abandon, is_cluster, make_transport
from .redis_spill import Flusher
from .state import MISS

__all__ = ["RedisTier"]


class RedisTier(_TierBase):
    """Redis as the second tier of a TieredCache (use one RedisTier per TieredCache).

    ``RedisTier(url="redis://host:6379/0", namespace="svc:user")`` or ``client=`` an existing
    ``redis.Redis`` / ``redis.cluster.RedisCluster`` (its own timeouts then apply: give it
    ``socket_timeout``). Options:

    * ``namespace``: keys are ``"{namespace}:#{encoded key}"``; no glob characters or ``#``.
    * ``ttl``: seconds every entry lives in Redis unless it carries its own (required, > 0).
    * ``serializer``: "json" (default), "msgpack", "pickle" (needs ``secret`` or
      ``trusted=True``) or an object with ``dumps(value) -> bytes`` and ``loads(bytes)``.
    * ``secret``: bytes/str (>= 16 bytes) or a list of them (the first encrypts, all decrypt):
      values are sealed with AES-256-GCM bound to their Redis key.
    * ``timeout``: socket and connect timeout of the client built from ``url`` (retries off).
    * ``breaker``: a hotcache.breaker.CircuitBreaker guarding every Redis call (default: opens
      after 5 consecutive outage errors, probes after 5 s).
    * ``key``: ``key(cache_key) -> str`` replaces the built-in key encoding.
    * ``raise_on_error``: let Redis errors (and CircuitOpenError) reach callers of reads and
      clear(); by default they count in ``l2_errors`` and read as misses.
    * ``max_pending`` (100000): queued spills beyond it are dropped and counted;
      ``batch_size`` (1000): writes per pipeline.

    Writes (spills and invalidations) are made by one daemon thread, started with the tier and
    stopped by ``close()`` or when the tier is garbage collected (after draining its queue).
    """

    def __init__(self, url: Optional[str] = None, *, client: Any = None, namespace: str,
                 ttl: float = 3600, serializer: Any = "json", secret: Secret = None,
                 trusted: bool = False, timeout: float = 0.05, breaker: Any = None,
                 key: Optional[Callable[[Any], str]] = None, raise_on_error: bool = False,
                 max_pending: int = 100_000, batch_size: int = 1000) -> None:
        self._setup(namespace, ttl, serializer, secret, trusted, timeout, breaker, key,
                    raise_on_error, max_pending, batch_size)
        self._client, self._owns_client = _sync_client(url, client, self.timeout)
        self._transport = make_transport(self._client)
        self._writer = Writer(self._transport, self._codec, self.breaker, self._counters, self._queue)
        self._flusher = Flusher(self._queue, self._writer, self._writer.ready,
                                _pending_clear(self._writer, self._prefix + b"*"),
                                self._batch_size, retry_interval=0.25,
                                name="hotcache-redis-flusher[%s]" % namespace)
        self._flusher.start()
        self._sub: Any = None
        self._finalizer = weakref.finalize(self, self._flusher.stop, 0)
        self._closed = False

    @property
    def client(self) -> Any:
        """The redis-py client this tier talks through."""
        return self._client

    @property
    def _io_lock(self) -> Any:
        """The writer's lock (held while a batch is written and by clear()); the flusher's, so
        a forked child can replace it."""
        return self._flusher.io_lock

    def __repr__(self) -> str:
        return "RedisTier(namespace=%r, ttl=%r, serializer=%r, encrypted=%r, breaker=%r)" % (
            self.namespace, self.ttl, self.serializer, self.encrypted, self.breaker.state)

    # -- reads --------------------------------------------------------------------------------
    def _fetch(self, rkey: bytes) -> Any:
        """(value, ttl seconds or None) if Redis (or this process's pending writes) has a live,
        authentic value for ``rkey``, else MISS. Errors count; they raise only with
        raise_on_error."""
        early = self._short_cut(rkey)
        if early is not ASK:
            return early
        try:
            data, pttl = self._transport.read(rkey)
        except Exception as exc:
            if self._read_failed(exc):
                raise
            return MISS
        except BaseException as exc:  # interrupted: give back a half-open probe slot
            abandon(self.breaker, exc)
            raise
        self.breaker.record_success()
        return self._decode(rkey, data, pttl)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value Redis holds for ``key`` (L2 only, counted as an L2 hit or miss)."""
        hit = self._tally(self._fetch(self._rkey(key)))
        return default if hit is MISS else hit[0]

    def ttl_left(self, key: Any) -> Optional[float]:
        """Seconds Redis keeps ``key`` (None: no expiry); KeyError if it holds no value."""
        hit = self._fetch(self._rkey(key))
        if hit is MISS:
            raise KeyError(key)
        return hit[1]

    # -- the tier protocol, sync side ------------------------------------------------------------
    def _publish_to(self, channel: Any) -> None:
        self._writer.channel = channel

    def _subscriber(self, sink: Any) -> Any:
        """The Subscriber that keeps ``sink``'s L1 in step with other processes (one per tier)."""
        from .redis_invalidate import Subscriber, sync_opener

        self._one_subscriber()
        channel = self._announcing()
        self._sub = Subscriber(sync_opener(self._client, channel, self.timeout, is_cluster(self._client)),
                               channel, sink, "hotcache-redis-invalidation[%s]" % self.namespace)
        return self._sub

    def _confirm(self, mark: Any, timeout: Optional[float]) -> bool:
        """Wait (at most ``timeout`` seconds; None: no limit) until every write queued before
        ``mark`` was taken has been attempted; True if they all landed."""
        q = self._queue
        if not self._flusher.running():
            with q.lock:
                return q.landed(mark)
        done = q.wait(mark, None if timeout is None else time.monotonic() + timeout)
        with q.lock:
            return done and q.landed(mark)

    # -- writes -------------------------------------------------------------------------------
    def flush(self, timeout: Optional[float] = None) -> bool:
        """Block until every write queued before this call has been attempted; True if they
        all landed (False: some failed or were dropped, an invalidation is still a tomb because
        the queue was full or Redis unreachable, or ``timeout`` seconds passed)."""
        return self._confirm(self._queue.mark(), timeout)

    def clear(self) -> None:
        """Remove every key of this namespace from Redis (SCAN + UNLINK, on every primary of a
        cluster) and everything queued. If Redis cannot be reached, every read is a miss until
        the flusher has managed to clear it."""
        self._clear_with(None)

    def _clear_with(self, l1_clear: Optional[Callable[[], None]]) -> None:
        q = self._queue
        with self._flusher.io_lock:  # no batch in flight, none can start
            q.begin_clear()
            if l1_clear is not None:
                l1_clear()
            error = self._writer.clear_namespace(self._prefix + b"*")
            q.end_clear(error is None)
        if error is not None and self.raise_on_error:
            raise self._open_error() if error is True else error

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued (waiting at most ``timeout`` seconds), stop the flusher, and
        close the client if the tier built it from ``url``. True if the queue drained in time.
        Afterwards every read is a miss and nothing new is queued. If the queue did not drain
        in time, its spills are dropped (counted in spill_dropped) and the flusher writes only
        the invalidations still queued, in the background, then ends: dropping those would
        leave values this process replaced or deleted in Redis for other readers."""
        if self._closed:
            return True
        self._closed = True
        if self._sub is not None:
            self._sub.stop(min(timeout, 1.0))
        drained = self._flusher.stop(timeout)
        self._queue.close()
        self._finalizer.detach()
        if self._owns_client and drained:
            try:
                self._client.close()
            except Exception:  # closing a broken connection pool must not raise
                pass
        return drained

    def __enter__(self) -> "RedisTier":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _pending_clear(writer: Writer, pattern: bytes) -> Callable[[], bool]:
    """The flusher's retry of a namespace clear that failed (it must not hold the tier)."""
    def clear() -> bool:
        return writer.clear_namespace(pattern) is None
    return clear


def _sync_client(url: Optional[str], client: Any, timeout: float) -> Tuple[Any, bool]:
    if given_client("RedisTier", url, client,
                    "a redis-py client (redis.Redis or redis.cluster.RedisCluster)"):
        if getattr(client, "connection_pool", None) is not None and not is_cluster(client):
            if client.connection_pool.connection_kwargs.get("socket_timeout") is None:
                warnings.warn("RedisTier: the given client has no socket_timeout, so a stalled Redis "
                              "can block callers indefinitely; build it with socket_timeout=",
                              RuntimeWarning, stacklevel=3)
        return client, False
    return client_from_url(url, timeout, "redis", "redis.retry")  # type: ignore[arg-type]
