"""``python manage.py deliver_events``: deliver revocation events (the outbox) without Celery.

Runs as a long-lived worker (several may run at once: claims are exclusive), or with
``--once`` delivers what is due and exits (for cron).
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from token_admin.events import delivery


def _interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0.05 <= seconds <= 3600:
        raise CommandError(f"--interval must be a number of seconds from 0.05 to 3600, not {value!r}.")
    return seconds


class Command(BaseCommand):
    help = (
        "Deliver revocation events to their receivers (webhooks, CAEP, back-channel logout): "
        "a worker that polls the outbox, or with --once, what is due now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Deliver what is due, then exit.")
        parser.add_argument(
            "--interval", default="1", help="Seconds between polls when nothing is due (default 1)."
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = _interval(options["interval"])
        if options["once"]:
            self._report(delivery.drain(), options["format"])
            return
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        # Finish the row in hand on SIGTERM/SIGINT: a row cut off mid-send would wait for its lease.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            outcome = delivery.run_once()
            if outcome.claimed:
                self._report(outcome, options["format"])
            else:
                time.sleep(interval)

    def _report(self, outcome: delivery.Outcome, fmt: str) -> None:
        counts = {
            "claimed": outcome.claimed,
            "delivered": outcome.delivered,
            "retrying": outcome.retrying,
            "failed": outcome.failed,
            "skipped": outcome.skipped,
        }
        if fmt == "json":
            self.stdout.write(json.dumps(counts))
        else:
            self.stdout.write(", ".join(f"{count} {name}" for name, count in counts.items()) + ".")
