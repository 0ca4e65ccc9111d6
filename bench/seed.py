"""Seed the benchmark database fast, with SQL ``generate_series`` (no per-row Python).

Raw tokens are deterministic (``raw_token(kind, n)``) so the load generators can rebuild
them without reading the database; ``token_checksum`` is computed by PostgreSQL's
``sha256()``, the same hex digest DOT's ``TokenChecksumField`` stores. Every refresh-token
family gets its ``token_admin.models.Session`` row, as ``token_admin.receivers`` writes it
when DOT saves a first refresh token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from oauth2_provider.models import get_application_model

from token_admin.models import AppProfile

AT = "oauth2_provider_accesstoken"
RT = "oauth2_provider_refreshtoken"
SESSION = "token_admin_tokensession"


def raw_token(kind: str, n: int) -> str:
    """The raw token number ``n`` of a kind (``at``, ``rt``, ``app``, ``b900``...): 34 characters."""
    return kind[:2] + hashlib.md5(f"{kind}{n}".encode()).hexdigest()


def _sql_raw(kind: str, expr: str) -> str:
    """SQL for ``raw_token(kind, <expr>)``."""
    return f"'{kind[:2]}' || md5('{kind}' || ({expr})::text)"


def _sql_checksum(raw_sql: str) -> str:
    return f"encode(sha256(convert_to({raw_sql}, 'UTF8')), 'hex')"


@dataclass
class Seeded:
    scale: float
    users: int
    user_ids: list[int]
    stream_app: Any
    stream_app_token: str
    noise_apps: list[Any]
    tokens_total: int  # access tokens seeded by seed_base (user tokens of every app)
    stream_tokens: int  # of those, the stream app's
    api_client: Any
    api_client_secret: str
    admin_user: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def stream_number(self, k: int) -> int:
        """Global number of the stream app's k-th token (k from 0): the numbers with n % 3 < 2."""
        return 3 * (k // 2) + k % 2

    def stream_token(self, k: int) -> str:
        """Raw token of the stream app's k-th token (from the oldest)."""
        return raw_token("at", self.stream_number(k))

    def stream_token_valid(self, k: int) -> bool:
        return self.stream_number(k) % 41 != 0


def _exec(sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def scalar(sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The one value a query returns."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def insert_users(count: int) -> None:
    """Users ``user1`` .. ``user<count>`` without a usable password, joined a minute apart."""
    _exec(
        """
        INSERT INTO auth_user (password, last_login, is_superuser, username, first_name,
                               last_name, email, is_staff, is_active, date_joined)
        SELECT '!', NULL, false, 'user' || n, 'Ada', 'Lovelace' || n, 'user' || n || '@example.com',
               false, true, now() - n * interval '1 minute'
        FROM generate_series(1, %s) AS n
        """,
        (count,),
    )


def insert_family_sessions(where: str, params: tuple[Any, ...]) -> None:
    """A TokenSession for each refresh-token family (row ``rt``) that ``where`` selects, as
    token_admin's receivers would have made it when the tokens were saved."""
    _exec(
        f"""
        INSERT INTO {SESSION} (public_id, token_family, access_token_checksum, created_at,
                               application_id, device_id, user_id)
        SELECT gen_random_uuid(), rt.token_family, NULL, rt.created, rt.application_id, NULL, rt.user_id
        FROM {RT} rt
        WHERE {where}
        ORDER BY rt.id
        """,
        params,
    )


def _application(name: str, hashed: bool = False, **kwargs: Any) -> tuple[Any, str]:
    """A confidential app; only a secret that a measure checks is hashed (a slow PBKDF2)."""
    application_model = get_application_model()
    secret = secrets.token_urlsafe(32)
    application = application_model.objects.create(
        name=name,
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=kwargs.pop("grant", application_model.GRANT_AUTHORIZATION_CODE),
        redirect_uris="https://app.example.com/callback",
        client_secret=secret,
        hash_client_secret=hashed,
        **kwargs,
    )
    return application, secret


def seed_tokens(
    *,
    kind: str,
    first: int,
    count: int,
    app_sql: str,
    user_sql: str,
    expired_every: int = 0,
    with_refresh: bool = True,
    with_sessions: bool = True,
) -> int:
    """Insert ``count`` access tokens numbered ``first..first+count-1`` (``n`` in the SQL).

    ``app_sql``/``user_sql`` are SQL expressions of ``n``. With ``with_refresh`` each access
    token gets a live refresh token in a family of its own, and each family a TokenSession.
    Returns the number of access tokens inserted.
    """
    expires = "now() + interval '10 hours'"
    if expired_every:
        expires = f"CASE WHEN n %% {expired_every} = 0 THEN now() - interval '1 hour' ELSE {expires} END"
    raw = _sql_raw(kind, "n")
    last_id = scalar(f"SELECT coalesce(max(id), 0) FROM {AT}")
    inserted = _exec(
        f"""
        INSERT INTO {AT} (token, token_checksum, expires, scope, application_id, user_id,
                          created, updated, resource)
        SELECT {raw}, {_sql_checksum(raw)}, {expires}, 'basic stream', {app_sql}, {user_sql},
               now() - (({first + count} - n) * interval '1 second'), now(), '[]'::jsonb
        FROM generate_series(%s, %s) AS n
        ORDER BY n
        """,
        (first, first + count - 1),
    )
    if with_refresh:
        # The rows just inserted are those above the previous largest id (one writer).
        rt_raw = f"'rt' || md5('rt{kind}' || at.id::text)"
        _exec(
            f"""
            INSERT INTO {RT} (token, token_checksum, access_token_id, application_id, user_id,
                              created, updated, revoked, token_family, resource)
            SELECT {rt_raw}, {_sql_checksum(rt_raw)}, at.id, at.application_id, at.user_id,
                   at.created, at.created, NULL, gen_random_uuid(), '[]'::jsonb
            FROM {AT} at
            WHERE at.id > %s AND at.user_id IS NOT NULL
            ORDER BY at.id
            """,
            (last_id,),
        )
        if with_sessions:
            insert_family_sessions("rt.access_token_id > %s", (last_id,))
    elif with_sessions:
        # Lone access tokens: a session each, keyed by the token's checksum.
        _exec(
            f"""
            INSERT INTO {SESSION} (public_id, token_family, access_token_checksum, created_at,
                                   application_id, device_id, user_id)
            SELECT gen_random_uuid(), NULL, at.token_checksum, at.created, at.application_id,
                   NULL, at.user_id
            FROM {AT} at
            WHERE at.id > %s
            """,
            (last_id,),
        )
    return inserted


def seed_base(scale: float) -> Seeded:
    """Users, apps and the standing token population every measure reads."""
    users = max(200, int(20_000 * scale))
    # The stream app holds two thirds of the tokens (the deep page is 100,000 tokens down);
    # nine other apps share the rest, their ids interleaved with the stream app's.
    stream_tokens = max(2_000, int(110_000 * scale))
    tokens_total = stream_tokens * 3 // 2
    user_model = get_user_model()
    with transaction.atomic():
        insert_users(users)
        user_ids = list(user_model.objects.order_by("pk").values_list("pk", flat=True))
        # No password: the admin measures log in with force_login (no slow hash at seed time).
        admin_user = user_model.objects.create_superuser("bench-admin", "admin@example.com", None)

        stream_app, _ = _application("Stream app")
        AppProfile.objects.create(
            application=stream_app, link="https://stream.example.com/", allow_app_token=True
        )
        noise_apps = []
        for index in range(9):
            application, _ = _application(f"Other app {index}")
            AppProfile.objects.create(application=application, link=f"https://other{index}.example.com/")
            noise_apps.append(application)
        api_client, api_client_secret = _application(
            "End-user API client", hashed=True, grant=get_application_model().GRANT_CLIENT_CREDENTIALS
        )
        AppProfile.objects.create(application=api_client, end_user_api=True)

        first_user = user_ids[0]
        noise_ids = [application.pk for application in noise_apps]
        # n % 3 in (0, 1): the stream app; n % 3 = 2: the nine other apps in turn. Ids of the
        # apps interleave, as they do when many apps issue tokens at once. One token in 41 of
        # every app has expired.
        app_sql = (
            f"CASE WHEN n %% 3 < 2 THEN {stream_app.pk} "
            f"ELSE (ARRAY{noise_ids}::bigint[])[1 + (n / 3) %% {len(noise_ids)}] END"
        )
        user_sql = f"{first_user} + (n::bigint * 7919) %% {users}"
        seed_tokens(
            kind="at",
            first=0,
            count=tokens_total,
            app_sql=app_sql,
            user_sql=user_sql,
            expired_every=41,
        )
        # The stream app's app token (user = NULL), no refresh token: a session of its own.
        seed_tokens(
            kind="app",
            first=0,
            count=1,
            app_sql=str(stream_app.pk),
            user_sql="NULL",
            with_refresh=False,
        )
    analyze()
    return Seeded(
        scale=scale,
        users=users,
        user_ids=user_ids,
        stream_app=stream_app,
        stream_app_token=raw_token("app", 0),
        noise_apps=noise_apps,
        tokens_total=tokens_total,
        stream_tokens=stream_tokens,
        api_client=api_client,
        api_client_secret=api_client_secret,
        admin_user=admin_user,
    )


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AT}; ANALYZE {RT}; ANALYZE {SESSION}; ANALYZE auth_user")


def seed_app_tokens(seeded: Seeded, *, kind: str, name: str, count: int, sessions: bool = True) -> Any:
    """An app of its own with ``count`` user tokens, refresh tokens (and sessions), snapshotted.

    The snapshot lets ``restore`` put back exactly the same tokens (same ids) before each run
    of a destructive measure. Sessions are not snapshotted: revoking never touches them.
    """
    application, _ = _application(name)
    AppProfile.objects.create(application=application)
    users = len(seeded.user_ids)
    with transaction.atomic():
        seed_tokens(
            kind=kind,
            first=0,
            count=count,
            app_sql=str(application.pk),
            user_sql=f"{seeded.user_ids[0]} + (n::bigint * 104729) %% {users}",
            with_sessions=sessions,
        )
    for table in (AT, RT):
        snapshot = f"bench_snapshot_{kind}_{table}"
        _exec(f"DROP TABLE IF EXISTS {snapshot}")
        _exec(
            f"CREATE UNLOGGED TABLE {snapshot} AS SELECT * FROM {table} WHERE application_id = %s",
            (application.pk,),
        )
    analyze()
    return application


def restore(application_id: int, kind: str) -> None:
    """Put the app's tokens back as they were snapshotted, then VACUUM ANALYZE the tables."""
    with transaction.atomic():
        _exec(f"DELETE FROM {RT} WHERE application_id = %s", (application_id,))
        _exec(f"DELETE FROM {AT} WHERE application_id = %s", (application_id,))
        _exec("DELETE FROM oauth2_provider_grant WHERE application_id = %s", (application_id,))
        for table in (AT, RT):
            _exec(f"INSERT INTO {table} SELECT * FROM bench_snapshot_{kind}_{table}")
    # Same physical state before every run: dead rows of the last run reclaimed, statistics fresh.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {AT}, {RT}")
