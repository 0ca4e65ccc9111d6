"""The ``access_token`` type and the common wrapper, in the key order the real API sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from token_admin import ids


def access_token_item(raw_token: str, token: Any) -> dict[str, Any]:
    """The ``access_token`` type for a DOT access token, ``raw_token`` being what the caller passed.

    ``account_id`` is left out for app tokens (no user), and ``scope`` when the token has none:
    the real API leaves out what it has no value for rather than sending null. It is the user's
    primary key as ``token_admin.ids.to_json`` writes it: a number for an integer key (as the
    real API), a string for any other (a UUID): a user token always has one, an app token never.
    """
    item: dict[str, Any] = {"access_token": raw_token}
    if token.user_id is not None:
        item["account_id"] = ids.to_json(token.user_id)
    item["expires_on_date"] = int(token.expires.timestamp())
    scopes = token.scope.split()
    if scopes:
        item["scope"] = scopes
    return item


def wrapper(
    items: Sequence[dict[str, Any]],
    *,
    page: int,
    pagesize: int,
    filter_name: str,
    quota_remaining: int,
    quota_max: int,
    backoff: int | None = None,
) -> dict[str, Any]:
    """The common wrapper over all ``items``, cut to the requested page and shaped by the filter."""
    start = (page - 1) * pagesize
    body: dict[str, Any] = {}
    if backoff is not None:
        body["backoff"] = backoff
    if filter_name == "total":
        body["total"] = len(items)
    body["items"] = [] if filter_name == "none" else list(items[start : start + pagesize])
    body["quota_remaining"] = quota_remaining
    body["quota_max"] = quota_max
    body["has_more"] = len(items) > start + pagesize
    return body
