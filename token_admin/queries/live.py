"""The one definition of a live session, and of "this user has authorized this app".

A session is live while DOT would still honour one of its tokens:

* an **access token** that has not expired, or
* a **refresh token** that is not revoked, is still bound to an access token and is not past
  ``REFRESH_TOKEN_EXPIRE_SECONDS`` (DOT counts that from its access token's expiry: a refresh
  token lives until ``access_token.expires + REFRESH_TOKEN_EXPIRE_SECONDS``),

and that token was not issued before a not-before watermark over it (global, its user's, its
app's; ``token_admin.watermarks``) while watermarks are enforced. DOT's registration tokens are
never sessions.

The same definition in two forms: SQL conditions (``live_refresh_tokens``, ``live_access_tokens``,
``live_sessions``, ``authorizing_tokens``) for lists filtered in the database, and
``refresh_is_live``/``access_is_live`` for rows a list has read already, with the watermarks of
its page from the cache (``watermarks.applicable_for``). Every surface asks here: the admin's
"signed in" flag and filter, the end-user list, App.net's ``user_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.lookups import IsNull
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)

from token_admin import watermarks
from token_admin.conf import conf
from token_admin.models import NotBefore, TokenSession
from token_admin.queries.tokens import access_tokens, not_registration


def has_row(correlated: QuerySet[Any]) -> Q:
    """Whether a correlated subquery (``OuterRef``) finds a row, as a scalar subquery probed per
    outer row. Not ``Exists``: inside an ``OR``, PostgreSQL may turn an ``EXISTS`` into a hashed
    subplan, built by reading the whole token table; a scalar subquery is never hashed, so each
    probe stays one lookup in the index its correlation names."""
    return Q(IsNull(Subquery(correlated.values("pk")[:1]), False))


def refresh_usable_after(now: datetime) -> datetime | None:
    """A refresh token whose access token expired at or before this time is dead (None: refresh
    tokens never age out, ``REFRESH_TOKEN_EXPIRE_SECONDS`` unset)."""
    expire_delta = refresh_token_expire_timedelta()
    return now - expire_delta if expire_delta else None


def not_before_ok() -> Q:
    """On token rows (access or refresh): not issued before a watermark over it. NotBefore
    holds one row per target, found by its user and application indexes."""
    if not conf.NOT_BEFORE_ENABLED:
        return Q()
    Scope = NotBefore.Scope
    marks = NotBefore.objects.filter(
        Q(scope=Scope.GLOBAL)
        | Q(scope=Scope.USER, user_id=OuterRef("user_id"))
        | Q(scope=Scope.APP, application_id=OuterRef("application_id")),
        not_before__gt=OuterRef("created"),
    )
    return ~Q(Exists(marks))


def live_refresh_tokens(now: datetime | None = None) -> Q:
    """On refresh tokens: the ones DOT would accept at a refresh (see the module docstring)."""
    now = now or timezone.now()
    condition = Q(revoked__isnull=True, access_token__isnull=False) & not_before_ok()
    usable_after = refresh_usable_after(now)
    if usable_after is not None:
        condition &= Q(access_token__expires__gt=usable_after)
    return condition


def live_access_tokens(now: datetime | None = None) -> Q:
    """On access tokens: unexpired, not a registration token, not issued before a watermark."""
    return Q(expires__gt=now or timezone.now()) & not_registration() & not_before_ok()


def live_sessions(now: datetime | None = None) -> Q:
    """On ``TokenSession``: its family holds a live refresh token, or its lone token is live
    (one index probe each: the family index of refresh tokens, the checksum of access tokens)."""
    now = now or timezone.now()
    family = get_refresh_token_model().objects.filter(
        live_refresh_tokens(now), token_family=OuterRef("token_family")
    )
    lone = get_access_token_model().objects.filter(
        live_access_tokens(now), token_checksum=OuterRef("access_token_checksum")
    )
    return has_row(family) | has_row(lone)


def refresh_is_live(
    revoked: datetime | None,
    access_expires: datetime | None,
    created: datetime,
    mark: datetime | None,
    now: datetime,
) -> bool:
    """``live_refresh_tokens`` for a row read already (``access_expires`` None: no access token)."""
    if revoked is not None or access_expires is None:
        return False
    usable_after = refresh_usable_after(now)
    return (usable_after is None or access_expires > usable_after) and not watermarks.issued_before(
        created, mark
    )


def access_is_live(
    expires: datetime | None, created: datetime | None, mark: datetime | None, now: datetime
) -> bool:
    """``live_access_tokens`` for a row read already (not a registration token)."""
    return expires is not None and expires > now and not watermarks.issued_before(created, mark)


def live_session_flags(sessions: Iterable[TokenSession]) -> dict[Any, bool]:
    """Whether each session lives, by primary key, for a page of sessions read already: two
    queries (its families' refresh tokens, its lone tokens) and one cache round trip."""
    sessions = list(sessions)
    now = timezone.now()
    families = [session.token_family for session in sessions if session.token_family is not None]
    checksums = [session.access_token_checksum for session in sessions if session.access_token_checksum]
    marks = watermarks.applicable_for((session.user_id, session.application_id) for session in sessions)
    live_families: set[Any] = set()
    if families:
        rows = (
            get_refresh_token_model()
            .objects.filter(token_family__in=families, revoked__isnull=True, access_token__isnull=False)
            .values_list("token_family", "user_id", "application_id", "access_token__expires", "created")
        )
        for family, user_id, app_id, expires, created in rows:
            if refresh_is_live(None, expires, created, marks.get((user_id, app_id)), now):
                live_families.add(family)
    live_lone: set[str] = set()
    if checksums:
        rows = (
            access_tokens()
            .filter(token_checksum__in=checksums)
            .values_list("token_checksum", "user_id", "application_id", "expires", "created")
        )
        for token_checksum, user_id, app_id, expires, created in rows:
            if access_is_live(expires, created, marks.get((user_id, app_id)), now):
                live_lone.add(token_checksum)
    return {
        session.pk: session.token_family in live_families or session.access_token_checksum in live_lone
        for session in sessions
    }


def app_user_tokens(application: Any) -> QuerySet[Any]:
    """An app's valid user tokens (``live_access_tokens``: unexpired, not issued before a
    watermark), newest first (``id`` orders them), user loaded."""
    return (
        access_tokens()
        .filter(live_access_tokens(), application=application, user__isnull=False)
        .select_related("user", "application", "application__token_admin_profile")
        .order_by("-pk")
    )


def authorizing_tokens(application: Any = None, *, now: datetime | None = None) -> QuerySet[Any]:
    """Access tokens of users (of ``application``, if given) that show a live session: live
    themselves, or bound to a live refresh token. A user has authorized an app while one exists."""
    now = now or timezone.now()
    # The token's own expiry is checked on the outer row: no join back to it in the probe.
    bound_live_refresh = get_refresh_token_model().objects.filter(
        not_before_ok(), access_token_id=OuterRef("pk"), revoked__isnull=True
    )
    tokens = access_tokens().filter(user__isnull=False)
    if application is not None:
        tokens = tokens.filter(application=application)
    usable_after = refresh_usable_after(now)
    if usable_after is not None:
        # A bound refresh token lives until its access token's expiry plus the lifetime.
        tokens = tokens.filter(expires__gt=usable_after)
    return tokens.filter(live_access_tokens(now) | has_row(bound_live_refresh))


def has_authorized(user: Any, application: Any) -> bool:
    """Whether ``user`` has authorized ``application``: a live session of theirs on it (one query)."""
    return authorizing_tokens(application).filter(user=user).exists()


def app_user_ids(application: Any) -> list[Any]:
    """Ids of users who have authorized the app (``authorizing_tokens``), ascending.

    Costs what the app's users cost, not what its tokens cost: on PostgreSQL a loose index
    scan over ``(application_id, user_id)`` (migration 0003) reads the first authorizing token
    of each user in user order, then jumps to the next user id. Elsewhere a ``DISTINCT`` that
    the same index serves.
    """
    tokens = authorizing_tokens(application)
    connection = connections[tokens.db]
    if connection.vendor != "postgresql":
        return list(tokens.order_by("user_id").values_list("user_id", flat=True).distinct())
    user_field = tokens.model._meta.get_field("user").target_field
    # Each step: the smallest authorizing user id above the last one, one short index probe.
    after_last = RawSQL("users.id", (), output_field=user_field)
    first_sql, first_params = tokens.order_by("user_id").values("user_id")[:1].query.sql_with_params()
    next_sql, next_params = (
        tokens.filter(user_id__gt=after_last)
        .order_by("user_id")
        .values("user_id")[:1]
        .query.sql_with_params()
    )
    sql = f"""
        WITH RECURSIVE users(id) AS (
            SELECT ({first_sql})
            UNION ALL
            SELECT ({next_sql}) FROM users WHERE users.id IS NOT NULL
        )
        SELECT id FROM users WHERE id IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, (*first_params, *next_params))
        return [row[0] for row in cursor.fetchall()]
