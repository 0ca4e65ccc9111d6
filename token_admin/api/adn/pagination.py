"""App.net keyset pagination: ``count``, ``before_id``, ``since_id``; ``more``, ``min_id``, ``max_id``.

The ``pagination_id`` is the row's primary key, which is unique, never changes and orders
the rows. A page is a range on it (``pk < before_id``, ``pk > since_id``) with a LIMIT,
never an OFFSET, so a deep page costs what the first one does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict

from token_admin.api.adn.errors import ADNError

DEFAULT_COUNT = 20
MAX_COUNT = 200
# The largest primary key a 64-bit integer column holds; beyond it databases raise errors.
MAX_ID = 2**63 - 1

COUNT_RE = re.compile(r"-?[0-9]{1,9}")
ID_RE = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class PageParams:
    count: int = DEFAULT_COUNT
    before_id: int | None = None
    since_id: int | None = None


@dataclass(frozen=True)
class Page:
    items: list[Any]
    more: bool

    def meta(self) -> dict[str, Any]:
        """``more``, and the ids of the last (``min_id``) and first (``max_id``) item, if any."""
        meta: dict[str, Any] = {"more": self.more}
        if self.items:
            meta["min_id"] = str(self.items[-1].pk)
            meta["max_id"] = str(self.items[0].pk)
        return meta


def parse_params(query: QueryDict) -> PageParams:
    """Read the pagination parameters; a bad one is a 400 naming it."""
    count = DEFAULT_COUNT
    raw_count = query.get("count")
    if raw_count is not None:
        if not COUNT_RE.fullmatch(raw_count) or not (0 < abs(int(raw_count)) <= MAX_COUNT):
            raise ADNError.bad_request(
                f"Invalid count: must be a non-zero integer from -{MAX_COUNT} to {MAX_COUNT}."
            )
        count = int(raw_count)
    return PageParams(count, _parse_id(query, "before_id"), _parse_id(query, "since_id"))


def _parse_id(query: QueryDict, name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not ID_RE.fullmatch(raw) or int(raw) > MAX_ID:
        raise ADNError.bad_request(f"Invalid {name}: must be a pagination_id from an earlier response.")
    return int(raw)


def paginate(queryset: QuerySet[Any], params: PageParams) -> Page:
    """One page of ``queryset``, newest (highest pk) first, in one query."""
    if params.before_id is not None:
        queryset = queryset.filter(pk__lt=params.before_id)
    if params.since_id is not None:
        queryset = queryset.filter(pk__gt=params.since_id)
    size = abs(params.count)
    if params.count > 0:
        rows = list(queryset.order_by("-pk")[: size + 1])
        return Page(rows[:size], more=len(rows) > size)
    # A negative count takes the oldest items of the range, still shown newest first.
    rows = list(queryset.order_by("pk")[: size + 1])
    return Page(rows[:size][::-1], more=len(rows) > size)
