"""``revoke()``: one atomic, audited, signalled call per selection, run again after a deadlock;
and its dry run."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from token_admin import queries
from token_admin.events import outbox
from token_admin.models import RevocationEvent
from token_admin.revocation.actors import Actor, Surface
from token_admin.revocation.affected import summarise, whose_tokens_per_pair
from token_admin.revocation.selection import Selection, either
from token_admin.revocation.writes import refresh_condition, registration_condition, revoke_rows
from token_admin.signals import tokens_revoked

# How often a revocation that a deadlock rolled back is run again.
DEADLOCK_ATTEMPTS = 5


@dataclass(frozen=True)
class Revocation:
    """What one call revoked (with ``dry_run``: would revoke; then ``event`` is None).

    ``registration_tokens`` counts DOT registration tokens deleted with devices; they are
    never part of ``access_tokens``, as they are never listed as sessions.
    """

    event: RevocationEvent | None
    access_tokens: int
    refresh_tokens: int
    grants: int
    selection: dict[str, Any] = field(default_factory=dict)
    registration_tokens: int = 0

    @property
    def revoked_anything(self) -> bool:
        return bool(self.access_tokens or self.refresh_tokens or self.grants or self.registration_tokens)


def revoke(
    selection: Selection,
    *,
    actor: Actor,
    surface: Surface,
    reason: str = "",
    dry_run: bool = False,
    audit_empty: bool = True,
) -> Revocation:
    """Revoke ``selection``: atomic, set-based, audited, signalled (see the module docstring).

    ``dry_run`` counts what would be revoked and writes nothing. With ``audit_empty=False``
    a call that revokes nothing writes no event and sends no signal (for surfaces that
    must not let a caller grow the audit table with no-ops).
    """
    if dry_run:
        return _count(selection)
    database = router.db_for_write(get_access_token_model())
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return _revoke_once(selection, actor, surface, reason, audit_empty, database)
        except OperationalError as error:
            # Overlapping revocations can deadlock (InnoDB picks one victim and rolls it back).
            # The revocation is atomic and idempotent, so it runs again, unless an outer
            # transaction of the caller's was rolled back with it.
            if (
                attempt == DEADLOCK_ATTEMPTS
                or not _is_deadlock(error)
                or connections[database].in_atomic_block
            ):
                raise
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


def _revoke_once(
    selection: Selection, actor: Actor, surface: Surface, reason: str, audit_empty: bool, database: str
) -> Revocation:
    with transaction.atomic(using=database):
        now = timezone.now()
        *counts, affected = revoke_rows(selection, now, database)
        access_count, refresh_count, grant_count, registration_count = counts
        described = dict(selection.described)
        described["affected"] = affected
        if registration_count:
            described["registration_tokens_revoked"] = registration_count
        if not any(counts) and not audit_empty:
            return Revocation(None, 0, 0, 0, described)
        event = RevocationEvent.objects.create(
            created_at=now,
            surface=surface,
            actor_type=actor.type,
            actor_label=actor.label[:255],
            actor_user=actor.user,
            actor_application=actor.application,
            selection=described,
            access_tokens_revoked=access_count,
            refresh_tokens_revoked=refresh_count,
            grants_revoked=grant_count,
            reason=reason,
        )
        outbox.record(event, selection, any(counts))
        transaction.on_commit(
            lambda: tokens_revoked.send(
                sender=RevocationEvent,
                event=event,
                access_tokens=access_count,
                refresh_tokens=refresh_count,
                grants=grant_count,
            ),
            using=database,
        )
    return Revocation(event, access_count, refresh_count, grant_count, described, registration_count)


def _count(selection: Selection) -> Revocation:
    """The dry run: what ``revoke`` would revoke, and whose (``affected``), nothing written.

    The same two GROUP BY reads as the real run's ``whose_tokens`` give the counts too: the
    live refresh tokens, and the access tokens named, owned, of the lone sessions or bound
    to those refresh tokens (their ids read first, as nothing is locked); then one COUNT each
    for grants and registration tokens.
    """
    owned = selection.owned_condition()
    rt_condition = refresh_condition(selection)
    # What the real run deletes beyond the named ids: the bound tokens of the live refresh
    # tokens it locks, the lone sessions' tokens and the owned rows. The bound ones are read
    # as ids, never as a subquery ORed into the count: PostgreSQL answers "pk IN (...) OR pk
    # IN (SELECT ...)" with a hashed subplan over a sequential scan of the whole access-token
    # table. A refresh token of the owned rows is bound to an owned access token (they share
    # user and app), and one bound to a named id is named.
    named = set(selection.access_token_ids)
    extra = owned
    if selection.lone_checksums:
        extra = either(extra, Q(token_checksum__in=sorted(selection.lone_checksums)))
    if owned is None:
        # Few live refresh tokens (those of the named tokens and families): the read that
        # counts them names their access tokens as well.
        per_pair = whose_tokens_per_pair(rt_condition, extra, sorted(named), name_bound=True)
    else:
        if selection.families:
            named.update(
                get_refresh_token_model()
                .objects.filter(
                    token_family__in=sorted(selection.families),
                    revoked__isnull=True,
                    access_token__isnull=False,
                )
                .values_list("access_token_id", flat=True)
            )
        per_pair = whose_tokens_per_pair(rt_condition, extra, sorted(named))
    access_count = sum(entry["access"] for entry in per_pair.values())
    refresh_count = sum(entry["refresh"] for entry in per_pair.values())
    grant_count = get_grant_model().objects.filter(owned).count() if owned is not None else 0
    registration_count = 0
    registration = registration_condition(selection)
    if registration is not None:
        registration_count = (
            get_access_token_model().objects.filter(registration, queries.registration()).count()
        )
    described = dict(selection.described)
    described["affected"] = summarise(per_pair)
    if registration_count:
        described["registration_tokens_revoked"] = registration_count
    return Revocation(None, access_count, refresh_count, grant_count, described, registration_count)


def _is_deadlock(error: OperationalError) -> bool:
    """MySQL/MariaDB error 1213, or PostgreSQL's deadlock_detected (40P01)."""
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) == "40P01" or getattr(cause, "pgcode", None) == "40P01":
        return True
    return bool(error.args) and error.args[0] == 1213
