"""``MAX_SESSIONS_PER_USER_APP``: a sign-in beyond the cap revokes the oldest sessions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_application_model

from tests.concurrency import THREAD_TIMEOUT, can_mint, dot_accepts, run_together
from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session
from tests.helpers import json_id, url
from token_admin import expiry, queries
from token_admin.models import RevocationEvent, TokenSession

Application = get_application_model()


@pytest.fixture(autouse=True)
def _fresh_validator(fresh_validator):
    """Each request builds its validator (conftest's ``fresh_validator``)."""


@pytest.fixture
def cap(settings):
    settings.TOKEN_ADMIN = {"MAX_SESSIONS_PER_USER_APP": 2}


def sign_in(app, user) -> dict:
    """A password-grant sign-in at DOT's token endpoint, as a client makes it."""
    response = Client().post(
        url("/o/token/"),
        {
            "grant_type": "password",
            "username": user.get_username(),
            "password": "password",
            "client_id": app.client_id,
            "client_secret": app.raw_secret,
        },
    )
    assert response.status_code == 200, response.content
    return dict(response.json())


def live_count(user, app) -> int:
    return TokenSession.objects.filter(queries.live_sessions(), user=user, application=app).count()


def password_app():
    return ApplicationFactory(authorization_grant_type=Application.GRANT_PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_beyond_the_cap_ends_the_oldest_session(cap):
    alice, bob = UserFactory(username="alice"), UserFactory()
    app, other_app = password_app(), password_app()
    first, second = sign_in(app, alice), sign_in(app, alice)
    others = [sign_in(other_app, alice), sign_in(app, bob)]
    assert not RevocationEvent.objects.exists()

    third = sign_in(app, alice)

    # The oldest went, in the same request; the two newest and everyone else's stay.
    assert not dot_accepts(first["access_token"])
    assert not can_mint(app, first["refresh_token"])
    for pair in (second, third, *others):
        assert dot_accepts(pair["access_token"])
    assert live_count(alice, app) == 2
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_label) == (
        "policy",
        "policy",
        "session cap of 2 per user and app",
    )
    assert event.reason == "More than 2 live sessions of one user in one app: the oldest ended"
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)
    assert event.selection["kind"] == "session_cap"
    assert (event.selection["cap"], event.selection["user_id"], event.selection["application_id"]) == (
        2,
        json_id(alice.pk),
        app.pk,
    )


@pytest.mark.django_db(transaction=True)
def test_ended_sessions_do_not_count(cap):
    alice, app = UserFactory(), password_app()
    first = sign_in(app, alice)
    Client().post(
        url("/o/revoke_token/"),
        {"token": first["refresh_token"], "client_id": app.client_id, "client_secret": app.raw_secret},
    )
    second, third = sign_in(app, alice), sign_in(app, alice)
    assert dot_accepts(second["access_token"]) and dot_accepts(third["access_token"])
    assert not RevocationEvent.objects.filter(surface="policy").exists()


@pytest.mark.django_db(transaction=True)
def test_lone_tokens_count_and_app_tokens_are_not_capped(cap):
    alice, app = UserFactory(), ApplicationFactory()
    old_lone = AccessTokenFactory(user=alice, application=app)
    TokenSession.objects.filter(access_token_checksum=old_lone.token_checksum).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    app_tokens = [AccessTokenFactory(user=None, application=app) for _ in range(3)]
    newer = [issue_session(alice, app) for _ in range(2)]
    assert not dot_accepts(old_lone.raw_token)
    assert all(dot_accepts(access.raw_token) for access, _ in newer)
    assert all(dot_accepts(token.raw_token) for token in app_tokens)


@pytest.mark.django_db(transaction=True)
def test_no_cap_by_default():
    alice, app = UserFactory(), password_app()
    pairs = [sign_in(app, alice) for _ in range(12)]
    assert all(dot_accepts(pair["access_token"]) for pair in pairs)
    assert not RevocationEvent.objects.exists()


@pytest.mark.django_db
def test_the_check_is_one_query_under_the_cap_and_fixed_over_it(cap, django_assert_num_queries):
    alice, app = UserFactory(), ApplicationFactory()
    issue_session(alice, app)
    with django_assert_num_queries(1):
        assert expiry.enforce_cap(alice.pk, app.pk) is None

    def statements_beyond(count: int) -> int:
        user = UserFactory()
        for _ in range(2 + count):
            issue_session(user, app)
            AccessTokenFactory(user=user, application=app)  # lone sessions count too
        with CaptureQueriesContext(connection) as captured:
            done = expiry.enforce_cap(user.pk, app.pk)
        assert done is not None and len(done.selection["session_ids"]) == 2 + 2 * count
        assert live_count(user, app) == 2
        return len(captured)

    assert statements_beyond(1) == statements_beyond(6)


@pytest.mark.skipif(
    connection.vendor not in ("postgresql", "mysql"), reason="needs concurrent writers (PostgreSQL, MariaDB)"
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("checks_wait_for_both", [False, True])
def test_two_concurrent_sign_ins_end_at_the_cap(cap, monkeypatch, checks_wait_for_both):
    alice, app = UserFactory(), password_app()
    first, second = sign_in(app, alice), sign_in(app, alice)
    if checks_wait_for_both:
        # Both sign-ins commit before either checks the cap: each sees both new sessions.
        both_committed = threading.Barrier(2)
        original = expiry.enforce_cap

        def enforce_after_both(user_id, application_id):
            both_committed.wait(THREAD_TIMEOUT)
            return original(user_id, application_id)

        monkeypatch.setattr(expiry, "enforce_cap", enforce_after_both)

    new = run_together(lambda: sign_in(app, alice), lambda: sign_in(app, alice))

    assert all(isinstance(pair, dict) for pair in new), new
    assert live_count(alice, app) == 2
    assert not dot_accepts(first["access_token"]) and not dot_accepts(second["access_token"])
    assert all(dot_accepts(pair["access_token"]) for pair in new)
    events = RevocationEvent.objects.filter(surface="policy")
    assert sum(event.refresh_tokens_revoked for event in events) == 2


@pytest.mark.parametrize(
    ("setting", "ids"),
    [
        ({"MAX_SESSIONS_PER_USER_APP": 10, "UNUSED_SESSION_DAYS": 365}, []),
        ({"MAX_SESSIONS_PER_USER_APP": 0}, ["token_admin.E009"]),
        ({"UNUSED_SESSION_DAYS": "a year"}, ["token_admin.E009"]),
        ({"UNUSED_SESSION_DAYS": 365, "ACTIVITY_TRACKING": False}, ["token_admin.W002"]),
    ],
)
def test_the_policy_settings_are_checked(settings, setting, ids):
    from token_admin.checks import check_setting_combinations, check_settings

    settings.TOKEN_ADMIN = setting
    assert [message.id for message in [*check_settings(), *check_setting_combinations()]] == ids
