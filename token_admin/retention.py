"""Keep the tables bounded: prune ended sessions and the refresh tokens no check needs any more.

DOT's ``cleartokens`` deletes expired tokens, but with ``REFRESH_TOKEN_REUSE_PROTECTION`` on
(and no ``REFRESH_TOKEN_EXPIRE_SECONDS``) it keeps every revoked refresh token forever, and it
knows nothing of token_admin's ``TokenSession`` rows: both grow with every sign-in and rotation.

What may go, read from DOT 3.4's ``validate_refresh_token`` and ``_save_bearer_token``:

* A revoked refresh token within ``REFRESH_TOKEN_GRACE_PERIOD_SECONDS`` of its revocation may
  still be honoured (a client retrying a rotation), so it is kept.
* After that it is always refused. With reuse protection on, presenting it revokes its whole
  family, which only matters while the family has something to revoke: a live member, or a
  member still within the grace window (which could mint one). A family with neither can
  never come back, so all of its refresh tokens go together. Without reuse protection, or
  without a family, a revoked token past the grace window goes on its own (as cleartokens).
* A session has ended when its family has no live or grace-window member (or, for a lone
  access token, when that token has expired or is gone); it is never shown again.

Revocation events (the audit trail) are never touched; delivered, skipped and failed rows of
the events outbox older than ``EVENTS_RETENTION_SECONDS`` go (``events.outbox.prune``).
Work is done in windows of ``batch_size`` rows in primary-key order, one short transaction
each, so no statement holds locks on more than ``batch_size`` rows, and the whole run
is one pass over each table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from token_admin.events import outbox
from token_admin.models import TokenSession
from token_admin.queries import valid_access_tokens

DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class Pruned:
    """What one run deleted (with ``dry_run``: would delete)."""

    refresh_tokens: int
    sessions: int
    dry_run: bool
    events: int = 0


def grace_cutoff(now: datetime) -> datetime:
    """Revoked before this moment: past DOT's grace period, refused whenever presented."""
    seconds = oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS or 0
    try:
        grace = timedelta(seconds=seconds)
    except TypeError:
        raise ImproperlyConfigured("REFRESH_TOKEN_GRACE_PERIOD_SECONDS must be in seconds") from None
    if grace < timedelta(0):
        raise ImproperlyConfigured("REFRESH_TOKEN_GRACE_PERIOD_SECONDS must not be negative")
    return now - grace


def _family_alive(cutoff: datetime) -> Exists:
    """The outer row's family still has a live member, or one DOT may still honour."""
    members = get_refresh_token_model().objects.filter(token_family=OuterRef("token_family"))
    return Exists(members.filter(Q(revoked__isnull=True) | Q(revoked__gt=cutoff)))


def prunable_refresh_tokens(now: datetime) -> QuerySet[Any]:
    """Revoked refresh tokens that no grace period and no reuse check can need again."""
    cutoff = grace_cutoff(now)
    revoked = get_refresh_token_model().objects.filter(revoked__lte=cutoff)
    if not oauth2_settings.REFRESH_TOKEN_REUSE_PROTECTION:
        return revoked
    return revoked.filter(Q(token_family__isnull=True) | ~_family_alive(cutoff))


def ended_sessions(now: datetime) -> QuerySet[TokenSession]:
    """Sessions that can never be signed in again."""
    live_lone = valid_access_tokens().filter(token_checksum=OuterRef("access_token_checksum"))
    family_ended = Q(token_family__isnull=False) & ~_family_alive(grace_cutoff(now))
    lone_ended = Q(token_family__isnull=True) & ~Exists(live_lone)
    return TokenSession.objects.filter(family_ended | lone_ended)


def prune(
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    pause: float = 0.0,
    progress: Callable[[str, int], None] | None = None,
) -> Pruned:
    """Delete (or count, with ``dry_run``) prunable refresh tokens, then ended sessions."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = timezone.now()
    refresh = _in_windows(prunable_refresh_tokens(now), batch_size, dry_run, pause, progress)
    sessions = _in_windows(ended_sessions(now), batch_size, dry_run, pause, progress)
    events = outbox.prune(now, batch_size, dry_run)
    return Pruned(refresh, sessions, dry_run, events)


def _in_windows(
    selection: QuerySet[Any],
    batch_size: int,
    dry_run: bool,
    pause: float,
    progress: Callable[[str, int], None] | None,
) -> int:
    """One pass over the table in primary-key windows of ``batch_size`` rows."""
    model = selection.model
    database = router.db_for_write(model)
    total = 0
    last = None
    while True:
        window = model._default_manager.using(database).order_by("pk")
        if last is not None:
            window = window.filter(pk__gt=last)
        bounds = list(window.values_list("pk", flat=True)[:batch_size])
        if not bounds:
            return total
        first, last = bounds[0], bounds[-1]
        in_window = selection.using(database).filter(pk__gte=first, pk__lte=last)
        if dry_run:
            total += in_window.count()
        else:
            with transaction.atomic(using=database):
                # Ids first, then a delete by id: no database is asked to delete from a table
                # its own condition reads (MySQL refuses that), and Django's collector clears
                # what points here (an access token's ``source_refresh_token``).
                ids = list(in_window.values_list("pk", flat=True))
                if ids:
                    deleted = model._default_manager.using(database).filter(pk__in=ids).delete()[1]
                    total += deleted.get(model._meta.label, 0)
            if pause:
                time.sleep(pause)
        if progress is not None:
            progress(model._meta.label, total)
