"""Workers in parallel: threads on PostgreSQL/MariaDB (``SKIP LOCKED`` claims), and a real
Celery worker on Redis (when ``REDIS_URL`` is set; the broker is ``CELERY_BROKER_URL`` or it)."""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection, connections

from tests.concurrency import run_together
from tests.event_receiver import Receiver as LoopbackReceiver
from tests.factories import ApplicationFactory, UserFactory, issue_session
from token_admin.events import delivery
from token_admin.events.models import Delivery, Receiver
from token_admin.revocation import Actor, Selection, Surface, revoke


@pytest.fixture
def loopback():
    server = LoopbackReceiver()
    yield server
    server.stop()


def revoke_sessions(count):
    user = UserFactory()
    app = ApplicationFactory()
    for access in [issue_session(user, app)[0] for _ in range(count)]:
        revoke(Selection.tokens([access]), surface=Surface.COMMAND, actor=Actor.command("test"))


@pytest.mark.skipif(connection.vendor == "sqlite", reason="needs concurrent transactions and row locks")
def test_parallel_workers_never_deliver_a_row_twice(transactional_db, loopback, settings):
    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "EVENTS_BATCH_SIZE": 3}
    loopback.delay = 0.005
    receivers = [Receiver.objects.create(name=f"rs{n}", url=f"{loopback.url}/{n}") for n in range(3)]
    revoke_sessions(15)
    expected = {
        receiver.pk: [
            f"msg_{event_id.hex}"
            for event_id in receiver.deliveries.order_by("pk").values_list("event_id", flat=True)
        ]
        for receiver in receivers
    }

    def worker():
        try:
            return delivery.drain().delivered
        finally:
            connections.close_all()

    delivered = run_together(worker, worker, worker)

    assert all(isinstance(count, int) for count in delivered), delivered
    assert sum(delivered) == 45
    ids = [request["headers"]["webhook-id"] for request in loopback.received]
    assert len(ids) == len(set(ids)) == 45  # no row sent twice, none lost
    for n, receiver in enumerate(receivers):
        arrived = [r["headers"]["webhook-id"] for r in loopback.received if r["path"] == f"/events/{n}"]
        assert arrived == expected[receiver.pk]  # in order per receiver
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or connection.vendor == "sqlite",
    reason="needs REDIS_URL (the Celery broker) and a database the worker thread can share",
)
def test_celery_worker_delivers_on_commit(transactional_db, loopback, settings):
    from celery import Celery
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    broker = os.environ.get("CELERY_BROKER_URL") or os.environ["REDIS_URL"]
    app = Celery("token_admin_tests", broker=broker, set_as_current=True)
    app.conf.task_default_queue = f"token_admin_tests_{os.getpid()}"
    app.conf.broker_connection_retry_on_startup = True
    from token_admin.events import tasks  # noqa: F401  (the shared task binds to this app)

    def close_connections(**kwargs):
        connections.close_all()  # the worker thread's own database connection

    task_postrun.connect(close_connections, weak=False)
    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "EVENTS_ON_COMMIT": "token_admin.events.tasks.enqueue"}
    Receiver.objects.create(name="rs", url=loopback.url)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
        ):
            revoke_sessions(3)  # each commit enqueues the task
            deadline = time.monotonic() + 30
            while len(loopback.processed) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        task_postrun.disconnect(close_connections)
    expected = [
        f"msg_{event_id.hex}"
        for event_id in Delivery.objects.order_by("pk").values_list("event_id", flat=True)
    ]
    assert loopback.processed == expected
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
