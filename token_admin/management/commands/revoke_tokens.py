"""``manage.py revoke_tokens``: the revocation service (``token_admin.revocation``) from a shell.

Selectors, each repeatable:

* ``--user`` alone: every token of these users (``Selection.users``);
* ``--app`` alone: every token of these apps (``Selection.applications``);
* ``--user`` with ``--app``: every (user, app) pair is de-authorized (``Selection.user_apps``);
* ``--device``: these devices' sessions and registered clients (``Selection.devices``);
* ``--session``: these sessions (``Selection.sessions``).

``--device`` and ``--session`` already name exactly what goes, so they stand alone: mixing
them with each other or with ``--user``/``--app`` is refused rather than given a meaning
an operator could guess wrong. One call of the service, so one audit event, per run.

``--not-before now`` (or an ISO 8601 time) sets a not-before watermark instead
(``token_admin.not_before``): for each ``--user``, each ``--app``, or with ``--global``
for everyone, every token issued before that time becomes invalid, and the service revokes
what it covers (one audit event per watermark set). ``--user`` and ``--app`` are not
combined there: a watermark is per user, per app or global.

``--unused-for 365d`` (or ``12h``) revokes the live sessions unused that long instead, in
batches (``token_admin.expiry``: one audited service call per batch); ``--unused`` takes
the duration from ``TOKEN_ADMIN["UNUSED_SESSION_DAYS"]``, for cron.
"""

from __future__ import annotations

import datetime
import getpass
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from oauth2_provider.models import get_application_model

from token_admin import expiry, ids
from token_admin.conf import conf
from token_admin.models import Device, NotBefore, TokenSession
from token_admin.not_before import set_not_before
from token_admin.revocation import Actor, Selection, Surface, revoke


