"""The "me" API (/api/token-admin/me/...): a user's own sessions, apps and devices, and revoking them.

Isolation first: whoever calls, with a session or a ``token_admin:me`` token, reaches only
their own rows; another user's ids answer 404 and revoke nothing.
"""

from __future__ import annotations

import json

import pytest
from oauth2_provider.models import get_access_token_model

from tests.factories import AccessTokenFactory, ApplicationFactory, DeviceFactory, UserFactory, issue_session
from tests.helpers import json_id, url
from tests.test_manage_api import iso
from token_admin.models import RevocationEvent, TokenSession

pytestmark = pytest.mark.django_db

ME = url("/api/token-admin/me")
AccessToken = get_access_token_model()


def me_token(user, scope="token_admin:me"):
    token = AccessTokenFactory(user=user, application=ApplicationFactory(name="Console"), scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {token.raw_token}"}, token


def get(client, path, **extra):
    return client.get(f"{ME}/{path}", HTTP_ACCEPT="application/json", **extra)


def post(client, path, body=None, **extra):
    return client.post(f"{ME}/{path}", json.dumps(body or {}), content_type="application/json", **extra)


def is_valid(token):
    return AccessToken.objects.filter(pk=token.pk).exists()


@pytest.fixture
def alice(db):
    return UserFactory()


@pytest.fixture
def bob(db):
    return UserFactory()


def test_my_sessions_exact_json(client, alice, bob):
    app = ApplicationFactory(name="Stream")
    token, _ = issue_session(alice, app)
    issue_session(bob, app)
    session = TokenSession.objects.get(user=alice)
    client.force_login(alice)

    response = get(client, "sessions")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": str(session.public_id),
            "application": {"id": app.pk, "client_id": app.client_id, "name": "Stream"},
            "device": None,
            "created_at": iso(session.created_at),
            "last_used_at": None,
            "last_ip": None,
            "browser": "",
            "os": "",
            "device_family": "",
            "scope": "basic stream",
            "expires": iso(token.expires),
            "refresh_usable": True,
        }
    ]


def test_my_apps_and_devices(client, alice, bob):
    app = ApplicationFactory(name="Stream")
    issue_session(alice, app)
    issue_session(alice, app)
    issue_session(bob, ApplicationFactory())
    device = DeviceFactory(user=alice, name="my iPad")
    DeviceFactory(user=bob)
    client.force_login(alice)

    apps = get(client, "apps")
    devices = get(client, "devices")

    assert apps.json() == [
        {"id": app.pk, "client_id": app.client_id, "name": "Stream", "sessions": 2, "last_used_at": None}
    ]
    assert devices.json() == [
        {
            "id": str(device.public_id),
            "user": json_id(alice.pk),
            "name": "my iPad",
            "type": "DEFAULT",
            "application": None,
            "created_at": iso(device.created_at),
        }
    ]


def test_a_me_token_never_reaches_another_users_rows(client, alice, bob):
    app = ApplicationFactory()
    bobs_token, _ = issue_session(bob, app)
    bobs_session = TokenSession.objects.get(user=bob)
    bobs_device = DeviceFactory(user=bob)
    headers, _ = me_token(alice)

    listed = get(client, "sessions", **headers)
    revoke_session = post(client, f"sessions/{bobs_session.public_id}/revoke", **headers)
    revoke_device = post(client, f"devices/{bobs_device.public_id}/revoke", **headers)
    revoke_app = post(client, f"apps/{app.pk}/revoke", **headers)

    assert str(bobs_session.public_id) not in listed.content.decode()
    assert (revoke_session.status_code, revoke_session.json()) == (
        404,
        {"detail": "You have no session with this id."},
    )
    assert (revoke_device.status_code, revoke_device.json()) == (
        404,
        {"detail": "You have no device with this id."},
    )
    # Alice disconnects the app for herself: Bob's session in it is untouched, and nothing was recorded.
    assert (revoke_app.status_code, revoke_app.json()["access_tokens"]) == (200, 0)
    assert is_valid(bobs_token)
    assert not RevocationEvent.objects.exists()


