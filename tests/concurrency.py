"""Real concurrent transactions for the race tests (PostgreSQL and MariaDB).

Threads each get their own database connection (Django's connections are per thread) and
close it when done, so every revoke and every refresh is its own transaction racing the
others, as in a multi-process deployment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client, RequestFactory
from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.views.generic import ProtectedResourceView

from tests.helpers import bearer, url
from token_admin.oauth2_validators import TokenAdminOAuth2Validator

# Upper bound for any one thread; a deadlock the database failed to break shows as a timeout.
THREAD_TIMEOUT = 30


class Background:
    """One function in its own thread (and database connection), with its result or exception."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self.result: Any = None
        self._function = function
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._function()
        except BaseException as exc:  # recorded and raised by join()
            self.result = exc
        finally:
            connection.close()

    def join(self) -> Any:
        self._thread.join(THREAD_TIMEOUT)
        assert not self._thread.is_alive(), "the thread is still running (deadlock?)"
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def run_together(*functions: Callable[[], Any], timeout: float = THREAD_TIMEOUT) -> list[Any]:
    """Run each function in its own thread, released at once; return results or raised exceptions."""
    barrier = threading.Barrier(len(functions))
    results: list[Any] = [None] * len(functions)

    def worker(index: int, function: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = function()
        except BaseException as exc:  # recorded and asserted on by the caller
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, f), daemon=True) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a thread is still running (deadlock?)"
    return results


def lock_waiters() -> int:
    """How many transactions of this database wait for a row lock now."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        else:
            # InnoDB's transaction table comes from a cache (see below): it may still show a
            # wait of the previous test, whose connection is closed by now. The process list
            # is read live: only waits of connections of this database that are still open.
            cursor.execute(
                "SELECT count(*) FROM information_schema.innodb_trx AS trx"
                " JOIN information_schema.processlist AS process ON process.id = trx.trx_mysql_thread_id"
                " WHERE trx.trx_state = 'LOCK WAIT' AND process.db = DATABASE()"
            )
        return int(cursor.fetchone()[0])


def wait_until_blocked_on_a_lock() -> None:
    """Bounded poll until some transaction waits for a row lock (the one under test)."""
    deadline = time.monotonic() + THREAD_TIMEOUT
    # InnoDB serves its transaction table from a cache refreshed at most every 0.1 s, and
    # polled faster than that it was never seen to refresh.
    pause = 0.01 if connection.vendor == "postgresql" else 0.15
    while time.monotonic() < deadline:
        if lock_waiters():
            return
        time.sleep(pause)
    raise AssertionError("nothing ever waited for a lock")


def refresh_request(application: Any, raw_refresh_token: str) -> Any:
    """A refresh through DOT's real token endpoint."""
    return Client().post(
        url("/o/token/"),
        {
            "grant_type": "refresh_token",
            "refresh_token": raw_refresh_token,
            "client_id": application.client_id,
            "client_secret": application.raw_secret,
        },
    )


class _Protected(ProtectedResourceView):
    """A plain DOT-protected view: what any resource server built on DOT checks."""

    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        from django.http import HttpResponse

        return HttpResponse("ok")


def dot_accepts(raw_access_token: str) -> bool:
    """Whether a plain DOT ``ProtectedResourceView`` lets this access token in."""
    request = RequestFactory().get("/protected", **bearer(raw_access_token))
    return _Protected.as_view()(request).status_code == 200


def can_mint(application: Any, raw_refresh_token: str) -> bool:
    """Whether DOT's token endpoint mints a new pair from this refresh token."""
    return refresh_request(application, raw_refresh_token).status_code == 200


class PausedRefresh:
    """DOT's refresh of one refresh token, paused inside its transaction after it minted.

    The refresh holds the old refresh token's row lock (and has written the new pair, not
    yet committed) until ``finish()``: whatever starts revoking meanwhile waits on it.
    """

    def __init__(self, monkeypatch: Any, application: Any, raw_refresh_token: str) -> None:
        self._minted, self._resume = threading.Event(), threading.Event()
        original = TokenAdminOAuth2Validator._save_bearer_token
        minted, resume = self._minted, self._resume

        def save_then_pause(validator: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(validator, *args, **kwargs)  # inside DOT's transaction: written, locked
            minted.set()
            resume.wait(THREAD_TIMEOUT)
            return result

        monkeypatch.setattr(TokenAdminOAuth2Validator, "_save_bearer_token", save_then_pause)
        self._thread = Background(lambda: refresh_request(application, raw_refresh_token))
        assert self._minted.wait(THREAD_TIMEOUT), "the refresh never reached its save"
        # Later refreshes in the same test run unpaused.
        monkeypatch.setattr(TokenAdminOAuth2Validator, "_save_bearer_token", original)

    def finish(self) -> dict[str, Any]:
        """Let the refresh commit; the new pair it answered with, or {} when a revocation
        took the pair between DOT's commit and its answer (``invalid_grant``, never a 500)."""
        self._resume.set()
        response = self._thread.join()
        if response.status_code == 400:
            assert response.json() == {
                "error": "invalid_grant",
                "error_description": "The grant was revoked.",
            }
            return {}
        assert response.status_code == 200, response.content
        return dict(response.json())


class PausedRevocation:
    """A revoking call in its own thread, paused after its first locking read of refresh tokens.

    The read is ``revocation.writes._lock_live_refresh_tokens``' first: the revocation holds
    what it locked (``rows_locked`` rows) and reads nothing more until ``resume()``.
    """

    def __init__(self, function: Callable[[], Any]) -> None:
        self.read, self._resume = threading.Event(), threading.Event()
        self.rows_locked: int | None = None
        table = get_refresh_token_model()._meta.db_table

        def pause_after_first_locking_read(
            execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
        ) -> Any:
            result = execute(sql, params, many, context)
            if not self.read.is_set() and table in sql and "FOR UPDATE" in sql:
                self.rows_locked = context["cursor"].rowcount
                self.read.set()
                self._resume.wait(THREAD_TIMEOUT)
            return result

        def run() -> Any:
            with connection.execute_wrapper(pause_after_first_locking_read):
                return function()

        self._thread = Background(run)

    def resume(self) -> None:
        self._resume.set()

    def join(self) -> Any:
        self.resume()
        return self._thread.join()
