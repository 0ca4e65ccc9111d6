"""The staff resource API (/api/token-admin/): reads, filters, cursor pages, revokes, auth.

Every answer is asserted as a client sees it: status, exact JSON, and the headers that matter.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    AppProfileFactory,
    DeviceFactory,
    UserFactory,
    issue_session,
)
from tests.helpers import json_id, method_not_allowed, translated, url
from token_admin import ids
from token_admin.models import Device, RevocationEvent, TokenSession

pytestmark = pytest.mark.django_db

BASE = url("/api/token-admin")
AccessToken = get_access_token_model()


def view_permission(model):
    # DOT's models may be swapped: the permission belongs to the configured model's app.
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


VIEW_PERMISSIONS = (
    "token_admin.view_tokensession",
    "token_admin.view_device",
    "token_admin.view_revocationevent",
    view_permission(get_application_model()),
    view_permission(AccessToken),
)
NOT_ALLOWED_REVOKE = {"detail": "This needs the permission token_admin.revoke_tokens."}


def grant(user, *perms):
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    # A fresh instance: Django caches permissions on the user object.
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def reader(db):
    return grant(UserFactory(is_staff=True), *VIEW_PERMISSIONS)


@pytest.fixture
def revoker(db):
    return grant(UserFactory(is_staff=True), *VIEW_PERMISSIONS, "token_admin.revoke_tokens")


def bearer(user, scope):
    token = AccessTokenFactory(user=user, application=ApplicationFactory(), scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {token.raw_token}"}


def get(client, path, **extra):
    return client.get(f"{BASE}/{path}", HTTP_ACCEPT="application/json", **extra)


def post(client, path, body, **extra):
    return client.post(f"{BASE}/{path}", json.dumps(body), content_type="application/json", **extra)


def iso(moment):
    """A moment as DRF writes it: in the project's time zone (UTC: ``Z``; Europe/Berlin: ``+01:00``)."""
    return timezone.localtime(moment).isoformat().replace("+00:00", "Z")


def not_provided():
    return {"detail": translated("Authentication credentials were not provided.")}


#: A user id that no user has, of the user model's key type.
NO_USER = 999999 if ids.kind(get_user_model()) == "integer" else "7d507b7e-6221-4f06-a75e-ef6e6f06d32b"


def is_valid(token):
    return AccessToken.objects.filter(pk=token.pk).exists()


# --- reads ------------------------------------------------------------------------------


def test_sessions_list_exact_json(client, reader):
    user = UserFactory()
    app = AppProfileFactory().application
    device = DeviceFactory(user=user)
    issue_session(user, app)
    session = TokenSession.objects.get()
    session.device = device
    session.save()
    client.force_login(reader)

    response = get(client, "sessions")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "id": str(session.public_id),
                "user": {"id": json_id(user.pk), "username": user.get_username()},
                "application": {"id": app.pk, "client_id": app.client_id, "name": app.name},
                "device": {"id": str(device.public_id), "name": device.name},
                "created_at": iso(session.created_at),
                "last_used_at": None,
                "last_ip": None,
                "browser": "",
                "os": "",
                "device_family": "",
                "live": True,
            }
        ],
    }


def test_access_tokens_are_masked_and_never_filtered_or_ordered_by_value(client, reader):
    token, _ = issue_session(UserFactory(), ApplicationFactory())
    other, _ = issue_session(UserFactory(), ApplicationFactory())
    client.force_login(reader)

    listed = get(client, "access-tokens")
    by_value = get(client, f"access-tokens?token={token.raw_token}&token_checksum={token.token_checksum}")
    ordered = get(client, "access-tokens?ordering=token")

    assert [row["id"] for row in listed.json()["results"]] == [other.pk, token.pk]
    assert listed.json()["results"][1] == {
        "id": token.pk,
        "token": "…" + token.token_checksum[-4:],
        "user": json_id(token.user_id),
        "application": {
            "id": token.application_id,
            "client_id": token.application.client_id,
            "name": token.application.name,
        },
        "scope": "basic stream",
        "expires": iso(token.expires),
        "created": iso(token.created),
        "expired": False,
    }
    # Unknown filters and orderings are ignored: the same rows in the same order.
    assert by_value.json() == listed.json() == ordered.json()
    for response in (listed, by_value, ordered):
        assert token.raw_token.encode() not in response.content
        assert token.token_checksum.encode() not in response.content


