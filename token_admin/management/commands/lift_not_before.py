"""``manage.py lift_not_before``: lower or remove a not-before watermark (``not_before.lift_not_before``).

An explicit undo: tokens the watermark made invalid that still exist (not expired, not
revoked) work again. ``--dry-run`` counts them first. One audit event per watermark lifted.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from token_admin.conf import conf
from token_admin.management.commands.revoke_tokens import _actor, _apps, _check_text, _parse_time, _users
from token_admin.models import NotBefore
from token_admin.not_before import lift_not_before


class Command(BaseCommand):
    help = (
        "Lower or remove the not-before watermark of a user, an app or everyone: tokens it made "
        "invalid that still exist work again (revoked ones never do). Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--user", metavar="USERNAME_OR_ID", help="The user's watermark.")
        target.add_argument("--app", metavar="CLIENT_ID", help="The app's watermark.")
        target.add_argument("--global", action="store_true", dest="everyone", help="The global watermark.")
        parser.add_argument(
            "--to",
            metavar="ISO_TIME",
            help="Lower the watermark to this time (e.g. 2026-11-30T12:00:00Z); without it, remove it.",
        )
        parser.add_argument("--reason", default="", help="Why, recorded in the audit event.")
        parser.add_argument("--dry-run", action="store_true", help="Count what comes back; change nothing.")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["user"] is not None:
            _check_text([options["user"]], "user")
            scope, target = NotBefore.Scope.USER, _users([options["user"]])[0]
        elif options["app"] is not None:
            _check_text([options["app"]], "app")
            scope, target = NotBefore.Scope.APP, _apps([options["app"]])[0]
        else:
            scope, target = NotBefore.Scope.GLOBAL, None
        to = _parse_time(options["to"], option="--to") if options["to"] is not None else None
        reason = options["reason"].strip()
        if not reason and not options["dry_run"] and conf.REASON_REQUIRED:
            raise CommandError('A reason is required: give --reason "..." (recorded in the audit event).')
        try:
            done = lift_not_before(
                scope,
                target,
                to=to,
                set_by=_actor("lift_not_before").label,
                reason=reason,
                dry_run=options["dry_run"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["format"] == "json":
            document = {
                "previous": done.previous.isoformat(),
                "not_before": done.not_before.isoformat() if done.not_before is not None else None,
                "tokens_valid_again": done.tokens_valid_again,
                "tokens_valid_again_estimated": done.tokens_valid_again_estimated,
                "dry_run": options["dry_run"],
            }
            self.stdout.write(json.dumps(document))
            return
        about = "about " if done.tokens_valid_again_estimated else ""
        count = f"{about}{done.tokens_valid_again} access token{'' if done.tokens_valid_again == 1 else 's'}"
        change = f"lowered to {done.not_before.isoformat()}" if done.not_before else "removed"
        if options["dry_run"]:
            self.stdout.write(
                f"Dry run: the watermark ({done.previous.isoformat()}) would be {change}; "
                f"{count} would work again. Nothing was changed."
            )
        else:
            self.stdout.write(f"Watermark {done.previous.isoformat()} {change}; {count} work again.")
