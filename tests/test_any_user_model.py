"""Every surface that revokes a user's tokens works for the configured user model.

Under the host configuration (``tests.settings_host``: a UUID primary key, e-mail login) each
of these crashed with "Object of type UUID is not JSON serializable" where an id went into
JSON (the audit event's selection, the admin's signed selection, an event's context): a
password change answered 500 with the new password saved and the old tokens still working,
a deactivation or a delete was rolled back, the APIs answered 500. Here each surface answers
as its contract says, alice's tokens are gone (DOT refuses them, her refresh tokens mint
nothing), bob's still work, and the audit event names alice by her id as JSON has it
(``json_id``: a number for an integer key, a string for a UUID). The tests run under both
configurations (``make test`` and ``make test-host``).
"""

from __future__ import annotations

import json
import re
from io import StringIO
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.views import PasswordChangeView
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import path, reverse

from tests.concurrency import can_mint, dot_accepts
from tests.event_receiver import Receiver as LoopbackReceiver
from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session
from tests.helpers import asked, basic, bearer, confirm_admin_action, json_id, url
from tests.urls import urlpatterns as test_urlpatterns
from token_admin.events.models import Delivery, Receiver
from token_admin.models import RevocationEvent, TokenSession
from token_admin.not_before import set_not_before
from token_admin.revocation import Actor, Selection, Surface, revoke
from token_admin.watermarks import Scope

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "Zq8!long-enough"

# tests/urls.py plus Django's own password change page, as a host project mounts it.
urlpatterns = [
    path("password_change/", PasswordChangeView.as_view(success_url="/password_change/done/")),
    *test_urlpatterns,
]