class Command(BaseCommand):
    help = (
        "Revoke OAuth tokens by user, app, (user, app) pair, device or session, through token_admin's "
        "revocation service: refresh-token families included, one audit event per run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user",
            action="append",
            default=[],
            metavar="USERNAME_OR_ID",
            help="A user, by username or primary key (repeatable). Alone: all of the user's tokens; "
            "with --app: only the tokens of the user for those apps.",
        )
        parser.add_argument(
            "--app",
            action="append",
            default=[],
            metavar="CLIENT_ID",
            help="An application, by client_id (repeatable). Alone: all of the app's tokens; "
            "with --user: only those users' tokens for the app.",
        )
        parser.add_argument(
            "--device",
            action="append",
            default=[],
            metavar="UUID",
            help="A device, by public id (repeatable): its sessions and its registered client's tokens. "
            "Cannot be combined with another selector.",
        )
        parser.add_argument(
            "--session",
            action="append",
            default=[],
            metavar="UUID",
            help="A session, by public id (repeatable): its access token and refresh-token family. "
            "Cannot be combined with another selector.",
        )
        parser.add_argument(
            "--not-before",
            metavar="now|ISO_TIME",
            help="Set a not-before watermark instead: every token of each --user, each --app, or with "
            "--global of everyone, issued before this time (now, or e.g. 2026-11-30T12:00:00Z) "
            "becomes invalid, and what it covers is revoked.",
        )
        parser.add_argument(
            "--global",
            action="store_true",
            dest="everyone",
            help="With --not-before: the watermark is for every token of every user and app.",
        )
        parser.add_argument(
            "--unused-for",
            metavar="DURATION",
            help="Revoke every live session unused for this long instead (e.g. 365d or 12h; last use, "
            "or the start of a session never used), in batches; stands alone.",
        )
        parser.add_argument(
            "--unused",
            action="store_true",
            help='As --unused-for, for TOKEN_ADMIN["UNUSED_SESSION_DAYS"] days (for cron).',
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=expiry.DEFAULT_BATCH_SIZE,
            help=f"With --unused-for: sessions per revocation (default {expiry.DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--reason",
            default="",
            help="Why, recorded in the audit event (e.g. 'stolen laptop'). Required unless "
            'TOKEN_ADMIN["REASON_REQUIRED"] is False; a --dry-run needs none.',
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be revoked; change nothing and write no audit event.",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="'text' (default): one summary line. 'json': one JSON object "
            '{"access_tokens", "refresh_tokens", "grants", "dry_run"}.',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_values, app_values = options["user"], options["app"]
        device_values, session_values = options["device"], options["session"]
        given = [name for name in ("user", "app", "device", "session") if options[name]]
        if options["unused_for"] is not None or options["unused"]:
            return self._unused(options, given)
        if options["not_before"] is not None or options["everyone"]:
            return self._not_before(options, given)
        if not given:
            raise CommandError("Nothing selected: give --user, --app, --device or --session.")
        if (device_values or session_values) and len(given) > 1:
            raise CommandError(
                "--device and --session stand alone: they cannot be combined with any other selector."
            )

        for name in given:
            _check_text(options[name], name)

        if device_values:
            selection = Selection.devices(_devices(device_values))
        elif session_values:
            selection = Selection.sessions(_sessions(session_values))
        else:
            selection = _users_apps_selection(
                _users(user_values) if user_values else [], _apps(app_values) if app_values else []
            )

        dry_run = options["dry_run"]
        reason = options["reason"].strip()
        # The admin's policy (TOKEN_ADMIN["REASON_REQUIRED"]); a dry run records nothing, so needs none.
        if not reason and not dry_run and conf.REASON_REQUIRED:
            raise CommandError('A reason is required: give --reason "..." (recorded in the audit event).')
        # A dry run is the service's own preview: the same selection, counted, nothing written.
        done = revoke(selection, surface=Surface.COMMAND, actor=_actor(), reason=reason, dry_run=dry_run)
        counts = {
            "access_tokens": done.access_tokens,
            "refresh_tokens": done.refresh_tokens,
            "grants": done.grants,
        }
        if options["format"] == "json":
            self.stdout.write(json.dumps({**counts, "dry_run": dry_run}))
        else:
            self.stdout.write(_summary(counts, dry_run))

    def _not_before(self, options: dict[str, Any], given: list[str]) -> None:
        if options["not_before"] is None:
            raise CommandError("--global only goes with --not-before.")
        if options["everyone"] == bool(given) or given not in ([], ["user"], ["app"]):
            raise CommandError("--not-before takes --user (repeatable), --app (repeatable) or --global.")
        for name in given:
            _check_text(options[name], name)
        when = _parse_time(options["not_before"])
        dry_run = options["dry_run"]
        reason = options["reason"].strip()
        if not reason and not dry_run and conf.REASON_REQUIRED:
            raise CommandError('A reason is required: give --reason "..." (recorded in the audit event).')
        if given == ["user"]:
            targets: list[tuple[str, Any]] = [
                (NotBefore.Scope.USER, user) for user in _users(options["user"])
            ]
        elif given == ["app"]:
            targets = [(NotBefore.Scope.APP, app) for app in _apps(options["app"])]
        else:
            targets = [(NotBefore.Scope.GLOBAL, None)]
        totals = {"access_tokens": 0, "refresh_tokens": 0, "grants": 0}
        invalidated, estimated = None, False
        for scope, target in targets:
            done = set_not_before(
                scope, target, when=when, set_by=_actor().label, reason=reason, dry_run=dry_run
            )
            totals["access_tokens"] += done.revocation.access_tokens
            totals["refresh_tokens"] += done.revocation.refresh_tokens
            totals["grants"] += done.revocation.grants
            invalidated, estimated = done.tokens_invalidated, done.tokens_invalidated_estimated
        if options["format"] == "json":
            extra = (
                {}
                if invalidated is None
                else {"tokens_invalidated": invalidated, "tokens_invalidated_estimated": estimated}
            )
            self.stdout.write(
                json.dumps({**totals, "not_before": when.isoformat(), **extra, "dry_run": dry_run})
            )
            return
        line = _summary(totals, dry_run)
        if invalidated is not None:
            plural = "" if invalidated == 1 else "s"
            about = "about " if estimated else ""
            line += f" {about}{invalidated} earlier access token{plural} made invalid, not deleted."
            if estimated:
                line += " (An estimate: too many to count.)"
        verb = "Would set" if dry_run else "Set"
        self.stdout.write(f"{verb} not-before {when.isoformat()}. {line}")

    def _unused(self, options: dict[str, Any], given: list[str]) -> None:
        if given or options["not_before"] is not None or options["everyone"]:
            raise CommandError("--unused-for and --unused stand alone: they select sessions by last use.")
        if options["unused"] == (options["unused_for"] is not None):
            raise CommandError("Give either --unused-for DURATION or --unused, not both.")
        if options["unused"]:
            days = conf.UNUSED_SESSION_DAYS
            if days is None:
                raise CommandError('--unused needs TOKEN_ADMIN["UNUSED_SESSION_DAYS"]; it is not set.')
            options["unused_for"] = f"{days}d"
        try:
            unused_for = expiry.parse_duration(options["unused_for"])
        except ValueError as exc:
            raise CommandError(f"Malformed --unused-for: {exc}") from exc
        if not conf.ACTIVITY_TRACKING:
            # Without tracking no session has a last use: every one would count from its start.
            raise CommandError('Last use is not recorded (TOKEN_ADMIN["ACTIVITY_TRACKING"] is False).')
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        done = expiry.revoke_unused(unused_for, batch_size=options["batch_size"], dry_run=options["dry_run"])
        counts = {"access_tokens": done.access_tokens, "refresh_tokens": done.refresh_tokens, "grants": 0}
        if options["format"] == "json":
            extra = {"sessions": done.sessions, "unused_before": done.cutoff.isoformat()}
            self.stdout.write(json.dumps({**counts, **extra, "dry_run": done.dry_run}))
            return
        plural = "" if done.sessions == 1 else "s"
        what = f"{done.sessions} session{plural} unused since {done.cutoff:%Y-%m-%d %H:%M} UTC"
        self.stdout.write(f"{what}: {_summary(counts, done.dry_run)}")


def _parse_time(value: str, *, option: str = "--not-before") -> Any:
    """``now`` or an ISO 8601 time (UTC when it names no offset); never in the future."""
    if value.strip().lower() == "now":
        return timezone.now()
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f"Malformed {option} {value!r}: give 'now' or an ISO 8601 time.")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, datetime.timezone.utc)
    if parsed > timezone.now():
        raise CommandError(f"{option} cannot be in the future.")
    return parsed