def test_application_detail_has_its_profile_and_no_secret(client, reader):
    profile = AppProfileFactory(end_user_api=True)
    app = profile.application
    client.force_login(reader)

    response = get(client, f"applications/{app.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["profile"] == {
        "link": "https://app.example.com/",
        "end_user_api": True,
        "allow_app_token": False,
        "updated_at": iso(profile.updated_at),
    }
    assert set(body) == {
        "id", "client_id", "name", "user", "client_type", "authorization_grant_type",
        "skip_authorization", "created", "updated", "profile",
    }  # fmt: skip
    assert app.raw_secret.encode() not in response.content


def test_filters_live_and_ended_user_app_and_ranges(client, revoker):
    alice, bob = UserFactory(), UserFactory()
    app = ApplicationFactory()
    issue_session(alice, app)
    issue_session(bob, app)
    ended_token, _ = issue_session(alice, ApplicationFactory())
    ended = TokenSession.objects.order_by("-pk").first()
    client.force_login(revoker)
    assert post(client, f"sessions/{ended.public_id}/revoke", {"reason": "test"}).status_code == 200

    def ids(query):
        response = get(client, f"sessions?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    live_alice = str(TokenSession.objects.get(user=alice, application=app).public_id)
    live_bob = str(TokenSession.objects.get(user=bob).public_id)
    assert ids("live=true") == [live_bob, live_alice]
    assert ids("live=false") == [str(ended.public_id)]
    assert ids(f"user={alice.pk}") == [str(ended.public_id), live_alice]
    assert ids(f"user={alice.pk}&application={app.pk}&live=true") == [live_alice]
    tomorrow = quote(iso(timezone.now() + timedelta(days=1)))  # "+01:00" in Europe/Berlin
    assert ids(f"created_after={tomorrow}") == []
    assert len(ids(f"created_before={tomorrow}")) == 3
    # An offset Python takes and PostgreSQL refuses (past ±15:59; the fuzzer found it): a moment
    # like any other, not a 500.
    assert len(ids(quote("created_before=5210-04-19T01:25:54-20:26", safe="="))) == 3
    assert ids(quote("created_after=5210-04-19T01:25:54-20:26", safe="=")) == []


@pytest.mark.parametrize(
    ("query", "field", "message", "uuid_message"),
    [
        # Django's form messages: a user id is the user model's key type (a UUID in the host configuration).
        ("user=abc", "user", "Enter a whole number.", "Enter a valid UUID."),
        (
            "user=" + "9" * 25,
            "user",
            "Ensure this value is less than or equal to %(limit_value)s.",
            "Enter a valid UUID.",
        ),
        ("live=maybe", "live", "Select a valid choice. %(value)s is not one of the available choices.", None),
        ("created_after=yesterday", "created_after", "Enter a valid date/time.", None),
        ("device=not-a-uuid", "device", "Enter a valid UUID.", None),
    ],
)
def test_bad_filter_values_are_400_field_errors(client, reader, query, field, message, uuid_message):
    if uuid_message and ids.kind(get_user_model()) == "uuid":
        message = uuid_message
    expected = translated(message) % {"limit_value": 2**63 - 1, "value": "maybe"}
    client.force_login(reader)
    response = get(client, f"sessions?{query}")
    assert (response.status_code, response.json()) == (400, {field: [expected]})


def test_cursor_pages_walk_every_row_once(client, reader):
    app = ApplicationFactory()
    tokens = [issue_session(UserFactory(), app)[0] for _ in range(5)]
    client.force_login(reader)

    first = get(client, "access-tokens?page_size=2").json()
    second = client.get(first["next"], HTTP_ACCEPT="application/json").json()
    third = client.get(second["next"], HTTP_ACCEPT="application/json").json()
    oldest_first = get(client, "access-tokens?ordering=id&page_size=2").json()

    walked = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert walked == [token.pk for token in reversed(tokens)]
    assert third["next"] is None
    assert [row["id"] for row in oldest_first["results"]] == [tokens[0].pk, tokens[1].pk]


def test_invalid_cursor_and_unknown_ids_are_404_json(client, reader):
    client.force_login(reader)
    cases = {
        "sessions?cursor=bogus": {"detail": translated("Invalid cursor")},
        "sessions/7d507b7e-6221-4f06-a75e-ef6e6f06d32b": {
            "detail": "No TokenSession matches the given query."
        },
        "applications/" + "9" * 19: {"detail": "No Application matches the given query."},
        "devices/not-a-uuid": None,
    }
    for path, body in cases.items():
        response = get(client, path)
        assert response.status_code == 404, path
        if body is not None:
            assert response.json() == body


# --- authentication and permissions -----------------------------------------------------


def test_anonymous_gets_401_with_a_bearer_challenge(client):
    response = get(client, "sessions")
    assert response.status_code == 401
    assert response.json() == not_provided()
    assert response["WWW-Authenticate"] == 'Bearer realm="token_admin"'


def test_the_projects_exception_handler_never_reshapes_these_apis_errors(client, reader, settings):
    # The schema documents DRF's {"detail": ...} and field errors: a project's handler that wraps
    # its own views' errors leaves these alone (as each style's base does).
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "tests.hostapp.exceptions.wrapped_errors",
    }
    client.force_login(reader)
    assert get(client, "sessions?cursor=bogus").json() == {"detail": translated("Invalid cursor")}
    assert get(client, "sessions?device=x").json() == {"device": [translated("Enter a valid UUID.")]}
    revoke_by_get = get(client, "me/sessions/7d507b7e-6221-4f06-a75e-ef6e6f06d32b/revoke")
    assert (revoke_by_get.status_code, revoke_by_get.json()) == (405, {"detail": method_not_allowed("GET")})
    assert get(client, "no/such/endpoint").json() == {"detail": "No such endpoint."}
    client.logout()
    assert get(client, "me/apps").json() == not_provided()