@pytest.fixture
def world():
    """alice with sessions in Stream and Web, bob with one in Stream."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    stream, web = ApplicationFactory(name="Stream"), ApplicationFactory(name="Web")
    return SimpleNamespace(
        alice=alice,
        bob=bob,
        stream=stream,
        web=web,
        alice_sessions=[issue_session(alice, stream), issue_session(alice, web)],
        bob_session=issue_session(bob, stream),
    )


def superuser_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def assert_gone(sessions, world) -> None:
    """These sessions of alice's are refused and mint nothing; bob's session still works."""
    for access, refresh in sessions:
        assert not dot_accepts(access.raw_token)
        assert not can_mint(access.application, refresh.raw_token)
    assert dot_accepts(world.bob_session[0].raw_token)


def assert_everything_of_alice_gone(world) -> None:
    assert_gone(world.alice_sessions, world)


def the_event() -> RevocationEvent:
    return RevocationEvent.objects.get()


# --- password change, deactivation, delete -----------------------------------------------------


def test_the_admins_password_page(world):
    # Django's UserAdmin names its password page "auth_user_password_change" whatever the model.
    url = reverse("admin:auth_user_password_change", args=[world.alice.pk])

    response = superuser_client().post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert_everything_of_alice_gone(world)
    assert asked(the_event().selection) == {"kind": "users", "user_ids": [json_id(world.alice.pk)]}
    assert User.objects.get(pk=world.alice.pk).check_password(NEW_PASSWORD)


@override_settings(ROOT_URLCONF=__name__)
def test_djangos_password_change_page(world):
    client = Client()
    client.force_login(world.alice)

    response = client.post(
        "/password_change/",
        {"old_password": "password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert (response.status_code, response["Location"]) == (302, "/password_change/done/")
    assert_everything_of_alice_gone(world)
    assert asked(the_event().selection) == {"kind": "users", "user_ids": [json_id(world.alice.pk)]}


def test_deactivation_in_the_admin(world):
    client = superuser_client()
    url = reverse(f"admin:{User._meta.app_label}_{User._meta.model_name}_change", args=[world.alice.pk])
    form = client.get(url).context["adminform"].form
    data = {User.USERNAME_FIELD: world.alice.get_username(), "is_active": ""}  # unchecked
    if "date_joined" in form.fields:  # Django's user; not the host's
        data |= {"date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert_everything_of_alice_gone(world)
    assert User.objects.get(pk=world.alice.pk).is_active is False
    assert asked(the_event().selection) == {"kind": "users", "user_ids": [json_id(world.alice.pk)]}


def test_delete_in_the_admin(world):
    url = reverse(f"admin:{User._meta.app_label}_{User._meta.model_name}_delete", args=[world.alice.pk])

    response = superuser_client().post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(pk=world.alice.pk).exists()
    assert_everything_of_alice_gone(world)
    assert asked(the_event().selection) == {"kind": "users", "user_ids": [json_id(world.alice.pk)]}


def test_delete_in_code(world):
    alice_pk = world.alice.pk

    world.alice.delete()

    assert_everything_of_alice_gone(world)
    assert asked(the_event().selection) == {"kind": "users", "user_ids": [json_id(alice_pk)]}


def test_the_admins_revoke_all_action_on_users(world):
    changelist = reverse(f"admin:{User._meta.app_label}_{User._meta.model_name}_changelist")
    payload = {
        "action": "revoke_all_user_tokens",
        "_selected_action": [str(world.alice.pk)],
        "post": "yes",
        "reason": "stolen laptop",
    }

    response = confirm_admin_action(superuser_client(), changelist, payload)

    assert response.status_code == 302
    assert_everything_of_alice_gone(world)
    assert asked(the_event().selection) == {"kind": "users", "user_ids": [json_id(world.alice.pk)]}


# --- the APIs ------------------------------------------------------------------------------------


def test_end_user_api_delete(world, api_app):
    (access, refresh), kept = world.alice_sessions
    session = TokenSession.objects.get(token_family=refresh.token_family)

    response = Client().delete(
        url(f"/oauth/api/v1/users/{world.alice.pk}/tokens/{session.public_id}"), **basic(api_app)
    )

    assert (response.status_code, response.content) == (204, b"")
    assert_gone([(access, refresh)], world)
    assert dot_accepts(kept[0].raw_token)
    assert asked(the_event().selection) == {
        "kind": "sessions",
        "session_ids": [str(session.public_id)],
        "user_id": json_id(world.alice.pk),
    }


def test_stack_exchange_de_authenticate(world):
    access, refresh = world.alice_sessions[0]

    response = Client().get(url(f"/2.2/apps/{access.raw_token}/de-authenticate"))

    assert response.status_code == 200
    assert response.json()["items"] == [
        {
            "access_token": access.raw_token,
            "account_id": json_id(world.alice.pk),
            "expires_on_date": int(access.expires.timestamp()),
            "scope": ["basic", "stream"],
        }
    ]
    assert_gone([(access, refresh)], world)
    assert dot_accepts(world.alice_sessions[1][0].raw_token)
    assert asked(the_event().selection) == {
        "kind": "user_apps",
        "pairs": [[json_id(world.alice.pk), world.stream.client_id]],
    }


def test_me_api_revoke_a_session_and_sign_out(world):
    me = Client()
    me.force_login(world.alice)
    (access, refresh), _ = world.alice_sessions
    session = TokenSession.objects.get(token_family=refresh.token_family)

    one = me.post(url(f"/api/token-admin/me/sessions/{session.public_id}/revoke"), "{}", "application/json")
    everywhere = me.post(url("/api/token-admin/me/sign-out"), "{}", "application/json")

    assert (one.status_code, one.json()["access_tokens"]) == (200, 1)
    assert (everywhere.status_code, everywhere.json()["access_tokens"]) == (200, 1)
    assert_everything_of_alice_gone(world)
    first = RevocationEvent.objects.order_by("pk").first()
    assert asked(first.selection)["user_id"] == json_id(world.alice.pk)


def test_staff_api_revokes_a_user_by_id_and_filters_by_user(world):
    staff = UserFactory(is_staff=True, is_superuser=True)
    headers = bearer(
        AccessTokenFactory(
            user=staff, scope="token_admin:read token_admin:revoke", application=ApplicationFactory()
        )
    )
    client = Client()

    listed = client.get(url("/api/token-admin/sessions"), {"user": str(world.alice.pk)}, **headers)
    assert listed.status_code == 200, listed.content
    assert {row["user"]["id"] for row in listed.json()["results"]} == {json_id(world.alice.pk)}
    assert len(listed.json()["results"]) == 2

    response = client.post(
        url(f"/api/token-admin/users/{world.alice.pk}/revoke"),
        json.dumps({"reason": "stolen laptop"}),
        content_type="application/json",
        **headers,
    )

    assert response.status_code == 200, response.content
    assert response.json()["access_tokens"] == 2
    assert_everything_of_alice_gone(world)
    event = the_event()
    assert asked(event.selection) == {"kind": "users", "user_ids": [json_id(world.alice.pk)]}
    shown = client.get(url(f"/api/token-admin/revocation-events/{event.pk}"), **headers).json()
    assert shown["actor_user"] == json_id(staff.pk)


def test_staff_api_bulk_revocation_names_users_by_id(world):
    staff = UserFactory(is_staff=True, is_superuser=True)
    headers = bearer(
        AccessTokenFactory(
            user=staff, scope="token_admin:read token_admin:revoke", application=ApplicationFactory()
        )
    )

    response = Client().post(
        url("/api/token-admin/revocations"),
        json.dumps({"reason": "stolen laptop", "users": [json_id(world.alice.pk)]}),
        content_type="application/json",
        **headers,
    )

    assert response.status_code == 200, response.content
    assert_everything_of_alice_gone(world)
    assert asked(the_event().selection)["user_ids"] == [json_id(world.alice.pk)]


# --- commands, watermarks, events --------------------------------------------------------------


@pytest.mark.parametrize("by", ["login", "id"])
def test_revoke_tokens_user(world, by):
    name = world.alice.get_username() if by == "login" else str(world.alice.pk)

    call_command("revoke_tokens", "--user", name, "--reason", "stolen laptop", stdout=StringIO())

    assert_everything_of_alice_gone(world)
    assert asked(the_event().selection) == {"kind": "users", "user_ids": [json_id(world.alice.pk)]}


def test_the_admins_user_watermark(world):
    client = superuser_client()
    add = reverse("admin:token_admin_notbefore_add")
    fields = {
        "scope": "user",
        "user": world.alice.get_username(),
        "application": "",
        "not_before": "",
        "reason": "stolen laptop",
    }
    preview = client.post(add, fields)
    previewed = re.search(r'name="previewed" value="([^"]+)"', preview.content.decode()).group(1)

    done = client.post(add, {**fields, "confirm": "yes", "previewed": previewed})

    assert done.status_code == 302
    assert_everything_of_alice_gone(world)
    assert asked(the_event().selection)["user_id"] == json_id(world.alice.pk)


def test_lift_not_before_user(world):
    set_not_before(Scope.USER, world.alice, set_by="tests")
    later, _ = issue_session(world.alice, world.stream)  # minted after the mark: works

    call_command(
        "lift_not_before", "--user", world.alice.get_username(), "--reason", "mistake", stdout=StringIO()
    )

    lifted = RevocationEvent.objects.get(selection__kind="not_before_lifted")
    assert lifted.selection["user_id"] == json_id(world.alice.pk)
    assert dot_accepts(later.raw_token)


def test_deliver_events_sends_an_event_naming_a_user(world, settings):
    settings.TOKEN_ADMIN = {
        **settings.TOKEN_ADMIN,
        "EVENTS_TIMEOUT_SECONDS": 2,
        "EVENTS_ISSUER": "https://op.test",
    }
    access, _ = world.alice_sessions[0]
    server = LoopbackReceiver()
    try:
        Receiver.objects.create(name="rs", url=server.url)
        # Revoked by token: the audit event holds no user id, the delivery's sessions do.
        revoke(Selection.tokens([access]), surface=Surface.ADMIN, actor=Actor.command("test"))

        out = StringIO()
        call_command("deliver_events", "--once", "--format", "json", stdout=out)

        [request] = server.received
    finally:
        server.stop()
    assert json.loads(out.getvalue())["delivered"] == 1
    body = json.loads(request["body"])
    assert body["data"]["users"] == [{"id": json_id(world.alice.pk), "username": world.alice.get_username()}]
    assert body["data"]["sessions"][0]["user_id"] == json_id(world.alice.pk)
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
