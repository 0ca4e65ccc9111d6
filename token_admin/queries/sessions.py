"""Sessions as the lists show them: the tokens of a set of sessions, and a user's sessions as
the end-user API lists them (live ones only, ``live``'s definition)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

from token_admin import watermarks
from token_admin.models import Device, TokenSession
from token_admin.queries.live import access_is_live, live_sessions, refresh_is_live
from token_admin.queries.tokens import access_tokens


def session_token_conditions(sessions: QuerySet[TokenSession]) -> tuple[Q, Q]:
    """Conditions on access tokens (lone sessions' ones, by checksum) and on refresh tokens
    (sessions' families) of these sessions, as subqueries."""
    lone = sessions.filter(access_token_checksum__isnull=False).values("access_token_checksum")
    families = sessions.filter(token_family__isnull=False).values("token_family")
    return Q(token_checksum__in=lone), Q(token_family__in=families)


def session_keys(sessions: QuerySet[TokenSession]) -> tuple[frozenset[UUID], frozenset[str]]:
    """The refresh-token families and lone-token checksums of these sessions (one query): what
    a revocation of them names."""
    families: set[UUID] = set()
    lone: set[str] = set()
    for family, checksum in sessions.values_list("token_family", "access_token_checksum"):
        if family is not None:
            families.add(family)
        elif checksum:
            lone.add(checksum)
    return frozenset(families), frozenset(lone)


def session_of_token(access_token: Any) -> TokenSession | None:
    """The session of an access token: its refresh-token family's, or its own if it came alone."""
    family = (
        get_refresh_token_model()
        .objects.filter(access_token_id=access_token.pk, token_family__isnull=False)
        .values_list("token_family", flat=True)
        .first()
    )
    condition = Q(access_token_checksum=access_token.token_checksum)
    if family is not None:
        condition |= Q(token_family=family)
    return TokenSession.objects.select_related("device").filter(condition).first()


@dataclass(frozen=True)
class ListedSession:
    """A session as the end-user API lists it, with its current access token's state."""

    session: TokenSession
    token_expires: datetime | None
    token_scope: str
    token_expired: bool
    refresh_usable: bool


def end_user_sessions(user: Any, within: QuerySet[TokenSession] | None = None) -> list[ListedSession]:
    """A user's sessions as the end-user API lists them, newest first, in three queries.

    ``user`` is a user or its primary key; ``within``, if given, narrows the sessions listed
    (the end-user viewset's ``get_queryset``). A refresh-token family's current access token is
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
    # its newest one not revoked (whether DOT would accept it is decided below, by ``live``).
    current: dict[Any, tuple[Any, str, Any]] = {}
    unrevoked: dict[Any, tuple[Any, Any]] = {}  # family -> (access token expiry, issue time)
    family_rows = (
        get_refresh_token_model()
        .objects.filter(access_token__user_id=user_id, token_family__isnull=False)
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
        if revoked is None:
            unrevoked[family] = (expires, created)
    # Every access token of the user, by checksum: a lone session's token is among them.
    lone = {
        checksum: (expires, scope, issued)
        for checksum, expires, scope, issued in access_tokens()
        .filter(user_id=user_id)
        .values_list("token_checksum", "expires", "scope", "created")
    }
    sessions = (
        list(
            (TokenSession.objects.all() if within is None else within)
            .filter(
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
            refresh = unrevoked.get(session.token_family)
            refresh_usable = refresh is not None and refresh_is_live(None, *refresh, mark, now)
        else:
            token = lone.get(session.access_token_checksum)
            refresh_usable = False
        expires, scope, issued = token if token is not None else (None, "", None)
        # Decided with one ``now`` for the whole list, so a lone token never shows as expired.
        # A token issued before a watermark is as ended as an expired one.
        expired = not access_is_live(expires, issued, mark, now)
        if refresh_usable or not expired:
            listed.append(ListedSession(session, expires, scope, expired, refresh_usable))
    return listed


def sessions_with_state() -> QuerySet[TokenSession]:
    """Every session, annotated ``is_live`` (``live.live_sessions``: two index probes per row),
    with its user, app and device loaded, as the staff resource API lists them."""
    return TokenSession.objects.select_related("user", "application", "device").annotate(
        is_live=ExpressionWrapper(live_sessions(), output_field=BooleanField())
    )


def user_devices(user: Any) -> QuerySet[Device]:
    """A user's devices (``user`` an instance or a primary key), newest first, with the
    registered client loaded."""
    return (
        Device.objects.filter(user_id=getattr(user, "pk", user))
        .select_related("application")
        .order_by("-created_at", "-pk")
    )
