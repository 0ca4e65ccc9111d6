"""No sign-in outlives an account event: credentials checked, then a password change or a
deactivation, then DOT's mint (``token_admin.credentials``); and an inactive user's tokens are
refused at every use and refresh, whatever deactivated the user.

Each window is forced open in one thread: the event lands inside DOT's token request, after
the grant was checked and before DOT saves the pair. ``test_account_event_races`` runs the
same with real concurrent transactions on PostgreSQL and MariaDB.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_application_model

from tests.concurrency import can_mint, dot_accepts, refresh_request
from tests.factories import ApplicationFactory, GrantFactory, UserFactory, issue_session
from tests.helpers import bearer, url
from token_admin.models import CredentialsChange
from token_admin.not_before import set_not_before
from token_admin.oauth2_validators import TokenAdminOAuth2Validator
from token_admin.watermarks import Scope

AccessToken = get_access_token_model()
Application = get_application_model()
User = get_user_model()

pytestmark = pytest.mark.django_db

REFUSED_AT_MINT = {
    "error": "invalid_grant",
    "error_description": "The grant was verified before the user's credentials changed.",
}
INVALID_GRANT = {"error": "invalid_grant"}


@pytest.fixture(autouse=True)
def _fresh_validator(fresh_validator):
    """Each request builds its validator (conftest's ``fresh_validator``)."""


def change_password(user):
    user = User.objects.get(pk=user.pk)
    user.set_password("a-new-password-1")
    user.save()


def deactivate(user):
    user = User.objects.get(pk=user.pk)
    user.is_active = False
    user.save()


def deactivate_silently(user):
    User.objects.filter(pk=user.pk).update(is_active=False)  # no signal


def user_watermark(user):
    set_not_before(Scope.USER, User.objects.get(pk=user.pk), set_by="tests")


EVENTS = {
    "password change": change_password,
    "deactivation": deactivate,
    "queryset deactivation": deactivate_silently,
    "user watermark": user_watermark,
}


def after(monkeypatch, method, event):
    """Run ``event`` right after the validator's ``method`` has checked the grant."""
    original = getattr(TokenAdminOAuth2Validator, method)

    def check_then_event(self, *args, **kwargs):
        valid = original(self, *args, **kwargs)
        event()
        return valid

    monkeypatch.setattr(TokenAdminOAuth2Validator, method, check_then_event)


def password_grant(app, user, password="password"):
    return Client().post(
        url("/o/token/"),
        {
            "grant_type": "password",
            "username": user.get_username(),
            "password": password,
            "client_id": app.client_id,
            "client_secret": app.raw_secret,
        },
    )


def code_grant(app, code):
    return Client().post(
        url("/o/token/"),
        {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": code.redirect_uri,
            "client_id": app.client_id,
            "client_secret": app.raw_secret,
        },
    )


def assert_refused_and_nothing_minted(response, user):
    assert (response.status_code, response.json()) == (400, REFUSED_AT_MINT)
    assert response["Cache-Control"] == "no-store"
    assert not AccessToken.objects.filter(user=user).exists()


@pytest.mark.parametrize("event", list(EVENTS))
def test_a_password_checked_before_an_account_event_mints_nothing(monkeypatch, event):
    alice = UserFactory()
    app = ApplicationFactory(authorization_grant_type=Application.GRANT_PASSWORD)
    after(monkeypatch, "validate_user", lambda: EVENTS[event](alice))

    response = password_grant(app, alice)

    if event == "queryset deactivation":
        # Refused because the user is inactive now, read under the user's lock at the mint.
        assert (response.status_code, response.json()) == (400, REFUSED_AT_MINT)
        assert not AccessToken.objects.filter(user=alice).exists()
    else:
        assert_refused_and_nothing_minted(response, alice)


@pytest.mark.parametrize("event", list(EVENTS))
def test_an_authorization_code_issued_before_an_account_event_mints_nothing(monkeypatch, settings, event):
    alice = UserFactory()
    app = ApplicationFactory()
    # The app is kept on a password change, so its codes are not revoked with the rest: only
    # the check at the mint stands between the old code and a new token.
    settings.TOKEN_ADMIN = {"PASSWORD_CHANGE_KEEPS_APPS": [app.client_id]}
    code = GrantFactory(application=app, user=alice)
    after(monkeypatch, "validate_code", lambda: EVENTS[event](alice))

    response = code_grant(app, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(user=alice).exists()


def test_a_sign_in_after_the_password_change_with_the_new_password_works():
    alice = UserFactory()
    app = ApplicationFactory(authorization_grant_type=Application.GRANT_PASSWORD)
    change_password(alice)
    assert CredentialsChange.objects.get(user=alice).event == "password change"

    response = password_grant(app, alice, "a-new-password-1")

    assert response.status_code == 200, response.content
    assert dot_accepts(response.json()["access_token"])
    assert can_mint(app, response.json()["refresh_token"])


def test_a_code_issued_after_the_password_change_mints():
    alice = UserFactory()
    app = ApplicationFactory()
    change_password(alice)
    code = GrantFactory(application=app, user=alice)

    response = code_grant(app, code)

    assert response.status_code == 200, response.content
    assert dot_accepts(response.json()["access_token"])


def test_a_kept_apps_session_still_refreshes_after_the_password_change(settings):
    alice = UserFactory()
    app = ApplicationFactory()
    settings.TOKEN_ADMIN = {"PASSWORD_CHANGE_KEEPS_APPS": [app.client_id]}
    access, refresh = issue_session(alice, app)

    change_password(alice)

    assert dot_accepts(access.raw_token)
    response = refresh_request(app, refresh.raw_token)
    assert response.status_code == 200, response.content


# --- an inactive user, however deactivated --------------------------------------------------


def test_a_user_deactivated_by_a_queryset_update_is_refused_everywhere(client):
    alice = UserFactory()
    app = ApplicationFactory()
    access, refresh = issue_session(alice, app)
    assert dot_accepts(access.raw_token)

    deactivate_silently(alice)

    assert not dot_accepts(access.raw_token)
    response = client.get(url("/stream/0/token"), **bearer(access.raw_token))
    assert (response.status_code, response.json()["meta"]["error_slug"]) == (401, "invalid-token")
    response = client.get(url(f"/2.2/access-tokens/{access.raw_token}"))
    assert (response.status_code, response.json()["items"]) == (200, [])
    response = refresh_request(app, refresh.raw_token)
    assert (response.status_code, response.json()) == (400, INVALID_GRANT)
    assert response["Cache-Control"] == "no-store"

    User.objects.filter(pk=alice.pk).update(is_active=True)
    assert dot_accepts(access.raw_token)  # nothing was revoked: active again, it works again


def test_the_inactive_check_costs_the_bearer_check_no_query(settings, django_assert_num_queries):
    settings.TOKEN_ADMIN = {"ACTIVITY_TRACKING": False}
    alice = UserFactory()
    access, _ = issue_session(alice, ApplicationFactory())
    deactivate_silently(alice)

    with django_assert_num_queries(1):
        assert not dot_accepts(access.raw_token)
