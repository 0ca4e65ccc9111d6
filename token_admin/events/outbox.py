"""The revocation service's one call into events: write the outbox rows of a revocation.

``record()`` runs inside the revocation's transaction, right after its audit event is
written: rows and revocation commit or roll back together. It is one statement for any
number of receivers, none included: an ``INSERT ... SELECT`` that picks the subscribed
receivers from the database itself (no cache: a list kept anywhere else can name a receiver
deleted since, whose row would then fail the revocation on its foreign key). Sending happens
later, in a worker (``delivery``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction

from token_admin.events.conf import events_conf
from token_admin.events.models import Delivery, Receiver

logger = logging.getLogger(__name__)

# A new random UUID (version 4) per row, made by the database: the rows are chosen by the
# same statement, so Python cannot hand out their ids. As 32 hex digits for the ``char(32)``
# columns of SQLite and MySQL (MariaDB's ``uuid`` type takes them too); MySQL's UUID() (a
# time-based UUID that may carry the server's MAC address) is hashed, as the ids are sent out.
NEW_UUID = {
    "postgresql": "gen_random_uuid()",
    "sqlite": (
        "lower(hex(randomblob(6)) || '4' || substr(hex(randomblob(2)), 2)"
        " || substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(8)), 2))"
    ),
    "mysql": (
        "INSERT(INSERT(LEFT(SHA2(UUID(), 256), 32), 13, 1, '4'),"
        " 17, 1, ELT(1 + FLOOR(RAND() * 4), '8', '9', 'a', 'b'))"
    ),
}
# The receivers picked stay locked against deletion until the revocation commits (a receiver
# whose deletion is in flight is waited for, then skipped); the weakest lock that does it, so
# concurrent revocations never wait for each other. SQLite's writer holds the whole database.
SHARE_LOCK = {"postgresql": " FOR KEY SHARE", "mysql": " LOCK IN SHARE MODE"}


def record(event: Any, selection: Any, revoked_anything: bool) -> int:
    """Write one outbox row per active receiver subscribed to ``event`` (a
    ``RevocationEvent``); returns how many. Called by ``revocation.revoke`` in its
    transaction: one statement, whatever the number of receivers."""
    if not revoked_anything:
        return 0
    affected = event.selection.get("affected", {})
    apps = affected.get("apps", [])
    # Past the audit's cap the list of apps is incomplete: an app's receiver then gets a row
    # and the worker finds out (a row with nothing for it is marked skipped).
    app_ids = None if affected.get("apps_total", 0) > len(apps) else [app["id"] for app in apps]
    context: dict[str, Any] = {}
    if selection.lone_checksums:
        # Lone sessions (an access token without a refresh token) are found by checksum; the
        # worker swaps these for session ids at the first attempt. Never sent anywhere.
        context["lone"] = sorted(selection.lone_checksums)
    written = _insert_for_receivers(
        app_ids,
        {
            "revocation_event_id": event.pk,
            "status": Delivery.Status.PENDING.value,
            "created_at": event.created_at,
            "next_attempt_at": event.created_at,
            "deadline_at": event.created_at + timedelta(seconds=events_conf.DEADLINE_SECONDS),
            "attempts": 0,
            "last_error": "",
            "context": context,
        },
    )
    notify = events_conf.ON_COMMIT
    if written and notify is not None:
        transaction.on_commit(lambda: _notify(notify), using=Delivery.objects.db)
    return written


def _insert_for_receivers(app_ids: list[Any] | None, shared: dict[str, Any]) -> int:
    """``INSERT INTO delivery ... SELECT ... FROM receiver``: a row for each active receiver
    of every app or of one in ``app_ids`` (None: any app), with the ``shared`` values, each
    prepared once by its field. Returns how many rows were written."""
    connection = connections[router.db_for_write(Delivery)]
    quote = connection.ops.quote_name
    delivery_field = {field.attname: field for field in Delivery._meta.concrete_fields}
    receiver_field = {field.attname: field for field in Receiver._meta.concrete_fields}
    application = Receiver._meta.get_field("application")

    def receiver_column(name: str) -> str:
        return "r." + quote(str(receiver_field[name].column))

    names = ["event_id", "receiver_id", *shared]
    columns = ", ".join(quote(str(delivery_field[name].column)) for name in names)
    values = [NEW_UUID[connection.vendor], receiver_column("id"), *["%s"] * len(shared)]
    params = [delivery_field[name].get_db_prep_save(value, connection) for name, value in shared.items()]
    where = f"{receiver_column('active')} = %s"
    params.append(receiver_field["active"].get_db_prep_value(True, connection))
    if app_ids is not None:
        subscribed = f"{receiver_column('application_id')} IS NULL"
        if app_ids:
            placeholders = ", ".join(["%s"] * len(app_ids))
            subscribed += f" OR {receiver_column('application_id')} IN ({placeholders})"
            params += [
                application.get_db_prep_value(application.target_field.to_python(app_id), connection)
                for app_id in app_ids
            ]
        where += f" AND ({subscribed})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Delivery._meta.db_table)} ({columns}) "
            f"SELECT {', '.join(values)} FROM {quote(Receiver._meta.db_table)} r WHERE {where}"
            f" ORDER BY {receiver_column('id')}{SHARE_LOCK.get(connection.vendor, '')}",
            params,
        )
        return max(cursor.rowcount, 0)


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