def test_a_token_without_the_me_scope_is_refused(client, alice):
    for scope in ("basic", "token_admin:read token_admin:revoke"):
        headers, _ = me_token(alice, scope)
        response = get(client, "sessions", **headers)
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "The token lacks the scope token_admin:me."},
        )
    app_token = AccessTokenFactory(user=None, application=ApplicationFactory(), scope="token_admin:me")
    response = get(client, "sessions", HTTP_AUTHORIZATION=f"Bearer {app_token.raw_token}")
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "Only a user's session or a user's token may call this API."},
    )
    anonymous = get(client, "sessions")
    assert (anonymous.status_code, anonymous["WWW-Authenticate"]) == (401, 'Bearer realm="token_admin"')


def test_sign_out_one_session_with_a_dry_run_first(client, alice):
    token, _ = issue_session(alice, ApplicationFactory())
    other, _ = issue_session(alice, ApplicationFactory())
    session = TokenSession.objects.get(access_token_checksum=None, user=alice, application=token.application)
    client.force_login(alice)
    path = f"sessions/{session.public_id}/revoke"

    dry = post(client, path, {"dry_run": True})
    assert dry.json() == {
        "dry_run": True,
        "access_tokens": 1,
        "refresh_tokens": 1,
        "grants": 0,
        "registration_tokens": 0,
        "event": None,
    }
    assert is_valid(token)
    done = post(client, path)
    event = RevocationEvent.objects.get()
    assert (done.status_code, done.json()["event"]) == (200, event.pk)
    assert (event.surface, event.actor_type, event.actor_user) == ("me", "user", alice)
    assert not is_valid(token) and is_valid(other)
    assert [row["id"] for row in get(client, "sessions").json()] == [
        str(TokenSession.objects.get(application=other.application).public_id)
    ]


def test_disconnect_an_app_and_sign_out_everywhere(client, alice, bob):
    app = ApplicationFactory()
    in_app, _ = issue_session(alice, app)
    elsewhere, _ = issue_session(alice, ApplicationFactory())
    bobs, _ = issue_session(bob, app)
    device = DeviceFactory(user=alice, application=ApplicationFactory())
    client.force_login(alice)

    disconnected = post(client, f"apps/{app.pk}/revoke")
    assert disconnected.json()["access_tokens"] == 1
    assert not is_valid(in_app) and is_valid(elsewhere) and is_valid(bobs)
    unknown_app = post(client, "apps/999999/revoke")
    assert (unknown_app.status_code, unknown_app.json()) == (404, {"detail": "No app with this id."})

    signed_out = post(client, "sign-out")
    assert (signed_out.status_code, signed_out.json()["access_tokens"]) == (200, 1)
    assert not is_valid(elsewhere) and is_valid(bobs)
    # Devices stay registered after a sign-out.
    assert get(client, "devices").json()[0]["id"] == str(device.public_id)
    assert RevocationEvent.objects.filter(surface="me").count() == 2


def test_revoke_my_device(client, alice):
    device = DeviceFactory(user=alice)
    token, _ = issue_session(alice, ApplicationFactory())
    TokenSession.objects.filter(user=alice).update(device=device)
    client.force_login(alice)
    response = post(client, f"devices/{device.public_id}/revoke")
    assert (response.status_code, response.json()["access_tokens"]) == (200, 1)
    assert not is_valid(token)


# Session auth: the session row and the user. end_user_sessions: three queries, and one for
# the not-before watermarks of all the listed apps while the cache is cold (the first list).
@pytest.mark.parametrize("rows", [1, 6])
def test_queries_per_list_do_not_grow_with_rows(client, alice, django_assert_num_queries, rows):
    for _ in range(rows):
        app = ApplicationFactory()
        issue_session(alice, app)
        AccessTokenFactory(user=alice, application=app)
        DeviceFactory(user=alice)
    client.force_login(alice)
    with django_assert_num_queries(2 + 3 + 1):
        sessions = get(client, "sessions")
    with django_assert_num_queries(2 + 3 + 1):
        apps = get(client, "apps")
    with django_assert_num_queries(2 + 1):
        devices = get(client, "devices")
    assert (len(sessions.json()), len(apps.json()), len(devices.json())) == (2 * rows, rows, rows)
