"""Read-side querysets shared by every surface.

Each returns a queryset with the ``select_related`` its callers render, so no surface
runs a query per row. Tokens are only ever found by DOT's ``token_checksum``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from django.db.models import BooleanField, Case, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)
from oauth2_provider.settings import oauth2_settings

from .models import Session


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


def tokens_by_raw(raw_tokens: Iterable[str]) -> QuerySet[Any]:
    """Valid access tokens matching any of ``raw_tokens``, with user and app loaded."""
    checksums = {checksum(raw) for raw in raw_tokens}
    return valid_access_tokens().filter(token_checksum__in=checksums).select_related("user", "application")


def token_by_raw(raw_token: str) -> Any | None:
    """The access token (valid or expired) for a raw token, with user and app, or None."""
    return (
        access_tokens()
        .filter(token_checksum=checksum(raw_token))
        .select_related("user", "application", "application__token_admin_profile")
        .first()
    )


def app_user_tokens(application: Any) -> QuerySet[Any]:
    """An app's valid user tokens, newest first (``id`` orders them), user loaded."""
    return (
        valid_access_tokens()
        .filter(application=application, user__isnull=False)
        .select_related("user", "application", "application__token_admin_profile")
        .order_by("-pk")
    )


def app_user_ids(application: Any) -> QuerySet[Any]:
    """Ids of users who hold a valid token for the app, ascending."""
    return (
        valid_access_tokens()
        .filter(application=application, user__isnull=False)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )


def user_tokens(user: Any) -> QuerySet[Any]:
    return access_tokens().filter(user=user).select_related("application")


def user_pair_filter(pairs: Iterable[tuple[Any, Any]]) -> Q:
    """``Q`` matching rows of any of the (user_id, application_id) pairs; matches nothing if empty."""
    condition = Q(pk__in=[])
    for user_id, application_id in pairs:
        condition |= Q(user_id=user_id, application_id=application_id)
    return condition


def end_user_sessions(user: Any) -> QuerySet[Session]:
    """A user's sessions as the end-user API lists them, newest first, in one query.

    ``user`` is a user or its primary key. A refresh-token family's current access token
    is the one bound to its newest refresh token that still has one; a lone session's is
    found by checksum. Rows are annotated with that token's ``token_expires``,
    ``token_expired`` and ``token_scope``, and with ``refresh_usable``: the family holds a
    refresh token DOT would still accept. A session whose access token is expired or gone
    is left out unless its refresh token is usable. The session's device and the application's
    device (of a dynamically registered client) are loaded for the device name.
    """
    now = timezone.now()
    family_tokens = refresh_tokens().filter(token_family=OuterRef("token_family"), access_token__isnull=False)
    current = family_tokens.order_by("-pk")
    usable_refresh = family_tokens.filter(revoked__isnull=True)
    expire_delta = refresh_token_expire_timedelta()
    if expire_delta:
        # DOT refuses a refresh token this long after its access token expired.
        usable_refresh = usable_refresh.filter(access_token__expires__gt=now - expire_delta)
    lone_token = access_tokens().filter(token_checksum=OuterRef("access_token_checksum"))
    return (
        Session.objects.filter(user=user)
        .annotate(
            # A session is either a family or a lone token: one of each pair is NULL.
            token_expires=Coalesce(
                Subquery(current.values("access_token__expires")[:1]),
                Subquery(lone_token.values("expires")[:1]),
            ),
            token_scope=Coalesce(
                Subquery(current.values("access_token__scope")[:1]),
                Subquery(lone_token.values("scope")[:1]),
            ),
            refresh_usable=Exists(usable_refresh),
        )
        .filter(Q(refresh_usable=True) | Q(token_expires__gt=now))
        # Decided with the same ``now`` as the filter, so a lone token never shows as expired.
        .annotate(
            token_expired=Case(
                When(token_expires__gt=now, then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            )
        )
        .select_related("application", "device", "application__token_admin_device")
        .order_by("-created_at", "-pk")
    )
