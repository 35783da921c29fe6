"""The asyncio flavour of the Redis tier: ``AsyncRedisTier`` (redis.asyncio), for AsyncTieredCache.

Same keys, serialization, encryption, breaker and write queue as the sync tier; the flusher is an
asyncio task on the loop that first uses the tier instead of a thread.
"""
from __future__ import annotations

import asyncio
import sys
import threading
import warnings
import weakref
from typing import Any, Callable, List, Optional, Tuple, Type

from .redis_codec import Secret
from .redis_spill import W_FAILED, Batch, SpillQueue
from .redis_io import (
    READ_LUA, Counters, _Generic, abandon, announced, fail_all, is_cluster, plan_batch,
    record_replies, settle_replies, unannounced,
)
from .redis_base import ASK, _TierBase, client_from_url, given_client
from .state import MISS


__all__ = ["AsyncRedisTier"]


class _AsyncFlusher:
    """The flusher task of an AsyncRedisTier (holds no reference to the tier itself)."""

    def __init__(self, queue: SpillQueue, client: Any, codec: Any, breaker: Any,
                 counters: Counters, prefix: bytes, batch_size: int, retry_interval: float,
                 timeout: float) -> None:
        self.timeout = timeout
        self.queue = queue
        self.client = client
        self.codec = codec
        self.breaker = breaker
        self.counters = counters
        self.prefix = prefix
        self.batch_size = batch_size
        self.retry_interval = retry_interval
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.thread_id = 0
        self.task: Optional["asyncio.Task[None]"] = None
        self.stopping = False
        self.event: Optional[asyncio.Event] = None
        self.io_lock: Optional[asyncio.Lock] = None
        self.progress: Optional[asyncio.Condition] = None
        self.channel: Any = None  # set when a cache announces its writes (see hotcache.tiers.redis_invalidate)
        self.cluster = is_cluster(client)
        self.make_client: Optional[Callable[[], Any]] = None  # a client built at first use

    # -- wiring ---------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Start the task on the running loop (again, if the previous loop is gone); build the
        client first if it could not be built before a loop ran."""
        loop = asyncio.get_running_loop()
        if self.loop is loop and self.task is not None and not self.task.done():
            return
        if self.client is None and self.make_client is not None:
            self.client = self.make_client()
        if self.stopping:
            return
        self.loop = loop
        self.thread_id = threading.get_ident()
        self.event = asyncio.Event()
        self.io_lock = asyncio.Lock()
        self.progress = asyncio.Condition()
        self.task = loop.create_task(self._run(), name="hotcache-redis-flusher")
        if self.queue.queue:
            self.event.set()

    def wake(self) -> None:
        """The queue's wake hook (called under the queue lock, from any thread)."""
        event, loop = self.event, self.loop
        if event is None or loop is None:
            return
        if threading.get_ident() == self.thread_id:
            event.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def stop_soon(self) -> None:
        self.stopping = True
        with self.queue.lock:
            self.wake()

    # -- the task -------------------------------------------------------------------------------
    async def _run(self) -> None:
        q = self.queue
        event = self.event
        assert event is not None and self.io_lock is not None and self.progress is not None
        while True:
            event.clear()
            if q.queue:
                async with self.io_lock:
                    batch = q.take(self.batch_size)
                    if batch:
                        try:
                            outcomes = await self._write(batch)
                        except BaseException:  # cancelled (aclose timed out): account for it
                            q.complete(batch, [W_FAILED] * len(batch))
                            raise
                        q.complete(batch, outcomes, requeue=self.batch_size)
                async with self.progress:
                    self.progress.notify_all()
                continue
            if self.stopping or q.closed:
                break
            with q.lock:
                if q.queue:
                    continue
                q.sleeping = True  # a producer now sets the event (cleared above)
                retry = bool(q.tombs) or q.clear_pending
            if retry:
                try:
                    await asyncio.wait_for(event.wait(), self.retry_interval)
                except asyncio.TimeoutError:
                    await self._retry()
            else:
                await event.wait()
        async with self.progress:
            self.progress.notify_all()

    async def _retry(self) -> None:
        q = self.queue
        ticket = q.skip_ticket()  # before the breaker is asked (see SpillQueue.marks)
        if self.breaker.state == "open":
            q.note_skipped(ticket)
        else:
            assert self.io_lock is not None
            async with self.io_lock:
                if q.clear_pending:
                    q.end_clear(await self.clear_namespace() is None)
                elif not q.requeue_tombs(self.batch_size):
                    q.note_skipped(ticket)
        assert self.progress is not None
        async with self.progress:
            self.progress.notify_all()

    async def _write(self, batch: Batch) -> List[int]:
        commands, index, kinds, outcomes = plan_batch(batch, self.codec, self.queue,
                                                      _Generic.pack_set, _Generic.pack_unlink)
        if not commands:
            return outcomes
        breaker = self.breaker
        if not breaker.allow():
            return fail_all(outcomes, index)
        channel = self.channel
        notify = announced(batch, index) if channel is not None else None
        publish = None
        if notify:
            publish = (channel.publish, channel.name,
                       channel.keys_message([batch[i][0] for i in notify]))
            if not self.cluster:  # one connection: the PUBLISH runs after the batch's writes
                commands.append(publish)
        try:
            pipe = self.client.pipeline(transaction=False)
            for c in commands:
                pipe.execute_command(*c)
            # bounded like every await on Redis: `timeout` per 100 commands
            replies = list(await asyncio.wait_for(pipe.execute(raise_on_error=False),
                                                  self.timeout * (1 + len(commands) // 100)))
            if publish is not None and self.cluster:  # only once every node has answered
                try:
                    replies.append(await asyncio.wait_for(self.client.execute_command(*publish),
                                                          self.timeout))
                except Exception as exc:
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

    async def clear_namespace(self) -> Any:
        """SCAN + UNLINK this namespace (every primary of a cluster) through the breaker. None
        on success, else True (the breaker refused) or the exception (counted in l2_errors)."""
        if not self.breaker.allow():
            return True
        client = self.client
        kwargs: dict = {"target_nodes": client.PRIMARIES} if is_cluster(client) else {}
        timeout = self.timeout
        try:
            chunk: List[bytes] = []
            keys = client.scan_iter(match=self.prefix + b"*", count=1000, **kwargs).__aiter__()
            while True:
                try:  # each SCAN round trip bounded by the timeout
                    rkey = await asyncio.wait_for(keys.__anext__(), timeout)
                except StopAsyncIteration:
                    break
                chunk.append(rkey)
                if len(chunk) >= 500:
                    await asyncio.wait_for(client.unlink(*chunk), timeout)
                    chunk = []
            if chunk:
                await asyncio.wait_for(client.unlink(*chunk), timeout)
            channel = self.channel
            if channel is not None:
                try:
                    await asyncio.wait_for(client.execute_command(
                        channel.publish, channel.name, channel.clear_message()), timeout)
                except Exception as exc:
                    channel.downgrade(exc)  # Redis < 7 cluster: PUBLISH when retried
                    raise
        except Exception as exc:
            self.breaker.record_failure(exc)
            self.counters.add("l2_errors")
            return exc
        except BaseException as exc:
            abandon(self.breaker, exc)
            raise
        self.breaker.record_success()
        return None


class AsyncRedisTier(_TierBase):
    """``RedisTier`` for asyncio: ``client=`` a ``redis.asyncio.Redis`` or
    ``redis.asyncio.cluster.RedisCluster``, or ``url=``; every other option as on RedisTier.

    Use it from one event loop. Writes are made by a task started on that loop at first use;
    ``await aclose()`` drains and stops it.
    """

    _awaitable = True

    def __init__(self, url: Optional[str] = None, *, client: Any = None, namespace: str,
                 ttl: float = 3600, serializer: Any = "json", secret: Secret = None,
                 trusted: bool = False, timeout: float = 0.05, breaker: Any = None,
                 key: Optional[Callable[[Any], str]] = None, raise_on_error: bool = False,
                 max_pending: int = 100_000, batch_size: int = 1000) -> None:
        self._setup(namespace, ttl, serializer, secret, trusted, timeout, breaker, key,
                    raise_on_error, max_pending, batch_size)
        built, self._owns_client = _async_client(url, client, self.timeout)
        self._noscript: Type[BaseException] = _noscript_error()
        import hashlib

        self._sha = hashlib.sha1(READ_LUA.encode("utf-8")).hexdigest()
        self._flusher = _AsyncFlusher(self._queue, built, self._codec, self.breaker,
                                      self._counters, self._prefix, self._batch_size, 0.25,
                                      self.timeout)
        if built is None:  # Python 3.9: redis.asyncio needs a running loop to build its client
            self._flusher.make_client = _deferred_client(url, self.timeout)  # type: ignore[arg-type]
        self._queue.wake = self._flusher.wake
        self._finalizer = weakref.finalize(self, self._flusher.stop_soon)
        self._sub: Any = None
        self._closed = False

    @property
    def client(self) -> Any:
        """The redis.asyncio client (None until the first use on Python 3.9 with ``url=``: its
        connection pool can only be built while an event loop runs there)."""
        return self._flusher.client

    @property
    def _client(self) -> Any:
        return self._flusher.client

    def __repr__(self) -> str:
        return "AsyncRedisTier(namespace=%r, ttl=%r, serializer=%r, encrypted=%r)" % (
            self.namespace, self.ttl, self.serializer, self.encrypted)

    async def _fetch(self, rkey: bytes) -> Any:
        """As RedisTier._fetch, awaiting Redis."""
        self._flusher.ensure()
        early = self._short_cut(rkey)
        if early is not ASK:
            return early
        client = self._client
        timeout = self.timeout
        try:  # every await on Redis is bounded by the timeout (asyncio.TimeoutError: an outage)
            try:
                reply = await asyncio.wait_for(client.execute_command("EVALSHA", self._sha, 1, rkey), timeout)
            except self._noscript:
                reply = await asyncio.wait_for(client.execute_command("EVAL", READ_LUA, 1, rkey), timeout)
        except Exception as exc:
            if self._read_failed(exc):
                raise
            return MISS
        except BaseException as exc:  # cancelled: give back a half-open probe slot
            abandon(self.breaker, exc)
            raise
        self.breaker.record_success()
        if reply is None:
            return MISS
        return self._decode(rkey, reply[0], int(reply[1]))

    async def get(self, key: Any, default: Any = None) -> Any:
        """The value Redis holds for ``key`` (L2 only, counted as an L2 hit or miss)."""
        hit = self._tally(await self._fetch(self._rkey(key)))
        return default if hit is MISS else hit[0]

    # -- the tier protocol, asyncio side ---------------------------------------------------------
    def _publish_to(self, channel: Any) -> None:
        self._flusher.channel = channel

    def _subscriber(self, sink: Any) -> Any:
        """The AsyncSubscriber that keeps ``sink``'s L1 in step with other processes (a task,
        started on the loop that first uses the cache)."""
        from .redis_invalidate import AsyncSubscriber, async_opener

        self._one_subscriber()
        channel = self._announcing()
        flusher = self._flusher
        self._sub = AsyncSubscriber(async_opener(lambda: flusher.client, channel, self.timeout,
                                                 flusher.cluster), channel, sink)
        return self._sub

    async def _confirm(self, mark: Any, timeout: Optional[float]) -> bool:
        """As RedisTier._confirm, awaiting the flusher task."""
        f = self._flusher
        f.ensure()
        q = self._queue
        if q.settled(mark):
            return q.landed(mark)
        with q.lock:
            f.wake()

        async def wait() -> None:
            assert f.progress is not None
            async with f.progress:
                await f.progress.wait_for(lambda: q.settled(mark) or f.task is None or f.task.done())

        try:
            await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return q.landed(mark)

    async def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every write queued before this call has been attempted; True if all
        landed (False: some failed or were dropped, or ``timeout`` passed)."""
        return await self._confirm(self._queue.mark(), timeout)

    async def clear(self) -> None:
        """Remove this namespace from Redis and drop pending writes (see RedisTier.clear)."""
        await self._clear_with(None)

    async def _clear_with(self, l1_clear: Optional[Callable[[], None]]) -> None:
        f = self._flusher
        f.ensure()
        assert f.io_lock is not None
        q = self._queue
        async with f.io_lock:
            q.begin_clear()
            if l1_clear is not None:
                l1_clear()
            error = await f.clear_namespace()
            q.end_clear(error is None)
        if error is not None and self.raise_on_error:
            raise self._open_error() if error is True else error

    async def aclose(self, timeout: float = 5.0) -> bool:
        """Drain the queue (at most ``timeout`` seconds), stop the flusher task and close the
        client if the tier built it. True if the queue drained in time."""
        if self._closed:
            return True
        self._closed = True
        if self._sub is not None:
            await self._sub.stop()
        f = self._flusher
        drained = True
        if f.task is not None and not f.task.done() and f.loop is asyncio.get_running_loop():
            f.stop_soon()
            done, _ = await asyncio.wait({f.task}, timeout=timeout)
            drained = bool(done)
            if not drained:
                f.task.cancel()
        else:
            f.stopping = True
        self._queue.close()
        self._finalizer.detach()
        if self._owns_client and self._client is not None:
            closer = getattr(self._client, "aclose", None) or self._client.close  # redis-py < 5.0.1
            try:
                await closer()
            except Exception:
                pass
        return drained

    async def __aenter__(self) -> "AsyncRedisTier":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def _noscript_error() -> type:
    from redis.exceptions import NoScriptError

    return NoScriptError


def _async_client(url: Optional[str], client: Any, timeout: float) -> Tuple[Any, bool]:
    if given_client("AsyncRedisTier", url, client, "a redis.asyncio client"):
        pool = getattr(client, "connection_pool", None)
        if pool is not None and not is_cluster(client):
            if pool.connection_kwargs.get("socket_timeout") is None:
                warnings.warn("AsyncRedisTier: the given client has no socket_timeout; the tier bounds "
                              "its own awaits by timeout=, but other users of the client are not; "
                              "build it with socket_timeout=", RuntimeWarning, stacklevel=3)
        return client, False
    try:
        return client_from_url(url, timeout, "redis.asyncio", "redis.asyncio.retry")  # type: ignore[arg-type]
    except RuntimeError:
        # Python 3.9: asyncio.Lock() in redis.asyncio's pool needs an event loop when there is
        # none running: the client is built by the flusher at the tier's first use instead
        if sys.version_info >= (3, 10):
            raise
        return None, True


def _deferred_client(url: str, timeout: float) -> Callable[[], Any]:
    """The client ``_async_client`` could not build yet, built on the first call (in a loop)."""
    def build() -> Any:
        return client_from_url(url, timeout, "redis.asyncio", "redis.asyncio.retry")[0]
    return build

