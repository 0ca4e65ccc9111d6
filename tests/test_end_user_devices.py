"""Devices registered the standard way, through DOT's dynamic client registration endpoint."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from oauth2_provider.models import get_application_model

from tests.factories import ApplicationFactory, UserFactory
from tests.helpers import basic_header, bearer, url
from token_admin.models import Device, TokenSession

pytestmark = pytest.mark.django_db

Application = get_application_model()


@pytest.fixture
def api_header(api_app) -> str:
    return basic_header(api_app)


def register(client, user, **metadata):
    """Register a client as ``user`` through DOT's real ``POST /o/register/``."""
    client.force_login(user)
    response = client.post(url("/o/register/"), json.dumps(metadata), content_type="application/json")
    client.logout()
    assert response.status_code == 201, response.content
    return response.json()


def test_registering_a_client_gives_the_user_a_named_device(client):
    user = UserFactory()

    registered = register(
        client, user, client_name="Ada's iPad", redirect_uris=["https://ipad.example.com/callback"]
    )

    device = Device.objects.get()
    assert (device.user, device.name, device.type) == (user, "Ada's iPad", "DEFAULT")
    assert device.application == Application.objects.get(client_id=registered["client_id"])


def test_a_registration_without_a_client_name_makes_no_device(client):
    register(client, UserFactory(), grant_types=["client_credentials"])

    assert Application.objects.get().registration_source == "dcr"
    assert not Device.objects.exists()


def test_applications_made_another_way_get_no_device():
    ApplicationFactory(user=UserFactory(), name="Made in the admin")

    assert not Device.objects.exists()


def test_updating_a_registered_client_keeps_its_one_device(client):
    registered = register(client, UserFactory(), client_name="Ada's iPad", grant_types=["client_credentials"])

    response = client.put(
        url(f"/o/register/{registered['client_id']}/"),
        json.dumps({"client_name": "Renamed", "grant_types": ["client_credentials"]}),
        content_type="application/json",
        **bearer(registered["registration_access_token"]),
    )

    assert response.status_code == 200, response.content
    assert list(Device.objects.values_list("name", flat=True)) == ["Ada's iPad"]


def sign_in_with_code(client, user, registered, scope):
    """The authorization-code flow through DOT's real endpoints; returns the token response."""
    client.force_login(user)
    redirect_uri = registered["redirect_uris"][0]
    consent = client.post(
        url("/o/authorize/"),
        {
            "client_id": registered["client_id"],
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": scope,
            "state": "s",
            "allow": "Authorize",
        },
    )
    client.logout()
    assert consent.status_code == 302, consent.content
    code = parse_qs(urlsplit(consent["Location"]).query)["code"][0]
    return client.post(
        url("/o/token/"),
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        HTTP_AUTHORIZATION=basic_header(registered["client_id"], registered["client_secret"]),
    )