def _users_apps_selection(users: list[Any], apps: list[Any]) -> Selection:
    if users and apps:
        return Selection.user_apps([(user, app) for user in users for app in apps])
    if users:
        return Selection.users(users)
    return Selection.applications(apps)


def _check_text(values: Sequence[str], option: str) -> None:
    """Refuse values no database can take: bytes that are not UTF-8 (Python passes them on as
    lone surrogates, which fail to encode in the query) and NUL characters (PostgreSQL)."""
    malformed = []
    for value in values:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            malformed.append(value)
            continue
        if "\x00" in value:
            malformed.append(value)
    if malformed:
        # The bytes as given, escaped, so the message itself can always be printed.
        shown = [repr(value.encode("utf-8", "surrogateescape"))[2:-1] for value in malformed]
        raise CommandError(f"Malformed --{option} (not UTF-8 text): {', '.join(shown)}.")


def _users(values: Sequence[str]) -> list[Any]:
    """Users by username or primary key, in one query; unknown or ambiguous values are errors."""
    User = get_user_model()
    username_field = User.USERNAME_FIELD
    pks: dict[str, Any] = {}
    for value in values:
        try:
            pks[value] = ids.parse(User, value)
        except ValueError:
            continue  # not a primary key (e.g. 25 digits, or not a UUID): only a username
    found = list(
        User._default_manager.filter(Q(**{f"{username_field}__in": values}) | Q(pk__in=pks.values()))
    )
    users: dict[Any, Any] = {}
    unknown = []
    for value in values:
        # Compared here, not by the database: MySQL's collations would match "Alice" to "alice".
        matches = [
            user
            for user in found
            if getattr(user, username_field) == value or (value in pks and user.pk == pks[value])
        ]
        if not matches:
            unknown.append(value)
        elif len(matches) > 1:
            raise CommandError(
                f"Ambiguous --user {value}: it is the username of one user and the id of another."
            )
        else:
            users[matches[0].pk] = matches[0]
    if unknown:
        raise CommandError(f"Unknown user (username or id): {', '.join(unknown)}.")
    return list(users.values())


def _apps(values: Sequence[str]) -> list[Any]:
    """Applications by client_id, in one query; unknown ones are an error."""
    found = {app.client_id: app for app in get_application_model().objects.filter(client_id__in=values)}
    unknown = [value for value in values if value not in found]
    if unknown:
        raise CommandError(f"Unknown app (client_id): {', '.join(unknown)}.")
    return list({found[value].pk: found[value] for value in values}.values())


def _uuids(values: Sequence[str], kind: str) -> list[uuid.UUID]:
    malformed = []
    parsed = []
    for value in values:
        try:
            parsed.append(uuid.UUID(value))
        except ValueError:
            malformed.append(value)
    if malformed:
        raise CommandError(f"Malformed {kind} id (expected a UUID): {', '.join(malformed)}.")
    return sorted(set(parsed))


def _devices(values: Sequence[str]) -> list[Device]:
    """Devices by public id, in one query; malformed or unknown ids are an error."""
    ids = _uuids(values, "device")
    devices = list(Device.objects.filter(public_id__in=ids).order_by("public_id"))
    unknown = sorted(set(ids) - {device.public_id for device in devices})
    if unknown:
        raise CommandError(f"Unknown device: {', '.join(map(str, unknown))}.")
    return devices


def _sessions(values: Sequence[str]) -> list[uuid.UUID]:
    """Session public ids, checked to exist in one query; malformed or unknown ids are an error."""
    ids = _uuids(values, "session")
    known = set(TokenSession.objects.filter(public_id__in=ids).values_list("public_id", flat=True))
    unknown = [session_id for session_id in ids if session_id not in known]
    if unknown:
        raise CommandError(f"Unknown session: {', '.join(map(str, unknown))}.")
    return ids


def _actor(command: str = "revoke_tokens") -> Actor:
    """The audit actor: the command and the OS user who ran it (never the arguments' secrets)."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry, e.g. some containers
        os_user = "unknown OS user"
    return Actor.command(f"{command} by {os_user}")


def _summary(counts: dict[str, int], dry_run: bool) -> str:
    def plural(count: int, noun: str) -> str:
        return f"{count} {noun}{'' if count == 1 else 's'}"

    what = (
        f"{plural(counts['access_tokens'], 'access token')}, "
        f"{plural(counts['refresh_tokens'], 'refresh token')} and {plural(counts['grants'], 'grant')}"
    )
    if dry_run:
        return f"Dry run: would revoke {what}. Nothing was changed."
    return f"Revoked {what}."
