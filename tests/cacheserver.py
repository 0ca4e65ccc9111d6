"""A Redis server of the test's own, behind a TCP proxy the test can cut or hang: cache outages
made real (tests/test_cache_outage.py, the ``cache_server`` fixture in conftest.py).

* ``stop()`` kills the server (a crash: nothing is saved), ``start()`` brings it back empty;
* ``cut()`` closes every connection through the proxy and each new one at once (a partition
  that resets connections), ``hang()`` accepts connections and never answers (a hung server,
  or a partition that drops packets: only the client's socket timeout ends the wait);
  ``heal()`` lets traffic through again, to the values the server kept meanwhile.

Nothing here waits without a bound: a server that does not come up fails the test.
"""

from __future__ import annotations

import contextlib
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

REDIS_SERVER = shutil.which("redis-server") or ""
START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``redis-server`` on a free port, without persistence (a restart starts empty)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server (SIGKILL: a crash, not a shutdown)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=START_TIMEOUT)
            self.process = None


class Proxy:
    """A TCP proxy in a thread: forwards, refuses (``cut``) or swallows (``hang``) traffic.

    Only its thread touches the sockets; a mode change returns once the thread applied it.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = int(self.listener.getsockname()[1])
        self.mode = "up"
        self._wanted = "up"
        self._applied = threading.Event()
        self._closed = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._hung: list[socket.socket] = []  # accepted while hanging: open, never answered
        self._thread = threading.Thread(target=self._run, name="cache-proxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        self._switch("cut")

    def hang(self) -> None:
        self._switch("hang")

    def heal(self) -> None:
        self._switch("up")

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)

    def _switch(self, mode: str) -> None:
        self._applied.clear()
        self._wanted = mode
        if not self._applied.wait(timeout=5):
            raise RuntimeError("the cache proxy did not switch modes")

    def _run(self) -> None:
        try:
            while not self._closed.is_set():
                if self._wanted != self.mode or not self._applied.is_set():
                    self.mode = self._wanted
                    if self.mode != "hang":
                        self._drop(*self._hung)
                        self._hung = []
                    if self.mode == "cut":
                        self._drop(*[key.fileobj for key in self._connections()])  # type: ignore[misc]
                    self._applied.set()
                for key, _ in self._selector.select(timeout=0.02):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif self.mode == "up":
                        self._forward(key.fileobj, key.data)  # type: ignore[arg-type]
                if self.mode == "hang":
                    time.sleep(0.02)  # data waits unread: the client's timeout ends its wait
        finally:
            self._drop(*self._hung, *[key.fileobj for key in self._connections()])  # type: ignore[misc]
            self._selector.close()
            self.listener.close()

    def _connections(self) -> list[selectors.SelectorKey]:
        return [key for key in self._selector.get_map().values() if key.fileobj is not self.listener]

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except BlockingIOError:
            return
        if self.mode == "cut":
            client.close()
            return
        if self.mode == "hang":
            self._hung.append(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=1)
        except OSError:  # the server is down: the client sees its connection closed
            client.close()
            return
        self._selector.register(client, selectors.EVENT_READ, upstream)
        self._selector.register(upstream, selectors.EVENT_READ, client)

    def _forward(self, source: socket.socket, target: socket.socket) -> None:
        try:
            data = source.recv(65536)
            if data:
                target.sendall(data)
                return
        except OSError:
            pass
        self._drop(source, target)

    def _drop(self, *ends: socket.socket) -> None:
        for end in ends:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(end)
            with contextlib.suppress(OSError):
                end.close()


class CacheServer:
    """The server and its proxy; clients connect to ``url`` (through the proxy)."""

    def __init__(self) -> None:
        self.server = RedisServer()
        self.server.start()
        self.proxy = Proxy(self.server.port)
        self.url = f"redis://127.0.0.1:{self.proxy.port}/0"

    def stop(self) -> None:
        self.server.stop()  # the proxy closes the connections the server dropped

    def start(self) -> None:
        self.server.start()

    def cut(self) -> None:
        self.proxy.cut()

    def hang(self) -> None:
        self.proxy.hang()

    def heal(self) -> None:
        self.proxy.heal()

    def close(self) -> None:
        self.proxy.close()
        self.server.stop()


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail the test (``TimeoutError`` in the main thread) if it runs longer than ``seconds``."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the test ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
