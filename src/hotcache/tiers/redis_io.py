"""The Redis tier's I/O: how one read (GET + PTTL) and one batch of writes reach Redis.

Two transports behind one interface: raw RESP on a pooled connection for a plain redis.Redis (one
round trip, no per-command client machinery), redis-py's own pipeline/EVALSHA for everything else.
"""
from __future__ import annotations

import asyncio
import math
import os
import threading
import time
import weakref
from typing import Any, Callable, List, Optional, Sequence, Tuple

from .redis_codec import Codec
from .redis_spill import NEEDS_DEL, SPILL, W_DELETED, W_FAILED, W_NOOP, W_SET, Batch, SpillQueue

__all__ = ["OUTAGE", "READ_LUA", "Counters", "Writer", "abandon", "announced", "fail_all",
           "is_cluster", "make_transport", "plan_batch", "record_replies", "scan_unlink",
           "settle_replies", "unannounced"]

# Exceptions that mean "Redis is unreachable or unusable right now": they trip the breaker.
# A ResponseError such as WRONGTYPE is the server answering, not an outage.
try:
    from redis.exceptions import (
        ClusterError, ConnectionError, ReadOnlyError, RedisClusterException, TimeoutError,
        TryAgainError,
    )

    OUTAGE: Tuple[type, ...] = (ConnectionError, TimeoutError, ClusterError, TryAgainError,
                                ReadOnlyError, RedisClusterException, OSError, asyncio.TimeoutError)
except ImportError:  # pragma: no cover - redis is an optional dependency
    OUTAGE = (OSError, asyncio.TimeoutError)


def abandon(breaker: Any, exc: BaseException) -> None:
    """A call admitted by ``breaker.allow()`` ended in a BaseException that is not an Exception
    (CancelledError, KeyboardInterrupt, a signal handler's timeout): report it, so a half-open
    probe slot is given back (an exception outside expected_exceptions counts as neither success
    nor failure). The caller re-raises."""
    try:
        breaker.record_failure(exc)
    except Exception:  # pragma: no cover - a broken custom breaker must not mask exc
        pass


def settle_replies(breaker: Any, replies: Sequence[Any]) -> None:
    """Report a pipeline that came back to the breaker: a failure if a command's reply is an
    outage error (READONLY after a failover to a replica, a cluster error), else a success."""
    for reply in replies:
        if isinstance(reply, OUTAGE):
            breaker.record_failure(reply)
            return
    breaker.record_success()


# Reads GET and PTTL in one round trip where the raw transport cannot be used (cluster, asyncio).
READ_LUA = ("local v = redis.call('GET', KEYS[1]) "
            "if v then return {v, redis.call('PTTL', KEYS[1])} end return false")


class Counters:
    """The tier's read-side counters (the queue keeps the spill counters)."""

    __slots__ = ("lock", "l2_hits", "l2_misses", "l2_errors", "rejected", "__weakref__")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        _counters.add(self)
        self.l2_hits = 0
        self.l2_misses = 0
        self.l2_errors = 0
        self.rejected = 0

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


_counters: "weakref.WeakSet[Counters]" = weakref.WeakSet()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in a forked child
    for c in list(_counters):
        c.lock = threading.Lock()  # a parent thread may have held it at fork time


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def is_cluster(client: Any) -> bool:
    return hasattr(client, "get_primaries") and hasattr(client, "nodes_manager")


def check_bytes_client(client: Any) -> None:
    """ValueError for a client that decodes replies to str (stored values are bytes)."""
    get_encoder = getattr(client, "get_encoder", None)
    encoder = get_encoder() if callable(get_encoder) else None
    if getattr(encoder, "decode_responses", False):
        raise ValueError("the Redis tier needs a client with decode_responses=False")


def _connection_getter(pool: Any) -> Callable[[], Any]:
    """``pool.get_connection`` callable without arguments (redis-py 5.0 still wants a command
    name, later versions deprecate it)."""
    import inspect

    try:
        params = inspect.signature(pool.get_connection).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return pool.get_connection
    first = next(iter(params.values()), None)
    if first is not None and first.default is inspect.Parameter.empty and first.kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        return lambda: pool.get_connection("GET")
    return pool.get_connection


# ---------------------------------------------------------------------------------------------
# RESP encoding of the few commands the tier sends (bulk strings only)
# ---------------------------------------------------------------------------------------------

