"""hotcache.redis_tier: Redis as a second cache tier behind an in-process L1 (extra ``hotcache[redis]``).

``TieredCache(l1, RedisTier(url=..., namespace="svc:user"))``: L1 evictions spill to Redis in the
background, L1 misses read through Redis, and a sick Redis costs callers nothing but misses.
"""
from __future__ import annotations

import importlib
import math
import time
import warnings
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._serial import Codec, Rejected, Secret, encode_key, make_codec, namespace_prefix
from ._spill import DEADLINE, GONE, VALUE, Flusher, SpillQueue
from ._tier_io import (
    OUTAGE, Counters, Writer, abandon, check_bytes_client, is_cluster, make_transport,
)
from .tiers import MISS, TieredCache, TieredStats

__all__ = ["AsyncRedisTier", "AsyncTieredCache", "RedisTier", "TieredCache", "TieredStats"]


ASK: Any = object()  # _short_cut's "read Redis"


def check_seconds(name: str, value: Any, *, finite: bool = True) -> float:
    """``value`` as float seconds > 0 (TypeError for non-numbers and bools, ValueError else)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be seconds as int or float, not %s" % (name, type(value).__name__))
    if not value > 0 or (finite and math.isinf(value)):
        raise ValueError("%s must be a %snumber of seconds > 0, got %r"
                         % (name, "finite " if finite else "", value))
    return float(value)


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if value < 1:
        raise ValueError("%s must be >= 1, got %d" % (name, value))
    return value


def default_breaker() -> Any:
    """The breaker a tier gets when none is given: opens after 5 consecutive outage errors
    (connection refused, timeout, cluster down), probes again after 5 s."""
    from .breaker import CircuitBreaker

    return CircuitBreaker(failure_threshold=5, recovery_timeout=5.0, expected_exceptions=OUTAGE,
                          name="hotcache.redis_tier")


def key_encoder(prefix: bytes, key_fn: Optional[Callable[[Any], str]]) -> Callable[[Any], bytes]:
    """The function mapping a cache key to its Redis key (see hotcache._serial)."""
    if key_fn is None:
        def rkey(key: Any) -> bytes:
            return prefix + encode_key(key).encode("utf-8", "surrogatepass")
    else:
        def rkey(key: Any) -> bytes:
            text = key_fn(key)
            if not isinstance(text, str):
                raise TypeError("key= function returned %s, not str" % type(text).__name__)
            return prefix + text.encode("utf-8", "surrogatepass")
    return rkey


def spill_hook(queue: SpillQueue, rkey_of: Callable[[Any], bytes], default_ttl: float,
               index: Dict[bytes, Tuple[Any, Any]]) -> Callable[[Any, Any, str, Optional[float]], None]:
    """The L1 spill hook: queue an evicted entry with the time it had left (the tier's ttl when
    it had none); runs on the evicting thread, so it only encodes the key and enqueues.

    ``index`` is the tiered cache's map Redis key -> (key, clean value): an entry whose clean
    value is the very object evicted came from Redis (or was written there) and has not changed
    since, so Redis still holds it, with the same expiry: it is not written again. The hook
    holds the queue and the index, not the tier, so an L1 that outlives its tier does not keep
    the tier alive."""
    monotonic = time.monotonic
    pop = index.pop

    def spill(key: Any, value: Any, cause: str, ttl_left: Optional[float]) -> None:
        try:
            rkey = rkey_of(key)
        except Exception:
            queue.count_dropped(1)
            return
        entry = pop(rkey, None)
        if entry is not None and entry[1] is value:
            return  # clean: Redis holds this value already
        if ttl_left is None or ttl_left == math.inf:
            ttl_left = default_ttl
        elif not ttl_left > 0:
            return  # already expired: not written
        queue.put_spill(rkey, value, monotonic() + ttl_left)

    return spill


class _TierBase:
    """What the sync and asyncio tiers share: options, validation, key encoding, codec, queue."""

    _awaitable = False  # the asyncio tier's protocol methods are coroutines
    _client: Any

    def _publish_to(self, channel: Any) -> None:
        raise NotImplementedError  # the sync and asyncio tiers each have their own

    def _setup(self, namespace: Any, ttl: Any, serializer: Any, secret: Secret, trusted: bool,
               timeout: Any, breaker: Any, key: Optional[Callable[[Any], str]],
               raise_on_error: bool, max_pending: int, batch_size: int) -> None:
        self.namespace: str = namespace
        self._prefix = namespace_prefix(namespace)
        self.ttl = check_seconds("ttl", ttl)
        self.timeout = check_seconds("timeout", timeout)
        if key is not None and not callable(key):
            raise TypeError("key must be a function key -> str, or None")
        self._codec: Codec = make_codec(serializer, secret, trusted)
        self.breaker = breaker if breaker is not None else default_breaker()
        for name in ("allow", "record_success", "record_failure"):
            if not callable(getattr(self.breaker, name, None)):
                raise TypeError("breaker must be a hotcache.breaker.CircuitBreaker (it has no %s())" % name)
        self.raise_on_error = bool(raise_on_error)
        self._batch_size = _check_count("batch_size", batch_size)
        self._queue = SpillQueue(_check_count("max_pending", max_pending), tomb_limit=max_pending)
        self._counters = Counters()
        self._rkey: Callable[[Any], bytes] = key_encoder(self._prefix, key)
        self._channel: Any = None  # hotcache._invalidate.Channel once a cache announces writes

    # -- the tier protocol (see hotcache.tiers.Tier): what a tiered cache calls ----------------
    def _spill_hook(self, index: Dict[bytes, Tuple[Any, Any]]) -> Callable[..., None]:
        return spill_hook(self._queue, self._rkey, self.ttl, index)

    def _write(self, rkey: bytes, value: Any, ttl: Optional[float]) -> None:
        """Queue ``value`` for ``rkey`` with ``ttl`` seconds (None: the tier's ttl), ordered
        with every other write, never dropped (a failure leaves a tomb, see _spill)."""
        if ttl is None or ttl == math.inf:
            self._queue.put_write(rkey, value, time.monotonic() + self.ttl)
        elif ttl > 0:
            self._queue.put_write(rkey, value, time.monotonic() + ttl)
        else:
            self._queue.put_delete(rkey)

    def _invalidate(self, rkey: bytes) -> None:
        self._queue.put_delete(rkey)

    def _cancel_spills(self, rkeys: List[bytes]) -> None:
        self._queue.cancel_spills(rkeys)

    def _mark(self) -> Any:
        """A point in the write order, for _confirm (write-through)."""
        return self._queue.mark()

    def _one_subscriber(self) -> None:
        sub = getattr(self, "_sub", None)
        if sub is not None and not sub._stopping and sub._sink() is not None:
            raise ValueError("this tier already keeps another cache's L1 in step with other "
                             "processes; use one tier per tiered cache")

    def _announcing(self) -> Any:
        """Announce this tier's writes and deletes to other processes from now on; returns the
        Channel (made once per tier)."""
        if self._channel is None:
            from ._invalidate import Channel

            self._channel = Channel(self._prefix, is_cluster(self._client))
            self._publish_to(self._channel)
        return self._channel

    @property
    def serializer(self) -> str:
        """The serializer's name ("json", "msgpack", "pickle" or the custom object's name)."""
        return str(self._codec.serializer.name)

    @property
    def encrypted(self) -> bool:
        return self._codec.sealed

    def redis_key(self, key: Any) -> bytes:
        """The Redis key of ``key``: ``b"{namespace}:#{encoded key}"`` (TypeError if unencodable)."""
        return self._rkey(key)

    def counters(self) -> dict:
        """The tier's counters: l2_hits, l2_misses, l2_errors, spilled, spill_dropped, rejected,
        pending (queued writes), breaker_state."""
        c, q = self._counters, self._queue
        return {"l2_hits": c.l2_hits, "l2_misses": c.l2_misses, "l2_errors": c.l2_errors,
                "spilled": q.spilled, "spill_dropped": q.spill_dropped, "rejected": c.rejected,
                "pending": len(q.queue) + len(q.inflight),
                "breaker_state": self.breaker.state}

    def _tally(self, hit: Any) -> Any:
        """Count a _fetch result as an L2 hit or miss; returns it."""
        self._counters.add("l2_misses" if hit is MISS else "l2_hits")
        return hit

    def _short_cut(self, rkey: bytes) -> Any:
        """A read's answer without Redis: a pending write's (value, ttl) or MISS (a pending
        invalidation, or the breaker refusing: CircuitOpenError with raise_on_error); ASK
        when Redis must be read."""
        pending = self._pending(rkey)
        if pending is not None:
            return MISS if pending is GONE else pending
        if not self.breaker.allow():
            if self.raise_on_error:
                raise self._open_error()
            return MISS
        return ASK

    def _read_failed(self, exc: BaseException) -> bool:
        """Record a failed Redis read; True if it is to reach the caller (raise_on_error)."""
        self.breaker.record_failure(exc)
        self._counters.add("l2_errors")
        return self.raise_on_error

    def _pending(self, rkey: bytes) -> Any:
        """(value, ttl) from a queued spill, GONE for a queued/failed invalidation, else None."""
        op = self._queue.lookup(rkey)
        if op is None or op is GONE:
            return op
        left = op[DEADLINE] - time.monotonic()
        return (op[VALUE], left) if left > 0 else GONE

    def _decode(self, rkey: bytes, data: Optional[bytes], pttl: int) -> Any:
        if data is None or pttl == -2:
            return MISS
        try:
            value = self._codec.loads(rkey, data)
        except Rejected:
            self._counters.add("rejected")
            return MISS
        return value, (pttl / 1000.0 if pttl >= 0 else None)

    def _open_error(self) -> Exception:
        from .breaker import CircuitOpenError

        return CircuitOpenError(self.breaker, self.breaker.state, getattr(self.breaker, "remaining", 0.0))



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
        from ._invalidate import Subscriber, sync_opener

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


def given_client(owner: str, url: Optional[str], client: Any, kind: str) -> bool:
    """Check a tier's ``url=``/``client=`` pair (exactly one; ``client`` a ``kind`` of bytes
    replies, ``url`` a str); True if ``client`` was given, False if one is to be built."""
    if (url is None) == (client is None):
        raise TypeError("%s needs exactly one of url= or client=" % owner)
    if client is not None:
        if not callable(getattr(client, "execute_command", None)):
            raise TypeError("client must be %s" % kind)
        check_bytes_client(client)
        return True
    if not isinstance(url, str):
        raise TypeError("url must be a str")
    return False


def client_from_url(url: str, timeout: float, package: str, retry_module: str) -> Tuple[Any, bool]:
    """``{package}.Redis.from_url`` with ``timeout`` for socket and connect, retries and health
    checks off; (client, True: the tier owns it). ImportError naming the extra without redis-py."""
    try:
        clients = importlib.import_module(package)
        retry = importlib.import_module(retry_module)
        from redis.backoff import NoBackoff
    except ImportError:
        raise ImportError("hotcache.redis_tier needs redis-py: pip install 'hotcache[redis]'") from None
    return clients.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                  retry=retry.Retry(NoBackoff(), 0), health_check_interval=0), True


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



# the asyncio flavour (redis.asyncio is imported only when an async tier is built)
from ._tier_async import AsyncRedisTier, AsyncTieredCache  # noqa: E402
