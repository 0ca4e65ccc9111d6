"""A gunicorn server on 127.0.0.1 and two bounded load generators: wrk, and a Python client.

Every server started here is stopped by the context manager, on error too. Every load loop
is bounded both in requests and in seconds.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only, never anything else


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


@contextlib.contextmanager
def gunicorn(
    workers: int,
    *,
    timeout: float = 60.0,
    settings: str = "bench.settings",
    probe: str = "/bench/floor/token",
) -> Iterator[Server]:
    """``gunicorn bench.wsgi`` with ``workers`` sync workers on 127.0.0.1, stopped on exit.

    Up once ``probe`` answers 401 (through Django, unauthenticated)."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": str(ROOT)}
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "bench.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--error-logfile",
        str(log),
        "--log-level",
        "warning",
        "--timeout",
        "120",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        server = Server(port, log)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                status, _ = request(port, "GET", probe)
                if status == 401:  # up, and answering through Django
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start in time")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.unlink(missing_ok=True)


def request(port: int, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- wrk -----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests_per_second: float
    requests: int
    errors: int  # non-2xx answers and socket errors
    latency_p50_ms: float | None


def have_wrk() -> bool:
    """wrk is on the PATH (and not turned off with ``BENCH_NO_WRK=1``)."""
    return shutil.which("wrk") is not None and os.environ.get("BENCH_NO_WRK") != "1"


def wrk(
    server: Server,
    path: str,
    bearer_tokens: Sequence[str],
    *,
    seconds: int,
    connections: int,
    threads: int = 1,
) -> WrkResult:
    """``wrk`` for ``seconds`` (bounded by wrk itself and a subprocess timeout), tokens in turn."""
    lua = "tokens = {" + ",".join(f'"{token}"' for token in bearer_tokens) + "}\n"
    lua += (
        "counter = 0\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        "  local token = tokens[(counter % #tokens) + 1]\n"
        f'  return wrk.format("GET", "{path}", {{["Authorization"] = "Bearer " .. token}})\n'
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        completed = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script.name,
                server.url(path),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    finally:
        os.unlink(script.name)
    return _parse_wrk(completed.stdout)


def _parse_wrk(output: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(value) for value in socket_errors.groups())
    p50 = re.search(r"50%\s+([0-9.]+)(us|ms|s)\b", output)
    latency = None
    if p50:
        latency = float(p50.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return WrkResult(rps, total, errors, latency)


def python_load(
    server: Server, path: str, bearer_tokens: Sequence[str], *, seconds: int, connections: int
) -> WrkResult:
    """The fallback when wrk is missing: ``connections`` threads, each one request at a time.

    Bounded by ``seconds`` and by 200,000 requests in all. Slower than wrk at generating load,
    but enough for a server that answers a few hundred requests a second on two cores.
    """
    import threading

    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    counts = {"done": 0, "errors": 0}
    latencies: list[float] = []

    def worker(offset: int) -> None:
        index = offset
        while time.monotonic() < deadline and counts["done"] < 200_000:
            token = bearer_tokens[index % len(bearer_tokens)]
            index += connections
            start = time.perf_counter()
            try:
                status, _ = request(server.port, "GET", path, {"Authorization": f"Bearer {token}"})
            except OSError:
                status = 0
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                counts["done"] += 1
                latencies.append(elapsed)
                if status != 200:
                    counts["errors"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(offset,), daemon=True) for offset in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    elapsed = time.monotonic() - started
    p50 = statistics.median(latencies) if latencies else None
    return WrkResult(counts["done"] / elapsed, counts["done"], counts["errors"], p50)


# --- a sequential Python client, for latency ------------------------------------------------


@dataclass
class Latencies:
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


@dataclass(frozen=True)
class Call:
    """One request to time: method, path, headers, and the status it must answer."""

    path: str
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    status: int = 200


def interleaved_latencies(
    server: Server, calls: dict[str, Sequence[Call]], *, rounds: int, max_seconds: float, warmup: int = 20
) -> dict[str, Latencies]:
    """Time each named sequence of calls in turn (A, B, A, B...), one request at a time.

    Interleaving puts both sides of a ratio under the same background load. Bounded by
    ``rounds`` and by ``max_seconds`` (whichever ends first; at least 10 rounds are kept).
    """
    results: dict[str, list[float]] = {name: [] for name in calls}
    deadline = time.monotonic() + max_seconds
    for index, round_number in enumerate(range(-warmup, rounds)):
        if round_number >= 10 and time.monotonic() > deadline:
            break
        for name, sequence in calls.items():
            call = sequence[index % len(sequence)]
            start = time.perf_counter()
            status, body = request(server.port, call.method, call.path, dict(call.headers))
            elapsed = (time.perf_counter() - start) * 1000
            if status != call.status:
                raise RuntimeError(f"{name}: {call.method} {call.path} answered {status}: {body[:300]!r}")
            if round_number >= 0:
                results[name].append(elapsed)
    return {name: Latencies(samples) for name, samples in results.items()}
