"""Delivery of outbox rows: claim, send, record. Run by ``deliver_events`` and the Celery task.

* **Claims are exclusive.** A worker picks due rows with ``SELECT ... FOR UPDATE SKIP
  LOCKED`` where the database has it (PostgreSQL, MariaDB 10.6+), then takes them with a
  compare-and-set UPDATE (its claim id, a lease in ``next_attempt_at``) that only one
  worker can win, on every database. No transaction stays open while HTTP runs.
* **In order per receiver** (so per session): a row is due only when no earlier row of its
  receiver is still pending; a worker takes a receiver's first due row and the due rows right
  behind it, and gives the rest back when one of them must wait.
* **At least once**: a row is done only when the receiver answered 2xx; a worker that dies
  leaves its claim to expire (``EVENTS_LEASE_SECONDS``). Receivers dedupe by the event id.
* **Backoff**: ``base * 2**(attempt-1)`` capped at ``EVENTS_RETRY_MAX_SECONDS``, with jitter
  (a random half to all of it), until ``EVENTS_DEADLINE_SECONDS`` after the revocation:
  then the row is marked failed and the admin shows it.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from token_admin.events import formats, outbound
from token_admin.events.conf import events_conf
from token_admin.events.models import Delivery

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one pass did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, with jitter."""
    # The exponent is capped so that a row retried for days cannot overflow a float.
    ceiling = min(
        events_conf.RETRY_MAX_SECONDS, events_conf.RETRY_BASE_SECONDS * 2 ** min(max(0, attempts - 1), 60)
    )
    return (rng or random).uniform(ceiling / 2, ceiling)


def due(now: datetime) -> QuerySet[Delivery]:
    """Pending rows whose time has come, of active receivers, first of their receiver."""
    earlier = Delivery.objects.filter(
        receiver_id=OuterRef("receiver_id"), status=Delivery.Status.PENDING, pk__lt=OuterRef("pk")
    )
    return Delivery.objects.filter(
        ~Exists(earlier), status=Delivery.Status.PENDING, next_attempt_at__lte=now, receiver__active=True
    )