def _resp_set(rkey: bytes, data: bytes, px: int) -> bytes:
    pxb = b"%d" % px
    return b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nPX\r\n$%d\r\n%s\r\n" % (
        len(rkey), rkey, len(data), data, len(pxb), pxb)


def _resp_unlink(rkey: bytes) -> bytes:
    return b"*2\r\n$6\r\nUNLINK\r\n$%d\r\n%s\r\n" % (len(rkey), rkey)


def _resp_publish(command: str, channel: bytes, message: bytes) -> bytes:
    return b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(command), command.encode("ascii"), len(channel), channel, len(message), message)


def _resp_get_pttl(rkey: bytes) -> bytes:
    n = len(rkey)
    return b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n*2\r\n$4\r\nPTTL\r\n$%d\r\n%s\r\n" % (n, rkey, n, rkey)


class _Raw:
    """A plain ``redis.Redis``: commands are packed here and sent on a pooled connection.

    Any exception while talking disconnects that connection (so a half-read reply can never be
    read by the next user) and propagates; the client's socket timeouts bound every wait.
    """

    pack_set = staticmethod(_resp_set)
    pack_unlink = staticmethod(_resp_unlink)
    pack_publish = staticmethod(_resp_publish)
    publish_apart = False  # one connection: a PUBLISH at the end of the batch runs after it

    def __init__(self, client: Any) -> None:
        from redis.exceptions import ResponseError

        self.client = client
        self._pool = client.connection_pool
        self._get_connection = _connection_getter(self._pool)
        self._response_error = ResponseError

    def read(self, rkey: bytes) -> Tuple[Optional[bytes], int]:
        pool = self._pool
        conn = self._get_connection()
        try:
            conn.send_packed_command([_resp_get_pttl(rkey)], check_health=False)
            data = conn.read_response()
            pttl = conn.read_response()
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)
        return data, pttl

    def write(self, commands: Sequence[bytes]) -> List[Any]:
        pool = self._pool
        conn = self._get_connection()
        replies: List[Any] = []
        read, error = conn.read_response, self._response_error
        try:
            conn.send_packed_command([b"".join(commands)], check_health=False)
            fast = _fast_replies(conn)
            if fast is not None:
                fast(replies, len(commands))
            else:
                for _ in commands:
                    try:
                        replies.append(read())
                    except error as exc:  # the rest of the replies still follow
                        replies.append(exc)
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)
        return replies


try:
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH
    from redis.exceptions import ConnectionError as _RedisConnectionError
except ImportError:  # pragma: no cover - another redis-py layout: read_response() it is
    _NOT_ENOUGH = None


def _fast_replies(conn: Any) -> Optional[Callable[[List[Any], int], None]]:
    """``read(replies, n)`` that takes n replies straight from the connection's hiredis reader,
    or None where that is not exact (no hiredis, another redis-py layout). It does what
    redis-py's read_response does for these replies (an error reply is an exception object; a
    ConnectionError among them, such as LOADING, is raised; a RESP3 push frame goes to the
    parser's push handler and is not a reply), without its per-reply wrapper: measured 2.2 ->
    1.5 us per reply with send and server time included (1,000-SET batches, hiredis 3.5,
    redis-py 8.2), about a fifth of the flusher's time."""
    if _NOT_ENOUGH is None:
        return None
    parser = getattr(conn, "_parser", None)
    reader = getattr(parser, "_reader", None)
    fill = getattr(parser, "read_from_socket", None)
    if reader is None or fill is None or getattr(parser, "_buffer", None) is None:
        return None
    push_type = getattr(parser, "_hiredis_PushNotificationType", None)
    on_push: Any = getattr(parser, "handle_push_response", None)
    if push_type is not None and on_push is None:
        return None
    gets = reader.gets

    def read(replies: List[Any], n: int) -> None:
        append = replies.append
        while n:
            reply = gets()
            if reply is _NOT_ENOUGH:
                fill()
                continue
            if push_type is not None and isinstance(reply, push_type):
                on_push(reply)  # not a reply (RESP3 out-of-band)
                continue
            if isinstance(reply, _RedisConnectionError):
                raise reply
            append(reply)
            n -= 1

    return read