def test_sessions_of_a_registered_device_show_its_name_end_to_end(client, api_header):
    user = UserFactory()
    registered = register(
        client, user, client_name="Ada's iPad", redirect_uris=["https://ipad.example.com/callback"]
    )
    client_auth = basic_header(registered["client_id"], registered["client_secret"])
    tokens_path = url(f"/oauth/api/v1/users/{user.pk}/tokens")

    # The registration token DOT issued to the user is not a session.
    before = client.get(tokens_path, HTTP_AUTHORIZATION=api_header)
    assert (before.status_code, before.json()) == (404, {"error": "No tokens found"})

    issued = sign_in_with_code(client, user, registered, "basic stream")
    assert issued.status_code == 200, issued.content
    listed = client.get(tokens_path, HTTP_AUTHORIZATION=api_header)

    session = TokenSession.objects.get()
    assert listed.status_code == 200
    assert listed["Content-Type"] == "application/json;charset=UTF-8"
    assert listed.json() == {
        "tokens": [
            {
                "id": str(session.public_id),
                "client_name": "Ada's iPad",
                "device_name": "Ada's iPad",
                "created_at": listed.json()["tokens"][0]["created_at"],
                "scopes": ["basic", "stream"],
                "type": "DEFAULT",
                "refresh_token_issued": True,
                "expired": False,
            }
        ]
    }

    refreshed = client.post(
        url("/o/token/"),
        {"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]},
        HTTP_AUTHORIZATION=client_auth,
    )
    assert refreshed.status_code == 200, refreshed.content
    assert client.get(tokens_path, HTTP_AUTHORIZATION=api_header).json() == listed.json()

    deleted = client.delete(f"{tokens_path}/{session.public_id}", HTTP_AUTHORIZATION=api_header)
    assert deleted.status_code == 204
    after = client.get(tokens_path, HTTP_AUTHORIZATION=api_header)
    assert (after.status_code, after.json()) == (404, {"error": "No tokens found"})
    # The device's client itself stays registered: only the session was revoked.
    assert Device.objects.filter(application__client_id=registered["client_id"]).exists()


def test_deleting_a_registered_client_deletes_its_device(client):
    registered = register(client, UserFactory(), client_name="Ada's iPad", grant_types=["client_credentials"])

    response = client.delete(
        url(f"/o/register/{registered['client_id']}/"),
        **bearer(registered["registration_access_token"]),
    )

    assert response.status_code == 204
    assert not Device.objects.exists()


def test_another_users_session_on_a_registered_client_is_never_that_device_s(client, api_header):
    """Bob signs in on the client Alice registered for her iPad: it is not her device's session,
    on any surface, and revoking her device leaves it (what every surface shows, it revokes)."""
    from oauth2_provider.models import get_access_token_model

    from tests.concurrency import dot_accepts
    from token_admin.revocation import Actor, Selection, Surface, revoke

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    registered = register(
        client, alice, client_name="Alice's iPad", redirect_uris=["https://ipad.example.com/cb"]
    )
    device = Device.objects.get()
    alice_tokens = sign_in_with_code(client, alice, registered, "basic").json()
    bob_tokens = sign_in_with_code(client, bob, registered, "basic").json()

    bob_listed = client.get(url(f"/oauth/api/v1/users/{bob.pk}/tokens"), HTTP_AUTHORIZATION=api_header).json()
    assert ["device_name" in entry for entry in bob_listed["tokens"]] == [False]
    alice_listed = client.get(
        url(f"/oauth/api/v1/users/{alice.pk}/tokens"), HTTP_AUTHORIZATION=api_header
    ).json()
    assert [entry["device_name"] for entry in alice_listed["tokens"]] == ["Alice's iPad"]

    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    token_model = get_access_token_model()
    tokens_url = url(f"/admin/{token_model._meta.app_label}/{token_model._meta.model_name}/")
    on_device = client.get(tokens_url, {"device": device.pk}).context["cl"].result_list
    assert {token.user_id for token in on_device} == {alice.pk}
    sessions = (
        client.get(url("/admin/token_admin/tokensession/"), {"device": device.pk}).context["cl"].result_list
    )
    assert {session.user_id for session in sessions} == {alice.pk}
    client.logout()

    result = revoke(Selection.devices([device]), surface=Surface.COMMAND, actor=Actor.command("t"))

    assert result.access_tokens == 1
    assert not dot_accepts(alice_tokens["access_token"])
    assert dot_accepts(bob_tokens["access_token"])


def test_a_registered_device_is_named_apart_from_its_software(client, api_header):
    """``client_name`` is the software's (RFC 7591 ``client_name``), ``device_name`` the device's
    (the registration's ``device_name`` member), so the app's product name is not lost."""
    user = UserFactory()
    registered = register(
        client,
        user,
        client_name="Acme Notes",
        software_id="com.acme.notes",
        device_name="Ada's iPad",
        redirect_uris=["https://ipad.example.com/callback"],
    )
    assert registered["client_name"] == "Acme Notes"  # DOT's answer, as before
    device = Device.objects.get()
    assert (device.name, device.software_id, device.user) == ("Ada's iPad", "com.acme.notes", user)

    assert sign_in_with_code(client, user, registered, "basic").status_code == 200
    listed = client.get(url(f"/oauth/api/v1/users/{user.pk}/tokens"), HTTP_AUTHORIZATION=api_header).json()

    [entry] = listed["tokens"]
    assert (entry["client_name"], entry["device_name"]) == ("Acme Notes", "Ada's iPad")


def test_a_registration_naming_only_its_software_id_and_device(client, api_header):
    user = UserFactory()
    registered = register(
        client,
        user,
        software_id="com.acme.notes",
        device_name="Ada's iPad",
        redirect_uris=["https://ipad.example.com/callback"],
    )
    assert "client_name" not in registered
    assert sign_in_with_code(client, user, registered, "basic").status_code == 200

    listed = client.get(url(f"/oauth/api/v1/users/{user.pk}/tokens"), HTTP_AUTHORIZATION=api_header).json()

    [entry] = listed["tokens"]
    assert (entry["client_name"], entry["device_name"]) == ("com.acme.notes", "Ada's iPad")


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"device_name": 7, "client_name": "Acme", "grant_types": ["client_credentials"]}),
    ],
)
def test_registration_metadata_token_admin_cannot_use_leaves_dots_answer(client, body):
    client.force_login(UserFactory())
    response = client.post(url("/o/register/"), body, content_type="application/json")
    if body.startswith("{"):
        # A device_name that is not a string is ignored: the device is named after the client.
        assert response.status_code == 201
        assert list(Device.objects.values_list("name", "software_id")) == [("Acme", "")]
    else:
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_client_metadata"
        assert not Device.objects.exists()


def test_another_users_session_is_not_the_device_s_in_the_command_and_the_account_pages(client):
    import re
    from io import StringIO

    from django.core.management import call_command

    from tests.concurrency import dot_accepts

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    registered = register(
        client,
        alice,
        client_name="Acme Notes",
        device_name="Alice's iPad",
        redirect_uris=["https://ipad.example.com/cb"],
    )
    device = Device.objects.get()
    alice_tokens = sign_in_with_code(client, alice, registered, "basic").json()
    bob_tokens = sign_in_with_code(client, bob, registered, "basic").json()

    # The account pages: alice's session is on her iPad; bob's is the app's, on no device.
    for user, device_names in ((alice, ["Alice's iPad"]), (bob, [])):
        client.force_login(user)
        html = client.get(url("/account/sessions/")).content.decode().replace("&#x27;", "'")
        assert re.findall(r'<dd class="device">([^<]*)</dd>', html) == device_names
        assert "<h2>Acme Notes</h2>" in html
        client.logout()

    def run(*args):
        out = StringIO()
        call_command(
            "revoke_tokens", "--device", str(device.public_id), "--format", "json", *args, stdout=out
        )
        return json.loads(out.getvalue())

    assert run("--dry-run") == {"access_tokens": 1, "refresh_tokens": 1, "grants": 0, "dry_run": True}
    assert run("--reason", "lost")["access_tokens"] == 1
    assert not dot_accepts(alice_tokens["access_token"])
    assert dot_accepts(bob_tokens["access_token"])
