"""Cross-process L1 invalidation for the Redis tier: messages on a namespace channel, and the
subscriber (a thread, or an asyncio task) that applies other processes' messages to this L1.

HOW IT WORKS

    process A                                  Redis                    process B
    ─────────                                  ─────                    ─────────
    c[k] = v  → L1, queue SET/UNLINK k    ──▶  SET k v PX …   (1)
                flusher: one pipeline     ──▶  PUBLISH ch msg (2) ──▶   subscriber thread:
                                                                         L1.pop(k), note k changed

The flusher appends one PUBLISH naming every key its batch set or deleted (spills are not
changes and are not announced) after the batch's writes, on the same connection, so Redis runs
it after them: when B hears of k, Redis already holds the new value. On a cluster the writes of
one batch go to several nodes, so the SPUBLISH is sent only once the whole pipeline has
answered. A message names its sender (8 random bytes per tier and process), so a process
skips its own messages: its L1 already holds what it wrote.

B's subscriber cannot always hear everything. When its connection breaks, a PING gets no PONG
within ``PONG_WAIT`` seconds after ``HEARTBEAT`` idle seconds, the tier's circuit breaker opens,
or the process was forked, it tells the cache the subscription is *lost*: the cache clears its
L1 and stops promoting values read from Redis (any of them could be overwritten unheard). Once
subscribed again it tells the cache it is *live*: the cache clears the L1 once more (what was
stored meanwhile may be stale) and works normally. So a value served from an L1 is never one
that another process overwrote more than the detection time before: about ``HEARTBEAT +
PONG_WAIT`` seconds for a silent network cut, at once for a closed connection or a restart.

Why pub/sub and not RESP3 client tracking (BCAST on the namespace prefix)? Measured with
``python benchmarks/invalidation_transport.py`` on a 2-core box: the same delivery latency (p99
0.07 against 0.08 ms when quiet; under load either shows hiccups of a few ms), but tracking
made Redis send one message per key and per listener, halving SET throughput with 4 listeners
(0.65M against 1.19M SETs/s quiet, 0.25-0.34M against 0.51-0.60M at load 6, with one PUBLISH
per 1000-key batch). Tracking would also announce this process's own spills (an eviction is not a
change) and its own writes unless every pooled connection that writes opted out (NOLOOP is per
connection), and on a cluster it needs a listener on every master; a sharded channel
(SSUBSCRIBE/SPUBLISH, Redis >= 7) needs one connection to one node.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import threading
import time
import weakref
from typing import Any, Callable, List, Optional, Tuple

__all__ = ["AsyncSubscriber", "Channel", "HEARTBEAT", "PONG_WAIT", "Subscriber"]

_log = logging.getLogger("hotcache.redis_tier")

HEARTBEAT = 1.0    # seconds without traffic before the subscriber sends a PING
PONG_WAIT = 1.0    # seconds that PING may take before the subscription counts as lost
RETRY_MIN = 0.05   # reconnect backoff, doubled after each failed attempt up to RETRY_MAX
RETRY_MAX = 1.0
POLL = 0.25        # the longest a subscriber blocks before it looks at its flags again

_KEYS = b"K"
_CLEAR = b"C"
_LEN = struct.Struct(">I")
_ORIGIN = 8


class Channel:
    """One tier's channel: its name (``__hotcache__:inv:{namespace}``), whether it is sharded
    (a cluster: SPUBLISH/SSUBSCRIBE), and this process's origin id (new in a forked child).

    Message layout: ``b"K" + origin + (4-byte length + key suffix)*`` names changed keys by
    their Redis key without the namespace prefix; ``b"C" + origin`` is a namespace clear."""

    __slots__ = ("name", "prefix", "sharded", "origin", "__weakref__")

    def __init__(self, prefix: bytes, sharded: bool) -> None:
        self.prefix = prefix
        self.name = b"__hotcache__:inv:" + prefix[:-2]  # the namespace (prefix is b"ns:#")
        self.sharded = sharded
        self.origin = os.urandom(_ORIGIN)
        _channels.add(self)

    @property
    def publish(self) -> str:
        return "SPUBLISH" if self.sharded else "PUBLISH"

    @property
    def subscribe(self) -> str:
        return "SSUBSCRIBE" if self.sharded else "SUBSCRIBE"

    def downgrade(self, error: Any) -> bool:
        """A sharded command was refused as unknown (a cluster of Redis < 7): use classic
        PUBLISH/SUBSCRIBE from now on, which a cluster forwards to every node. True if so."""
        if self.sharded and "unknown command" in str(error).lower():
            self.sharded = False
            _log.info("hotcache.redis_tier: no sharded pub/sub on this cluster (Redis < 7): "
                      "invalidations use PUBLISH/SUBSCRIBE")
            return True
        return False

    def keys_message(self, rkeys: List[bytes]) -> bytes:
        cut = len(self.prefix)
        pack = _LEN.pack
        parts = [_KEYS, self.origin]
        for rkey in rkeys:
            parts.append(pack(len(rkey) - cut))
            parts.append(rkey[cut:])
        return b"".join(parts)

    def clear_message(self) -> bytes:
        return _CLEAR + self.origin

    def decode(self, data: Any) -> Optional[Tuple[bytes, List[bytes]]]:
        """(kind, Redis keys) of a message from another process; None for one of our own.
        Anything malformed reads as a clear (we cannot tell what it meant to invalidate)."""
        if not isinstance(data, bytes) or len(data) < 1 + _ORIGIN:
            return _CLEAR, []
        kind, origin = data[:1], data[1:1 + _ORIGIN]
        if origin == self.origin:
            return None
        if kind != _KEYS:
            return _CLEAR, []
        rkeys = []
        prefix, pos, end, unpack = self.prefix, 1 + _ORIGIN, len(data), _LEN.unpack_from
        while pos < end:
            if pos + 4 > end:
                return _CLEAR, []
            (n,) = unpack(data, pos)
            pos += 4
            if pos + n > end:
                return _CLEAR, []
            rkeys.append(prefix + data[pos:pos + n])
            pos += n
        return _KEYS, rkeys


_channels: "weakref.WeakSet[Channel]" = weakref.WeakSet()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in a forked child
    for ch in list(_channels):
        ch.origin = os.urandom(_ORIGIN)  # the parent must hear the child, and the child the parent
    for sub in list(_subscribers):
        sub._after_fork()


# -- what a subscriber tells its cache ------------------------------------------------------------
# The sink (a TieredCache or AsyncTieredCache, held weakly) implements:
#   _inv_keys(rkeys)       other processes changed these Redis keys: drop them from the L1
#   _inv_clear()           another process cleared the namespace: clear the L1
#   _inv_state(live)       the subscription was lost (False) or is live again (True): clear the
#                          L1 either way; promote from Redis only while live

def _dispatch(channel: Channel, sink: Any, msg: Any) -> bool:
    """Apply one message read on the subscription; False if it means the subscription ended
    (the server unsubscribed us: a sharded channel's slot moved)."""
    if not isinstance(msg, list) or not msg:
        return True
    kind = msg[0]
    if kind in (b"message", b"smessage") and len(msg) == 3:
        decoded = channel.decode(msg[2])
        if decoded is None:
            return True
        what, rkeys = decoded
        if what == _KEYS:
            sink._inv_keys(rkeys)
        else:
            sink._inv_clear()
        return True
    return kind not in (b"sunsubscribe", b"unsubscribe")


def _subscribed(reply: Any, channel: Channel) -> bool:
    return (isinstance(reply, list) and len(reply) >= 2
            and reply[0] in (b"subscribe", b"ssubscribe") and reply[1] == channel.name)


class _Lost(Exception):
    """The subscription ended or may have missed messages."""


class Subscriber:
    """The subscription of one sync tier: a daemon thread on its own connection.

    ``opener()`` returns a connected redis-py ``Connection`` for the channel's node (the tier
    builds it from its client, see ``sync_opener``). The thread holds the cache weakly and ends
    when it is collected or ``stop()`` is called. ``drop()`` (the breaker opened) makes it
    reconnect; ``ensure()`` restarts it in a forked child.
    """

    def __init__(self, opener: Callable[[], Any], channel: Channel, sink: Any, name: str) -> None:
        self._opener = opener
        self._channel = channel
        self._sink = weakref.ref(sink)
        self._name = name
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._conn: Any = None
        self._stopping = False
        self._redo = False
        self._wake = threading.Event()
        self._tried = threading.Event()  # set once the first subscription attempt has ended
        _subscribers.add(self)

    def wait_first(self, timeout: float) -> None:
        """Wait until the first subscription attempt succeeded or failed (at most ``timeout``
        seconds): a constructor's start, so the first reads can already promote."""
        self._tried.wait(timeout)

    def ensure(self) -> None:
        """Start the thread unless it runs (or the subscriber was stopped)."""
        if self._thread is not None or self._stopping:
            return
        with self._lock:
            if self._thread is None and not self._stopping:
                t = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread = t
                t.start()

    def drop(self) -> None:
        """Reconnect (the caller has already told the cache the subscription is lost)."""
        self._redo = True
        self._kick()

    def halt(self) -> None:
        """Stop without waiting (the thread ends within POLL seconds)."""
        self._stopping = True
        self._wake.set()
        self._kick()

    def stop(self, timeout: Optional[float] = 1.0) -> None:
        self.halt()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    def _kick(self) -> None:
        """Wake a thread blocked reading: shut the socket down (the thread closes it)."""
        sock = getattr(self._conn, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _after_fork(self) -> None:  # pragma: no cover - runs in a forked child
        self._lock = threading.Lock()
        self._thread = None
        self._conn = None  # the parent's socket: never shut down from here
        self._wake = threading.Event()
        self._tried = threading.Event()

    def _state(self, live: bool) -> bool:
        sink = self._sink()
        if sink is None:
            return False
        sink._inv_state(live)
        return True

    def _run(self) -> None:
        backoff = RETRY_MIN
        while not self._stopping and self._sink() is not None:
            self._redo = False
            try:
                conn = self._opener()
            except Exception as exc:
                _log.debug("hotcache.redis_tier: subscribing failed: %r", exc)
                self._tried.set()
                self._wake.wait(backoff)
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            self._conn = conn
            try:
                conn.send_command(self._channel.subscribe, self._channel.name, check_health=False)
                try:
                    reply = conn.read_response()
                except Exception as exc:
                    if self._channel.downgrade(exc):
                        continue  # at once, with SUBSCRIBE
                    raise
                if not _subscribed(reply, self._channel):
                    raise _Lost("unexpected reply to %s" % self._channel.subscribe)
                backoff = RETRY_MIN
                if self._stopping or self._redo or not self._state(True):
                    continue
                self._tried.set()
                self._listen(conn)
            except Exception as exc:
                if not self._stopping:
                    _log.debug("hotcache.redis_tier: subscription lost: %r", exc)
            finally:
                self._tried.set()
                self._conn = None
                try:
                    conn.disconnect()
                except Exception:
                    pass
            if not self._stopping:
                self._state(False)
                self._wake.wait(RETRY_MIN)

    def _listen(self, conn: Any) -> None:
        channel, monotonic = self._channel, time.monotonic
        last, pinged = monotonic(), 0.0
        while not self._stopping:
            if self._redo:
                raise _Lost("the breaker opened")
            now = monotonic()
            if pinged and now - pinged > PONG_WAIT:
                raise _Lost("no PONG within %.1f s" % PONG_WAIT)
            if not pinged and now - last >= HEARTBEAT:
                conn.send_command("PING", check_health=False)
                pinged = now
            if not conn.can_read(timeout=POLL):
                continue
            msg = conn.read_response()
            last, pinged = monotonic(), 0.0  # the connection answers
            sink = self._sink()
            if sink is None:
                return
            if not _dispatch(channel, sink, msg):
                raise _Lost("unsubscribed by the server")
            del sink


class AsyncSubscriber:
    """The subscription of an asyncio tier: a task on the loop that uses the tier, on its own
    connection (``opener`` is a coroutine function returning a connected redis.asyncio
    Connection). Same protocol as Subscriber; ``ensure()`` starts it on the running loop."""

    def __init__(self, opener: Callable[[], Any], channel: Channel, sink: Any) -> None:
        self._opener = opener
        self._channel = channel
        self._sink = weakref.ref(sink)
        self._task: "Optional[asyncio.Task[None]]" = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stopping = False
        self._redo = False
        _subscribers.add(self)

    def ensure(self) -> None:
        if self._stopping:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self._task
        if task is not None and not task.done() and self._loop is loop:
            return
        self._loop = loop
        self._task = loop.create_task(self._run(), name="hotcache-redis-invalidation")

    def drop(self) -> None:
        self._redo = True

    def halt(self) -> None:
        """Stop without waiting (the task ends within POLL seconds)."""
        self._stopping = True

    async def stop(self, timeout: float = 1.0) -> None:
        self._stopping = True
        task = self._task
        if task is None or task.done():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            return  # another loop's task: it ends at its next wake-up (stopping is set)
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)

    def _after_fork(self) -> None:  # pragma: no cover - runs in a forked child
        self._task = None
        self._loop = None

    def _state(self, live: bool) -> bool:
        sink = self._sink()
        if sink is None:
            return False
        sink._inv_state(live)
        return True

    async def _run(self) -> None:
        backoff = RETRY_MIN
        while not self._stopping and self._sink() is not None:
            self._redo = False
            try:
                conn = await asyncio.wait_for(self._opener(), max(PONG_WAIT, 0.1))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.debug("hotcache.redis_tier: subscribing failed: %r", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            try:
                await conn.send_command(self._channel.subscribe, self._channel.name, check_health=False)
                try:
                    reply = await conn.read_response(timeout=PONG_WAIT, disconnect_on_error=False)
                except Exception as exc:
                    if self._channel.downgrade(exc):
                        continue  # at once, with SUBSCRIBE
                    raise
                if not _subscribed(reply, self._channel):
                    raise _Lost("unexpected reply to %s" % self._channel.subscribe)
                backoff = RETRY_MIN
                if self._stopping or self._redo or not self._state(True):
                    continue
                await self._listen(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._stopping:
                    _log.debug("hotcache.redis_tier: subscription lost: %r", exc)
            finally:
                try:
                    await conn.disconnect()
                except BaseException:
                    pass
            if not self._stopping:
                self._state(False)
                await asyncio.sleep(RETRY_MIN)

    async def _listen(self, conn: Any) -> None:
        channel, monotonic = self._channel, time.monotonic
        last, pinged = monotonic(), 0.0
        while not self._stopping:
            if self._redo:
                raise _Lost("the breaker opened")
            now = monotonic()
            if pinged and now - pinged > PONG_WAIT:
                raise _Lost("no PONG within %.1f s" % PONG_WAIT)
            if not pinged and now - last >= HEARTBEAT:
                await conn.send_command("PING", check_health=False)
                pinged = now
            # a finite timeout: None on expiry, the connection kept (as redis-py's PubSub reads)
            msg = await conn.read_response(timeout=POLL, disconnect_on_error=False)
            if msg is None:
                continue
            last, pinged = monotonic(), 0.0
            sink = self._sink()
            if sink is None:
                return
            if not _dispatch(channel, sink, msg):
                raise _Lost("unsubscribed by the server")
            del sink


_subscribers: "weakref.WeakSet[Any]" = weakref.WeakSet()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- connections for the subscriber ---------------------------------------------------------------

def _connection_kwargs(pool_kwargs: dict, timeout: float) -> dict:
    """A pool's connection options for a subscriber: RESP2 (messages as plain arrays, whatever
    protocol the client speaks) and a socket timeout long enough for a large message on a busy
    box (reads only start once data is there; waits are bounded by HEARTBEAT/PONG_WAIT)."""
    kwargs = dict(pool_kwargs)
    kwargs["protocol"] = 2
    kwargs["socket_timeout"] = max(timeout, PONG_WAIT)
    kwargs["socket_connect_timeout"] = max(timeout, kwargs.get("socket_connect_timeout") or 0, 0.25)
    kwargs.pop("retry", None)
    kwargs.pop("health_check_interval", None)
    return kwargs


def sync_opener(client: Any, channel: Channel, timeout: float, cluster: bool) -> Callable[[], Any]:
    """``opener()`` for Subscriber: a new connection to the node that serves ``channel``."""
    def pool_of() -> Any:
        if not cluster:
            return client.connection_pool
        return client.get_node_from_key(channel.name).redis_connection.connection_pool

    def opener() -> Any:
        pool = pool_of()
        conn = pool.connection_class(**_connection_kwargs(pool.connection_kwargs, timeout))
        try:
            conn.connect()
        except Exception:
            if cluster:  # the channel's node may have moved: ask the cluster again next time
                _refresh(client)
            raise
        return conn

    return opener


def _refresh(client: Any) -> None:
    try:
        client.nodes_manager.initialize()
    except Exception:
        pass


def async_opener(client_of: Callable[[], Any], channel: Channel, timeout: float,
                 cluster: bool) -> Callable[[], Any]:
    """``opener()`` for AsyncSubscriber (a coroutine function); ``client_of()`` returns the
    tier's client (built at first use on Python 3.9)."""
    async def opener() -> Any:
        client = client_of()
        if client is None:
            raise ConnectionError("the tier's client is not built yet")
        if cluster:
            if not client.get_nodes():
                await client.initialize()
            node = client.get_node_from_key(channel.name)
            cls, base = node.connection_class, node.connection_kwargs
        else:
            pool = client.connection_pool
            cls, base = pool.connection_class, pool.connection_kwargs
        conn = cls(**_connection_kwargs(base, timeout))
        try:
            await conn.connect()
        except BaseException:
            if cluster:
                try:
                    await client.nodes_manager.initialize()
                except Exception:
                    pass
            raise
        return conn

    return opener
