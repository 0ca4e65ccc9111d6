"""Two revocation policies on sessions: unused-session expiry and a cap per user and app.

* **Unused sessions** (GitHub revokes OAuth tokens unused for a year, Google after six
  months): ``revoke_unused`` revokes the live sessions whose last use (``last_used_at``,
  written by ``token_admin.activity``; a session never used counts from its start) is older
  than a duration. It walks the sessions in keyset order over one index
  (``(last_used_at, created_at, id)``, migration 0007) in batches of ``batch_size``; each batch
  is one call of the revocation service, audited (surface and actor ``policy``) and
  signalled, so no transaction holds more than one batch's locks and a run reads each old
  session once, however many it revokes.
* **A cap of live sessions per user and app** (GitHub's rule of thumb: 10 tokens per
  user, app and scope): ``enforce_cap`` revokes the oldest live sessions beyond
  ``MAX_SESSIONS_PER_USER_APP``. ``token_admin.receivers`` calls it when a sign-in's
  transaction commits, in the same request: one query when under the cap, and the
  service's fixed statements when over it. Run after the commit, the last of two
  concurrent sign-ins to check sees both, so the pair ends at the cap whatever the order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from token_admin import ids
from token_admin.conf import conf
from token_admin.models import TokenSession
from token_admin.queries import live_sessions
from token_admin.revocation import Actor, Revocation, Selection, Surface, revoke

DEFAULT_BATCH_SIZE = 500
_DURATION = re.compile(r"(\d{1,7})([dh])")
_UNITS = {"d": ("days", "day"), "h": ("hours", "hour")}


def parse_duration(value: str) -> timedelta:
    """``365d`` or ``12h`` as a timedelta; ``ValueError`` (with a sentence to show) otherwise."""
    match = _DURATION.fullmatch(value.strip().lower())
    if match is None:
        raise ValueError(
            f"{value!r} is not a duration: give a whole number of days or hours, e.g. 365d or 12h."
        )
    amount, unit = int(match[1]), match[2]
    if amount < 1:
        raise ValueError(f"{value!r} is too short: a duration is at least 1h.")
    duration = timedelta(**{_UNITS[unit][0]: amount})
    if duration > timedelta(days=36_500):
        raise ValueError(f"{value!r} is too long: at most 36500d.")
    return duration


def describe_duration(duration: timedelta) -> str:
    """``365 days``, ``12 hours``: the duration as the audit event's actor names it."""
    if duration % timedelta(days=1):
        hours = duration // timedelta(hours=1)
        return f"{hours} hour{'' if hours == 1 else 's'}"
    return f"{duration.days} day{'' if duration.days == 1 else 's'}"


@dataclass(frozen=True)
class Expired:
    """What ``revoke_unused`` revoked (with ``dry_run``: would revoke)."""

    sessions: int
    access_tokens: int
    refresh_tokens: int
    batches: int
    cutoff: datetime
    dry_run: bool


# A session as a batch holds it: public id, refresh-token family, lone token's checksum.
_Row = tuple[UUID, UUID | None, str | None]


def unused_passes(
    cutoff: datetime, now: datetime | None = None
) -> list[tuple[tuple[str, ...], QuerySet[TokenSession]]]:
    """The two ranges of the ``(last_used_at, created_at, id)`` index that make up "unused
    since ``cutoff``", each with the key it is walked by, in the index's order: never used
    (by start), used (by last use)."""
    live = TokenSession.objects.filter(live_sessions(now))
    return [
        (("created_at", "pk"), live.filter(last_used_at__isnull=True, created_at__lt=cutoff)),
        (("last_used_at", "created_at", "pk"), live.filter(last_used_at__lt=cutoff)),
    ]


def unused_page(
    key: tuple[str, ...], sessions: QuerySet[TokenSession], after: tuple[Any, ...] | None, batch_size: int
) -> QuerySet[Any]:
    """One page of a pass: the next ``batch_size`` rows after the key ``after`` (keyset).

    In the index's order, so the database walks the index from ``after`` and stops after
    ``batch_size`` rows; the ``>=`` on the first field is what lets it start there."""
    if after is not None:
        later = Q()
        for index, field in enumerate(key):
            equal = dict(zip(key[:index], after, strict=False))
            later |= Q(**equal, **{f"{field}__gt": after[index]})
        sessions = sessions.filter(later, **{f"{key[0]}__gte": after[0]})
    # Ordered as the index is, last_used_at first even where it is NULL throughout: PostgreSQL
    # does not take "IS NULL" as fixing a column's order, and without it sorts the whole range.
    order = key if key[0] == "last_used_at" else ("last_used_at", *key)
    return sessions.order_by(*order).values_list(*key, "public_id", "token_family", "access_token_checksum")[
        :batch_size
    ]


