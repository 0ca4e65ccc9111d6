"""Revoking every token of one app, against the raw SQL floor, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_revoke .venv/bin/python bench/revoke_app.py 10000

Seeds an app with N access tokens, each with a refresh token (and a second app of the same
size, left alone), then times ``revocation.revoke(Selection.applications(...))`` against a raw SQL ``UPDATE``
of the refresh tokens plus ``DELETE`` of the access tokens in one transaction, re-seeding
before each run, alternating which side goes first. Prints each run and the min/median/max
of the per-run ratio (default 5 runs), and says when their spread is over +/-10%. The
database named in ``DATABASE_URL`` must exist; its tables are created by ``migrate``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth2_provider.models import (  # noqa: E402
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)

from token_admin import revocation  # noqa: E402
from token_admin.revocation import Actor  # noqa: E402


def checksum() -> str:
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def seed(count: int) -> object:
    """Two apps with ``count`` token pairs each, spread over 1,000 users; returns the first app."""
    AccessToken, RefreshToken = get_access_token_model(), get_refresh_token_model()
    Application, User = get_application_model(), get_user_model()
    Application.objects.all().delete()
    User.objects.all().delete()
    users = User.objects.bulk_create([User(username=f"user{n}") for n in range(1000)])
    apps = Application.objects.bulk_create(
        [
            Application(
                name=name,
                client_id=name,
                client_secret="-",
                client_type="confidential",
                authorization_grant_type="authorization-code",
            )
            for name in ("target", "bystander")
        ]
    )
    expires = timezone.now() + timedelta(hours=1)
    for app in apps:
        access_tokens = AccessToken.objects.bulk_create(
            [
                AccessToken(
                    user=users[n % 1000],
                    application=app,
                    token="",
                    token_checksum=checksum(),
                    expires=expires,
                    scope="basic",
                )
                for n in range(count)
            ]
        )
        RefreshToken.objects.bulk_create(
            [
                RefreshToken(
                    user_id=token.user_id,
                    application=app,
                    access_token=token,
                    token="",
                    token_checksum=checksum(),
                    token_family=uuid.uuid4(),
                )
                for token in access_tokens
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return apps[0]


def ours(app: object) -> None:
    revocation.revoke(
        revocation.Selection.applications([app]),
        surface=revocation.Surface.COMMAND,
        actor=Actor.command("bench"),
    )


def floor(app: object) -> None:
    refresh_table = get_refresh_token_model()._meta.db_table
    access_table = get_access_token_model()._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(
            f"UPDATE {refresh_table} SET revoked = now(), access_token_id = NULL "
            "WHERE application_id = %s AND revoked IS NULL",
            [app.pk],
        )
        cursor.execute(f"DELETE FROM {access_table} WHERE application_id = %s", [app.pk])
        cursor.execute("COMMIT")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if connection.vendor != "postgresql":
        sys.exit("Point DATABASE_URL at PostgreSQL.")
    if runs < 1:
        sys.exit("Give at least one run (5 or more for a ratio worth reading).")
    call_command("migrate", verbosity=0)
    sides = {"token_admin": ours, "raw SQL": floor}
    timings: dict[str, list[float]] = {name: [] for name in sides}
    for run in range(runs):
        # Alternate which side goes first, so neither always runs on a warmer (or busier) machine.
        order = ["token_admin", "raw SQL"] if run % 2 == 0 else ["raw SQL", "token_admin"]
        for name in order:
            app = seed(count)
            start = time.perf_counter()
            sides[name](app)
            timings[name].append((time.perf_counter() - start) * 1000)
            print(f"run {run + 1} {name:>11}: {timings[name][-1]:7.0f} ms")
    ours_ms, floor_ms = (statistics.median(timings[name]) for name in sides)
    ratios = [o / f for o, f in zip(timings["token_admin"], timings["raw SQL"], strict=True)]
    median = statistics.median(ratios)
    spread = (max(ratios) - min(ratios)) / 2 / median
    print(
        f"{count:,} tokens of one app: token_admin {ours_ms:.0f} ms, raw SQL {floor_ms:.0f} ms (medians); "
        f"ratio per run min {min(ratios):.2f} median {median:.2f} max {max(ratios):.2f} over {runs} runs, "
        f"spread +/-{spread:.0%}" + (" (over +/-10%: not conclusive, add runs)" if spread > 0.10 else "")
    )


if __name__ == "__main__":
    main()