class _Generic:
    """Any other client (RedisCluster, a client with client-side caching, ...): redis-py's
    pipeline for writes (a cluster pipeline groups commands by slot/node) and a Lua script for
    GET + PTTL, which routes by its one key."""

    def __init__(self, client: Any) -> None:
        from redis.exceptions import NoScriptError

        self.client = client
        # A cluster pipeline sends each node its part: a PUBLISH among them could run before a
        # write on another node, so it is sent once the whole batch has answered.
        self.publish_apart = is_cluster(client)
        self._noscript = NoScriptError
        self._sha = _sha1(READ_LUA)

    def read(self, rkey: bytes) -> Tuple[Optional[bytes], int]:
        client = self.client
        try:
            reply = client.execute_command("EVALSHA", self._sha, 1, rkey)
        except self._noscript:
            reply = client.execute_command("EVAL", READ_LUA, 1, rkey)
        if reply is None:
            return None, -2
        return reply[0], int(reply[1])

    @staticmethod
    def pack_set(rkey: bytes, data: bytes, px: int) -> Tuple[Any, ...]:
        return ("SET", rkey, data, "PX", px)

    @staticmethod
    def pack_unlink(rkey: bytes) -> Tuple[Any, ...]:
        return ("UNLINK", rkey)

    @staticmethod
    def pack_publish(command: str, channel: bytes, message: bytes) -> Tuple[Any, ...]:
        return (command, channel, message)

    def publish(self, command: Tuple[Any, ...]) -> Any:
        """Send one PUBLISH/SPUBLISH on its own (a cluster: after the batch has answered)."""
        return self.client.execute_command(*command)

    def write(self, commands: Sequence[Tuple[Any, ...]]) -> List[Any]:
        pipe = self.client.pipeline(transaction=False)
        for c in commands:
            pipe.execute_command(*c)
        return list(pipe.execute(raise_on_error=False))