def test_non_staff_and_staff_without_view_permission_are_403(client):
    client.force_login(grant(UserFactory(), *VIEW_PERMISSIONS))
    assert get(client, "sessions").json() == {"detail": "Only staff users may call this API."}
    client.force_login(UserFactory(is_staff=True))
    response = get(client, "sessions")
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "This needs the permission token_admin.view_tokensession."},
    )


def test_staff_without_revoke_tokens_cannot_revoke_anything(client, reader):
    token, _ = issue_session(UserFactory(), ApplicationFactory())
    session = TokenSession.objects.get()
    client.force_login(reader)
    body = {"reason": "test"}
    for path, payload in (
        (f"sessions/{session.public_id}/revoke", body),
        (f"applications/{token.application_id}/revoke", body),
        (f"users/{token.user_id}/revoke", body),
        ("revocations", {**body, "users": [json_id(token.user_id)]}),
    ):
        response = post(client, path, payload)
        assert (response.status_code, response.json()) == (403, NOT_ALLOWED_REVOKE), path
    assert is_valid(token)
    assert not RevocationEvent.objects.exists()


def test_bearer_tokens_need_the_scope_of_the_operation(client, revoker):
    issue_session(UserFactory(), ApplicationFactory())
    session = TokenSession.objects.get()
    revoke_path = f"sessions/{session.public_id}/revoke"

    no_scope = get(client, "sessions", **bearer(revoker, "basic"))
    me_scope = get(client, "sessions", **bearer(revoker, "token_admin:me"))
    read = get(client, "sessions", **bearer(revoker, "token_admin:read"))
    read_revoke = post(client, revoke_path, {"reason": "x"}, **bearer(revoker, "token_admin:read"))
    revoke_only = post(
        client, revoke_path, {"reason": "x", "dry_run": True}, **bearer(revoker, "token_admin:revoke")
    )
    app_token = AccessTokenFactory(user=None, application=ApplicationFactory(), scope="token_admin:read")
    as_app = get(client, "sessions", HTTP_AUTHORIZATION=f"Bearer {app_token.raw_token}")
    invalid = get(client, "sessions", HTTP_AUTHORIZATION="Bearer nope")

    lacks = "The token lacks the scope {}."
    assert (no_scope.status_code, no_scope.json()) == (403, {"detail": lacks.format("token_admin:read")})
    assert (me_scope.status_code, me_scope.json()) == (403, {"detail": lacks.format("token_admin:read")})
    assert read.status_code == 200 and str(session.public_id) in [row["id"] for row in read.json()["results"]]
    assert (read_revoke.status_code, read_revoke.json()) == (
        403,
        {"detail": lacks.format("token_admin:revoke")},
    )
    assert revoke_only.status_code == 200
    assert (as_app.status_code, as_app.json()) == (403, {"detail": "Only staff users may call this API."})
    assert invalid.status_code == 401
    assert invalid.json() == not_provided()


