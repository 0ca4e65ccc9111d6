"""Celery delivery (the ``events`` extra): ``deliver`` drains the due outbox rows.

Schedule it with Celery beat every few seconds (retries come due without a new revocation),
and optionally set ``EVENTS_ON_COMMIT = "token_admin.events.tasks.enqueue"`` so a revocation
wakes a worker at once. Any number of workers may run it: claims are exclusive.
"""

from __future__ import annotations

from celery import shared_task

from token_admin.events import delivery


@shared_task(name="token_admin.events.deliver", ignore_result=True)
def deliver() -> int:
    """Deliver every due row; returns how many were claimed."""
    return delivery.drain().claimed


def enqueue() -> None:
    """Ask a worker to run ``deliver`` (for ``EVENTS_ON_COMMIT``)."""
    deliver.delay()
