"""Account events revoke a user's tokens: a password change by any path, a deactivation."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from tests.concurrency import can_mint, dot_accepts
from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session
from token_admin.models import RevocationEvent

pytestmark = pytest.mark.django_db
User = get_user_model()
AccessToken = get_access_token_model()


@pytest.fixture
def alice():
    user = UserFactory(username="alice")
    sessions = [issue_session(user, ApplicationFactory(name=name)) for name in ("Stream", "Web")]
    bob_session = issue_session(UserFactory(username="bob"), sessions[0][0].application)
    return user, sessions, bob_session


def assert_revoked_for(user, sessions, bob_session, account_event: str) -> None:
    """Alice's tokens are gone, bob's work, and one event says why: "<account_event> of alice"."""
    event_label = f"{account_event} of {user.get_username()}"
    for access, refresh in sessions:
        assert not dot_accepts(access.raw_token)
        assert not can_mint(access.application, refresh.raw_token)
    assert dot_accepts(bob_session[0].raw_token)
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_label) == ("policy", "policy", event_label)
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (2, 2)


def test_set_password_and_save_revokes_every_token_of_the_user(alice):
    user, sessions, bob_session = alice
    user.set_password("new-password-1")
    user.save()
    assert_revoked_for(user, sessions, bob_session, "password change")


def test_a_password_form_revokes(alice):
    user, sessions, bob_session = alice
    form = PasswordChangeForm(
        user,
        {"old_password": "password", "new_password1": "Zq8!long-enough", "new_password2": "Zq8!long-enough"},
    )
    assert form.is_valid(), form.errors
    form.save()
    assert_revoked_for(user, sessions, bob_session, "password change")


def test_the_admins_password_page_revokes(alice):
    user, sessions, bob_session = alice
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    # Django's UserAdmin names its password page "auth_user_password_change" whatever the model.
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = staff.post(url, {"password1": "Zq8!long-enough", "password2": "Zq8!long-enough"})
    assert response.status_code == 302, response.content
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_label) == ("policy", f"password change of {user.get_username()}")
    assert not dot_accepts(sessions[0][0].raw_token)
    assert dot_accepts(bob_session[0].raw_token)


def test_the_changepassword_command_revokes(alice, monkeypatch):
    from django.contrib.auth.management.commands import changepassword

    user, sessions, bob_session = alice
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt=None: "Zq8!long-enough")
    call_command("changepassword", user.get_username(), stdout=io.StringIO())
    assert_revoked_for(user, sessions, bob_session, "password change")


def test_deactivating_a_user_revokes_once(alice):
    user, sessions, bob_session = alice
    user.is_active = False
    user.save()
    user.save()  # still inactive: not a deactivation again
    assert_revoked_for(user, sessions, bob_session, "deactivation")


def test_deactivating_in_the_admin_revokes(alice):
    user, sessions, bob_session = alice
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse(f"admin:{User._meta.app_label}_{User._meta.model_name}_change", args=[user.pk])
    page = staff.get(url)
    assert page.status_code == 200
    data = {User.USERNAME_FIELD: user.get_username(), "is_active": ""}  # unchecked
    if "date_joined" in page.context["adminform"].form.fields:  # Django's user; not the host's
        data |= {
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "00:00:00",
        }
    response = staff.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_revoked_for(user, sessions, bob_session, "deactivation")


def test_saving_a_user_without_an_account_event_revokes_nothing(alice):
    user, sessions, _ = alice
    user.last_login = timezone.now()
    user.save()
    fresh = User.objects.get(pk=user.pk)
    fresh.email = "alice@example.org"
    fresh.save()
    assert not RevocationEvent.objects.exists()
    assert all(dot_accepts(access.raw_token) for access, _ in sessions)


def test_djangos_hash_upgrade_on_sign_in_is_not_a_password_change(alice, settings):
    user, sessions, _ = alice
    # An old-format hash that Django upgrades when the password is checked.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    User.objects.filter(pk=user.pk).update(password=make_password("password", hasher="pbkdf2_sha256"))
    fresh = User.objects.get(pk=user.pk)
    assert fresh.check_password("password")  # upgraded to MD5 (the first hasher) and saved
    assert User.objects.get(pk=user.pk).password.startswith("md5$")
    assert not RevocationEvent.objects.exists()


def test_apps_listed_to_keep_keep_their_sessions_on_a_password_change(alice, settings):
    user, sessions, bob_session = alice
    (stream_access, stream_refresh), (web_access, web_refresh) = sessions
    settings.TOKEN_ADMIN = {"PASSWORD_CHANGE_KEEPS_APPS": [web_access.application.client_id]}
    user.set_password("new-password-1")
    user.save()
    assert not dot_accepts(stream_access.raw_token)
    assert dot_accepts(web_access.raw_token) and can_mint(web_access.application, web_refresh.raw_token)
    event = RevocationEvent.objects.get()
    assert event.selection["kept_client_ids"] == [web_access.application.client_id]
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)


def test_the_events_can_be_turned_off(alice, settings):
    user, sessions, _ = alice
    settings.TOKEN_ADMIN = {"REVOKE_ON_ACCOUNT_EVENTS": []}
    user.set_password("new-password-1")
    user.save()
    assert all(dot_accepts(access.raw_token) for access, _ in sessions)
    user.is_active = False
    user.save()
    assert not RevocationEvent.objects.exists()
    # Nothing revoked, but an inactive user's tokens are refused whatever the policy says...
    assert not any(dot_accepts(access.raw_token) for access, _ in sessions)
    user.is_active = True
    user.save()
    # ...and work again once the user is active again.
    assert all(dot_accepts(access.raw_token) for access, _ in sessions)


def test_a_password_change_also_revokes_the_registration_tokens_of_the_users_devices():
    user = UserFactory()
    client = ApplicationFactory(registration_source="dcr", user=user)  # its device is recorded
    registration = AccessTokenFactory(user=user, application=client, scope="oauth2_provider:registration")
    user.set_password("new-password-1")
    user.save()
    assert not AccessToken.objects.filter(pk=registration.pk).exists()