# --- revoking ---------------------------------------------------------------------------


def test_revoke_a_session_dry_run_then_for_real(client, revoker):
    token, refresh = issue_session(UserFactory(), ApplicationFactory())
    other, _ = issue_session(token.user, ApplicationFactory())
    session = TokenSession.objects.get(token_family=refresh.token_family)
    client.force_login(revoker)
    path = f"sessions/{session.public_id}/revoke"

    dry = post(client, path, {"reason": "lost laptop", "dry_run": True})
    assert (dry.status_code, dry.json()) == (
        200,
        {
            "dry_run": True,
            "access_tokens": 1,
            "refresh_tokens": 1,
            "grants": 0,
            "registration_tokens": 0,
            "event": None,
        },
    )
    assert is_valid(token) and not RevocationEvent.objects.exists()

    done = post(client, path, {"reason": "lost laptop"})
    event = RevocationEvent.objects.get()
    assert (done.status_code, done.json()) == (
        200,
        {
            "dry_run": False,
            "access_tokens": 1,
            "refresh_tokens": 1,
            "grants": 0,
            "registration_tokens": 0,
            "event": event.pk,
        },
    )
    assert not is_valid(token) and is_valid(other)
    assert (event.surface, event.actor_type, event.actor_user, event.reason) == (
        "manage",
        "staff",
        revoker,
        "lost laptop",
    )
    assert event.selection["session_ids"] == [str(session.public_id)]
    detail = get(client, f"sessions/{session.public_id}").json()
    assert detail["live"] is False
    listed = get(client, f"revocation-events/{event.pk}").json()
    assert (listed["surface"], listed["actor_label"], listed["reason"]) == (
        "manage",
        revoker.get_username(),
        "lost laptop",
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"reason": ["This field is required."]}),
        ({"reason": "  "}, {"reason": ["This field may not be blank."]}),
        ({"reason": "x", "dry_run": "perhaps"}, {"dry_run": ["Must be a valid boolean."]}),
    ],
)
def test_a_revoke_needs_a_reason(client, revoker, body, errors):
    token, _ = issue_session(UserFactory(), ApplicationFactory())
    client.force_login(revoker)
    response = post(client, f"users/{token.user_id}/revoke", body)
    expected = {field: [translated(message) for message in messages] for field, messages in errors.items()}
    assert (response.status_code, response.json()) == (400, expected)
    assert is_valid(token)