def unused_batches(cutoff: datetime, batch_size: int, now: datetime | None = None) -> Iterator[list[_Row]]:
    """Live sessions last used (or, never used, begun) before ``cutoff``, ``batch_size`` at a
    time, in keyset order: never used first (by start), then used (by last use).

    Each page is one query that starts where the last one ended, so what a batch revoked is
    never read again and a run costs one pass over the old sessions. Read lazily: a page is
    read when the batch before it has been handled."""
    batch: list[_Row] = []
    for key, sessions in unused_passes(cutoff, now or timezone.now()):
        after: tuple[Any, ...] | None = None
        while True:
            rows = list(unused_page(key, sessions, after, batch_size))
            for row in rows:
                batch.append(row[-3:])  # after the key's fields
                if len(batch) == batch_size:
                    yield batch
                    batch = []
            if len(rows) < batch_size:
                break
            after = tuple(rows[-1][: len(key)])
    if batch:
        yield batch


def revoke_unused(
    unused_for: timedelta, *, batch_size: int = DEFAULT_BATCH_SIZE, dry_run: bool = False
) -> Expired:
    """Revoke the live sessions unused for ``unused_for``: one service call per batch (see
    the module docstring). A dry run counts the same batches and writes nothing."""
    now = timezone.now()
    cutoff = now - unused_for
    unused = describe_duration(unused_for)
    actor = Actor.policy(f"sessions unused for {unused}")
    reason = f"Unused for {unused} (last use before {cutoff:%Y-%m-%d %H:%M} UTC)"
    sessions = access = refresh = batches = 0
    for rows in unused_batches(cutoff, batch_size, now):
        selection = _selection(rows, {"kind": "unused_sessions", "unused_before": cutoff.isoformat()})
        done = revoke(
            selection, surface=Surface.POLICY, actor=actor, reason=reason, dry_run=dry_run, audit_empty=False
        )
        batches += 1
        # What the service found still live once it held its locks (a dry run: what was read).
        sessions += done.selection.get("affected", {}).get("sessions", len(rows))
        access += done.access_tokens
        refresh += done.refresh_tokens
    return Expired(sessions, access, refresh, batches, cutoff, dry_run)


def enforce_cap(user_id: Any, application_id: Any) -> Revocation | None:
    """Revoke the oldest live sessions of this user in this app beyond
    ``MAX_SESSIONS_PER_USER_APP``; None when there is no cap or nothing is beyond it."""
    cap = conf.MAX_SESSIONS_PER_USER_APP
    if not cap or user_id is None:
        return None
    beyond: list[_Row] = list(
        TokenSession.objects.filter(live_sessions())
        .filter(user_id=user_id, application_id=application_id)
        .order_by("-created_at", "-pk")
        .values_list("public_id", "token_family", "access_token_checksum")[cap:]
    )
    if not beyond:
        return None
    selection = _selection(
        beyond,
        {
            "kind": "session_cap",
            "cap": cap,
            "user_id": ids.to_json(user_id),
            "application_id": ids.to_json(application_id),
        },
    )
    return revoke(
        selection,
        surface=Surface.POLICY,
        actor=Actor.policy(f"session cap of {cap} per user and app"),
        reason=f"More than {cap} live sessions of one user in one app: the oldest ended",
        audit_empty=False,
    )


def _selection(rows: Sequence[_Row], described: dict[str, Any]) -> Selection:
    """The sessions of ``rows`` as a selection: built from what the batch read, no query."""
    families = frozenset(family for _, family, _ in rows if family is not None)
    lone = frozenset(checksum for _, family, checksum in rows if family is None and checksum)
    ids = sorted(str(public_id) for public_id, _, _ in rows)
    return Selection(families=families, lone_checksums=lone, described={**described, "session_ids": ids})
