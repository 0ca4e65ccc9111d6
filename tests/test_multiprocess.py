"""Two real gunicorn server processes sharing PostgreSQL and Redis, as in production.

What one process does, the other sees on its very next request: a token revoked through
server A is refused by server B, and the Stack Exchange quota and the App.net rate limit
are one budget across both. The servers run ``tests/server_settings.py`` against the test
database pytest-django created; the data is committed (``transactional_db``) so the
servers' own connections see it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"),
        reason="needs PostgreSQL and REDIS_URL: servers share the database and the cache",
    ),
]

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
START_TIMEOUT = 30  # seconds for a server to answer its first request
STOP_TIMEOUT = 10
REQUEST_TIMEOUT = 10
ADN_RATE_LIMIT = 4
SE_QUOTA = 5


def free_port() -> int:
    """A loopback port nobody listens on now (chosen at run time, not fixed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port: int, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    """One HTTP request to a server: (status, headers, JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, response.headers, json.loads(body) if body else None
    finally:
        conn.close()


class Server:
    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port = port
        self.log = log
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--timeout",
                "30",
                "example_project.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, deadline: float) -> None:
        """Bounded poll until the server answers (any status) or its process has died."""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited {self.process.returncode}:\n{self.log.read_text()}")
            try:
                call(self.port, "GET", "/stream/0/token")
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"gunicorn on {self.port} not ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn's graceful shutdown
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[Server, Server]]:
    """Two gunicorn processes on free loopback ports; always stopped, even if one fails to start."""
    with django_db_blocker.unblock():
        database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        "TOKEN_ADMIN_SERVER_DB": database,
        # A prefix of this run's own: quota windows last a day and must not carry over.
        "TOKEN_ADMIN_SERVER_CACHE_PREFIX": f"token_admin_multiprocess_{uuid.uuid4().hex}",
        "TOKEN_ADMIN_SERVER_ADN_RATE_LIMIT": str(ADN_RATE_LIMIT),
        "TOKEN_ADMIN_SERVER_SE_QUOTA": str(SE_QUOTA),
        "PYTHONPATH": str(ROOT),
    }
    logs = tmp_path_factory.mktemp("gunicorn")
    started: list[Server] = []
    try:
        for name in ("a", "b"):
            started.append(Server(free_port(), env, logs / f"{name}.log"))
        deadline = time.monotonic() + START_TIMEOUT
        for server in started:
            server.wait_ready(deadline)
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def bearer(raw_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw_token}"}


def test_a_token_revoked_through_one_server_is_refused_by_the_other_at_once(servers, transactional_db):
    a, b = servers
    user, app = UserFactory(), ApplicationFactory()
    access, _ = issue_session(user, app)
    # Both servers accept it first (and so have had every chance to remember it).
    for server in (a, b):
        status, _, body = call(server.port, "GET", "/stream/0/token", bearer(access.raw_token))
        assert (status, body["data"]["user"]["id"]) == (200, str(user.pk))

    status, _, body = call(a.port, "DELETE", "/stream/0/token", bearer(access.raw_token))
    assert (status, body["meta"]) == (200, {"code": 200})

    status, headers, body = call(b.port, "GET", "/stream/0/token", bearer(access.raw_token))
    assert status == 401
    assert body["meta"]["error_slug"] == "invalid-token"
    assert "data" not in body


def test_a_de_authentication_through_one_server_is_seen_by_the_other(servers, transactional_db):
    a, b = servers
    user, app = UserFactory(), ApplicationFactory()
    first, _ = issue_session(user, app)
    second = AccessTokenFactory(user=user, application=app)
    key = uuid.uuid4().hex  # a quota of this test's own

    status, _, body = call(a.port, "GET", f"/2.2/apps/{first.raw_token}/de-authenticate?key={key}")
    assert (status, [item["account_id"] for item in body["items"]]) == (200, [user.pk])

    status, _, body = call(
        b.port, "GET", f"/2.2/access-tokens/{first.raw_token};{second.raw_token}?key={key}"
    )
    assert (status, body["items"]) == (200, [])
    status, _, body = call(b.port, "GET", "/stream/0/token", bearer(second.raw_token))
    assert status == 401


def test_the_stack_exchange_quota_is_one_budget_across_servers(servers, transactional_db):
    a, b = servers
    token = AccessTokenFactory()
    key = uuid.uuid4().hex
    remaining = []
    for index in range(SE_QUOTA):
        server = (a, b)[index % 2]
        status, _, body = call(server.port, "GET", f"/2.2/access-tokens/{token.raw_token}?key={key}")
        assert status == 200, body
        remaining.append(body["quota_remaining"])
    assert remaining == list(range(SE_QUOTA - 1, -1, -1))

    # Whichever server comes next, the budget is spent.
    for server in (a, b):
        status, _, body = call(server.port, "GET", f"/2.2/access-tokens/{token.raw_token}?key={key}")
        assert status == 400
        assert body["error_id"] == 502
        assert body["error_name"] == "throttle_violation"


def test_the_app_net_rate_limit_is_one_budget_across_servers(servers, transactional_db):
    a, b = servers
    token = AccessTokenFactory()
    remaining = []
    for index in range(ADN_RATE_LIMIT):
        server = (a, b)[index % 2]
        status, headers, _ = call(server.port, "GET", "/stream/0/token", bearer(token.raw_token))
        assert status == 200
        remaining.append(int(headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(ADN_RATE_LIMIT - 1, -1, -1))

    for server in (a, b):
        status, headers, body = call(server.port, "GET", "/stream/0/token", bearer(token.raw_token))
        assert status == 429
        assert body == {"meta": {"code": 429, "error_message": "Too many requests"}}
        assert int(headers["Retry-After"]) >= 1
