"""Tokens as every surface may see them: the one "not a registration token" condition, lookups
by raw value (through DOT's ``token_checksum``, never the value) and the refresh-token family a
token belongs to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from token_admin import watermarks


def registration() -> Q:
    """DOT's dynamic-client-registration tokens (scope ``DCR_REGISTRATION_SCOPE``): they manage
    a client, never act for a user, and are never listed as sessions (devices revoke them)."""
    return Q(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)


def not_registration() -> Q:
    """The one "not a registration token" condition, on access tokens (see ``registration``)."""
    return ~registration()


def is_registration(access_token: Any) -> bool:
    """``registration()`` for a token already loaded: no query."""
    return bool(access_token.scope == oauth2_settings.DCR_REGISTRATION_SCOPE)


def access_tokens() -> QuerySet[Any]:
    """Every access token any surface may see: DOT's registration tokens left out."""
    return get_access_token_model().objects.filter(not_registration())


def checksum(raw_token: str) -> str:
    """DOT's ``token_checksum`` of a raw token: the sha256 hex digest."""
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def valid_access_tokens(now: datetime | None = None) -> QuerySet[Any]:
    """Access tokens that still work: not expired (revoked ones are deleted by DOT)."""
    return access_tokens().filter(expires__gt=now or timezone.now())


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
    """Valid access tokens matching any of ``raw_tokens``, with user, app and the watermarks
    over each (``is_refused`` needs no query); with ``family``, their refresh-token family too
    (for a revocation, see ``with_family``)."""
    checksums = {checksum(raw) for raw in raw_tokens}
    tokens = valid_access_tokens().filter(token_checksum__in=checksums).select_related("user", "application")
    tokens = watermarks.with_watermarks(tokens)
    return with_family(tokens) if family else tokens


def token_by_raw(raw_token: str, *, family: bool = False) -> Any | None:
    """The access token (valid or expired) for a raw token, with user, app and the watermarks
    over it, or None; with ``family``, its refresh-token family too (see ``with_family``)."""
    tokens = (
        access_tokens()
        .filter(token_checksum=checksum(raw_token))
        .select_related("user", "application", "application__token_admin_profile")
    )
    tokens = watermarks.with_watermarks(tokens)
    return (with_family(tokens) if family else tokens).first()


def bearer_token(raw_token: str) -> Any | None:
    """The access token a bearer check loads: DOT's own query (by checksum, with user and
    app), plus the watermarks over it in the same statement."""
    tokens = (
        get_access_token_model()
        .objects.select_related("application", "user")
        .filter(token_checksum=checksum(raw_token))
    )
    return watermarks.with_watermarks(tokens).first()


def user_is_inactive(token: Any) -> bool:
    """Whether the token's user is deactivated (``is_active`` False), from the user loaded
    with the token: no query. An app token has no user; a user model without ``is_active``
    counts as active, as Django's ``AbstractBaseUser`` does."""
    user = token.user
    return user is not None and not getattr(user, "is_active", True)


def is_refused(token: Any) -> bool:
    """Whether a token DOT would accept is refused all the same: issued before a not-before
    watermark over it, or its user is inactive, however that happened (a queryset
    ``update()`` sends no signal). Read from the token's own row and statement (see
    ``watermarks.with_watermarks``): what every surface that authenticates a token asks."""
    return user_is_inactive(token) or watermarks.token_is_before(token)
