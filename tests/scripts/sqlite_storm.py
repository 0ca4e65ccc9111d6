"""Run by ``tests/test_sqlite_concurrency.py`` in a process of its own, on the example project's
settings and a SQLite file (``DATABASE_URL``; migrated here unless it is already, as the test's
copy of its test database is): parallel revocations and refreshes.

Prints one JSON object: every response status, and what still works afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from tests.factories import ApplicationFactory, UserFactory, issue_session  # noqa: E402
from tests.helpers import basic_header  # noqa: E402
from token_admin.models import TokenSession  # noqa: E402

PAIRS = 8  # 8 refreshes and 8 revocations at once: 16 writers


def main() -> None:
    setup_test_environment()
    call_command("migrate", verbosity=0)
    app = ApplicationFactory(name="Stream")
    basic = basic_header(ApplicationFactory(name="Desk", api_client=True))
    sessions = []
    for _ in range(PAIRS):
        user = UserFactory()
        access, refresh = issue_session(user, app)
        sessions.append((user, access, refresh, TokenSession.objects.get(token_family=refresh.token_family)))

    def revoker(number: int):
        user, access, _, session = sessions[number]
        client = Client()
        kind = number % 3
        if kind == 0:
            return client.delete(
                f"/oauth/api/v1/users/{user.pk}/tokens/{session.public_id}", HTTP_AUTHORIZATION=basic
            )
        if kind == 1:
            return client.delete("/stream/0/token", HTTP_AUTHORIZATION=f"Bearer {access.raw_token}")
        return client.get(f"/2.2/access-tokens/{access.raw_token}/invalidate")

    def refresher(number: int):
        _, _, refresh, _ = sessions[number]
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh.raw_token,
            "client_id": app.client_id,
            "client_secret": app.raw_secret,
        }
        return Client().post("/o/token/", data)

    results: dict[str, object] = {}
    barrier = threading.Barrier(2 * PAIRS)

    def run(name: str, function, number: int) -> None:
        try:
            barrier.wait(30)
            response = function(number)
            results[name] = {"status": response.status_code, "body": response.content.decode()[:200]}
        except Exception as exc:  # reported, and failed on by the test
            results[name] = {"status": 0, "body": repr(exc)}
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"revoke-{n}", revoker, n)) for n in range(PAIRS)]
    threads += [threading.Thread(target=run, args=(f"refresh-{n}", refresher, n)) for n in range(PAIRS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # What still works: a live refresh token of a revoked session would be a failure.
    from oauth2_provider.models import get_refresh_token_model

    live_in_revoked = (
        get_refresh_token_model()
        .objects.filter(
            token_family__in=[session.token_family for _, _, _, session in sessions], revoked__isnull=True
        )
        .count()
    )
    print(json.dumps({"results": results, "live_refresh_tokens_in_revoked_sessions": live_in_revoked}))


if __name__ == "__main__":
    main()
