"""Read-side querysets shared by every surface.

Each returns a queryset with the ``select_related`` its callers render, so no surface
runs a query per row. Tokens are only ever found by DOT's ``token_checksum``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import BooleanField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)
from oauth2_provider.settings import oauth2_settings

from . import watermarks
from .models import Device, TokenSession


def access_tokens() -> QuerySet[Any]:
    """Every access token any surface may see: DOT's registration tokens left out."""
    return get_access_token_model().objects.exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)


def refresh_tokens() -> QuerySet[Any]:
    return get_refresh_token_model().objects.all()


def grants() -> QuerySet[Any]:
    return get_grant_model().objects.all()


def applications() -> QuerySet[Any]:
    return get_application_model().objects.all()


def checksum(raw_token: str) -> str:
    """DOT's ``token_checksum`` of a raw token: the sha256 hex digest."""
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def valid_access_tokens() -> QuerySet[Any]:
    """Access tokens that still work: not expired (revoked ones are deleted by DOT)."""
    return access_tokens().filter(expires__gt=timezone.now())


def with_family(tokens: QuerySet[Any]) -> QuerySet[Any]:
    """Access tokens annotated with their refresh-token family, read in the same statement.

    ``bound_family``: the family of the refresh token bound to the token (the first token of
    a family has only this link); ``source_family``: the family of the refresh token it was
    minted from. A refresh that commits later unlinks the first and deletes the token, so a
    revocation of a token loaded this way still finds its session
    (``revocation.Selection.tokens``).
    """
    bound = (
        get_refresh_token_model().objects.filter(access_token_id=OuterRef("pk")).values("token_family")[:1]
    )
    return tokens.annotate(
        bound_family=Subquery(bound), source_family=F("source_refresh_token__token_family")
    )


def tokens_by_raw(raw_tokens: Iterable[str], *, family: bool = False) -> QuerySet[Any]:
    """Valid access tokens matching any of ``raw_tokens``, with user and app loaded; with
    ``family``, their refresh-token family too (for a revocation, see ``with_family``)."""
    checksums = {checksum(raw) for raw in raw_tokens}
    tokens = valid_access_tokens().filter(token_checksum__in=checksums).select_related("user", "application")
    return with_family(tokens) if family else tokens


def token_by_raw(raw_token: str, *, family: bool = False) -> Any | None:
    """The access token (valid or expired) for a raw token, with user and app, or None; with
    ``family``, its refresh-token family too (for a revocation, see ``with_family``)."""
    tokens = (
        access_tokens()
        .filter(token_checksum=checksum(raw_token))
        .select_related("user", "application", "application__token_admin_profile")
    )
    return (with_family(tokens) if family else tokens).first()


def app_user_tokens(application: Any) -> QuerySet[Any]:
    """An app's valid user tokens, newest first (``id`` orders them), user loaded."""
    return (
        valid_access_tokens()
        .filter(application=application, user__isnull=False)
        .select_related("user", "application", "application__token_admin_profile")
        .order_by("-pk")
    )


def app_user_ids(application: Any) -> list[Any]:
    """Ids of users who hold a valid token for the app, ascending.

    Costs what the app's users cost, not what its tokens cost: on PostgreSQL a loose index
    scan over ``(application_id, user_id)`` (migration 0002) reads one valid token per user,
    then jumps to the next user id. Elsewhere a ``DISTINCT`` that the same index serves.
    """
    valid = valid_access_tokens().filter(application=application, user__isnull=False)
    connection = connections[valid.db]
    if connection.vendor != "postgresql":
        return list(valid.order_by("user_id").values_list("user_id", flat=True).distinct())
    model = valid.model
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    app_column = quote(model._meta.get_field("application").column)
    user_column = quote(model._meta.get_field("user").column)
    expires_column = quote(model._meta.get_field("expires").column)
    scope_column = quote(model._meta.get_field("scope").column)
    # Each step finds the smallest valid user id above the last one: one short index probe.
    valid_sql = (
        f"{app_column} = %s AND {expires_column} > %s AND {scope_column} <> %s"
        if oauth2_settings.DCR_REGISTRATION_SCOPE is not None
        else f"{app_column} = %s AND {expires_column} > %s"
    )
    params: list[Any] = [application.pk, timezone.now()]
    if oauth2_settings.DCR_REGISTRATION_SCOPE is not None:
        params.append(oauth2_settings.DCR_REGISTRATION_SCOPE)
    sql = f"""
        WITH RECURSIVE users(id) AS (
            SELECT (SELECT min({user_column}) FROM {table} WHERE {user_column} IS NOT NULL AND {valid_sql})
            UNION ALL
            SELECT (SELECT min({user_column}) FROM {table} WHERE {user_column} > users.id AND {valid_sql})
            FROM users WHERE users.id IS NOT NULL
        )
        SELECT id FROM users WHERE id IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params + params)
        return [row[0] for row in cursor.fetchall()]


def user_tokens(user: Any) -> QuerySet[Any]:
    return access_tokens().filter(user=user).select_related("application")


def user_pair_filter(pairs: Iterable[tuple[Any, Any]]) -> Q:
    """``Q`` matching rows of any of the (user_id, application_id) pairs; matches nothing if empty."""
    condition = Q(pk__in=[])
    for user_id, application_id in pairs:
        condition |= Q(user_id=user_id, application_id=application_id)
    return condition


@dataclass(frozen=True)
class ListedSession:
    """A session as the end-user API lists it, with its current access token's state."""

    session: TokenSession
    token_expires: datetime | None
    token_scope: str
    token_expired: bool
    refresh_usable: bool


