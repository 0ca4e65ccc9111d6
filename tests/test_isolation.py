"""Nobody reaches tokens that are not theirs: one world, every endpoint of every style, the admin.

The world: users Alice and Bob, apps X and Y; each user holds a session in each app,
Alice a second one in X; each app holds an app token. Each test acts as one caller and
checks exactly which tokens are still live afterwards, and that the answer names no token,
user or app beyond what that caller may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    AppProfileFactory,
    UserFactory,
    issue_session,
    login_name,
)
from tests.helpers import basic, bearer, confirm_admin_action, json_id, url
from token_admin.models import TokenSession

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Application = get_application_model()

pytestmark = pytest.mark.django_db


@dataclass
class World:
    users: dict[str, Any]
    apps: dict[str, Any]
    access: dict[str, Any]  # label -> access token (raw value on .raw_token)
    refresh: dict[str, Any]  # label -> refresh token of the user sessions
    api_client: Any

    def live(self) -> set[str]:
        """Labels whose access token still exists and whose refresh token (if any) is not revoked."""
        present = set(AccessToken.objects.values_list("pk", flat=True))
        live_refresh = set(RefreshToken.objects.filter(revoked__isnull=True).values_list("pk", flat=True))
        return {
            label
            for label, token in self.access.items()
            if token.pk in present and (label not in self.refresh or self.refresh[label].pk in live_refresh)
        }

    def session_id(self, label: str) -> str:
        return str(TokenSession.objects.get(token_family=self.refresh[label].token_family).public_id)

    def secrets_except(self, *labels: str) -> list[str]:
        """Raw values of every token but these, and every client secret."""
        values = [t.raw_token for label, t in self.access.items() if label not in labels]
        values += [t.raw_token for t in self.refresh.values()]
        return values + [app.raw_secret for app in self.apps.values()] + [self.api_client.raw_secret]


@pytest.fixture
def world() -> World:
    users = {"alice": UserFactory(username="alice"), "bob": UserFactory(username="bob")}
    apps = {
        name: AppProfileFactory(application__name=f"App {name}", allow_app_token=True).application
        for name in ("X", "Y")
    }
    access, refresh = {}, {}
    for user_name, user in users.items():
        for app_name, app in apps.items():
            label = f"{user_name}@{app_name}"
            access[label], refresh[label] = issue_session(user, app)
    access["alice@X#2"], refresh["alice@X#2"] = issue_session(users["alice"], apps["X"])
    for app_name, app in apps.items():
        access[f"app {app_name}"] = AccessTokenFactory(user=None, application=app, scope="")
    api_client = ApplicationFactory(name="Support desk", api_client=True)
    return World(users, apps, access, refresh, api_client)


def assert_reveals_none(response: Any, values: list[str]) -> None:
    body = response.content.decode()
    leaked = [value for value in values if value in body]
    assert leaked == [], "the response names tokens or secrets that are not the caller's"


# --- App.net style ----------------------------------------------------------------------------


def test_adn_get_token_shows_only_the_calling_token(client, world):
    response = client.get(url("/stream/0/token"), **bearer(world.access["alice@X"]))

    data = response.json()["data"]
    assert (data["user"]["username"], data["client_id"]) == (login_name("alice"), world.apps["X"].client_id)
    assert_reveals_none(response, world.secrets_except())
    assert "bob" not in response.content.decode()
    assert world.live() == set(world.access)


def test_adn_delete_token_revokes_only_the_calling_tokens_session(client, world):
    response = client.delete(url("/stream/0/token"), **bearer(world.access["alice@X"]))

    assert response.status_code == 200
    assert world.live() == set(world.access) - {"alice@X"}
    assert_reveals_none(response, world.secrets_except())


@pytest.mark.parametrize("app_name", ["X", "Y"])
def test_adn_app_tokens_list_only_their_own_apps_user_tokens(client, world, app_name):
    app_token = world.access[f"app {app_name}"]
    other = "Y" if app_name == "X" else "X"

    listed = client.get(url("/stream/0/apps/me/tokens"), **bearer(app_token))
    user_ids = client.get(url("/stream/0/apps/me/tokens/user_ids"), **bearer(app_token))

    # "alice@X#2" is in X too: the app is what follows "@", up to any "#".
    own = {label for label in world.access if label.partition("@")[2].partition("#")[0] == app_name}
    expected_ids = {str(world.access[label].pk) for label in own}
    assert {item["pagination_id"] for item in listed.json()["data"]} == expected_ids
    assert {item["client_id"] for item in listed.json()["data"]} == {world.apps[app_name].client_id}
    assert world.apps[other].client_id not in listed.content.decode()
    assert user_ids.json()["data"] == [str(pk) for pk in sorted(user.pk for user in world.users.values())]
    assert_reveals_none(listed, world.secrets_except())
    assert world.live() == set(world.access)


@pytest.mark.parametrize("path", [url("/stream/0/apps/me/tokens"), url("/stream/0/apps/me/tokens/user_ids")])
def test_adn_a_user_token_cannot_list_its_apps_tokens(client, world, path):
    response = client.get(path, **bearer(world.access["alice@X"]))

    assert response.status_code == 403
    assert response.json() == {
        "meta": {
            "code": 403,
            "error_message": "This endpoint requires an app token.",
            "error_slug": "not-authorized",
        }
    }


# --- Stack Exchange style ---------------------------------------------------------------------


def test_se_read_shows_only_the_tokens_passed(client, world):
    response = client.get(url(f"/2.2/access-tokens/{world.access['alice@X'].raw_token}"))

    items = response.json()["items"]
    assert [item["account_id"] for item in items] == [json_id(world.users["alice"].pk)]
    assert_reveals_none(response, world.secrets_except("alice@X"))
    assert world.live() == set(world.access)


def test_se_invalidate_revokes_only_the_tokens_passed(client, world):
    passed = ";".join(world.access[label].raw_token for label in ("alice@X", "app Y"))

    response = client.get(url(f"/2.2/access-tokens/{passed}/invalidate"))

    assert len(response.json()["items"]) == 2
    assert world.live() == set(world.access) - {"alice@X", "app Y"}
    assert_reveals_none(response, world.secrets_except("alice@X", "app Y"))


def test_se_de_authenticate_revokes_that_user_in_that_app_only(client, world):
    response = client.get(url(f"/2.2/apps/{world.access['alice@X'].raw_token}/de-authenticate"))

    assert response.status_code == 200
    # Both of Alice's sessions in X; not Alice in Y, not Bob in X, not X's app token.
    assert world.live() == set(world.access) - {"alice@X", "alice@X#2"}
    assert_reveals_none(response, world.secrets_except("alice@X"))


def test_se_de_authenticate_with_an_app_token_revokes_that_token_only(client, world):
    response = client.get(url(f"/2.2/apps/{world.access['app X'].raw_token}/de-authenticate"))

    assert len(response.json()["items"]) == 1
    assert world.live() == set(world.access) - {"app X"}


def test_se_unknown_tokens_reveal_and_revoke_nothing(client, world):
    # A guess that differs from a real token in its last character finds nothing.
    guess = world.access["bob@Y"].raw_token[:-1] + (
        "A" if world.access["bob@Y"].raw_token[-1] != "A" else "B"
    )

    for path in (
        f"access-tokens/{guess}",
        f"access-tokens/{guess}/invalidate",
        f"apps/{guess}/de-authenticate",
    ):
        response = client.get(url(f"/2.2/{path}"))
        assert response.json()["items"] == []
    assert world.live() == set(world.access)


# --- end-user token API -----------------------------------------------------------------------


def test_end_user_list_shows_only_that_users_sessions(client, world):
    alice = world.users["alice"]

    response = client.get(url(f"/oauth/api/v1/users/{alice.pk}/tokens"), **basic(world.api_client))

    ids = {entry["id"] for entry in response.json()["tokens"]}
    assert ids == {world.session_id(label) for label in ("alice@X", "alice@X#2", "alice@Y")}
    assert_reveals_none(response, world.secrets_except())
    assert world.session_id("bob@X") not in response.content.decode()


def test_end_user_delete_of_another_users_session_revokes_nothing(client, world):
    alice = world.users["alice"]

    response = client.delete(
        url(f"/oauth/api/v1/users/{alice.pk}/tokens/{world.session_id('bob@X')}"), **basic(world.api_client)
    )

    assert (response.status_code, response.content) == (204, b"")
    assert world.live() == set(world.access)


def test_end_user_delete_revokes_exactly_that_session(client, world):
    alice = world.users["alice"]

    response = client.delete(
        url(f"/oauth/api/v1/users/{alice.pk}/tokens/{world.session_id('alice@X')}"), **basic(world.api_client)
    )

    assert response.status_code == 204
    assert world.live() == set(world.access) - {"alice@X"}


@pytest.mark.parametrize("method", ["get", "delete"])
@pytest.mark.parametrize(
    "caller, expected",
    [
        ("app X's own credentials (not an API client)", 403),
        ("the API client with a wrong secret", 401),
        ("the API client with app X's secret", 401),
    ],
)
def test_end_user_api_refuses_other_clients(client, world, method, caller, expected):
    credentials = {
        "app X's own credentials (not an API client)": basic(world.apps["X"]),
        "the API client with a wrong secret": basic(world.api_client, "wrong"),
        "the API client with app X's secret": basic(world.api_client, world.apps["X"].raw_secret),
    }[caller]
    alice = world.users["alice"]
    path = url(f"/oauth/api/v1/users/{alice.pk}/tokens")
    if method == "delete":
        path += f"/{world.session_id('alice@X')}"

    response = getattr(client, method)(path, **credentials)

    assert response.status_code == expected
    assert set(response.json()) == {"code", "message"}
    assert world.live() == set(world.access)


# --- the admin --------------------------------------------------------------------------------

TOKEN_CHANGELIST = f"admin:{AccessToken._meta.app_label}_{AccessToken._meta.model_name}_changelist"


def staff(*codenames: str) -> Any:
    user = UserFactory(is_staff=True)
    for perm in codenames:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


VIEW_TOKENS = f"{AccessToken._meta.app_label}.view_{AccessToken._meta.model_name}"


@pytest.mark.parametrize(
    "action", ["revoke_selected_tokens", "deauthorize_selected_tokens"], ids=["revoke", "deauthorize"]
)
def test_admin_staff_without_the_revoke_permission_revokes_nothing(client, world, action):
    client.force_login(staff(VIEW_TOKENS))
    payload = {
        "action": action,
        "_selected_action": [world.access["alice@X"].pk],
        "post": "yes",
        "reason": "x",
    }

    client.post(reverse(TOKEN_CHANGELIST), payload)

    assert world.live() == set(world.access)


def test_admin_without_staff_status_reaches_nothing(client, world):
    client.force_login(world.users["alice"])
    payload = {
        "action": "revoke_selected_tokens",
        "_selected_action": [world.access["bob@X"].pk],
        "post": "yes",
        "reason": "x",
    }

    response = client.post(reverse(TOKEN_CHANGELIST), payload)

    assert response.status_code == 302  # to the login page
    assert world.live() == set(world.access)


@pytest.mark.parametrize(
    "action, revoked",
    [
        ("revoke_selected_tokens", {"alice@X"}),
        ("deauthorize_selected_tokens", {"alice@X", "alice@X#2"}),
    ],
)
def test_admin_actions_revoke_only_the_selection(client, world, action, revoked):
    client.force_login(staff(VIEW_TOKENS, "token_admin.revoke_tokens"))
    payload = {
        "action": action,
        "_selected_action": [world.access["alice@X"].pk],
        "post": "yes",
        "reason": "x",
    }

    response = confirm_admin_action(client, reverse(TOKEN_CHANGELIST), payload, follow=True)

    assert response.status_code == 200
    assert world.live() == set(world.access) - revoked
