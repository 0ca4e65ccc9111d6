"""``python manage.py prune_tokens``: delete ended sessions and refresh tokens no check needs.

Run it beside DOT's ``cleartokens`` (say, nightly from cron); see ``token_admin.retention``
for what is deleted and why it is safe with DOT's grace period and reuse protection.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from token_admin import retention


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise CommandError(f"--batch-size must be a whole number of at least 1, not {value!r}.")
    return number


def _pause(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise CommandError(f"--pause must be a number of seconds from 0 to 60, not {value!r}.")
    return seconds


class Command(BaseCommand):
    help = (
        "Delete token_admin sessions that have ended and revoked refresh tokens past DOT's grace "
        "period whose family reuse protection no longer needs, in batches. Revocation events "
        "are kept. Run it beside DOT's cleartokens."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--batch-size",
            default=str(retention.DEFAULT_BATCH_SIZE),
            help=f"Rows per transaction (default {retention.DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--pause", default="0", help="Seconds to sleep between batches, to spare a busy database."
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = _positive_int(options["batch_size"])
        pause = _pause(options["pause"])
        try:
            pruned = retention.prune(batch_size=batch_size, dry_run=options["dry_run"], pause=pause)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if options["format"] == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "refresh_tokens": pruned.refresh_tokens,
                        "sessions": pruned.sessions,
                        "events": pruned.events,
                        "dry_run": pruned.dry_run,
                    }
                )
            )
            return
        verb = "Would delete" if pruned.dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {pruned.refresh_tokens} refresh tokens and {pruned.sessions} ended sessions."
            + (f" {verb} {pruned.events} finished event deliveries." if pruned.events else "")
        )