def end_user_sessions(user: Any) -> list[ListedSession]:
    """A user's sessions as the end-user API lists them, newest first, in three queries.

    ``user`` is a user or its primary key. A refresh-token family's current access token is
    the one bound to its newest refresh token that still has one; a lone session's is found
    by checksum. ``refresh_usable`` says the family holds a refresh token DOT would still accept
    (not revoked, not too old, not issued before a not-before watermark). A session
    whose access token is expired, gone or issued before a watermark is left out unless its
    refresh token is usable.
    The session's device and the application's device (of a dynamically registered client)
    are loaded for the device name.

    Bounded by the user's tokens that still exist, never by the user's history: a session
    can only be listed through an access token (DOT deletes revoked ones; cleartokens the
    expired ones without a refresh token), so the tokens are read first, by the index on
    the access token's user, and only the sessions they belong to are loaded. Ended
    sessions (thousands, for a user who signs in every day) are never read.
    """
    now = timezone.now()
    user_id = getattr(user, "pk", user)
    # Per family: the newest refresh token still bound to an access token of the user, and
    # whether any of them DOT would accept (live, and not too long after its access token expired).
    expire_delta = refresh_token_expire_timedelta()
    usable_after = now - expire_delta if expire_delta else None
    current: dict[Any, tuple[Any, str, Any]] = {}
    usable: dict[Any, Any] = {}  # family -> issue time of its newest refresh token DOT would accept
    family_rows = (
        refresh_tokens()
        .filter(access_token__user_id=user_id, token_family__isnull=False)
        .order_by("pk")
        .values_list(
            "token_family",
            "revoked",
            "created",
            "access_token__expires",
            "access_token__scope",
            "access_token__created",
        )
    )
    for family, revoked, created, expires, scope, issued in family_rows:
        current[family] = (expires, scope, issued)  # ordered by pk: the newest wins
        if revoked is None and (usable_after is None or expires > usable_after):
            usable[family] = created
    # Every access token of the user, by checksum: a lone session's token is among them.
    lone = {
        checksum: (expires, scope, issued)
        for checksum, expires, scope, issued in access_tokens()
        .filter(user_id=user_id)
        .values_list("token_checksum", "expires", "scope", "created")
    }
    sessions = (
        list(
            TokenSession.objects.filter(
                Q(token_family__in=list(current)) | Q(access_token_checksum__in=list(lone)), user_id=user_id
            )
            .select_related("application", "device", "application__token_admin_device")
            .order_by("-created_at", "-pk")
        )
        if current or lone
        else []
    )
    # Not-before watermarks over the listed apps: one cache round trip (no query when warm).
    marks = watermarks.applicable_for({(user_id, session.application_id) for session in sessions})

    listed = []
    for session in sessions:
        mark = marks[user_id, session.application_id]
        if session.token_family is not None:
            token = current.get(session.token_family)
            refresh_created = usable.get(session.token_family)
            refresh_usable = refresh_created is not None and not watermarks.issued_before(
                refresh_created, mark
            )
        else:
            token = lone.get(session.access_token_checksum)
            refresh_usable = False
        expires, scope, issued = token if token is not None else (None, "", None)
        # Decided with one ``now`` for the whole list, so a lone token never shows as expired.
        # A token issued before a watermark is as ended as an expired one.
        expired = expires is None or expires <= now or watermarks.issued_before(issued, mark)
        if refresh_usable or not expired:
            listed.append(ListedSession(session, expires, scope, expired, refresh_usable))
    return listed


# --- the staff and "me" resource APIs ------------------------------------------------------


def live_session_condition() -> Q:
    """SQL twin of the rule ``end_user_sessions`` applies row by row: a session is live while
    its family holds a refresh token DOT would accept (not revoked, bound to an access token
    that expired less than ``REFRESH_TOKEN_EXPIRE_SECONDS`` ago) or its lone access token has
    not expired. Not-before watermarks live in the cache, not in SQL: a session they ended
    still counts as live here.

    Each side is a scalar ``(SELECT id ... LIMIT 1) IS NOT NULL``, one index probe per row
    (``token_family``, ``token_checksum``), so it can annotate or filter a page of any table.
    Not ``EXISTS``: PostgreSQL turns an ``EXISTS`` in a select list or under ``OR`` into a
    hashed subplan, which reads the whole token table for every page.
    """
    now = timezone.now()
    expire_delta = refresh_token_expire_timedelta()
    usable = refresh_tokens().filter(
        token_family=OuterRef("token_family"), revoked__isnull=True, access_token__isnull=False
    )
    if expire_delta:
        usable = usable.filter(access_token__expires__gt=now - expire_delta)
    lone = get_access_token_model().objects.filter(
        token_checksum=OuterRef("access_token_checksum"), expires__gt=now
    )
    usable_id = Subquery(usable.order_by().values("pk")[:1])
    lone_id = Subquery(lone.order_by().values("pk")[:1])
    return Q(IsNull(usable_id, False)) | Q(IsNull(lone_id, False))


def sessions_with_state() -> QuerySet[TokenSession]:
    """Every session, annotated ``is_live`` (``live_session_condition``), with its user,
    app and device loaded, as the staff API lists them."""
    return TokenSession.objects.select_related("user", "application", "device").annotate(
        is_live=ExpressionWrapper(live_session_condition(), output_field=BooleanField())
    )


def user_devices(user: Any) -> QuerySet[Any]:
    """A user's devices (``user`` an instance or a primary key), newest first, with the
    registered client loaded."""
    return (
        Device.objects.filter(user_id=getattr(user, "pk", user))
        .select_related("application")
        .order_by("-created_at", "-pk")
    )
