"""benchmarks/invalidation_transport.py -- how to tell other processes that a key changed:
Redis pub/sub on a namespace channel, or RESP3-era client tracking in BCAST mode (Redis >= 6).

    python benchmarks/invalidation_transport.py            # about 40 s
    python benchmarks/invalidation_transport.py --quick    # about 12 s

This decided hotcache's cross-process L1 invalidation (hotcache/_invalidate.py). It starts its own
redis-server and measures, on raw sockets (so the client library's cost is not in the numbers):

  latency     a writer process sends one write (and, for pub/sub, a PUBLISH of that key in the
              same pipeline), waits for the replies, and notes time.monotonic_ns(); each of 3
              listener processes notes the time its invalidation message arrived (CLOCK_MONOTONIC
              is shared by processes). 300 writes at about 1,000/s; p50 / p99 / max per transport.
  throughput  batches of 1,000 SETs (plus one PUBLISH naming all 1,000 keys, for pub/sub) sent
              as fast as Redis answers while 4 listener connections drain their messages: SETs/s,
              and how many messages the server had to send per SET (tracking: one per listener
              per key; pub/sub: one per listener per batch).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from redis_server import RedisServer  # noqa: E402

CHANNEL = b"__hotcache__:bench"
PREFIX = b"bench:#"


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """A minimal RESP2 client: enough to count replies and spot push messages."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _line(self, pos):
        while True:
            end = self.buf.find(b"\r\n", pos)
            if end >= 0:
                return self.buf[pos:end], end + 2
            self._fill()

    def _parse(self, pos):
        line, pos = self._line(pos)
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return rest, pos
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None, pos
            while len(self.buf) < pos + n + 2:
                self._fill()
            return self.buf[pos:pos + n], pos + n + 2
        if kind in (b"*", b">"):
            items = []
            for _ in range(max(int(rest), 0)):
                item, pos = self._parse(pos)
                items.append(item)
            return items, pos
        raise ValueError("unexpected reply %r" % line)

    def reply(self):
        value, pos = self._parse(0)
        self.buf = self.buf[pos:]
        return value

    def call(self, *args):
        self.send(resp(*args))
        return self.reply()


def listener(port, transport, ready, out, n):
    """Subscribe (pub/sub) or register a BCAST tracking redirect, then note the arrival time of
    each of ``n`` invalidation messages."""
    sub = Conn(port)
    if transport == "pubsub":
        sub.call(b"SUBSCRIBE", CHANNEL)
    else:
        my_id = sub.call(b"CLIENT", b"ID")
        sub.call(b"SUBSCRIBE", b"__redis__:invalidate")
        data = Conn(port)
        assert data.call(b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", my_id, b"BCAST",
                         b"PREFIX", PREFIX) == b"OK"
    ready.set()
    times = []
    while len(times) < n:
        msg = sub.reply()
        if isinstance(msg, list) and msg and msg[0] == b"message":
            times.append(time.monotonic_ns())
    out.put(times)


def latency(port, transport, n, rate):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs, readies = [], []
    for _ in range(3):
        ready = ctx.Event()
        p = ctx.Process(target=listener, args=(port, transport, ready, out, n))
        p.start()
        procs.append(p)
        readies.append(ready)
    for r in readies:
        assert r.wait(30)
    w = Conn(port)
    sent = []
    gap = 1.0 / rate
    nxt = time.monotonic()
    for i in range(n):
        key = PREFIX + b"k%d" % i
        if transport == "pubsub":
            w.send(resp(b"SET", key, b"v" * 100) + resp(b"PUBLISH", CHANNEL, key))
            w.reply()
            w.reply()
        else:
            w.send(resp(b"SET", key, b"v" * 100))
            w.reply()
        sent.append(time.monotonic_ns())
        nxt += gap
        pause = nxt - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    lat = []
    for _ in procs:
        got = out.get(timeout=60)
        lat += [(g - s) / 1e6 for g, s in zip(got, sent)]
    for p in procs:
        p.join(10)
    lat.sort()
    return lat


def drain(port, transport, stop):
    sub = Conn(port)
    if transport == "pubsub":
        sub.call(b"SUBSCRIBE", CHANNEL)
    else:
        my_id = sub.call(b"CLIENT", b"ID")
        sub.call(b"SUBSCRIBE", b"__redis__:invalidate")
        data = Conn(port)
        data.call(b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", my_id, b"BCAST", b"PREFIX", PREFIX)
    sub.s.settimeout(0.2)
    while not stop.is_set():
        try:
            if not sub.s.recv(1 << 20):
                return
        except socket.timeout:
            pass


def throughput(port, transport, seconds):
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=drain, args=(port, transport, stop)) for _ in range(4)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let the listeners register (not a measurement)
    w = Conn(port)
    info0 = Conn(port).call(b"INFO", b"stats")
    batch = [PREFIX + b"k%d" % i for i in range(1000)]
    payload = b"".join(resp(b"SET", k, b"v" * 100) for k in batch)
    if transport == "pubsub":
        payload += resp(b"PUBLISH", CHANNEL, b"".join(b"%d:%s" % (len(k), k) for k in batch))
    replies = len(batch) + (transport == "pubsub")
    sets = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        w.send(payload)
        for _ in range(replies):
            w.reply()
        sets += len(batch)
    elapsed = time.perf_counter() - t0
    stats = Conn(port).call(b"INFO", b"stats")
    stop.set()
    for p in procs:
        p.join(10)

    def field(blob, name):
        for line in blob.split(b"\r\n"):
            if line.startswith(name + b":"):
                return int(line.split(b":")[1])
        return 0

    return sets / elapsed, field(stats, b"total_net_output_bytes") - field(info0, b"total_net_output_bytes"), sets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 150 if args.quick else 300
    seconds = 2.0 if args.quick else 5.0
    print("python %s, %d cores, load %.2f" % (sys.version.split()[0], os.cpu_count() or 0, os.getloadavg()[0]))
    with RedisServer() as srv:
        print("%-10s %9s %9s %9s   %12s %16s" % ("transport", "p50 ms", "p99 ms", "max ms", "SETs/s", "out bytes / SET"))
        for transport in ("pubsub", "tracking"):
            lat = latency(srv.port, transport, n, rate=1000)
            Conn(srv.port).call(b"FLUSHALL")
            rate, out_bytes, sets = throughput(srv.port, transport, seconds)
            Conn(srv.port).call(b"FLUSHALL")
            print("%-10s %9.3f %9.3f %9.3f   %12.0f %16.1f" % (
                transport, statistics.median(lat), lat[int(0.99 * (len(lat) - 1))], lat[-1],
                rate, out_bytes / sets))


if __name__ == "__main__":
    main()
