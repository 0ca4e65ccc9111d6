"""Reads that cost one page whatever the size of the tables: what a client sees, query bounds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session, rotate
from tests.helpers import bearer, url
from token_admin import queries
from token_admin.admin import mixins as token_admin_admin

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

pytestmark = pytest.mark.django_db

TOKENS_URL = f"admin:{AccessToken._meta.app_label}_{AccessToken._meta.model_name}_changelist"
SESSIONS_URL = "admin:token_admin_tokensession_changelist"


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def page_rows(response: Any) -> list[Any]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def count_queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured.captured_queries)


# --- admin changelists ----------------------------------------------------------------------


def test_token_list_flags_each_row_of_the_page_with_its_refresh_token(superuser_client):
    app = ApplicationFactory()
    with_refresh, _ = issue_session(UserFactory(), app)
    without, _ = issue_session(UserFactory(), app, refresh=False)
    rotated_from, refresh = issue_session(UserFactory(), app)
    current, _ = rotate(refresh)

    rows = page_rows(superuser_client.get(reverse(TOKENS_URL)))

    assert {row.pk: row.bound_refresh_token for row in rows} == {
        with_refresh.pk: True,
        without.pk: False,
        current.pk: True,
    }
    assert rotated_from.pk not in {row.pk for row in rows}  # revoked: DOT deleted it


def test_token_list_costs_the_same_queries_for_3_or_120_tokens(superuser_client):
    app = ApplicationFactory()
    for _ in range(3):
        issue_session(UserFactory(), app)
    few = count_queries(superuser_client, reverse(TOKENS_URL))
    for _ in range(117):
        issue_session(UserFactory(), app)
    many = count_queries(superuser_client, reverse(TOKENS_URL))
    assert few == many


def test_token_list_counts_up_to_its_limit_then_says_more(superuser_client, monkeypatch):
    monkeypatch.setattr(token_admin_admin.BoundedCountPaginator, "count_limit", 3)
    app = ApplicationFactory()
    for _ in range(5):
        issue_session(UserFactory(), app)

    response = superuser_client.get(reverse(TOKENS_URL))

    body = response.content.decode()
    assert response.context["cl"].result_count == 3
    assert "3+ access tokens" in body
    assert len(page_rows(response)) == 5  # the page itself is complete


def test_token_list_counts_exactly_below_the_limit(superuser_client):
    app = ApplicationFactory()
    for _ in range(2):
        issue_session(UserFactory(), app)

    response = superuser_client.get(reverse(TOKENS_URL))

    assert response.context["cl"].result_count == 2
    assert "2 access tokens" in response.content.decode()


def test_session_list_shows_each_session_signed_in_or_ended(superuser_client):
    app = ApplicationFactory()
    live_token, live_refresh = issue_session(UserFactory(), app)
    rotated, rotated_refresh = issue_session(UserFactory(), app)
    rotate(rotated_refresh)  # still signed in: the family has a new live refresh token
    _, ended_refresh = issue_session(UserFactory(), app)
    ended_refresh.revoke()
    lone_live, _ = issue_session(UserFactory(), app, refresh=False)
    lone_expired, _ = issue_session(UserFactory(), app, refresh=False, expires_in=timedelta(hours=-1))

    rows = page_rows(superuser_client.get(reverse(SESSIONS_URL)))

    live = {row.token_family or row.access_token_checksum: row.live for row in rows}
    assert live == {
        live_refresh.token_family: True,
        rotated_refresh.token_family: True,
        ended_refresh.token_family: False,
        lone_live.token_checksum: True,
        lone_expired.token_checksum: False,
    }


def test_session_list_costs_the_same_queries_for_3_or_60_sessions(superuser_client):
    app = ApplicationFactory()
    for _ in range(3):
        issue_session(UserFactory(), app)
    few = count_queries(superuser_client, reverse(SESSIONS_URL))
    for _ in range(57):
        _, refresh = issue_session(UserFactory(), app)
        refresh.revoke()
    many = count_queries(superuser_client, reverse(SESSIONS_URL))
    assert few == many


# --- end-user list: bounded by the user's live tokens, not by the user's history ------------


def test_end_user_sessions_never_read_ended_sessions(django_assert_num_queries):
    user, app = UserFactory(), ApplicationFactory()
    live_token, live_refresh = issue_session(user, app)
    ended = []
    for _ in range(30):
        _, refresh = issue_session(user, app)
        refresh.revoke()  # an ended session: the history a user builds up
        ended.append(refresh.token_family.hex)
    lone, _ = issue_session(user, app, refresh=False)

    with CaptureQueriesContext(connection) as captured:
        listed = queries.end_user_sessions(user.pk)

    assert [(item.session.token_family, item.session.access_token_checksum) for item in listed] == [
        (None, lone.token_checksum),
        (live_refresh.token_family, None),
    ]
    assert len(captured.captured_queries) == 4  # with the watermarks' read, last
    # The session query names the two live sessions only, none of the 30 ended ones.
    session_sql = captured.captured_queries[-2]["sql"].replace("-", "").lower()
    assert live_refresh.token_family.hex in session_sql
    assert not [family for family in ended if family in session_sql]


def test_end_user_sessions_of_a_user_without_tokens_is_two_queries(django_assert_num_queries):
    user, app = UserFactory(), ApplicationFactory()
    _, refresh = issue_session(user, app)
    refresh.revoke()
    with django_assert_num_queries(2):
        assert queries.end_user_sessions(user) == []


# --- App.net user_ids: one index probe per user -----------------------------------------------


def test_app_user_ids_lists_each_user_with_a_live_session_once_in_order(settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_EXPIRE_SECONDS": 3600}
    app, other_app = ApplicationFactory(), ApplicationFactory()
    users = [UserFactory() for _ in range(6)]
    for user in (users[2], users[0], users[2], users[3]):
        issue_session(user, app)
    issue_session(users[1], app, expires_in=timedelta(hours=-1), refresh=False)  # expired: left out
    issue_session(users[1], other_app)  # another app's
    # Access token expired, refresh token live: authorized (the one live-session definition).
    issue_session(users[4], app, expires_in=timedelta(minutes=-5))
    # Refresh token past REFRESH_TOKEN_EXPIRE_SECONDS after its access token expired: not.
    issue_session(users[5], app, expires_in=timedelta(hours=-2))
    AccessTokenFactory(user=None, application=app)  # app token: no user
    AccessTokenFactory(user=users[1], application=app, scope=oauth2_settings.DCR_REGISTRATION_SCOPE)

    assert queries.app_user_ids(app) == sorted([users[0].pk, users[2].pk, users[3].pk, users[4].pk])
    assert queries.app_user_ids(ApplicationFactory()) == []


def test_token_indexes_exist_on_the_access_token_table():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AccessToken._meta.db_table)
    application = AccessToken._meta.get_field("application").column
    user = AccessToken._meta.get_field("user").column
    assert constraints["ta_at_app_id_idx"]["columns"] == [application, "id"]
    assert constraints["ta_at_app_user_idx"]["columns"] == [application, user]


def test_apps_me_tokens_is_unchanged_for_an_app_whose_tokens_are_old(client):
    """The composite index changes the plan, not the answer: the old app's page, newest first."""
    old_app, busy_app = ApplicationFactory(), ApplicationFactory()
    old_tokens = [issue_session(UserFactory(), old_app)[0] for _ in range(3)]
    for _ in range(5):
        issue_session(UserFactory(), busy_app)
    app_token = AccessTokenFactory(user=None, application=old_app)

    response = client.get(url("/stream/0/apps/me/tokens?count=2"), **bearer(app_token))

    assert response.status_code == 200
    body = response.json()
    assert [item["pagination_id"] for item in body["data"]] == [str(old_tokens[2].pk), str(old_tokens[1].pk)]
    assert body["meta"] == {
        "code": 200,
        "more": True,
        "min_id": str(old_tokens[1].pk),
        "max_id": str(old_tokens[2].pk),
    }
