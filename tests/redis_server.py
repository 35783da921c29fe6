"""Throwaway ``redis-server`` processes for the tests: one server or a 3-master cluster on loopback.

Every process started here is killed at interpreter exit and, on Linux, when the test runner dies.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "RedisServer",
    "RedisCluster",
    "RedisStartError",
    "redis_binary",
    "require_redis",
    "free_port",
]

HOST = "127.0.0.1"
START_TIMEOUT = 15.0  # seconds; a hang guard, a healthy server answers PING within ~50 ms
_START_ATTEMPTS = 8  # a free port can be taken by someone else between probing and binding

_live: "set[subprocess.Popen[bytes]]" = set()
_live_lock = threading.Lock()


class RedisStartError(RuntimeError):
    """redis-server did not come up (its log tail is in the message)."""


def redis_binary() -> Optional[str]:
    """Path of ``redis-server`` on PATH (or $REDIS_SERVER), or None."""
    explicit = os.environ.get("REDIS_SERVER")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("redis-server")


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def require_redis() -> str:
    """Return the redis-server path, or end the current test.

    Under CI (env ``CI`` set) a missing ``redis-server`` binary or a missing ``redis`` package
    FAILS the test, because CI installs both and a silent skip would hide every Redis test.
    The one exception is ``HOTCACHE_WHEEL_TEST=1`` (cibuildwheel testing an installed wheel on
    machines without Redis): there, and whenever CI is not set, the test is skipped with the reason.
    """
    import pytest

    problem = None
    binary = redis_binary()
    if binary is None:
        problem = "redis-server not found on PATH (install Debian's redis-server, or set REDIS_SERVER)"
    else:
        try:
            import redis  # noqa: F401
        except ImportError:
            problem = "the redis package is not installed (pip install 'hotcache[redis]')"
    if problem is None:
        assert binary is not None
        return binary
    if _truthy("CI") and os.environ.get("HOTCACHE_WHEEL_TEST") != "1":
        pytest.fail("CI is set but Redis tests cannot run: " + problem, pytrace=False)
    pytest.skip(problem)
    raise AssertionError("unreachable")  # pragma: no cover


def free_port(host: str = HOST, avoid: Sequence[int] = ()) -> int:
    """A TCP port that was free on ``host`` a moment ago (the caller retries on a lost race)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def _ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a Redis server answers PING on host:port (raw RESP, no redis-py needed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when the parent dies, so a killed pytest leaves no orphans."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _reap_all() -> None:
    with _live_lock:
        procs = list(_live)
        _live.clear()
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except Exception:
            pass


atexit.register(_reap_all)


class RedisServer:
    """One ``redis-server`` on a free 127.0.0.1 port, persistence off, its own temp directory.

    ``start()`` (or ``with RedisServer() as srv``) returns once PING works. ``kill()`` sends
    SIGKILL, ``stop()`` terminates and removes the temp dir, ``restart()`` starts a new process on
    the same port, ``pause()``/``resume()`` send SIGSTOP/SIGCONT (a stalled server: connections
    are accepted by the kernel but nothing is answered). ``extra_args`` are appended to the
    command line (e.g. ``("--cluster-enabled", "yes")``).
    """

    def __init__(
        self,
        extra_args: Sequence[str] = (),
        *,
        port: Optional[int] = None,
        host: str = HOST,
        binary: Optional[str] = None,
        start_timeout: float = START_TIMEOUT,
        avoid_ports: Sequence[int] = (),
    ) -> None:
        self.host = host
        self.avoid_ports = list(avoid_ports)
        self.port: int = port or 0
        self._fixed_port = port is not None
        self.extra_args = list(extra_args)
        self.binary = binary or redis_binary()
        self.start_timeout = start_timeout
        self.proc: "Optional[subprocess.Popen[bytes]]" = None
        self.dir: Optional[str] = None
        self._paused = False
        self._clients: List[Any] = []

    # -- properties ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return "redis://%s:%d/0" % (self.host, self.port)

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def logfile(self) -> str:
        assert self.dir is not None
        return os.path.join(self.dir, "redis.log")

    def __repr__(self) -> str:
        return "<RedisServer %s pid=%s%s>" % (self.url, self.pid, " paused" if self._paused else "")

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "RedisServer":
        """Start the server (a free port unless one was given) and wait until PING works."""
        if self.running:
            return self
        if self.binary is None:
            raise RedisStartError("redis-server not found on PATH")
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="hotcache-redis-")
        last = ""
        # a port of our own choosing may be lost to a race: pick another; a fixed port (restart)
        # is retried briefly in case the previous process's socket is still being torn down
        for _ in range(3 if self._fixed_port else _START_ATTEMPTS):
            if not self._fixed_port:
                self.port = free_port(self.host, avoid=self.avoid_ports)
            ok, last = self._spawn()
            if ok:
                return self
            if not self._fixed_port and "in use" in last.lower():
                continue  # lost the race for the port: pick another
            if self._fixed_port and "in use" in last.lower():
                time.sleep(0.1)  # the old process's socket may still be closing
                continue
            break
        raise RedisStartError("redis-server did not start on %s:%d:\n%s" % (self.host, self.port, last))

    def _command(self) -> List[str]:
        assert self.binary is not None and self.dir is not None
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", self.dir,
            "--logfile", self.logfile,
            "--daemonize", "no",
            "--protected-mode", "no",
            *self.extra_args,
        ]  # fmt: skip

    def _spawn(self) -> Tuple[bool, str]:
        if os.path.exists(self.logfile):
            os.remove(self.logfile)
        main = threading.current_thread() is threading.main_thread()
        proc = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.dir,
            # PDEATHSIG fires when the forking *thread* exits, so only set it from the main thread
            preexec_fn=_set_pdeathsig if (main and sys.platform.startswith("linux")) else None,
        )
        with _live_lock:
            _live.add(proc)
        self.proc = proc
        self._paused = False
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _ping(self.host, self.port):
                return True, ""
            time.sleep(0.01)
        self._terminate(proc, hard=True)
        self.proc = None
        return False, self.log_tail()

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.logfile, "r", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    @staticmethod
    def _terminate(proc: "subprocess.Popen[bytes]", hard: bool) -> None:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
                if hard:
                    proc.kill()
                else:
                    proc.terminate()
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            except OSError:
                pass
        else:
            proc.wait()
        with _live_lock:
            _live.discard(proc)

    def kill(self) -> None:
        """SIGKILL the server (no shutdown, no goodbye to clients) and reap it."""
        if self.proc is not None:
            self._terminate(self.proc, hard=True)
        self._paused = False

    def restart(self) -> "RedisServer":
        """Kill the current process (if any) and start a new one on the same port (data is gone)."""
        self.kill()
        self._fixed_port = True
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the process stays alive but answers nothing until resume()."""
        if not self.running:
            raise RuntimeError("%r is not running" % (self,))
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after pause()."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
        self._paused = False

    def stop(self) -> None:
        """Terminate the server, close clients made by client(), remove the temp dir. Idempotent."""
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        self._clients.clear()
        if self.proc is not None:
            self._terminate(self.proc, hard=False)
            self.proc = None
        self._paused = False
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients ------------------------------------------------------------------------------
    def client(self, **kwargs: Any) -> Any:
        """A ``redis.Redis`` for this server (bytes responses; short timeouts; closed by stop())."""
        import redis

        opts: Dict[str, Any] = {"decode_responses": False, "socket_timeout": 5, "socket_connect_timeout": 5}
        opts.update(kwargs)
        c = redis.Redis(host=self.host, port=self.port, **opts)
        self._clients.append(c)
        return c

    def async_client(self, **kwargs: Any) -> Any:
        """A ``redis.asyncio.Redis`` for this server (the caller closes it with ``await c.aclose()``)."""
        import redis.asyncio

        opts: Dict[str, Any] = {"decode_responses": False, "socket_timeout": 5, "socket_connect_timeout": 5}
        opts.update(kwargs)
        return redis.asyncio.Redis(host=self.host, port=self.port, **opts)


class RedisCluster:
    """Three cluster-enabled masters on loopback, slots split evenly, no replicas.

    Built directly with CLUSTER SET-CONFIG-EPOCH / ADDSLOTSRANGE / MEET (no redis-cli needed);
    ``start()`` returns once every node reports ``cluster_state:ok`` and knows all 16384 slots.
    Each node gets its own free client port and cluster-bus port (``--cluster-port``).
    """

    SLOTS = 16384

    def __init__(self, masters: int = 3, *, node_timeout_ms: int = 5000, start_timeout: float = 30.0) -> None:
        if masters < 1:
            raise ValueError("masters must be >= 1")
        self.masters = masters
        self.node_timeout_ms = node_timeout_ms
        self.start_timeout = start_timeout
        self.nodes: List[RedisServer] = []
        self._clients: List[Any] = []

    @property
    def startup_nodes(self) -> List[Tuple[str, int]]:
        return [(n.host, n.port) for n in self.nodes]

    @property
    def pids(self) -> List[Optional[int]]:
        return [n.pid for n in self.nodes]

    def __repr__(self) -> str:
        return "<RedisCluster %s>" % (", ".join("%s:%d" % hp for hp in self.startup_nodes),)

    def start(self) -> "RedisCluster":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        used: List[int] = []
        for _ in range(self.masters):
            node = self._start_node(used)
            self.nodes.append(node)
            used += [node.port, self._bus_port(node)]
        self._create()

    def _node_args(self, bus: int) -> List[str]:
        return [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-port", str(bus),
            "--cluster-announce-ip", HOST,
        ]  # fmt: skip

    @staticmethod
    def _bus_port(node: RedisServer) -> int:
        return int(node.extra_args[node.extra_args.index("--cluster-port") + 1])

    def _start_node(self, used: List[int]) -> RedisServer:
        last: Optional[BaseException] = None
        for _ in range(_START_ATTEMPTS):
            bus = free_port(HOST, avoid=used)
            node = RedisServer(self._node_args(bus), avoid_ports=used + [bus])
            try:
                return node.start()
            except RedisStartError as exc:  # most likely the bus port was taken meanwhile
                node.stop()
                last = exc
        raise RedisStartError("could not start a cluster node: %s" % (last,))

    def _raw(self, node: RedisServer) -> Any:
        import redis

        c = redis.Redis(host=node.host, port=node.port, socket_timeout=5, socket_connect_timeout=5)
        self._clients.append(c)
        return c

    def _create(self) -> None:
        raws = [self._raw(n) for n in self.nodes]
        per = self.SLOTS // self.masters
        for i, r in enumerate(raws):
            lo = i * per
            hi = self.SLOTS - 1 if i == self.masters - 1 else (i + 1) * per - 1
            r.execute_command("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
            r.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        for n in self.nodes[1:]:
            raws[0].execute_command("CLUSTER", "MEET", n.host, n.port, self._bus_port(n))
        deadline = time.monotonic() + self.start_timeout
        while True:
            if all(self._node_ready(r) for r in raws):
                return
            if time.monotonic() > deadline:
                infos = [r.execute_command("CLUSTER", "INFO") for r in raws]
                raise RedisStartError("cluster did not converge: %r" % (infos,))
            time.sleep(0.05)

    def _node_ready(self, r: Any) -> bool:
        info = r.execute_command("CLUSTER", "INFO")
        if isinstance(info, bytes):
            info = info.decode()
        if isinstance(info, str):
            fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
        else:
            fields = {str(k): str(v) for k, v in dict(info).items()}
        return (
            fields.get("cluster_state") == "ok"
            and int(fields.get("cluster_known_nodes", 0)) == self.masters
            and int(fields.get("cluster_slots_assigned", 0)) == self.SLOTS
            and int(fields.get("cluster_size", 0)) == self.masters
        )

    def client(self, **kwargs: Any) -> Any:
        """A ``redis.cluster.RedisCluster`` for this cluster (bytes responses; closed by stop())."""
        from redis.cluster import ClusterNode
        from redis.cluster import RedisCluster as _Client

        opts: Dict[str, Any] = {"decode_responses": False, "socket_timeout": 5, "socket_connect_timeout": 5}
        opts.update(kwargs)
        c = _Client(startup_nodes=[ClusterNode(h, p) for h, p in self.startup_nodes], **opts)
        self._clients.append(c)
        return c

    def async_client(self, **kwargs: Any) -> Any:
        """A ``redis.asyncio.cluster.RedisCluster`` (the caller closes it with ``await c.aclose()``).

        ``await c.initialize()`` before issuing commands concurrently: with redis-py 8.1, concurrent
        first commands on a cold asyncio cluster client fail at random with
        ``AttributeError: 'NoneType' object has no attribute 'writelines'``."""
        from redis.asyncio.cluster import ClusterNode
        from redis.asyncio.cluster import RedisCluster as _Client

        opts: Dict[str, Any] = {"decode_responses": False, "socket_timeout": 5, "socket_connect_timeout": 5}
        opts.update(kwargs)
        return _Client(startup_nodes=[ClusterNode(h, p) for h, p in self.startup_nodes], **opts)

    def flushall(self) -> None:
        """FLUSHALL on every master."""
        for n in self.nodes:
            c = n.client()
            c.flushall()

    def stop(self) -> None:
        """Stop every node and close every client. Idempotent."""
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        self._clients.clear()
        for n in self.nodes:
            n.stop()
        self.nodes.clear()

    def __enter__(self) -> "RedisCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # manual smoke test: python tests/redis_server.py
    with RedisServer() as srv:
        print(srv, srv.client().ping())
    with RedisCluster() as cl:
        print(cl, cl.client().cluster_info() if hasattr(cl.client(), "cluster_info") else "ok")
