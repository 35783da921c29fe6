"""What the sync and the asyncio Redis tiers share (``_TierBase``): options and their checks, the
key encoding, the codec, the write queue, the default breaker, the L1 spill hook, and the
url=/client= handling. The tiers themselves: hotcache.tiers.redis_sync and redis_async.
"""
from __future__ import annotations

import importlib
import math
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .redis_codec import Codec, Rejected, Secret, encode_key, make_codec, namespace_prefix
from .redis_io import OUTAGE, Counters, check_bytes_client, is_cluster
from .redis_spill import DEADLINE, GONE, VALUE, SpillQueue
from .base import spill_hook
from .state import MISS

__all__ = ["ASK", "check_seconds", "client_from_url", "default_breaker", "given_client", "key_encoder"]


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
    from ..breaker import CircuitBreaker

    return CircuitBreaker(failure_threshold=5, recovery_timeout=5.0, expected_exceptions=OUTAGE,
                          name="hotcache.redis_tier")


def key_encoder(prefix: bytes, key_fn: Optional[Callable[[Any], str]]) -> Callable[[Any], bytes]:
    """The function mapping a cache key to its Redis key (see hotcache.tiers.redis_codec)."""
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
        # _rkey(key) == _key_prefix + encode_key(key) in UTF-8 (the native front encodes str and
        # int keys itself while _rkey is this encoder); None with a key= function
        self._key_prefix: Optional[bytes] = self._prefix if key is None else None
        self._channel: Any = None  # hotcache.tiers.redis_invalidate.Channel once a cache announces writes

    # -- the tier protocol (see hotcache.tiers.Tier): what a tiered cache calls ----------------
    def _spill_hook(self, index: Dict[bytes, Tuple[Any, Any]]) -> Callable[..., None]:
        return spill_hook(self._spill_put(), self._queue.count_dropped, self._rkey, self.ttl, index)

    def _spill_put(self) -> Callable[[bytes, Any, float], None]:
        """``put(rkey, value, seconds)``: queue a droppable copy (a spill, or a promotion from a
        lower tier of a chain); it holds the queue, not the tier."""
        queue, monotonic = self._queue, time.monotonic

        def put(rkey: bytes, value: Any, seconds: float) -> None:
            queue.put_spill(rkey, value, monotonic() + seconds)

        return put

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
            from .redis_invalidate import Channel

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
        from ..breaker import CircuitOpenError

        return CircuitOpenError(self.breaker, self.breaker.state, getattr(self.breaker, "remaining", 0.0))


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
