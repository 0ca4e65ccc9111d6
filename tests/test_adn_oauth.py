"""The App.net style with tokens from DOT's real token endpoint (/o/token/).

* DELETE token must leave nothing that can mint a new access token: the refresh token
  bound to it is refused by DOT afterwards.
* An app whose profile allows it obtains an app token with ``client_credentials`` (the
  validator in ``token_admin.oauth2_validators``), and that token works on apps/me/tokens.
"""

from __future__ import annotations

import json

import pytest
from oauth2_provider.models import get_application_model

from tests.factories import ApplicationFactory, AppProfileFactory, UserFactory, issue_session
from tests.helpers import bearer, url

Application = get_application_model()

pytestmark = pytest.mark.django_db


def token_endpoint(client, application, **data):
    return client.post(
        url("/o/token/"),
        {"client_id": application.client_id, "client_secret": application.raw_secret, **data},
    )


def refresh(client, application, refresh_token):
    return token_endpoint(
        client, application, grant_type="refresh_token", refresh_token=refresh_token.raw_token
    )


def adn_get(client, path, raw_token):
    response = client.get(url(f"/stream/0/{path}"), **bearer(raw_token))
    return response.status_code, json.loads(response.content)


INVALID_TOKEN = {
    "meta": {
        "code": 401,
        "error_message": "Call requires authentication: Invalid token.",
        "error_slug": "invalid-token",
    }
}


def test_a_deleted_token_cannot_be_refreshed(client):
    user, app = UserFactory(), ApplicationFactory()
    access, refresh_token = issue_session(user, app)
    other_access, other_refresh = issue_session(user, app)

    response = client.delete(url("/stream/0/token"), **bearer(access))
    assert response.status_code == 200

    refused = refresh(client, app, refresh_token)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant"}
    assert adn_get(client, "token", access.raw_token) == (401, INVALID_TOKEN)

    # The other session of the same user and app still refreshes, and its new token works.
    renewed = refresh(client, app, other_refresh)
    assert renewed.status_code == 200, renewed.content
    status, data = adn_get(client, "token", renewed.json()["access_token"])
    assert (status, data["data"]["user"]["id"]) == (200, str(user.pk))
    assert adn_get(client, "token", other_access.raw_token) == (401, INVALID_TOKEN)


def test_a_token_minted_by_a_refresh_can_be_deleted_with_its_family(client):
    user, app = UserFactory(), ApplicationFactory()
    _, refresh_token = issue_session(user, app)
    minted = refresh(client, app, refresh_token).json()

    response = client.delete(url("/stream/0/token"), **bearer(minted["access_token"]))

    assert response.status_code == 200
    assert refresh(client, app, refresh_token).status_code == 400
    refused = token_endpoint(client, app, grant_type="refresh_token", refresh_token=minted["refresh_token"])
    assert (refused.status_code, refused.json()) == (400, {"error": "invalid_grant"})


def test_an_app_allowed_an_app_token_gets_one_that_works_on_apps_me_tokens(client):
    profile = AppProfileFactory(allow_app_token=True, link="https://app.example.com/")
    app = profile.application
    assert app.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    user = UserFactory()
    user_access, _ = issue_session(user, app, scope="basic")

    issued = token_endpoint(client, app, grant_type="client_credentials")

    assert issued.status_code == 200, issued.content
    raw = issued.json()["access_token"]
    app_object = {"client_id": app.client_id, "link": "https://app.example.com/", "name": app.name}
    assert adn_get(client, "token", raw) == (
        200,
        {"data": {"app": app_object, "client_id": app.client_id, "scopes": []}, "meta": {"code": 200}},
    )
    status, listed = adn_get(client, "apps/me/tokens", raw)
    assert status == 200
    assert [item["pagination_id"] for item in listed["data"]] == [str(user_access.pk)]
    assert listed["meta"] == {
        "code": 200,
        "more": False,
        "min_id": str(user_access.pk),
        "max_id": str(user_access.pk),
    }
    assert adn_get(client, "apps/me/tokens/user_ids", raw) == (
        200,
        {"data": [str(user.pk)], "meta": {"code": 200}},
    )


@pytest.mark.parametrize("with_profile", [False, True])
def test_without_the_flag_dot_refuses_an_app_token(client, with_profile):
    app = ApplicationFactory()
    if with_profile:
        AppProfileFactory(application=app, allow_app_token=False)

    refused = token_endpoint(client, app, grant_type="client_credentials")

    assert (refused.status_code, refused.json()) == (400, {"error": "unauthorized_client"})


def test_a_public_client_never_gets_an_app_token(client):
    app = ApplicationFactory(client_type=Application.CLIENT_PUBLIC)
    AppProfileFactory(application=app, allow_app_token=True)

    refused = token_endpoint(client, app, grant_type="client_credentials")

    assert (refused.status_code, refused.json()) == (400, {"error": "unauthorized_client"})
