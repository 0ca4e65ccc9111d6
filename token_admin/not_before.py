"""Setting not-before watermarks: one upsert, through the revocation service.

Setting one writes one row (``NotBefore``, unique per target) and goes through the
revocation service in the same transaction, so it is audited (surface and actor
``policy``) and signalled; ``token_admin.watermarks`` reads it from the database, in the
statement that loads a token (no cache: a watermark is in force the moment it commits).

**What setting one revokes.** For a user or an app, the service revokes (set-based) the
sessions the watermark ends: all of the target's, for a watermark of "now", or the
sessions begun before an earlier T. Its locks also close the race with a refresh in
flight (the refresh holds its refresh token's lock; the revocation waits, then reads again
and revokes the pair just minted). A **global** watermark deliberately revokes no rows: on
a big deployment that is millions of rows in one transaction, locking every live refresh
token, when the watermark already makes each of those tokens invalid at its next use. It
is recorded through the service as an empty selection (one audit event, one signal, O(1)),
and the refresh path re-reads the watermarks from the database inside DOT's transaction,
so a refresh that validated before the watermark committed is refused at its save.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from token_admin import credentials, ids, queries
from token_admin.models import NotBefore, TokenSession
from token_admin.revocation import Actor, Revocation, Selection, Surface, revoke
from token_admin.watermarks import EPOCH, Scope, row_key

# Most rows a global dry run counts one by one; above (PostgreSQL's estimate), it estimates.
EXACT_COUNT_MAX = 100_000


@dataclass(frozen=True)
class Setting:
    """What ``set_not_before`` did (or, in a dry run, would do)."""

    watermark: NotBefore | None
    not_before: datetime
    revocation: Revocation
    # Tokens the watermark invalidates without revoking them (a global one; counted in a dry run).
    tokens_invalidated: int | None = None
    # Whether that figure is PostgreSQL's estimate (a big table: see ``EXACT_COUNT_MAX``).
    tokens_invalidated_estimated: bool = False


def set_not_before(
    scope: str,
    target: Any = None,
    *,
    when: datetime | None = None,
    set_by: str,
    reason: str = "",
    dry_run: bool = False,
) -> Setting:
    """Set (upsert) the watermark of ``target`` (a user or an application; None for global) to
    ``when`` (now by default; never in the future), revoking what it covers through the
    service, in one transaction; it is in force once that commits.

    A watermark only moves forward: an earlier ``when`` than the one set keeps the later.
    ``set_by`` names who asked (recorded on the row and as the audit event's actor).
    Raises ``ValueError`` for a time in the future or a target that does not fit the scope.
    """
    now = timezone.now()
    now_asked = when is None
    when = now if when is None else when
    if when > now:
        raise ValueError("A not-before time cannot be in the future.")
    if (scope == Scope.GLOBAL) != (target is None) or scope not in Scope.values:
        raise ValueError(f"Scope {scope!r} does not fit the target {target!r}.")
    key = row_key(scope, getattr(target, "pk", None))
    selection = _selection(scope, target, when, now)
    actor = Actor.policy(f"not-before for {_describe(scope, target)} set by {set_by}"[:255])
    reason = reason or "Not-before watermark"
    if dry_run:
        invalidated, estimated = _count_issued_before(when) if scope == Scope.GLOBAL else (None, False)
        done = revoke(selection, surface=Surface.POLICY, actor=actor, reason=reason, dry_run=True)
        return Setting(None, when, done, invalidated, estimated)
    database = router.db_for_write(NotBefore)
    with transaction.atomic(using=database):
        # Lock order, the same as a refresh's: refresh tokens first, then the watermark row (a
        # refresh holds its refresh token's lock, then reads the watermarks with a shared lock;
        # see TokenAdminOAuth2Validator._minted_before_not_before).
        if scope == Scope.GLOBAL:
            # No refresh tokens to lock. "Now" is taken once the row is locked, that is once
            # every refresh that read the old watermark has committed: whatever they minted
            # is then issued before the watermark.
            watermark = _upsert(key, scope, target, when, set_by, reason, now_asked=now_asked)
            selection = replace(
                selection, described={**selection.described, "not_before": watermark.not_before.isoformat()}
            )
            done = revoke(selection, surface=Surface.POLICY, actor=actor, reason=reason)
        else:
            if scope == Scope.USER:
                # An account event of the user: a sign-in in flight either commits first (and
                # is revoked below) or reads this watermark at its mint (token_admin.credentials).
                credentials.lock_user(target)
            # A refresh of the target in flight holds its lock: the service waits for it, then
            # reads again and revokes the pair it minted, whatever time it was issued.
            done = revoke(selection, surface=Surface.POLICY, actor=actor, reason=reason)
            watermark = _upsert(key, scope, target, when, set_by, reason)
    return Setting(watermark, watermark.not_before, done)


@dataclass(frozen=True)
class Lifting:
    """What ``lift_not_before`` did (or, in a dry run, would do)."""

    previous: datetime
    not_before: datetime | None  # None: removed
    # Access tokens issued between the new and the old watermark that still exist and have
    # not expired: they work again, unless another watermark covers them (so "at most").
    tokens_valid_again: int
    tokens_valid_again_estimated: bool
    event: Any = None


def lift_not_before(
    scope: str,
    target: Any = None,
    *,
    to: datetime | None = None,
    set_by: str,
    reason: str = "",
    dry_run: bool = False,
) -> Lifting:
    """Lower the watermark of ``target`` to ``to``, or remove it (``to`` None): an explicit
    undo by staff, audited as an event of the service that revokes nothing.

    **What comes back.** Tokens the watermark made invalid that still exist (not expired, not
    deleted, not revoked) work again. A global watermark revokes no rows, so its tokens come
    back; a user or app watermark revoked the sessions it covered when it was set, and a
    revocation is never undone, so lifting one only moves the line for what was left.
    Raises ``ValueError`` when there is no watermark or ``to`` does not lower it.
    """
    if (scope == Scope.GLOBAL) != (target is None) or scope not in Scope.values:
        raise ValueError(f"Scope {scope!r} does not fit the target {target!r}.")
    key = row_key(scope, getattr(target, "pk", None))
    database = router.db_for_write(NotBefore)
    with transaction.atomic(using=database):
        watermark = NotBefore.objects.select_for_update().filter(key=key).first()
        if watermark is None or watermark.not_before <= EPOCH:
            raise ValueError(f"There is no watermark for {_describe(scope, target)} to lift.")
        previous = watermark.not_before
        if to is not None and to >= previous:
            raise ValueError("A watermark is only lowered or removed here; setting one raises it.")
        tokens = (
            get_access_token_model()
            .objects.filter(created__lt=previous, expires__gt=timezone.now())
            .filter(queries.not_registration())
        )
        if to is not None:
            tokens = tokens.filter(created__gte=to)
        if scope == Scope.USER:
            tokens = tokens.filter(user=target)
        elif scope == Scope.APP:
            tokens = tokens.filter(application=target)
        valid_again, estimated = _count(tokens)
        if dry_run:
            return Lifting(previous, to, valid_again, estimated)
        if to is None and scope != Scope.GLOBAL:
            watermark.delete()
        else:
            # The global row stays (at the epoch when removed): a refresh's shared lock holds it.
            watermark.not_before = to or EPOCH
            watermark.set_at, watermark.set_by, watermark.reason = timezone.now(), set_by[:255], reason
            watermark.save(update_fields=["not_before", "set_at", "set_by", "reason"])
        described = {
            "kind": "not_before_lifted",
            "scope": scope,
            "from": previous.isoformat(),
            "to": to.isoformat() if to is not None else None,
        }
        if target is not None:
            described["user_id" if scope == Scope.USER else "client_id"] = (
                ids.to_json(target.pk) if scope == Scope.USER else target.client_id
            )
        verb = "lowered" if to is not None else "removed"
        done = revoke(
            Selection(described=described),
            surface=Surface.POLICY,
            actor=Actor.policy(f"not-before for {_describe(scope, target)} {verb} by {set_by}"[:255]),
            reason=reason or f"Not-before watermark {verb}",
        )
    return Lifting(previous, to, valid_again, estimated, done.event)


def _upsert(
    key: str, scope: str, target: Any, when: datetime, set_by: str, reason: str, *, now_asked: bool = False
) -> NotBefore:
    fields = {"set_at": timezone.now(), "set_by": set_by[:255], "reason": reason}
    watermark = NotBefore.objects.select_for_update().filter(key=key).first()
    if now_asked:
        when = fields["set_at"] = timezone.now()  # after the lock (see set_not_before)
    if watermark is None:
        owner = (
            {"user": target} if scope == Scope.USER else {"application": target} if scope == Scope.APP else {}
        )
        try:
            with transaction.atomic():  # a savepoint: a concurrent first setting wins the insert
                return NotBefore.objects.create(key=key, scope=scope, not_before=when, **owner, **fields)
        except IntegrityError:
            watermark = NotBefore.objects.select_for_update().get(key=key)
    watermark.not_before = max(watermark.not_before, when)
    for name, value in fields.items():
        setattr(watermark, name, value)
    watermark.save(update_fields=["not_before", *fields])
    return watermark


def _selection(scope: str, target: Any, when: datetime, now: datetime) -> Selection:
    described = {"kind": "not_before", "scope": scope, "not_before": when.isoformat()}
    if scope == Scope.GLOBAL:
        # No rows: see the module docstring. The event still records the watermark.
        return Selection(described=described)
    if when >= now:
        # Everything of the target began before now: the service's own owner selections,
        # which also take sessions begun while it waits for its locks.
        base = Selection.users([target]) if scope == Scope.USER else Selection.applications([target])
        owner_key = "user_id" if scope == Scope.USER else "client_id"
        owner = ids.to_json(target.pk) if scope == Scope.USER else target.client_id
        return replace(base, described={**described, owner_key: owner})
    owner_filter = Q(user=target) if scope == Scope.USER else Q(application=target)
    base = Selection.sessions(TokenSession.objects.filter(owner_filter, created_at__lt=when))
    return replace(base, described={**base.described, **described})


def _count_issued_before(when: datetime) -> tuple[int, bool]:
    """Access tokens a global watermark makes invalid (a dry run's figure), and whether it is
    an estimate (see ``_count``)."""
    return _count(
        get_access_token_model().objects.filter(created__lt=when).filter(queries.not_registration())
    )


def _count(tokens: QuerySet[Any]) -> tuple[int, bool]:
    """How many rows, and whether that is an estimate. Exact up to ``EXACT_COUNT_MAX`` rows;
    beyond, on PostgreSQL, the planner's estimate (one EXPLAIN, no row read): a count over
    the whole table reads every row (about 0.9 ms per 1,000 tokens measured on the shared
    bench machine, a second at a million), too slow for a preview page."""
    connection = connections[tokens.db]
    if connection.vendor == "postgresql":
        sql, params = tokens.values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate > EXACT_COUNT_MAX:
            return estimate, True
    return tokens.count(), False


def _describe(scope: str, target: Any) -> str:
    if scope == Scope.GLOBAL:
        return "everyone"
    if scope == Scope.USER:
        return f"user {target.get_username()}"
    return f"app {target.client_id}"
