"""One definition of a live session, answered the same way by every surface and the admin:
an unexpired access token, or a refresh token neither revoked nor past
REFRESH_TOKEN_EXPIRE_SECONDS, not issued before a not-before watermark over it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.urls import reverse

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    AppProfileFactory,
    UserFactory,
    issue_session,
)
from tests.helpers import url
from token_admin import queries
from token_admin.models import TokenSession
from token_admin.not_before import set_not_before
from token_admin.watermarks import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _refresh_tokens_age_out(settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_EXPIRE_SECONDS": 3600}


@pytest.fixture
def world(client):
    stream = AppProfileFactory(application__name="Stream").application
    api_client = ApplicationFactory(
        name="Support desk", authorization_grant_type="client-credentials", redirect_uris=""
    )
    AppProfileFactory(application=api_client, end_user_api=True)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return {"stream": stream, "api_client": api_client}


def surfaces(client, world, user) -> dict[str, object]:
    """What each surface answers about ``user`` on the app "Stream"."""
    stream, api_client = world["stream"], world["api_client"]
    app_token = AccessTokenFactory(user=None, application=stream, scope="basic")  # issued now
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {app_token.raw_token}"}
    user_ids = json.loads(client.get(url("/stream/0/apps/me/tokens/user_ids"), **bearer).content)["data"]
    app_tokens = json.loads(client.get(url("/stream/0/apps/me/tokens"), **bearer).content)["data"]
    credentials = base64.b64encode(f"{api_client.client_id}:{api_client.raw_secret}".encode()).decode()
    end_user = client.get(
        url(f"/oauth/api/v1/users/{user.pk}/tokens"), HTTP_AUTHORIZATION=f"Basic {credentials}"
    )
    changelist = reverse("admin:token_admin_tokensession_changelist")

    def listed(status: str) -> list[TokenSession]:
        page = client.get(changelist, {"status": status, "user": user.pk})
        assert page.status_code == 200
        return list(page.context["cl"].result_list)

    live_rows, ended_rows = listed("live"), listed("ended")
    flags = [row.live for row in listed("")]  # the list's "signed in" column, from page_loaded
    return {
        "app.net user_ids": str(user.pk) in user_ids,
        "app.net tokens": any(token["user"]["id"] == str(user.pk) for token in app_tokens),
        "end-user list": end_user.status_code == 200 and len(json.loads(end_user.content)["tokens"]) == 1,
        "admin signed-in filter": len(live_rows) == 1 and not ended_rows,
        "admin signed-in column": flags == [True],
        "has_authorized": queries.has_authorized(user, stream),
    }


def test_an_expired_access_token_with_a_live_refresh_token_is_a_live_session_everywhere(client, world):
    alice = UserFactory(username="alice")
    issue_session(alice, world["stream"], expires_in=timedelta(minutes=-5))

    assert surfaces(client, world, alice) == {
        "app.net user_ids": True,
        # apps/me/tokens lists valid access tokens only: hers has expired.
        "app.net tokens": False,
        "end-user list": True,
        "admin signed-in filter": True,
        "admin signed-in column": True,
        "has_authorized": True,
    }


def test_a_refresh_token_past_its_expiry_ends_the_session_everywhere(client, world):
    bob = UserFactory(username="bob")
    issue_session(bob, world["stream"], expires_in=timedelta(hours=-2))  # + 1 h refresh lifetime: gone

    assert surfaces(client, world, bob) == {
        "app.net user_ids": False,
        "app.net tokens": False,
        "end-user list": False,
        "admin signed-in filter": False,
        "admin signed-in column": False,
        "has_authorized": False,
    }


def test_a_session_issued_before_a_watermark_appears_ended_in_every_list(
    client, world, django_capture_on_commit_callbacks
):
    carol = UserFactory(username="carol")
    issue_session(carol, world["stream"])
    before = surfaces(client, world, carol)
    assert set(before.values()) == {True}

    # A global watermark revokes no rows: the lists alone show that her session ended.
    with django_capture_on_commit_callbacks(execute=True):
        set_not_before(Scope.GLOBAL, set_by="tests")

    assert TokenSession.objects.filter(user=carol).count() == 1
    assert set(surfaces(client, world, carol).values()) == {False}
