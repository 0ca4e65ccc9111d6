"""Unused-session expiry: ``revoke_tokens --unused-for`` / ``--unused`` (``token_admin.expiry``)."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import datetime, timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model, set_token_value

from tests.concurrency import can_mint, dot_accepts
from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session
from token_admin import expiry
from token_admin.models import RevocationEvent, TokenSession
from token_admin.signals import tokens_revoked

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
RefreshToken = get_refresh_token_model()


def session_of(access, refresh=None) -> TokenSession:
    if refresh is not None:
        return TokenSession.objects.get(token_family=refresh.token_family)
    return TokenSession.objects.get(access_token_checksum=access.token_checksum)


def age(session: TokenSession, *, began_days: int, used_days: int | None) -> None:
    now = timezone.now()
    TokenSession.objects.filter(pk=session.pk).update(
        created_at=now - began_days * DAY,
        last_used_at=None if used_days is None else now - used_days * DAY,
    )


def policy_events():
    # The fixture's ended session was revoked through DOT's own revoke(), audited too.
    return RevocationEvent.objects.filter(surface="policy")


def run(*args: str) -> dict:
    out = StringIO()
    call_command("revoke_tokens", *args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def world():
    w = SimpleNamespace()
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    app = ApplicationFactory()
    w.used_long_ago = issue_session(alice, app)  # began 500 days ago, last used 400 days ago
    w.used_lately = issue_session(alice, app)  # began 500 days ago, used yesterday
    w.never_used_old = issue_session(bob, app)  # began 400 days ago, never used
    w.never_used_new = issue_session(bob, app)  # began 10 days ago, never used
    w.lone_old = (AccessTokenFactory(user=alice, application=app), None)  # lone, began 400 days ago
    age(session_of(*w.used_long_ago), began_days=500, used_days=400)
    age(session_of(*w.used_lately), began_days=500, used_days=1)
    age(session_of(*w.never_used_old), began_days=400, used_days=None)
    age(session_of(*w.never_used_new), began_days=10, used_days=None)
    age(session_of(*w.lone_old), began_days=400, used_days=None)
    # Old and unused, but already ended: nothing to revoke, not counted.
    ended = issue_session(alice, app)
    age(session_of(*ended), began_days=800, used_days=700)
    ended[1].revoke()
    w.expired = [w.used_long_ago, w.never_used_old, w.lone_old]
    w.kept = [w.used_lately, w.never_used_new]
    return w


def test_unused_sessions_are_revoked_and_used_ones_kept(world):
    before = timezone.now()
    result = run("--unused-for", "365d")
    cutoff = result.pop("unused_before")
    assert result == {"access_tokens": 3, "refresh_tokens": 2, "grants": 0, "sessions": 3, "dry_run": False}
    assert before - 365 * DAY <= datetime.fromisoformat(cutoff) <= timezone.now() - 365 * DAY
    for access, refresh in world.expired:
        assert not dot_accepts(access.raw_token)
        if refresh is not None:
            assert not can_mint(access.application, refresh.raw_token)
    for access, _ in world.kept:
        assert dot_accepts(access.raw_token)
    event = policy_events().get()
    assert (event.surface, event.actor_type, event.actor_label) == (
        "policy",
        "policy",
        "sessions unused for 365 days",
    )
    assert event.reason.startswith("Unused for 365 days (last use before ")
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (3, 2)
    assert event.selection["kind"] == "unused_sessions"
    assert event.selection["unused_before"] == cutoff
    assert event.selection["session_ids"] == sorted(
        str(session_of(*pair).public_id) for pair in world.expired
    )
    # A second run finds nothing left: no event for nothing.
    assert run("--unused-for", "365d")["sessions"] == 0
    assert policy_events().count() == 1


def test_dry_run_counts_the_same_and_changes_nothing(world):
    result = run("--unused-for", "365d", "--dry-run")
    result.pop("unused_before")
    assert result == {"access_tokens": 3, "refresh_tokens": 2, "grants": 0, "sessions": 3, "dry_run": True}
    assert not policy_events().exists()
    for access, _ in world.expired + world.kept:
        assert dot_accepts(access.raw_token)


def test_text_output(world):
    out = StringIO()
    call_command("revoke_tokens", "--unused-for", "365d", stdout=out)
    assert re.fullmatch(
        r"3 sessions unused since \d{4}-\d\d-\d\d \d\d:\d\d UTC: "
        r"Revoked 3 access tokens, 2 refresh tokens and 0 grants\.\n",
        out.getvalue(),
    )


def test_hours_count_too(world):
    # Everything but the session used yesterday and the one begun 10 days ago... is older than 12h.
    assert run("--unused-for", "12h")["sessions"] == 5


def test_batches_are_one_audited_signalled_revocation_each(world, django_capture_on_commit_callbacks):
    received = []

    def listener(sender, event, **kwargs):
        received.append((event.pk, kwargs["access_tokens"], kwargs["refresh_tokens"]))

    tokens_revoked.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = run("--unused-for", "365d", "--batch-size", "2")
    finally:
        tokens_revoked.disconnect(listener)
    assert result["sessions"] == 3
    events = list(policy_events().order_by("pk"))
    # Never used first (by start), then used (by last use): [never_used_old, lone_old], [used_long_ago].
    assert [len(event.selection["session_ids"]) for event in events] == [2, 1]
    assert [(event.access_tokens_revoked, event.refresh_tokens_revoked) for event in events] == [
        (2, 1),
        (1, 1),
    ]
    assert received == [
        (event.pk, event.access_tokens_revoked, event.refresh_tokens_revoked) for event in events
    ]


def make_old_sessions(count: int, *, used: bool) -> None:
    app = ApplicationFactory()
    for _ in range(count):
        pair = issue_session(UserFactory(), app)
        age(session_of(*pair), began_days=500, used_days=400 if used else None)


@pytest.mark.parametrize("used", [False, True])
def test_a_batch_costs_the_same_statements_for_2_or_12_sessions(used):
    def statements(count: int) -> int:
        make_old_sessions(count, used=used)
        with CaptureQueriesContext(connection) as captured:
            done = expiry.revoke_unused(365 * DAY, batch_size=50)
        assert (done.sessions, done.batches) == (count, 1)
        return len(captured)

    assert statements(2) == statements(12)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "'abc' is not a duration: give a whole number of days or hours, e.g. 365d or 12h."),
        ("-1d", "'-1d' is not a duration: give a whole number of days or hours, e.g. 365d or 12h."),
        ("1.5d", "'1.5d' is not a duration: give a whole number of days or hours, e.g. 365d or 12h."),
        ("365", "'365' is not a duration: give a whole number of days or hours, e.g. 365d or 12h."),
        ("", "'' is not a duration: give a whole number of days or hours, e.g. 365d or 12h."),
        ("0d", "'0d' is too short: a duration is at least 1h."),
        ("0h", "'0h' is too short: a duration is at least 1h."),
        ("99999d", "'99999d' is too long: at most 36500d."),
        ("9999999d", "'9999999d' is too long: at most 36500d."),
    ],
)
def test_bad_durations_are_refused(world, value, message):
    with pytest.raises(CommandError) as raised:
        run(f"--unused-for={value}")  # "=": argparse would take "-1d" for an option
    assert str(raised.value) == f"Malformed --unused-for: {message}"
    assert not policy_events().exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unused-for", "365d", "--user", "alice"], "--unused-for and --unused stand alone"),
        (["--unused-for", "365d", "--not-before", "now"], "--unused-for and --unused stand alone"),
        (["--unused-for", "365d", "--unused"], "Give either --unused-for DURATION or --unused, not both."),
        (["--unused-for", "365d", "--batch-size", "0"], "--batch-size must be at least 1."),
        (["--unused"], '--unused needs TOKEN_ADMIN["UNUSED_SESSION_DAYS"]; it is not set.'),
    ],
)
def test_bad_combinations_are_refused(world, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)
    assert not policy_events().exists()


def test_unused_takes_the_setting(world, settings):
    settings.TOKEN_ADMIN = {"UNUSED_SESSION_DAYS": 365}
    assert run("--unused")["sessions"] == 3
    settings.TOKEN_ADMIN = {"UNUSED_SESSION_DAYS": 5}
    assert run("--unused")["sessions"] == 1  # the session begun 10 days ago, never used


def test_refused_without_activity_tracking(world, settings):
    settings.TOKEN_ADMIN = {"ACTIVITY_TRACKING": False}
    with pytest.raises(CommandError, match=re.escape("Last use is not recorded")):
        run("--unused-for", "365d")
    assert all(dot_accepts(access.raw_token) for access, _ in world.expired)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_a_batch_reads_sessions_by_index_not_by_seq_scan():
    app = ApplicationFactory()
    user = UserFactory()
    now = timezone.now()
    families = [uuid.uuid4() for _ in range(4000)]
    # Each refresh token bound to an unexpired access token, as DOT leaves a live session.
    access_tokens = []
    for _ in families:
        access = get_access_token_model()(user=user, application=app, expires=now + DAY, scope="read")
        set_token_value(access, secrets.token_urlsafe(20))
        access_tokens.append(access)
    access_tokens = get_access_token_model().objects.bulk_create(access_tokens)
    refresh_tokens = []
    for family, access in zip(families, access_tokens, strict=True):
        refresh = RefreshToken(user=user, application=app, token_family=family, access_token=access)
        set_token_value(refresh, secrets.token_urlsafe(20))
        refresh_tokens.append(refresh)
    RefreshToken.objects.bulk_create(refresh_tokens)
    TokenSession.objects.bulk_create(
        TokenSession(
            user=user,
            application=app,
            token_family=family,
            created_at=now - (i % 900) * DAY,
            last_used_at=None if i % 3 else now - (i % 700) * DAY,
        )
        for i, family in enumerate(families)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    for key, sessions in expiry.unused_passes(now - 365 * DAY, now):
        first = expiry.unused_page(key, sessions, None, 500)
        after = first[499][: len(key)]
        for page in (first, expiry.unused_page(key, sessions, after, 500)):
            plan = page.explain()
            assert "Seq Scan on token_admin_tokensession" not in plan, plan
            assert "token_admin_last_used_idx" in plan, plan
