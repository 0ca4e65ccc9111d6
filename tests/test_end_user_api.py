"""The end-user token API (spec section 3) as a client sees it: status, headers, exact JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    DeviceFactory,
    UserFactory,
    issue_session,
    rotate,
)
from tests.helpers import (
    asked,
    assert_end_user_contract_headers,
    basic_header,
    json_id,
    method_not_allowed,
    url,
)
from token_admin.models import Device, RevocationEvent, TokenSession

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

MOUNT = url("/oauth/api/v1/")
NO_TOKENS = {"error": "No tokens found"}
UNAUTHORIZED = {"code": "unauthorized", "message": "Provide valid credentials to get access to the API."}
FORBIDDEN = {
    "code": "insufficient_permissions",
    "message": (
        "The API client used to authenticate the request does not allow operations on the End User API."
    ),
}
# 2013-10-09T12:34:14.123456Z, the Onegini example's created_at plus microseconds.
BEGAN = datetime(2013, 10, 9, 12, 34, 14, 123456, tzinfo=dt_timezone.utc)
BEGAN_MS = 1381322054123


def body(response):
    return json.loads(response.content)


@pytest.fixture
def api(client, api_app):
    """Calls the API as ``api_app``: ``api("get", "users/1/tokens")``."""

    def call(method: str, path: str, **headers):
        headers.setdefault("HTTP_AUTHORIZATION", basic_header(api_app))
        return getattr(client, method)(MOUNT + path, **headers)

    return call


def began(access_token, moment=BEGAN):
    """Set when the session of ``access_token`` began, so order and created_at are known."""
    TokenSession.objects.filter(application=access_token.application, user=access_token.user).update(
        created_at=moment
    )
    return TokenSession.objects.get(application=access_token.application, user=access_token.user)


# --- GET users/{userId}/tokens -------------------------------------------------------------


def test_lists_each_session_newest_first_with_every_field(api):
    user = UserFactory()
    client_x, client_y = ApplicationFactory(name="Client X"), ApplicationFactory(name="Client Y")
    older, _ = issue_session(user, client_x, scope="basic stream")
    newer, _ = issue_session(user, client_y, refresh=False, scope="basic")
    older_session = began(older)
    newer_session = began(newer, BEGAN + timedelta(minutes=5))

    response = api("get", f"users/{user.pk}/tokens")

    assert response.status_code == 200
    assert_end_user_contract_headers(response)
    assert "Allow" not in response
    assert body(response) == {
        "tokens": [
            {
                "id": str(newer_session.public_id),
                "client_name": "Client Y",
                "created_at": BEGAN_MS + 300_000,
                "scopes": ["basic"],
                "type": "DEFAULT",
                "refresh_token_issued": False,
                "expired": False,
            },
            {
                "id": str(older_session.public_id),
                "client_name": "Client X",
                "created_at": BEGAN_MS,
                "scopes": ["basic", "stream"],
                "type": "DEFAULT",
                "refresh_token_issued": True,
                "expired": False,
            },
        ]
    }


def test_keys_come_in_the_contracts_order(api):
    user = UserFactory()
    issue_session(user, ApplicationFactory())
    TokenSession.objects.update(device=DeviceFactory(user=user, name="my iPad"))

    response = api("get", f"users/{user.pk}/tokens")

    assert list(body(response)["tokens"][0]) == [
        "id",
        "client_name",
        "device_name",
        "created_at",
        "scopes",
        "type",
        "refresh_token_issued",
        "expired",
    ]


def test_expired_access_token_with_usable_refresh_token_is_shown_expired(api):
    user = UserFactory()
    access, _ = issue_session(user, ApplicationFactory(name="Client X"), expires_in=timedelta(hours=-1))
    session = began(access)

    response = api("get", f"users/{user.pk}/tokens")

    assert response.status_code == 200
    assert body(response) == {
        "tokens": [
            {
                "id": str(session.public_id),
                "client_name": "Client X",
                "created_at": BEGAN_MS,
                "scopes": ["basic", "stream"],
                "type": "DEFAULT",
                "refresh_token_issued": True,
                "expired": True,
            }
        ]
    }


def test_expired_tokens_without_usable_refresh_token_are_left_out(api):
    user = UserFactory()
    shown, _ = issue_session(user, ApplicationFactory(name="Shown"))
    issue_session(user, ApplicationFactory(), refresh=False, expires_in=timedelta(seconds=-1))
    _, revoked_refresh = issue_session(user, ApplicationFactory(), expires_in=timedelta(hours=-1))
    revoked_refresh.revoke()

    response = api("get", f"users/{user.pk}/tokens")

    assert [entry["client_name"] for entry in body(response)["tokens"]] == ["Shown"]


def test_a_refresh_token_past_dots_refresh_expiry_is_not_usable(api, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_EXPIRE_SECONDS": 3600}
    user = UserFactory()
    issue_session(user, ApplicationFactory(name="Dormant"), expires_in=timedelta(hours=-2))
    issue_session(user, ApplicationFactory(name="Recent"), expires_in=timedelta(minutes=-30))

    response = api("get", f"users/{user.pk}/tokens")

    assert [(e["client_name"], e["expired"]) for e in body(response)["tokens"]] == [("Recent", True)]


def test_user_with_only_expired_lone_tokens_gets_404(api):
    user = UserFactory()
    issue_session(user, ApplicationFactory(), refresh=False, expires_in=timedelta(seconds=-1))

    response = api("get", f"users/{user.pk}/tokens")

    assert response.status_code == 404
    assert_end_user_contract_headers(response)
    assert body(response) == NO_TOKENS


def test_user_without_sessions_gets_404(api):
    user = UserFactory()

    response = api("get", f"users/{user.pk}/tokens")

    assert response.status_code == 404
    assert_end_user_contract_headers(response)
    assert body(response) == NO_TOKENS


@pytest.mark.parametrize(
    "user_id", ["999999", "abc", "0", "-1", "01", "+1", "1_0", "1.0", "99999999999999999999999"]
)
def test_unknown_or_malformed_user_id_gets_404(api, user_id):
    issue_session(UserFactory(), ApplicationFactory())  # somebody has tokens

    response = api("get", f"users/{user_id}/tokens")

    assert response.status_code == 404
    assert_end_user_contract_headers(response)
    assert body(response) == NO_TOKENS


def test_registration_tokens_are_never_listed(api):
    user = UserFactory()
    AccessTokenFactory(user=user, scope="oauth2_provider:registration")

    response = api("get", f"users/{user.pk}/tokens")

    assert response.status_code == 404
    assert body(response) == NO_TOKENS


def test_only_that_users_sessions_are_listed(api):
    user, other = UserFactory(), UserFactory()
    app = ApplicationFactory(name="Mine")
    issue_session(user, app)
    issue_session(other, ApplicationFactory(name="Theirs"))
    AccessTokenFactory(user=None, application=app)  # an app token has no user

    response = api("get", f"users/{user.pk}/tokens")

    assert [entry["client_name"] for entry in body(response)["tokens"]] == ["Mine"]


def test_id_is_stable_across_rotation(api):
    user = UserFactory()
    _, refresh = issue_session(user, ApplicationFactory())
    first = body(api("get", f"users/{user.pk}/tokens"))["tokens"][0]

    rotate(refresh)
    second = body(api("get", f"users/{user.pk}/tokens"))["tokens"][0]

    assert second == first
    assert first["id"] == str(TokenSession.objects.get().public_id)


def test_id_is_stable_across_a_real_refresh_through_dots_token_endpoint(api, client):
    user = UserFactory()
    app = ApplicationFactory(name="Client X")
    _, refresh = issue_session(user, app, scope="basic stream")
    before = body(api("get", f"users/{user.pk}/tokens"))["tokens"]

    raw_refresh = refresh.raw_token
    for _round in range(2):
        response = client.post(
            url("/o/token/"),
            {"grant_type": "refresh_token", "refresh_token": raw_refresh},
            HTTP_AUTHORIZATION=basic_header(app),
        )
        assert response.status_code == 200, response.content
        raw_refresh = response.json()["refresh_token"]
    after = body(api("get", f"users/{user.pk}/tokens"))["tokens"]

    assert RefreshToken.objects.filter(token_family=refresh.token_family).count() == 3
    assert len(after) == 1
    assert after[0]["id"] == before[0]["id"]
    assert after[0] == {**before[0], "expired": False}


def test_session_bound_to_a_device_shows_its_name_and_type(api):
    user = UserFactory()
    issue_session(user, ApplicationFactory(name="Client Y"))
    device = DeviceFactory(user=user, name="my iPad", type=Device.Type.FINGER_PRINT)
    TokenSession.objects.update(device=device)

    entry = body(api("get", f"users/{user.pk}/tokens"))["tokens"][0]

    assert (entry["device_name"], entry["type"]) == ("my iPad", "FINGER_PRINT")


def test_session_of_a_registered_clients_device_shows_the_device_name(api):
    user = UserFactory()
    app = ApplicationFactory(name="Ada's phone app", registration_source="dcr", user=user)
    # The DCR receiver made the device, named after the client; the user renamed it since.
    Device.objects.filter(application=app).update(
        name="Ada's phone", type=Device.Type.IMPLICIT_AUTHENTICATION
    )
    issue_session(user, app)

    entry = body(api("get", f"users/{user.pk}/tokens"))["tokens"][0]

    assert (entry["client_name"], entry["device_name"], entry["type"]) == (
        "Ada's phone app",
        "Ada's phone",
        "IMPLICIT_AUTHENTICATION",
    )


def test_session_type_hook_decides_the_type(api, settings):
    seen = []

    def hook(session):
        seen.append(session)
        return "CUSTOM_AUTHENTICATOR" if session.application.name == "Custom" else None

    settings.TOKEN_ADMIN = {"SESSION_TYPE_HOOK": hook}
    user = UserFactory()
    issue_session(user, ApplicationFactory(name="Custom"))
    began(issue_session(user, ApplicationFactory(name="Plain"))[0], BEGAN)

    tokens = body(api("get", f"users/{user.pk}/tokens"))["tokens"]

    assert [(e["client_name"], e["type"]) for e in tokens] == [
        ("Custom", "CUSTOM_AUTHENTICATOR"),
        ("Plain", "DEFAULT"),
    ]
    assert {session.application.name for session in seen} == {"Custom", "Plain"}


@pytest.mark.parametrize("count", [1, 30])
def test_listing_takes_a_fixed_number_of_queries(api, django_assert_max_num_queries, count):
    user = UserFactory()
    for index in range(count):
        app = ApplicationFactory()
        if index % 3 == 0:
            DeviceFactory(user=user, application=app)
        access, _ = issue_session(user, app, refresh=index % 2 == 0)
        if index % 5 == 0:
            TokenSession.objects.filter(access_token_checksum=access.token_checksum).update(
                device=DeviceFactory(user=user)
            )
    api("get", f"users/{user.pk}/tokens")  # the secret check is now cached

    # One query for the API client (with its profile), then the sessions, their families'
    # refresh tokens, their lone access tokens and the watermarks: one each, whatever the count.
    with django_assert_max_num_queries(5):
        response = api("get", f"users/{user.pk}/tokens")

    assert response.status_code == 200
    assert len(body(response)["tokens"]) == count


# --- DELETE users/{userId}/tokens/{tokenId} ---------------------------------------------------


def test_delete_revokes_the_session_and_its_family(api, api_app, client):
    user = UserFactory()
    _, refresh = issue_session(user, ApplicationFactory())
    new_access, new_refresh = rotate(refresh)
    session = TokenSession.objects.get()
    kept, _ = issue_session(user, ApplicationFactory(name="Kept"))

    response = api("delete", f"users/{user.pk}/tokens/{session.public_id}")

    assert response.status_code == 204
    assert response.content == b""
    assert_end_user_contract_headers(response)
    assert not AccessToken.objects.filter(pk=new_access.pk).exists()
    assert not RefreshToken.objects.filter(token_family=refresh.token_family, revoked__isnull=True).exists()
    assert AccessToken.objects.filter(pk=kept.pk).exists()
    assert [e["client_name"] for e in body(api("get", f"users/{user.pk}/tokens"))["tokens"]] == ["Kept"]
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_application) == ("end_user", "api_client", api_app)
    assert asked(event.selection) == {
        "kind": "sessions",
        "session_ids": [str(session.public_id)],
        "user_id": json_id(user.pk),
    }
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)
    # The revoked refresh token can no longer mint anything.
    refused = client.post(
        url("/o/token/"),
        {"grant_type": "refresh_token", "refresh_token": new_refresh.raw_token},
        HTTP_AUTHORIZATION=basic_header(refresh.application),
    )
    assert refused.status_code == 400


def test_delete_of_another_users_session_does_nothing(api):
    owner, other = UserFactory(), UserFactory()
    access, refresh = issue_session(owner, ApplicationFactory())
    session = TokenSession.objects.get()

    response = api("delete", f"users/{other.pk}/tokens/{session.public_id}")

    assert response.status_code == 204
    assert response.content == b""
    assert_end_user_contract_headers(response)
    assert AccessToken.objects.filter(pk=access.pk).exists()
    assert RefreshToken.objects.get(pk=refresh.pk).revoked is None
    # Nothing revoked, so no audit row (counted in the cache instead: tests/test_end_user_oracle.py).
    assert not RevocationEvent.objects.exists()


@pytest.mark.parametrize(
    "token_id",
    ["not-a-uuid", "123", "{%s}", "%s-", "urn:uuid:%s"],
)
def test_delete_with_malformed_token_id_is_204_and_revokes_nothing(api, token_id):
    user = UserFactory()
    access, _ = issue_session(user, ApplicationFactory())
    session_id = str(TokenSession.objects.get().public_id)
    path_id = token_id % session_id if "%s" in token_id else token_id

    response = api("delete", f"users/{user.pk}/tokens/{path_id}")

    assert response.status_code == 204
    assert response.content == b""
    assert_end_user_contract_headers(response)
    assert AccessToken.objects.filter(pk=access.pk).exists()
    assert not RevocationEvent.objects.exists()


def test_delete_accepts_an_upper_case_uuid(api):
    user = UserFactory()
    access, _ = issue_session(user, ApplicationFactory())

    response = api("delete", f"users/{user.pk}/tokens/{str(TokenSession.objects.get().public_id).upper()}")

    assert response.status_code == 204
    assert not AccessToken.objects.filter(pk=access.pk).exists()


@pytest.mark.parametrize("user_id", ["999999", "abc", "01"])
def test_delete_for_unknown_or_malformed_user_is_204_and_revokes_nothing(api, user_id):
    user = UserFactory()
    access, _ = issue_session(user, ApplicationFactory())

    response = api("delete", f"users/{user_id}/tokens/{TokenSession.objects.get().public_id}")

    assert response.status_code == 204
    assert response.content == b""
    assert_end_user_contract_headers(response)
    assert AccessToken.objects.filter(pk=access.pk).exists()
    assert not RevocationEvent.objects.exists()


def test_delete_of_an_unknown_session_is_204(api):
    user = UserFactory()

    response = api("delete", f"users/{user.pk}/tokens/7d507b7e-6221-4f06-a75e-ef6e6f06d32b")

    assert response.status_code == 204
    assert response.content == b""
    assert not RevocationEvent.objects.exists()


# --- other paths and methods under the mount --------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("post", "users/1/tokens", "GET, HEAD"),
        ("delete", "users/1/tokens", "GET, HEAD"),
        ("get", "users/1/tokens/7d507b7e-6221-4f06-a75e-ef6e6f06d32b", "DELETE"),
        ("options", "users/1/tokens", "GET, HEAD"),
    ],
)
def test_other_methods_get_a_json_405(api, method, path, allow):
    response = api(method, path)

    assert response.status_code == 405
    assert_end_user_contract_headers(response)
    assert response["Allow"] == allow
    assert body(response) == {"code": "method_not_allowed", "message": method_not_allowed(method)}


@pytest.mark.parametrize("path", ["", "users", "users/1", "users/1/tokens/", "users/1/consents", "x/y/z"])
def test_unknown_paths_get_a_json_404(api, path):
    response = api("get", path)

    assert response.status_code == 404
    assert_end_user_contract_headers(response)
    assert "Allow" not in response
    assert body(response) == {
        "code": "not_found",
        "message": "There is no such resource in the end-user API.",
    }


def test_unknown_paths_ask_for_credentials_first(client):
    response = client.get(MOUNT + "users/1/consents")

    assert response.status_code == 401
    assert_end_user_contract_headers(response)
    assert body(response) == UNAUTHORIZED


def test_json_whatever_the_accept_header_asks(api):
    response = api("get", "users/1/tokens", HTTP_ACCEPT="text/html")

    assert response.status_code == 404
    assert_end_user_contract_headers(response)
    assert body(response) == NO_TOKENS


def test_head_of_the_list_has_the_headers_and_no_body(api):
    user = UserFactory()
    issue_session(user, ApplicationFactory())

    response = api("head", f"users/{user.pk}/tokens")

    assert response.status_code == 200
    assert_end_user_contract_headers(response)
    assert response.content == b""


def test_an_unexpected_error_is_a_json_500(api, settings, caplog):
    def broken_hook(session):
        raise RuntimeError("integrator bug")

    settings.TOKEN_ADMIN = {"SESSION_TYPE_HOOK": broken_hook}
    user = UserFactory()
    issue_session(user, ApplicationFactory())

    response = api("get", f"users/{user.pk}/tokens")

    assert response.status_code == 500
    assert_end_user_contract_headers(response)
    assert body(response) == {"code": "server_error", "message": "The server could not handle the request."}
    assert "integrator bug" in caplog.text


def test_created_at_is_milliseconds_since_the_epoch_of_when_the_session_began(api):
    user = UserFactory()
    _, refresh = issue_session(user, ApplicationFactory())
    session = TokenSession.objects.get()
    rotate(refresh)  # a later token of the session does not move when it began

    entry = body(api("get", f"users/{user.pk}/tokens"))["tokens"][0]

    expected = (session.created_at - datetime(1970, 1, 1, tzinfo=dt_timezone.utc)) // timedelta(
        milliseconds=1
    )
    assert entry["created_at"] == expected
    assert abs(entry["created_at"] / 1000 - timezone.now().timestamp()) < 60
