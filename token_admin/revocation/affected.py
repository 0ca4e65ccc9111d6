"""Whose tokens a revocation takes, read for its audit event before they go."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from token_admin import ids, queries

# Most users and apps an audit event lists by name (the totals count all of them).
AFFECTED_MAX = 20
# Rows per statement where ids are named. Well above any single API or admin request.
ID_CHUNK_SIZE = 20_000


def whose_tokens(rt_condition: Q, owned: Q | None, named_ids: list[int]) -> dict[str, Any]:
    """Whose tokens are about to go, for the audit event: users and apps, by id and label."""
    return summarise(whose_tokens_per_pair(rt_condition, owned, named_ids))


def whose_tokens_per_pair(
    rt_condition: Q, owned: Q | None, named_ids: list[int], *, name_bound: bool = False
) -> dict[tuple[Any, Any], dict[str, Any]]:
    """Per (user id, app id): labels, and the live refresh tokens, access tokens and sessions
    of the selection (``owned`` may be any condition on access tokens beyond ``named_ids``).

    With ``name_bound``, the access tokens bound to the live refresh tokens count as named
    too: the refresh tokens are then grouped by their access token as well (one row each,
    for a selection of named tokens and families, whose refresh tokens are as few), so the
    access tokens are read by their ids, never by a subquery.

    Two GROUP BY reads (live refresh tokens, then access tokens) per (user, app), joined to
    the user and app for their labels: a fixed number of statements whatever the number of
    tokens (one more per ``ID_CHUNK_SIZE`` named access tokens beyond the first, as the
    delete). A session is a live refresh token, or an access token that no refresh token
    was ever bound to and none minted. Ids and labels only, never a token value.
    """
    username = f"user__{get_user_model().USERNAME_FIELD}"
    labels = ("user_id", username, "application_id", "application__name")
    per_pair: dict[tuple[Any, Any], dict[str, Any]] = {}

    def pair(row: dict[str, Any]) -> dict[str, Any]:
        key = (row["user_id"], row["application_id"])
        return per_pair.setdefault(
            key,
            {
                "user": row[username],
                "app": row["application__name"],
                "access": 0,
                "refresh": 0,
                "sessions": 0,
            },
        )

    grouped = (*labels, "access_token_id") if name_bound else labels
    refresh_rows = (
        get_refresh_token_model()
        .objects.filter(rt_condition, revoked__isnull=True)
        .order_by()
        .values(*grouped)
        .annotate(count=Count("pk"))
    )
    bound: set[int] = set()
    for row in refresh_rows:
        entry = pair(row)
        entry["refresh"] += row["count"]
        entry["sessions"] += row["count"]
        if name_bound and row["access_token_id"] is not None:
            bound.add(row["access_token_id"])
    if bound:
        named_ids = sorted(bound.union(named_ids))

    access_token_model = get_access_token_model()
    refresh_token_model = get_refresh_token_model()
    # Through the refresh token's one-to-one link (a LEFT JOIN, one probe of its unique index
    # per row): PostgreSQL answered the NOT EXISTS with a hashed subplan that read the whole
    # index of refresh tokens' access token ids.
    bound_by = refresh_token_model._meta.get_field("access_token").related_query_name()
    never_bound = Q(**{f"{bound_by}__isnull": True}) & Q(source_refresh_token__isnull=True)
    conditions: list[Q] = []
    for index, chunk in enumerate(chunks(named_ids)):
        named = Q(pk__in=chunk)
        if owned is not None:
            # The owned rows go with the first chunk; later chunks leave them out, so no
            # token is counted twice.
            named = named | owned if index == 0 else named & ~owned
        conditions.append(named)
    if not conditions and owned is not None:
        conditions.append(owned)
    for condition in conditions:
        access_rows = (
            access_token_model.objects.filter(condition)
            .filter(queries.not_registration())
            .order_by()
            .values(*labels)
            .annotate(count=Count("pk"), lone=Count("pk", filter=never_bound))
        )
        for row in access_rows:
            entry = pair(row)
            entry["access"] += row["count"]
            entry["sessions"] += row["lone"]
    return per_pair


def summarise(per_pair: dict[tuple[Any, Any], dict[str, Any]]) -> dict[str, Any]:
    """``selection["affected"]`` of an event: users and apps, capped at ``AFFECTED_MAX``
    entries, most sessions first; the totals count them all."""
    users: dict[Any, dict[str, Any]] = {}
    apps: dict[Any, dict[str, Any]] = {}
    for (user_id, app_id), entry in per_pair.items():
        if user_id is not None:
            user = users.setdefault(
                user_id, {"id": ids.to_json(user_id), "username": entry["user"], "sessions": 0}
            )
            user["sessions"] += entry["sessions"]
        if app_id is not None:
            app = apps.setdefault(
                app_id,
                {
                    "id": ids.to_json(app_id),
                    "name": entry["app"],
                    "access_tokens": 0,
                    "refresh_tokens": 0,
                    "sessions": 0,
                },
            )
            app["access_tokens"] += entry["access"]
            app["refresh_tokens"] += entry["refresh"]
            app["sessions"] += entry["sessions"]

    def most_first(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(entries, key=lambda entry: (-entry["sessions"], str(entry["id"])))[:AFFECTED_MAX]

    return {
        "sessions": sum(entry["sessions"] for entry in per_pair.values()),
        "users": most_first(users.values()),
        "users_total": len(users),
        "apps": most_first(apps.values()),
        "apps_total": len(apps),
    }


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK_SIZE):
        yield list(ids[start : start + ID_CHUNK_SIZE])
