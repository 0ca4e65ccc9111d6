"""Seed one database of ``bench/scale.py`` with ``generate_series`` (no per-row Python).

A database of size N holds about N access tokens, each with a live refresh token in a family
of its own and a ``TokenSession``, plus N/5 ended sessions (revoked refresh tokens, no access
token), and the fixed cast the measures read, the same at every size:

* the *old app*: 200 users with 2 tokens each, the first tokens ever issued (lowest ids);
* the *stream app*: two thirds of the bulk tokens, newest first;
* the *end user*: 50 live sessions and a history of N/500 ended ones;
* the *revoked user*: 1,000 tokens in ten apps, snapshotted so each run revokes the same rows;
* 20 user tokens of one user (``GET /stream/0/token``, Stack Exchange reads), app tokens of
  the stream and old apps, N/100 devices, a superuser.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from oauth2_provider.models import get_application_model

from bench.seed import (
    AT,
    RT,
    SESSION,
    _application,
    _exec,
    _sql_checksum,
    _sql_raw,
    insert_family_sessions,
    insert_users,
    raw_token,
    scalar,
    seed_tokens,
)
from token_admin import queries
from token_admin.models import AppProfile

USERS = 20_000
OLD_APP_USERS = 200
END_USER_LIVE = 50
REVOKED_USER_TOKENS = 1_000
DEEP_DEPTH = 5_000
SNAPSHOT = "bench_scale_snapshot"
VERSION = 5  # bump when the data changes: --keep-db then re-seeds


@dataclass
class Cast:
    """What the measures need to find in one seeded database."""

    size: int
    tokens: int
    stream_app_token: str
    old_app_token: str
    user_tokens: list[str]
    end_user_id: int
    end_user_history: int
    revoked_user_id: int
    api_client_id: str
    api_client_secret: str
    admin_user_id: int
    deep_before_id: int
    depth: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def ended_sessions(*, kind: str, count: int, app_sql: str, user_sql: str) -> None:
    """``count`` ended sessions: a revoked refresh token (no access token left) and its TokenSession."""
    last_id = scalar(f"SELECT coalesce(max(id), 0) FROM {RT}")
    raw = _sql_raw(kind, "n")
    _exec(
        f"""
        INSERT INTO {RT} (token, token_checksum, access_token_id, application_id, user_id,
                          created, updated, revoked, token_family, resource)
        SELECT {raw}, {_sql_checksum(raw)}, NULL, {app_sql}, {user_sql},
               now() - interval '30 days', now() - interval '2 days', now() - interval '2 days',
               gen_random_uuid(), '[]'::jsonb
        FROM generate_series(1, %s) AS n
        """,
        (count,),
    )
    insert_family_sessions("rt.id > %s", (last_id,))


@contextmanager
def bulk_load(tables: tuple[str, ...] = (AT, RT, SESSION)) -> Iterator[None]:
    """Drop the tables' secondary indexes and constraints, load, then build them again.

    Building an index once over a million rows is several times faster than updating it a
    million times (random checksums and UUIDs touch every page), and so is one check of a
    foreign key over the whole table against one per row at commit.
    """
    saved: list[str] = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
                (table,),
            )
            for name, definition in cursor.fetchall():
                saved.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                (table, table),
            )
            for name, definition in cursor.fetchall():
                saved.insert(0, definition)  # indexes before the constraints that may use them
                cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for statement in saved:
            cursor.execute(statement)


def seed(size: int, depth: int = DEEP_DEPTH) -> Cast:
    """Fill an empty, migrated database with about ``size`` access tokens."""
    started = time.monotonic()
    user_model = get_user_model()
    application_model = get_application_model()
    with transaction.atomic(), bulk_load():
        insert_users(USERS)
        first_user = user_model.objects.order_by("pk").values_list("pk", flat=True)[0]
        admin = user_model.objects.create_superuser("bench-admin", "admin@example.com", None)

        old_app, _ = _application("Old app")
        stream_app, _ = _application("Stream app")
        AppProfile.objects.create(application=old_app, link="https://old.example.com/", allow_app_token=True)
        AppProfile.objects.create(
            application=stream_app, link="https://stream.example.com/", allow_app_token=True
        )
        noise = []
        for index in range(9):
            application, _ = _application(f"Other app {index}")
            AppProfile.objects.create(application=application, link=f"https://other{index}.example.com/")
            noise.append(application.pk)
        api_client, api_secret = _application(
            "End-user API client", hashed=True, grant=application_model.GRANT_CLIENT_CREDENTIALS
        )
        AppProfile.objects.create(application=api_client, end_user_api=True)
        apps_sql = f"(ARRAY{[stream_app.pk, *noise]}::bigint[])[1 + n %% 10]"

        # The old app's tokens come first: every later token has a higher id.
        seed_tokens(
            kind="old",
            first=0,
            count=OLD_APP_USERS * 2,
            app_sql=str(old_app.pk),
            user_sql=f"{first_user} + n %% {OLD_APP_USERS}",
        )
        fixed = OLD_APP_USERS * 2 + END_USER_LIVE + REVOKED_USER_TOKENS + 20 + 2
        bulk = max(size - fixed, 1_000)
        seed_tokens(
            kind="at",
            first=0,
            count=bulk,
            app_sql=(
                f"CASE WHEN n %% 3 < 2 THEN {stream_app.pk} "
                f"ELSE (ARRAY{noise}::bigint[])[1 + (n / 3) %% {len(noise)}] END"
            ),
            user_sql=f"{first_user} + (n::bigint * 7919) %% {USERS}",
            expired_every=41,
        )
        ended_sessions(
            kind="end", count=size // 5, app_sql=apps_sql, user_sql=f"{first_user} + (n * 31) %% {USERS}"
        )
        end_user = user_model.objects.create_user("end-user")
        seed_tokens(kind="eu", first=0, count=END_USER_LIVE, app_sql=apps_sql, user_sql=str(end_user.pk))
        history = max(size // 500, 10)
        ended_sessions(kind="euh", count=history, app_sql=apps_sql, user_sql=str(end_user.pk))
        token_user = user_model.objects.create_user("token-user")
        seed_tokens(kind="me", first=0, count=20, app_sql=str(stream_app.pk), user_sql=str(token_user.pk))
        for kind, application in (("sap", stream_app), ("oap", old_app)):
            seed_tokens(
                kind=kind, first=0, count=1, app_sql=str(application.pk), user_sql="NULL", with_refresh=False
            )
        revoked_user = user_model.objects.create_user("revoked-user")
        seed_tokens(
            kind="rv", first=0, count=REVOKED_USER_TOKENS, app_sql=apps_sql, user_sql=str(revoked_user.pk)
        )
        for table in (AT, RT):
            _exec(f"DROP TABLE IF EXISTS {SNAPSHOT}_{table}")
            _exec(
                f"CREATE UNLOGGED TABLE {SNAPSHOT}_{table} AS SELECT * FROM {table} WHERE user_id = %s",
                (revoked_user.pk,),
            )
        _exec(
            """
            INSERT INTO token_admin_device (public_id, user_id, name, application_id, type, created_at)
            SELECT gen_random_uuid(), %s + n %% %s, 'Phone ' || n, NULL, 'DEFAULT', now()
            FROM generate_series(1, %s) AS n
            """,
            (first_user, USERS, max(size // 100, 10)),
        )
    with connection.cursor() as cursor:
        # Statistics and the visibility map, as a database that has been running a while has them.
        cursor.execute(f"VACUUM ANALYZE {AT}, {RT}, {SESSION}, auth_user, token_admin_device")
    visible = queries.app_user_tokens(stream_app)
    deep_before_id = visible.values_list("pk", flat=True)[depth - 1]
    return Cast(
        size=size,
        tokens=scalar(f"SELECT count(*) FROM {AT}"),
        stream_app_token=raw_token("sap", 0),
        old_app_token=raw_token("oap", 0),
        user_tokens=[raw_token("me", n) for n in range(20)],
        end_user_id=end_user.pk,
        end_user_history=history,
        revoked_user_id=revoked_user.pk,
        api_client_id=api_client.client_id,
        api_client_secret=api_secret,
        admin_user_id=admin.pk,
        deep_before_id=deep_before_id,
        depth=depth,
        seconds=time.monotonic() - started,
    )


def restore_revoked_user(user_id: int) -> None:
    """Put the revoked user's 1,000 tokens back as snapshotted (same ids), before each revocation."""
    with transaction.atomic():
        _exec(f"DELETE FROM {RT} WHERE user_id = %s", (user_id,))
        _exec(f"DELETE FROM {AT} WHERE user_id = %s", (user_id,))
        _exec("DELETE FROM oauth2_provider_grant WHERE user_id = %s", (user_id,))
        for table in (AT, RT):
            _exec(f"INSERT INTO {table} SELECT * FROM {SNAPSHOT}_{table}")


__all__ = ["Cast", "seed", "restore_revoked_user", "VERSION"]