def test_malformed_json_is_a_400_detail(client, revoker):
    client.force_login(revoker)
    response = client.post(f"{BASE}/revocations", "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(translated("JSON parse error - %s").split("%")[0])


def test_revoke_an_app_for_everyone_or_one_user(client, revoker):
    app = ApplicationFactory()
    alice_token, _ = issue_session(UserFactory(), app)
    bob_token, _ = issue_session(UserFactory(), app)
    client.force_login(revoker)

    one = post(client, f"applications/{app.pk}/revoke", {"reason": "r", "user": json_id(alice_token.user_id)})
    assert one.json()["access_tokens"] == 1
    assert not is_valid(alice_token) and is_valid(bob_token)
    unknown = post(client, f"applications/{app.pk}/revoke", {"reason": "r", "user": NO_USER})
    assert (unknown.status_code, unknown.json()) == (400, {"user": ["No user with this id."]})
    every = post(client, f"applications/{app.pk}/revoke", {"reason": "r"})
    assert (every.status_code, every.json()["access_tokens"]) == (200, 1)
    assert not is_valid(bob_token)


def test_revoke_a_user_in_every_app(client, revoker):
    user = UserFactory()
    tokens = [issue_session(user, ApplicationFactory())[0] for _ in range(2)]
    kept, _ = issue_session(UserFactory(), ApplicationFactory())
    client.force_login(revoker)
    response = post(client, f"users/{user.pk}/revoke", {"reason": "left the company"})
    assert (response.status_code, response.json()["access_tokens"]) == (200, 2)
    assert not any(is_valid(token) for token in tokens) and is_valid(kept)
    assert get(client, f"users/{NO_USER}/revoke").status_code == 405
    assert post(client, f"users/{NO_USER}/revoke", {"reason": "x"}).json() == {
        "detail": f"No {get_user_model().__name__} matches the given query."
    }


def test_bulk_revocation_of_a_selection(client, revoker):
    app = ApplicationFactory()
    by_session, _ = issue_session(UserFactory(), app)
    by_user, _ = issue_session(UserFactory(), ApplicationFactory())
    device_user = UserFactory()
    device = DeviceFactory(user=device_user)
    by_device, _ = issue_session(device_user, ApplicationFactory())
    TokenSession.objects.filter(user=device_user).update(device=device)
    kept, _ = issue_session(UserFactory(), ApplicationFactory())
    session = TokenSession.objects.get(user=by_session.user)
    client.force_login(revoker)
    body = {
        "reason": "incident 42",
        "sessions": [str(session.public_id)],
        "users": [json_id(by_user.user_id)],
        "devices": [str(device.public_id)],
    }

    dry = post(client, "revocations", {**body, "dry_run": True})
    assert (dry.status_code, dry.json()["access_tokens"], dry.json()["event"]) == (200, 3, None)
    unknown = post(
        client,
        "revocations",
        {**body, "applications": [999999], "users": [json_id(by_user.user_id), NO_USER]},
    )
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"users": [f"Unknown ids: {NO_USER}."], "applications": ["Unknown ids: 999999."]},
    )
    empty = post(client, "revocations", {"reason": "x"})
    assert empty.json() == {"non_field_errors": ["Name at least one session, user, application or device."]}
    done = post(client, "revocations", body)
    assert (done.status_code, done.json()["access_tokens"]) == (200, 3)
    assert not any(is_valid(token) for token in (by_session, by_user, by_device)) and is_valid(kept)
    event = RevocationEvent.objects.get()
    assert event.selection["kind"] == "selection"
    assert event.selection["device_ids"] == [str(device.public_id)]


# --- queries per page -------------------------------------------------------------------

# Session auth: the session row, the user, and the user's permissions (user and group) once.
AUTH_QUERIES = 4
TABLES = {
    "applications": get_application_model(),
    "sessions": TokenSession,
    "devices": Device,
    "access-tokens": AccessToken,
    "revocation-events": RevocationEvent,
}
LISTS = tuple(TABLES)


def fill(rows):
    for _ in range(rows):
        user = UserFactory()
        app = AppProfileFactory().application
        device = DeviceFactory(user=user, application=app)
        issue_session(user, app)
        TokenSession.objects.filter(user=user).update(device=device)
        AccessTokenFactory(user=user, application=app)  # a lone token: the left-out session kind too
    RevocationEvent.objects.create(surface="admin", actor_type="staff", actor_label="x")


@pytest.mark.parametrize("rows", [1, 8])
@pytest.mark.parametrize("path", LISTS)
def test_one_query_per_page_whatever_the_rows(client, reader, django_assert_num_queries, path, rows):
    fill(rows)
    client.force_login(reader)
    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = get(client, f"{path}?page_size=5")
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(TABLES[path].objects.count(), 5)
