"""``manage.py prune_tokens``: ended sessions and dead refresh tokens go, in batches; nothing else does."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.factories import ApplicationFactory, UserFactory, issue_session, rotate
from tests.helpers import url
from token_admin.models import RevocationEvent, TokenSession
from token_admin.revocation import Actor, Selection, Surface, revoke

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

pytestmark = pytest.mark.django_db


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_tokens", *args, stdout=out)
    return out.getvalue().strip()


def backdate(refresh_token: Any, seconds: int) -> None:
    """Pretend the refresh token was revoked ``seconds`` ago."""
    revoked = timezone.now() - timedelta(seconds=seconds)
    RefreshToken.objects.filter(pk=refresh_token.pk).update(revoked=revoked)


def dot_settings(settings: Any, **values: Any) -> None:
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, **values}


def sessions() -> set[Any]:
    return {session.token_family or session.access_token_checksum for session in TokenSession.objects.all()}


def test_ended_sessions_and_revoked_refresh_tokens_go_live_ones_and_audit_events_stay():
    user, app = UserFactory(), ApplicationFactory()
    _, live = issue_session(user, app)
    _, ended = issue_session(user, app)
    revoke(
        Selection.sessions(TokenSession.objects.filter(token_family=ended.token_family)),
        surface=Surface.COMMAND,
        actor=Actor.command("test"),
    )
    lone, _ = issue_session(user, app, refresh=False)
    lone_expired, _ = issue_session(user, app, refresh=False, expires_in=timedelta(hours=-1))

    assert prune() == "Deleted 1 refresh tokens and 2 ended sessions."

    assert set(RefreshToken.objects.values_list("pk", flat=True)) == {live.pk}
    assert sessions() == {live.token_family, lone.token_checksum}
    assert RevocationEvent.objects.count() == 1
    assert AccessToken.objects.filter(pk=lone_expired.pk).exists()  # cleartokens' business, not ours
    assert prune() == "Deleted 0 refresh tokens and 0 ended sessions."


def test_dry_run_counts_and_deletes_nothing():
    _, refresh = issue_session(UserFactory(), ApplicationFactory())
    refresh.revoke()

    assert json.loads(prune("--dry-run", "--format", "json")) == {
        "refresh_tokens": 1,
        "sessions": 1,
        "dry_run": True,
        "events": 0,
    }
    assert prune("--dry-run") == "Would delete 1 refresh tokens and 1 ended sessions."
    assert RefreshToken.objects.count() == 1
    assert TokenSession.objects.count() == 1


def test_a_revoked_refresh_token_within_the_grace_period_is_kept(settings):
    dot_settings(settings, REFRESH_TOKEN_GRACE_PERIOD_SECONDS=120)
    _, recent = issue_session(UserFactory(), ApplicationFactory())
    recent.revoke()
    _, old = issue_session(UserFactory(), ApplicationFactory())
    old.revoke()
    backdate(old, 121)

    assert prune() == "Deleted 1 refresh tokens and 1 ended sessions."
    assert list(RefreshToken.objects.values_list("pk", flat=True)) == [recent.pk]
    assert sessions() == {recent.token_family}


def test_with_reuse_protection_a_family_with_a_live_member_keeps_its_revoked_ones(settings, client):
    dot_settings(settings, REFRESH_TOKEN_REUSE_PROTECTION=True, ROTATE_REFRESH_TOKEN=True)
    user, app = UserFactory(), ApplicationFactory()
    _, first = issue_session(user, app)
    _, current = rotate(first)  # first is revoked, current is live: a stolen first must be caught
    backdate(first, 3600)
    _, dead_first = issue_session(user, app)
    _, dead_current = rotate(dead_first)
    dead_current.revoke()  # the whole family is revoked: nothing left to protect
    backdate(dead_first, 3600)
    backdate(dead_current, 3600)

    assert prune() == "Deleted 2 refresh tokens and 1 ended sessions."
    assert set(RefreshToken.objects.values_list("pk", flat=True)) == {first.pk, current.pk}
    assert sessions() == {first.token_family}

    # The kept token still does its job: replaying it revokes the live one (DOT's reuse check).
    replay = client.post(
        url("/o/token/"),
        {
            "client_id": app.client_id,
            "client_secret": app.raw_secret,
            "grant_type": "refresh_token",
            "refresh_token": first.raw_token,
        },
    )
    assert replay.status_code == 400
    assert json.loads(replay.content)["error"] == "invalid_grant"
    current.refresh_from_db()
    assert current.revoked is not None


def test_without_reuse_protection_revoked_tokens_go_even_if_their_family_lives(settings):
    dot_settings(settings, REFRESH_TOKEN_REUSE_PROTECTION=False)
    user, app = UserFactory(), ApplicationFactory()
    _, first = issue_session(user, app)
    minted, current = rotate(first)
    backdate(first, 10)

    assert prune() == "Deleted 1 refresh tokens and 0 ended sessions."
    assert list(RefreshToken.objects.values_list("pk", flat=True)) == [current.pk]
    minted.refresh_from_db()  # the access token it minted stays, unlinked from it
    assert minted.source_refresh_token_id is None
    assert sessions() == {first.token_family}


def test_batches_are_bounded_and_together_delete_everything(settings):
    app = ApplicationFactory()
    for _ in range(5):
        _, refresh = issue_session(UserFactory(), app)
        refresh.revoke()
    _, live = issue_session(UserFactory(), app)

    with CaptureQueriesContext(connection) as captured:
        assert prune("--batch-size", "2") == "Deleted 5 refresh tokens and 5 ended sessions."

    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].upper().startswith("DELETE")]
    # Three windows of at most 2 rows per table (the last window holds the live token).
    assert len(deletes) == 6
    assert list(RefreshToken.objects.values_list("pk", flat=True)) == [live.pk]
    assert sessions() == {live.token_family}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be a whole number of at least 1, not '0'."),
        (["--batch-size", "many"], "--batch-size must be a whole number of at least 1, not 'many'."),
        (["--pause", "-1"], "--pause must be a number of seconds from 0 to 60, not '-1'."),
    ],
)
def test_bad_input_is_a_command_error_and_deletes_nothing(args, message):
    _, refresh = issue_session(UserFactory(), ApplicationFactory())
    refresh.revoke()
    with pytest.raises(CommandError) as raised:
        prune(*args)
    assert str(raised.value) == message
    assert RefreshToken.objects.count() == 1


def test_a_negative_grace_period_is_a_command_error(settings):
    dot_settings(settings, REFRESH_TOKEN_GRACE_PERIOD_SECONDS=-1)
    with pytest.raises(CommandError) as raised:
        prune()
    assert str(raised.value) == "REFRESH_TOKEN_GRACE_PERIOD_SECONDS must not be negative"