def _sha1(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def make_transport(client: Any) -> Any:
    """The fastest transport that is exact for ``client``."""
    try:
        from redis import Redis
    except ImportError:  # pragma: no cover
        return _Generic(client)
    get_cache = getattr(client, "get_cache", None)
    plain = (isinstance(client, Redis) and getattr(client, "connection", None) is None
             and (get_cache is None or get_cache() is None)
             and hasattr(client.connection_pool, "get_connection"))
    return _Raw(client) if plain else _Generic(client)


def plan_batch(batch: Batch, codec: Codec, queue: SpillQueue, pack_set: Callable[..., Any],
               pack_unlink: Callable[[bytes], Any]) -> Tuple[List[Any], List[int], List[int], List[int]]:
    """Turn a batch of ops into commands (packed by the transport's ``pack_set(rkey, data, px)``
    and ``pack_unlink(rkey)``): returns (commands, op index per command, outcome per command if
    it lands, outcome per op if nothing is sent). Serialization happens here, on the flusher;
    an unserializable or already expired spill sends an UNLINK only if it owes one."""
    now = time.monotonic()
    ceil = math.ceil
    dumps, seal = codec.value_dumps, codec.seal
    commands: List[Any] = []
    index: List[int] = []
    kinds: List[int] = []
    outcomes = [W_NOOP] * len(batch)
    dropped = 0
    for i, (rkey, op) in enumerate(batch):
        if op[0] == SPILL:  # [kind, value, deadline, needs_del, seq]
            left = op[2] - now
            if left > 0:
                try:
                    data = dumps(op[1])
                    if seal is not None:
                        data = seal(rkey, data)
                except Exception:
                    data = None
                    dropped += 1
                if data is not None:
                    px = ceil(left * 1000.0)
                    commands.append(pack_set(rkey, data, px if px > 1 else 1))
                    index.append(i)
                    kinds.append(W_SET)
                    continue
            if not op[3]:
                continue
        commands.append(pack_unlink(rkey))
        index.append(i)
        kinds.append(W_DELETED)
    if dropped:
        queue.count_dropped(dropped)
    return commands, index, kinds, outcomes


def announced(batch: Batch, index: List[int]) -> List[int]:
    """The ops of a planned batch that other processes must hear of: those carrying a write or
    a delete of this process (NEEDS_DEL), not plain spills. Returns their op indices."""
    return [i for i in index if batch[i][1][NEEDS_DEL]]


def unannounced(outcomes: List[int], notify: List[int], counters: Counters) -> None:
    """The PUBLISH naming ``notify`` failed: those ops count as failed too (an invalidation
    nobody heard of has not happened; they become tombs and are sent again, with a PUBLISH)."""
    counters.add("l2_errors")
    for i in notify:
        if outcomes[i] in (W_SET, W_DELETED):
            outcomes[i] = W_FAILED


class Writer:
    """The flusher's write path for the sync tier: plan, ask the breaker, send, report.
    ``channel`` (an hotcache.tiers.redis_invalidate.Channel, set by a cache that invalidates other
    processes' L1s) makes every batch announce the keys it set or deleted."""

    def __init__(self, transport: Any, codec: Codec, breaker: Any, counters: Counters,
                 queue: SpillQueue) -> None:
        self.transport = transport
        self.codec = codec
        self.breaker = breaker
        self.counters = counters
        self.queue = queue
        self.channel: Any = None

    def ready(self) -> bool:
        return self.breaker.state != "open"

    def clear_namespace(self, pattern: bytes) -> Any:
        """SCAN + UNLINK ``pattern`` through the breaker. None on success, else True (the
        breaker refused the call) or the exception (counted in l2_errors)."""
        breaker = self.breaker
        if not breaker.allow():
            return True
        try:
            scan_unlink(self.transport.client, pattern)
            channel = self.channel
            if channel is not None:
                try:
                    self.transport.client.execute_command(channel.publish, channel.name,
                                                          channel.clear_message())
                except Exception as exc:
                    channel.downgrade(exc)  # Redis < 7 cluster: PUBLISH when retried
                    raise
        except Exception as exc:
            breaker.record_failure(exc)
            self.counters.add("l2_errors")
            return exc
        except BaseException as exc:
            abandon(breaker, exc)
            raise
        breaker.record_success()
        return None

    def __call__(self, batch: Batch) -> List[int]:
        t = self.transport
        commands, index, kinds, outcomes = plan_batch(batch, self.codec, self.queue, t.pack_set,
                                                      t.pack_unlink)
        if not commands:
            return outcomes
        breaker = self.breaker
        if not breaker.allow():
            return fail_all(outcomes, index)
        channel = self.channel
        notify = announced(batch, index) if channel is not None else None
        publish = None
        if notify:
            publish = t.pack_publish(channel.publish, channel.name,
                                     channel.keys_message([batch[i][0] for i in notify]))
            if not t.publish_apart:
                commands.append(publish)
        try:
            replies = t.write(commands)
            if publish is not None and t.publish_apart:
                try:
                    replies.append(t.publish(publish))
                except Exception as exc:  # the writes landed; an outage error trips the breaker
                    replies.append(exc)
        except Exception as exc:
            breaker.record_failure(exc)
            self.counters.add("l2_errors")
            return fail_all(outcomes, index)
        except BaseException as exc:
            abandon(breaker, exc)
            raise
        settle_replies(breaker, replies)
        record_replies(outcomes, index, kinds, replies, self.counters)
        if publish is not None and isinstance(replies[-1], Exception):
            channel.downgrade(replies[-1])  # SPUBLISH unknown (Redis < 7): PUBLISH next time
            unannounced(outcomes, notify, self.counters)  # type: ignore[arg-type]
        return outcomes


def fail_all(outcomes: List[int], index: List[int]) -> List[int]:
    """A batch none of whose commands was sent (or whose pipeline failed): every op that had
    one failed. Returns ``outcomes``."""
    for i in index:
        outcomes[i] = W_FAILED
    return outcomes


def record_replies(outcomes: List[int], index: List[int], kinds: List[int], replies: Any,
                   counters: Counters) -> List[int]:
    """Each op's outcome from its command's reply (an exception reply: failed, counted in
    l2_errors). Returns ``outcomes``."""
    errors = 0
    for i, kind, reply in zip(index, kinds, replies):
        if isinstance(reply, Exception):
            outcomes[i] = W_FAILED
            errors += 1
        else:
            outcomes[i] = kind
    if errors:
        counters.add("l2_errors", errors)
    return outcomes


def scan_unlink(client: Any, pattern: bytes, count: int = 1000) -> int:
    """UNLINK every key matching ``pattern`` (SCAN on every primary of a cluster); returns how
    many were unlinked. Never KEYS, never FLUSHDB."""
    kwargs: dict = {}
    if is_cluster(client):
        kwargs["target_nodes"] = client.PRIMARIES
    removed = 0
    chunk: List[bytes] = []
    for rkey in client.scan_iter(match=pattern, count=count, **kwargs):
        chunk.append(rkey)
        if len(chunk) >= 500:
            removed += int(client.unlink(*chunk))
            chunk = []
    if chunk:
        removed += int(client.unlink(*chunk))
    return removed

