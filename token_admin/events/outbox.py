"""The revocation service's one call into events: write the outbox rows of a revocation.

``record()`` runs inside the revocation's transaction, right after its audit event is
written: rows and revocation commit or roll back together. It costs nothing when no
receiver is subscribed (the list of active receivers comes from the cache) and one INSERT
for any number of receivers. Sending happens later, in a worker (``delivery``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import caches
from django.db import connections, router, transaction
from django.db.models.signals import post_delete, post_save

from token_admin.conf import conf
from token_admin.events.conf import events_conf
from token_admin.events.models import Delivery, Receiver

CACHE_KEY = "token_admin:events:receivers"
logger = logging.getLogger(__name__)


def active_receivers() -> list[tuple[int, Any]]:
    """(id, application id) of every active receiver: cached, one query on a miss."""
    cache = caches[conf.CACHE_ALIAS]
    receivers = cache.get(CACHE_KEY)
    if receivers is None:
        receivers = list(
            Receiver.objects.filter(active=True).order_by("pk").values_list("pk", "application_id")
        )
        cache.set(CACHE_KEY, receivers, events_conf.RECEIVER_CACHE_SECONDS)
    return receivers


def forget_receivers(**kwargs: Any) -> None:
    caches[conf.CACHE_ALIAS].delete(CACHE_KEY)


def connect() -> None:
    post_save.connect(forget_receivers, sender=Receiver, dispatch_uid="token_admin_events_receivers_saved")
    post_delete.connect(
        forget_receivers, sender=Receiver, dispatch_uid="token_admin_events_receivers_deleted"
    )


def record(event: Any, selection: Any, revoked_anything: bool) -> int:
    """Write one outbox row per receiver subscribed to ``event`` (a ``RevocationEvent``);
    returns how many. Called by ``revocation.revoke`` in its transaction."""
    if not revoked_anything:
        return 0
    receivers = active_receivers()
    if not receivers:
        return 0
    affected = event.selection.get("affected", {})
    apps = affected.get("apps", [])
    # Past the audit's cap the list of apps is incomplete: an app's receiver then gets a row
    # and the worker finds out (a row with nothing for it is marked skipped).
    known_apps = None if affected.get("apps_total", 0) > len(apps) else {str(app["id"]) for app in apps}
    wanted = [
        pk
        for pk, application_id in receivers
        if application_id is None or known_apps is None or str(application_id) in known_apps
    ]
    if not wanted:
        return 0
    context: dict[str, Any] = {}
    if selection.lone_checksums:
        # Lone sessions (an access token without a refresh token) are found by checksum; the
        # worker swaps these for session ids at the first attempt. Never sent anywhere.
        context["lone"] = sorted(selection.lone_checksums)
    deadline = event.created_at + timedelta(seconds=events_conf.DEADLINE_SECONDS)
    _insert(
        {
            "revocation_event_id": event.pk,
            "status": Delivery.Status.PENDING.value,
            "created_at": event.created_at,
            "next_attempt_at": event.created_at,
            "deadline_at": deadline,
            "attempts": 0,
            "last_error": "",
            "context": context,
        },
        [{"event_id": uuid.uuid4(), "receiver_id": pk} for pk in wanted],
    )
    notify = events_conf.ON_COMMIT
    if notify is not None:
        transaction.on_commit(lambda: _notify(notify), using=Delivery.objects.db)
    return len(wanted)


def _insert(shared: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT: ``shared`` values in every row, each prepared once by its field.

    ``bulk_create`` builds a model instance per row and prepares every value of every row:
    on the revoking request's path that Python work cost as much as the statement itself.
    """
    connection = connections[router.db_for_write(Delivery)]
    by_attname = {field.attname: field for field in Delivery._meta.concrete_fields}
    names = [*rows[0], *shared]
    columns = ", ".join(connection.ops.quote_name(str(by_attname[name].column)) for name in names)
    common = [by_attname[name].get_db_prep_save(value, connection) for name, value in shared.items()]
    params: list[Any] = []
    for row in rows:
        params += [by_attname[name].get_db_prep_save(value, connection) for name, value in row.items()]
        params += common
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(Delivery._meta.db_table)} ({columns}) "
            f"VALUES {', '.join([row_sql] * len(rows))}",
            params,
        )


def _notify(notify: Callable[[], Any]) -> None:
    try:
        notify()
    except Exception:
        # The rows are committed: a worker's next pass finds them anyway.
        logger.exception("EVENTS_ON_COMMIT failed; the events wait for the next worker pass.")


def prune(now: datetime, batch_size: int, dry_run: bool) -> int:
    """Delete delivered, skipped and failed rows older than ``EVENTS_RETENTION_SECONDS``,
    ``batch_size`` at a time; pending rows are never pruned."""
    cutoff = now - timedelta(seconds=events_conf.RETENTION_SECONDS)
    done = Delivery.objects.exclude(status=Delivery.Status.PENDING).filter(created_at__lt=cutoff)
    if dry_run:
        return done.count()
    database = router.db_for_write(Delivery)
    total = 0
    while True:
        with transaction.atomic(using=database):
            ids = list(done.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return total
            total += Delivery.objects.filter(pk__in=ids)._raw_delete(database) or 0