def claim(limit: int | None = None) -> tuple[uuid.UUID, list[Delivery]]:
    """Take up to ``limit`` due rows for this worker alone (see the module docstring).

    The first due row of each receiver is claimed, and behind it that receiver's next rows
    while they are due (a run in order: none is claimable by another worker while the one
    before it is pending), so a busy receiver gets a batch per claim, not a row.
    """
    database = router.db_for_write(Delivery)
    limit = limit or events_conf.BATCH_SIZE
    token = uuid.uuid4()
    now = timezone.now()
    skip_locked = connections[database].features.has_select_for_update_skip_locked
    with transaction.atomic(using=database):
        candidates = due(now).order_by("pk")
        if skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        heads = list(candidates.values_list("pk", "receiver_id")[:limit])
        if not heads:
            return token, []
        ids = [pk for pk, _ in heads]
        if len(ids) < limit:
            following = Delivery.objects.filter(
                receiver_id__in={receiver_id for _, receiver_id in heads},
                status=Delivery.Status.PENDING,
                pk__gt=min(ids),
            ).exclude(pk__in=ids)
            if skip_locked:
                # No SKIP here: a skipped row would break the run. These rows are behind heads
                # this transaction holds, so no other claim is after them.
                following = following.select_for_update()
            head_of = {receiver_id: pk for pk, receiver_id in heads}
            stopped: set[int] = set()
            for pk, receiver_id, next_attempt_at in following.order_by("pk").values_list(
                "pk", "receiver_id", "next_attempt_at"
            )[: limit * 2]:
                # Only rows after the head, in an unbroken run of due rows.
                if receiver_id in stopped or pk < head_of[receiver_id]:
                    continue
                if next_attempt_at > now or len(ids) >= limit:
                    stopped.add(receiver_id)
                    continue
                ids.append(pk)
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.PENDING, next_attempt_at__lte=now).update(
            claimed_by=token,
            next_attempt_at=now + timedelta(seconds=events_conf.LEASE_SECONDS),
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
    rows = Delivery.objects.filter(claimed_by=token).select_related("receiver", "revocation_event")
    return token, list(rows.order_by("pk"))


def run_once(limit: int | None = None) -> Outcome:
    """Claim due rows and deliver them, one after the other; returns what happened."""
    token, rows = claim(limit)
    outcome = Outcome(claimed=len(rows))
    held_back: set[int] = set()
    for row in rows:
        if row.receiver_id in held_back:
            continue
        if not deliver(row, token, outcome):
            # An earlier event of this receiver must wait: so must the later ones.
            held_back.add(row.receiver_id)
    if held_back:
        Delivery.objects.filter(
            claimed_by=token, receiver_id__in=held_back, status=Delivery.Status.PENDING
        ).update(claimed_by=None, next_attempt_at=timezone.now(), attempts=F("attempts") - 1)
    return outcome


def drain() -> Outcome:
    """Run passes until one finds nothing due, or only rows that must wait (``deliver_events
    --once``, the Celery task)."""
    total = Outcome()
    while True:
        outcome = run_once()
        if not outcome.claimed:
            return total
        progressed = outcome.delivered or outcome.skipped or outcome.failed
        for name in ("claimed", "delivered", "retrying", "failed", "skipped"):
            setattr(total, name, getattr(total, name) + getattr(outcome, name))
        total.errors += outcome.errors
        if not progressed:
            # Every row claimed must wait: stop rather than spin on a receiver that is down.
            return total


def deliver(row: Delivery, token: uuid.UUID, outcome: Outcome) -> bool:
    """Send one claimed row; False when it must be tried again later."""
    now = timezone.now()
    mine = Delivery.objects.filter(pk=row.pk, claimed_by=token)
    if now >= row.deadline_at:
        mine.update(status=Delivery.Status.FAILED, claimed_by=None, last_error=outbound.DEADLINE_PASSED)
        outcome.failed += 1
        return True
    status_code = None
    try:
        requests_ = formats.build(row, now)
        if not requests_:
            mine.update(status=Delivery.Status.SKIPPED, claimed_by=None, delivered_at=now, last_error="")
            outcome.skipped += 1
            return True
        for request in requests_:
            # Checked, pinned, no redirects, bounded (token_admin.events.outbound).
            status_code = outbound.post(row.receiver.url, request.body, request.headers)
    except outbound.Failed as failure:
        # Only the fixed reason is kept: the receiver's answer may hold what it must not show.
        return _retry_later(row, mine, failure.status, failure.reason, outcome)
    mine.update(
        status=Delivery.Status.DELIVERED,
        claimed_by=None,
        delivered_at=timezone.now(),
        last_status_code=status_code,
        last_error="",
    )
    outcome.delivered += 1
    return True


def _retry_later(
    row: Delivery, mine: QuerySet[Delivery], status_code: int | None, error: str, outcome: Outcome
) -> bool:
    """Schedule the next attempt, or fail the row past its deadline (True: it no longer waits)."""
    # The claim counted this attempt already.
    when = timezone.now() + timedelta(seconds=backoff(row.attempts))
    error = error[:500]
    outcome.errors.append(error)
    if when >= row.deadline_at:
        mine.update(
            status=Delivery.Status.FAILED, claimed_by=None, last_status_code=status_code, last_error=error
        )
        outcome.failed += 1
        logger.warning("Event %s to %s failed for good: %s", row.event_id, row.receiver, error)
        return True
    mine.update(claimed_by=None, next_attempt_at=when, last_status_code=status_code, last_error=error)
    outcome.retrying += 1
    return False


def retry_now(rows: QuerySet[Delivery]) -> int:
    """Make rows due at once (the admin's "retry now"); a failed row gets a new deadline."""
    now = timezone.now()
    rows = rows.exclude(status=Delivery.Status.DELIVERED)
    rows.filter(status=Delivery.Status.FAILED).update(
        deadline_at=now + timedelta(seconds=events_conf.DEADLINE_SECONDS)
    )
    return rows.update(status=Delivery.Status.PENDING, next_attempt_at=now, claimed_by=None)
