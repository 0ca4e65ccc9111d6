"""The App.net-style API at /stream/0/: what a client sees (status, headers, exact JSON)."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from oauth2_provider.models import get_access_token_model
from oauth2_provider.settings import oauth2_settings

from tests.factories import AccessTokenFactory, ApplicationFactory, AppProfileFactory, UserFactory, login_name
from tests.helpers import bearer, method_not_allowed, url
from token_admin import ratelimit
from token_admin.api.adn import responses, views
from token_admin.models import RevocationEvent
from token_admin.revocation import Actor, Selection, Surface, revoke

AccessToken = get_access_token_model()

pytestmark = pytest.mark.django_db

CLIENT_ID = "udxGzAVBdXwGtkHmvswR5MbMEeVnq6n4"
APP = {"client_id": CLIENT_ID, "link": "http://foo.example.com", "name": "Bryan's app for testing"}
USER = {
    "id": None,  # filled in per test: the primary key differs between databases
    "username": "mthurman",
    "name": "Mark Thurman",
    "type": "human",
    "created_at": "2012-07-16T17:23:34Z",
}
# The rate-limit clock is frozen at 1200 s: an hour-long window then resets in 2400 s.
RATE_HEADERS = {"X-RateLimit-Limit": "5000", "X-RateLimit-Reset": "2400"}

NO_TOKEN = {
    "meta": {
        "code": 401,
        "error_message": "Call requires authentication: "
        "This view requires authentication and no token was provided.",
    }
}
INVALID_TOKEN = {
    "meta": {
        "code": 401,
        "error_message": "Call requires authentication: Invalid token.",
        "error_slug": "invalid-token",
    }
}
TOKEN_EXPIRED = {
    "meta": {
        "code": 401,
        "error_message": "Call requires authentication: Token expired.",
        "error_slug": "token-expired",
    }
}
NOT_APP_TOKEN = {
    "meta": {
        "code": 403,
        "error_message": "This endpoint requires an app token.",
        "error_slug": "not-authorized",
    }
}


@pytest.fixture(autouse=True)
def _no_activity_writes(settings):
    """The query counts here are the App.net style's own: a token's first use in an activity
    window adds one UPDATE of its session (counted in test_activity.py)."""
    settings.TOKEN_ADMIN = {"ACTIVITY_TRACKING": False}


@pytest.fixture(autouse=True)
def _frozen_rate_limit_clock(monkeypatch):
    monkeypatch.setattr(views, "hit", functools.partial(ratelimit.hit, now=1200.0))


@pytest.fixture
def app():
    profile = AppProfileFactory(
        application__client_id=CLIENT_ID,
        application__name="Bryan's app for testing",
        link="http://foo.example.com",
    )
    return profile.application


@pytest.fixture
def owner():
    return UserFactory(
        username="mthurman",
        first_name="Mark",
        last_name="Thurman",
        date_joined=datetime(2012, 7, 16, 17, 23, 34, 512000, tzinfo=dt_timezone.utc),
    )


@pytest.fixture
def user_token(app, owner):
    return AccessTokenFactory(user=owner, application=app, scope="basic stream write_post")


@pytest.fixture
def app_token(app):
    return AccessTokenFactory(user=None, application=app, scope="basic")


def adn_name(full_name: str) -> str:
    """App.net's ``name``: the user's full name, "" for a user model without ``get_full_name``
    (the host configuration's)."""
    return full_name if hasattr(get_user_model(), "get_full_name") else ""


def user_dict(user) -> dict:
    return {**USER, "id": str(user.pk), "username": login_name("mthurman"), "name": adn_name("Mark Thurman")}


def user_token_answer(owner) -> dict:
    """The contract's answer about the ``user_token`` fixture (GET and DELETE alike)."""
    return {
        "data": {
            "app": APP,
            "client_id": CLIENT_ID,
            "scopes": ["basic", "stream", "write_post"],
            "user": user_dict(owner),
        },
        "meta": {"code": 200},
    }


def body(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def minified(data) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def rate_headers(response) -> dict:
    return {name: response.get(name) for name in ("X-RateLimit-Limit", "X-RateLimit-Reset")}


def expired_token(app, user=None):
    return AccessTokenFactory(user=user, application=app, expired=True)


# --- GET token ---------------------------------------------------------------------------


def test_get_token_with_a_user_token(client, user_token, owner):
    response = client.get(url("/stream/0/token"), **bearer(user_token))

    expected = user_token_answer(owner)
    assert response.status_code == 200
    assert body(response) == expected
    assert response.content == minified(expected)
    assert response["X-OAuth-Scopes"] == "basic,stream,write_post"
    assert rate_headers(response) == RATE_HEADERS
    assert response["X-RateLimit-Remaining"] == "4999"


def test_get_token_with_an_app_token(client, app_token):
    response = client.get(url("/stream/0/token"), **bearer(app_token))

    assert response.status_code == 200
    assert body(response) == {
        "data": {"app": APP, "client_id": CLIENT_ID, "scopes": []},
        "meta": {"code": 200},
    }
    # Scopes do not apply to app tokens: no X-OAuth-Scopes header.
    assert "X-OAuth-Scopes" not in response
    assert rate_headers(response) == RATE_HEADERS


def test_get_token_by_query_parameter(client, user_token, owner):
    response = client.get(url("/stream/0/token"), {"access_token": user_token.raw_token})

    assert response.status_code == 200
    assert body(response)["data"]["user"] == user_dict(owner)


def test_the_authorization_header_wins_over_the_query_parameter(client, user_token):
    response = client.get(url("/stream/0/token?access_token=not-a-token"), **bearer(user_token))
    assert response.status_code == 200


def test_an_app_without_profile_has_an_empty_link(client):
    application = ApplicationFactory(name="Bare")
    token = AccessTokenFactory(user=None, application=application)

    response = client.get(url("/stream/0/token"), **bearer(token))

    app = {"client_id": application.client_id, "link": "", "name": "Bare"}
    assert body(response) == {
        "data": {"app": app, "client_id": application.client_id, "scopes": []},
        "meta": {"code": 200},
    }


def test_created_at_is_utc(client, app):
    tokyo = dt_timezone(timedelta(hours=9))
    user = UserFactory(first_name="", last_name="", date_joined=datetime(2013, 1, 1, 8, 0, 5, tzinfo=tokyo))
    token = AccessTokenFactory(user=user, application=app)

    data = body(client.get(url("/stream/0/token"), **bearer(token)))["data"]

    assert data["user"] == {
        "id": str(user.pk),
        "username": user.get_username(),
        "name": "",
        "type": "human",
        "created_at": "2012-12-31T23:00:05Z",
    }


def test_pretty_json_on_request(client, user_token, owner):
    response = client.get(url("/stream/0/token"), HTTP_X_ADN_PRETTY_JSON="0", **bearer(user_token))

    expected = user_token_answer(owner)
    assert response.content.decode() == json.dumps(expected, indent=4, ensure_ascii=False) + "\n"


def test_responses_vary_on_the_pretty_header(client, user_token):
    assert client.get(url("/stream/0/token"), **bearer(user_token))["Vary"] == "X-ADN-Pretty-JSON"


def test_head_answers_like_get_without_a_body(client, user_token):
    response = client.head(url("/stream/0/token"), **bearer(user_token))
    assert (response.status_code, response.content) == (200, b"")
    assert response["X-OAuth-Scopes"] == "basic,stream,write_post"


def test_pretty_json_on_errors_too(client):
    response = client.get(url("/stream/0/token"), HTTP_X_ADN_PRETTY_JSON="1")
    assert response.status_code == 401
    assert response.content.decode() == json.dumps(NO_TOKEN, indent=4) + "\n"


def test_get_token_costs_one_query(client, user_token, django_assert_num_queries):
    # The first request reads the not-before watermarks into the cache (one indexed query);
    # every use after it is the token's query alone.
    client.get(url("/stream/0/token"), **bearer(user_token))
    with django_assert_num_queries(1):
        response = client.get(url("/stream/0/token"), **bearer(user_token))
    assert response.status_code == 200


@pytest.mark.parametrize("kind", ["user", "app"])
def test_get_token_stays_within_two_queries(
    client, user_token, app_token, kind, django_assert_max_num_queries
):
    token = user_token if kind == "user" else app_token
    with django_assert_max_num_queries(2):
        response = client.get(url("/stream/0/token"), **bearer(token))
    assert response.status_code == 200


# --- authentication failures (every endpoint) ---------------------------------------------

ENDPOINTS = [
    ("get", url("/stream/0/token")),
    ("delete", url("/stream/0/token")),
    ("get", url("/stream/0/apps/me/tokens/user_ids")),
    ("get", url("/stream/0/apps/me/tokens")),
]


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_no_token(client, method, path):
    response = getattr(client, method)(path)

    assert response.status_code == 401
    assert body(response) == NO_TOKEN
    assert response["WWW-Authenticate"] == 'Bearer realm="stream"'
    assert "X-RateLimit-Limit" not in response
    assert "X-OAuth-Scopes" not in response


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_unknown_token(client, app, method, path):
    response = getattr(client, method)(path, **bearer("no-such-token"))

    assert response.status_code == 401
    assert body(response) == INVALID_TOKEN
    assert "X-RateLimit-Limit" not in response


@pytest.mark.parametrize("method, path", ENDPOINTS)
@pytest.mark.parametrize("kind", ["user", "app"])
def test_revoked_token(client, user_token, app_token, kind, method, path):
    token = user_token if kind == "user" else app_token
    revoke(Selection.tokens([token.pk]), surface=Surface.COMMAND, actor=Actor.command("tests"))

    response = getattr(client, method)(path, **bearer(token))

    assert response.status_code == 401
    assert body(response) == INVALID_TOKEN


@pytest.mark.parametrize("method, path", ENDPOINTS)
@pytest.mark.parametrize("kind", ["user", "app"])
def test_expired_token(client, app, owner, kind, method, path):
    token = expired_token(app, owner if kind == "user" else None)

    # Django's test client sends DELETE data as a body: put the token in the query string.
    response = getattr(client, method)(f"{path}?access_token={token.raw_token}")

    assert response.status_code == 401
    assert body(response) == TOKEN_EXPIRED
    assert response["WWW-Authenticate"] == 'Bearer realm="stream", error="invalid_token"'
    # Expiry is not revocation: the token is still there for its refresh token's sake.
    assert AccessToken.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_dynamic_client_registration_tokens_are_never_accepted(client, app, method, path):
    token = AccessTokenFactory(user=None, application=app, scope=oauth2_settings.DCR_REGISTRATION_SCOPE)

    response = getattr(client, method)(path, **bearer(token))

    assert response.status_code == 401
    assert body(response) == INVALID_TOKEN
    assert AccessToken.objects.filter(pk=token.pk).exists()


def test_another_authorization_scheme_is_no_token(client, user_token):
    response = client.get(url("/stream/0/token"), HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 401
    assert body(response) == NO_TOKEN


def test_a_form_field_passes_the_token_on_post(client, user_token):
    """No endpoint takes POST, but the token is read first: 405 for the caller, with its headers."""
    response = client.post(url("/stream/0/token"), {"access_token": user_token.raw_token})

    assert response.status_code == 405
    assert body(response) == {"meta": {"code": 405, "error_message": method_not_allowed("post")}}
    assert response["Allow"] == "GET, DELETE, HEAD"
    assert response["X-OAuth-Scopes"] == "basic,stream,write_post"
    assert response["X-RateLimit-Remaining"] == "4999"


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_form_field_passes_the_token_on_put_and_patch(client, user_token, method):
    response = getattr(client, method)(
        url("/stream/0/token"),
        f"access_token={user_token.raw_token}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 405
    assert response["X-OAuth-Scopes"] == "basic,stream,write_post"


def test_post_reads_no_query_parameter_and_no_json_body(client, user_token):
    by_query = client.post(url(f"/stream/0/token?access_token={user_token.raw_token}"))
    by_json = client.post(
        url("/stream/0/token"), {"access_token": user_token.raw_token}, content_type="application/json"
    )
    invalid_form = client.post(url("/stream/0/token"), {"access_token": "nope"})

    assert (by_query.status_code, body(by_query)) == (401, NO_TOKEN)
    assert (by_json.status_code, body(by_json)) == (401, NO_TOKEN)
    assert (invalid_form.status_code, body(invalid_form)) == (401, INVALID_TOKEN)


# --- DELETE token --------------------------------------------------------------------------


def test_delete_a_user_token(client, user_token, owner):
    response = client.delete(url("/stream/0/token"), **bearer(user_token))

    expected = user_token_answer(owner)
    assert response.status_code == 200
    assert body(response) == expected
    assert response["X-OAuth-Scopes"] == "basic,stream,write_post"
    assert rate_headers(response) == RATE_HEADERS

    again = client.get(url("/stream/0/token"), **bearer(user_token))
    assert (again.status_code, body(again)) == (401, INVALID_TOKEN)

    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_user, event.actor_application) == (
        "adn",
        "token",
        owner,
        user_token.application,
    )
    assert (event.actor_label, event.access_tokens_revoked) == (
        f"{login_name('mthurman')}'s token in {user_token.application.name}",
        1,
    )


def test_delete_an_app_token(client, app_token, user_token):
    response = client.delete(url(f"/stream/0/token?access_token={app_token.raw_token}"))

    assert response.status_code == 200
    assert body(response) == {
        "data": {"app": APP, "client_id": CLIENT_ID, "scopes": []},
        "meta": {"code": 200},
    }
    again = client.delete(url("/stream/0/token"), **bearer(app_token))
    assert (again.status_code, body(again)) == (401, INVALID_TOKEN)
    # Only the calling token goes.
    assert client.get(url("/stream/0/token"), **bearer(user_token)).status_code == 200
    assert RevocationEvent.objects.get().actor_label == f"app token of {app_token.application.name}"


# --- apps/me/tokens/user_ids ---------------------------------------------------------------


def test_user_ids(client, app, app_token, django_assert_max_num_queries):
    first, second, third = UserFactory(), UserFactory(), UserFactory()
    for user in (third, first, third, second):
        AccessTokenFactory(user=user, application=app)
    expired_token(app, UserFactory())  # no valid token: left out
    AccessTokenFactory(user=UserFactory())  # another app's user: left out
    AccessTokenFactory(user=UserFactory(), application=app, scope=oauth2_settings.DCR_REGISTRATION_SCOPE)

    client.get(url("/stream/0/token"), **bearer(app_token))  # its first use writes its activity
    with django_assert_max_num_queries(2):
        response = client.get(url("/stream/0/apps/me/tokens/user_ids"), **bearer(app_token))

    assert response.status_code == 200
    ids = sorted([first.pk, second.pk, third.pk])
    assert body(response) == {"data": [str(pk) for pk in ids], "meta": {"code": 200}}
    assert rate_headers(response) == RATE_HEADERS
    assert "X-OAuth-Scopes" not in response


def test_user_ids_none(client, app_token):
    response = client.get(url("/stream/0/apps/me/tokens/user_ids"), **bearer(app_token))
    assert body(response) == {"data": [], "meta": {"code": 200}}


@pytest.mark.parametrize("path", [url("/stream/0/apps/me/tokens/user_ids"), url("/stream/0/apps/me/tokens")])
def test_app_token_endpoints_refuse_user_tokens(client, user_token, path):
    response = client.get(path, **bearer(user_token))

    assert response.status_code == 403
    assert body(response) == NOT_APP_TOKEN
    assert response["X-OAuth-Scopes"] == "basic,stream,write_post"
    assert rate_headers(response) == RATE_HEADERS


# --- apps/me/tokens ------------------------------------------------------------------------


def listed(token, user) -> dict:
    """The Token object of a user token inside apps/me/tokens, written out in full."""
    return {
        "app": APP,
        "client_id": CLIENT_ID,
        "scopes": ["basic", "stream"],
        "user": {
            "id": str(user.pk),
            "username": user.get_username(),
            "name": adn_name(f"Ada {getattr(user, 'last_name', '')}"),
            "type": "human",
            "created_at": user.date_joined.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "pagination_id": str(token.pk),
    }


@pytest.fixture
def five_tokens(app):
    """Five user tokens of the app, oldest first, plus tokens that must never be listed."""
    tokens = [AccessTokenFactory(application=app) for _ in range(5)]
    AccessTokenFactory(user=None, application=app)  # an app token
    expired_token(app, UserFactory())
    AccessTokenFactory()  # another app's
    AccessTokenFactory(application=app, scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
    return tokens


def page(client, app_token, **params):
    response = client.get(url("/stream/0/apps/me/tokens"), params, **bearer(app_token))
    assert response.status_code == 200, response.content
    return body(response)


def test_app_tokens_lists_user_tokens_newest_first(client, app_token, five_tokens):
    response = client.get(url("/stream/0/apps/me/tokens"), **bearer(app_token))

    t = five_tokens
    assert response.status_code == 200
    assert body(response) == {
        "data": [listed(token, token.user) for token in reversed(t)],
        "meta": {"code": 200, "more": False, "min_id": str(t[0].pk), "max_id": str(t[4].pk)},
    }
    assert rate_headers(response) == RATE_HEADERS
    assert "X-OAuth-Scopes" not in response


def test_app_tokens_empty(client, app_token):
    assert page(client, app_token) == {"data": [], "meta": {"code": 200, "more": False}}


def test_paging_back_with_before_id(client, app_token, five_tokens):
    t = five_tokens

    first = page(client, app_token, count=2)
    second = page(client, app_token, count=2, before_id=first["meta"]["min_id"])
    third = page(client, app_token, count=2, before_id=second["meta"]["min_id"])

    assert first == {
        "data": [listed(t[4], t[4].user), listed(t[3], t[3].user)],
        "meta": {"code": 200, "more": True, "min_id": str(t[3].pk), "max_id": str(t[4].pk)},
    }
    assert second == {
        "data": [listed(t[2], t[2].user), listed(t[1], t[1].user)],
        "meta": {"code": 200, "more": True, "min_id": str(t[1].pk), "max_id": str(t[2].pk)},
    }
    assert third == {
        "data": [listed(t[0], t[0].user)],
        "meta": {"code": 200, "more": False, "min_id": str(t[0].pk), "max_id": str(t[0].pk)},
    }


def test_since_id_gives_the_newest_items_after_it(client, app_token, five_tokens):
    t = five_tokens
    assert page(client, app_token, count=2, since_id=t[1].pk) == {
        "data": [listed(t[4], t[4].user), listed(t[3], t[3].user)],
        "meta": {"code": 200, "more": True, "min_id": str(t[3].pk), "max_id": str(t[4].pk)},
    }
    assert page(client, app_token, since_id=t[4].pk) == {"data": [], "meta": {"code": 200, "more": False}}


def test_negative_count_gives_the_oldest_items_after_since_id_newest_first(client, app_token, five_tokens):
    t = five_tokens
    assert page(client, app_token, count=-2, since_id=t[1].pk) == {
        "data": [listed(t[3], t[3].user), listed(t[2], t[2].user)],
        "meta": {"code": 200, "more": True, "min_id": str(t[2].pk), "max_id": str(t[3].pk)},
    }
    assert page(client, app_token, count=-3) == {
        "data": [listed(t[2], t[2].user), listed(t[1], t[1].user), listed(t[0], t[0].user)],
        "meta": {"code": 200, "more": True, "min_id": str(t[0].pk), "max_id": str(t[2].pk)},
    }
    assert page(client, app_token, count=-200, since_id=t[3].pk) == {
        "data": [listed(t[4], t[4].user)],
        "meta": {"code": 200, "more": False, "min_id": str(t[4].pk), "max_id": str(t[4].pk)},
    }


def test_before_id_and_since_id_together(client, app_token, five_tokens):
    t = five_tokens
    assert page(client, app_token, since_id=t[0].pk, before_id=t[3].pk) == {
        "data": [listed(t[2], t[2].user), listed(t[1], t[1].user)],
        "meta": {"code": 200, "more": False, "min_id": str(t[1].pk), "max_id": str(t[2].pk)},
    }


def test_count_defaults_to_20_and_goes_up_to_200(client, app, app_token):
    tokens = [AccessTokenFactory(application=app, user=UserFactory()) for _ in range(21)]

    default = page(client, app_token)
    biggest = page(client, app_token, count=200)

    assert [item["pagination_id"] for item in default["data"]] == [str(t.pk) for t in reversed(tokens[1:])]
    assert default["meta"]["more"] is True
    assert len(biggest["data"]) == 21
    assert biggest["meta"] == {
        "code": 200,
        "more": False,
        "min_id": str(tokens[0].pk),
        "max_id": str(tokens[-1].pk),
    }


@pytest.mark.parametrize("count", [1, 200, -200])
def test_app_tokens_query_count_does_not_grow(client, app, app_token, count, django_assert_max_num_queries):
    for _ in range(25):
        AccessTokenFactory(application=app)

    with django_assert_max_num_queries(3) as captured:
        response = client.get(url("/stream/0/apps/me/tokens"), {"count": count}, **bearer(app_token))

    assert response.status_code == 200
    assert len(body(response)["data"]) == min(abs(count), 25)
    # Keyset paging: a range on the primary key and a LIMIT, never an OFFSET.
    assert not any("OFFSET" in query["sql"].upper() for query in captured.captured_queries)


def test_a_deep_page_is_a_keyset_query(client, app, app_token, django_assert_max_num_queries):
    tokens = [AccessTokenFactory(application=app) for _ in range(6)]

    with django_assert_max_num_queries(3) as captured:
        data = page(client, app_token, count=2, before_id=tokens[2].pk)

    assert [item["pagination_id"] for item in data["data"]] == [str(tokens[1].pk), str(tokens[0].pk)]
    page_sql = captured.captured_queries[-1]["sql"].upper()
    assert "LIMIT 3" in page_sql and "OFFSET" not in page_sql
    assert f"< {tokens[2].pk}" in page_sql


def bad_request(message: str) -> dict:
    return {"meta": {"code": 400, "error_message": message, "error_slug": "bad-request"}}


BAD_COUNT = bad_request("Invalid count: must be a non-zero integer from -200 to 200.")
BAD_BEFORE_ID = bad_request("Invalid before_id: must be a pagination_id from an earlier response.")
BAD_SINCE_ID = bad_request("Invalid since_id: must be a pagination_id from an earlier response.")


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"count": "abc"}, BAD_COUNT),
        ({"count": "0"}, BAD_COUNT),
        ({"count": "-0"}, BAD_COUNT),
        ({"count": "201"}, BAD_COUNT),
        ({"count": "-201"}, BAD_COUNT),
        ({"count": ""}, BAD_COUNT),
        ({"count": "1.5"}, BAD_COUNT),
        ({"count": "9" * 5000}, BAD_COUNT),
        ({"before_id": "abc"}, BAD_BEFORE_ID),
        ({"before_id": "-1"}, BAD_BEFORE_ID),
        ({"before_id": ""}, BAD_BEFORE_ID),
        ({"before_id": str(2**63)}, BAD_BEFORE_ID),
        ({"since_id": "abc"}, BAD_SINCE_ID),
        ({"since_id": "1e3"}, BAD_SINCE_ID),
        ({"since_id": str(2**64)}, BAD_SINCE_ID),
    ],
)
def test_bad_pagination_parameters(client, app_token, params, expected):
    response = client.get(url("/stream/0/apps/me/tokens"), params, **bearer(app_token))

    assert response.status_code == 400
    assert body(response) == expected
    assert rate_headers(response) == RATE_HEADERS


def test_the_largest_ids_are_accepted(client, app_token, five_tokens):
    data = page(client, app_token, before_id=str(2**63 - 1), since_id="0", count="-1")
    assert [item["pagination_id"] for item in data["data"]] == [str(five_tokens[0].pk)]


# --- hooks ---------------------------------------------------------------------------------


def user_hook(user):
    return {"name": "Mark T.", "locale": "en_US", "counts": {"followers": 200, "following": 100}}


def full_token_hook(token):
    return {
        "limits": {"following": 40, "max_file_size": 10000000},
        "storage": {"available": 8787479688, "used": 1212520312},
        "invite_link": f"https://join.example.com/from/{token.user.get_username()}",
        "scopes": ["not", "its", "to", "change"],
    }


def every_key_hook(user):
    return {"id": f"u-{user.pk}", "username": "mark", "name": "Mark", "type": "bot", "created_at": None}


@override_settings(TOKEN_ADMIN={"ADN_USER_HOOK": every_key_hook})
def test_the_user_hook_overrides_every_key(client, user_token, owner):
    data = body(client.get(url("/stream/0/token"), **bearer(user_token)))["data"]

    assert data["user"] == {
        "id": f"u-{owner.pk}",
        "username": "mark",
        "name": "Mark",
        "type": "bot",
        "created_at": None,
    }


class ShortNameUser:
    """A user model with ``get_short_name`` and no ``get_full_name``."""

    pk = 7

    def get_username(self):
        return "ada@example.com"

    def get_short_name(self):
        return "Ada"


class NamelessUser:
    """``AbstractBaseUser`` as Django ships it: neither ``get_full_name`` nor ``get_short_name``."""

    pk = 8

    def get_username(self):
        return "bob@example.com"


def test_name_falls_back_to_the_short_name_then_to_empty():
    assert responses.user_object(ShortNameUser()) == {
        "id": "7",
        "username": "ada@example.com",
        "name": "Ada",
        "type": "human",
    }
    assert responses.user_object(NamelessUser())["name"] == ""


def partial_token_hook(token):
    return {"invite_link": "https://join.example.com/", "storage": None}


@override_settings(TOKEN_ADMIN={"ADN_USER_HOOK": user_hook, "ADN_TOKEN_HOOK": full_token_hook})
def test_hooks_supply_limits_storage_invite_link_and_user_keys(client, user_token, owner):
    response = client.get(url("/stream/0/token"), **bearer(user_token))

    assert body(response) == {
        "data": {
            "app": APP,
            "client_id": CLIENT_ID,
            "scopes": ["basic", "stream", "write_post"],
            # The hook's keys win: a user model without a full name gets its ``name`` here.
            "user": {
                **user_dict(owner),
                "name": "Mark T.",
                "locale": "en_US",
                "counts": {"followers": 200, "following": 100},
            },
            "limits": {"following": 40, "max_file_size": 10000000},
            "storage": {"available": 8787479688, "used": 1212520312},
            "invite_link": f"https://join.example.com/from/{login_name('mthurman')}",
        },
        "meta": {"code": 200},
    }


@override_settings(TOKEN_ADMIN={"ADN_TOKEN_HOOK": "tests.test_adn.partial_token_hook"})
def test_keys_a_hook_does_not_supply_are_left_out(client, user_token, owner, app_token):
    user_response = client.get(url("/stream/0/token"), **bearer(user_token))
    app_response = client.get(url("/stream/0/token"), **bearer(app_token))

    assert body(user_response)["data"] == {
        "app": APP,
        "client_id": CLIENT_ID,
        "scopes": ["basic", "stream", "write_post"],
        "user": user_dict(owner),
        "invite_link": "https://join.example.com/",
    }
    # App tokens have no user, so nothing per-user either.
    assert body(app_response)["data"] == {"app": APP, "client_id": CLIENT_ID, "scopes": []}


def failing_hook(token):
    raise RuntimeError("the integrator's hook broke")


@override_settings(TOKEN_ADMIN={"ADN_TOKEN_HOOK": failing_hook})
def test_an_unexpected_error_is_a_500_in_the_envelope(user_token):
    client = Client(raise_request_exception=False)

    response = client.get(url("/stream/0/token"), **bearer(user_token))

    assert response.status_code == 500
    assert body(response) == {"meta": {"code": 500, "error_message": "Internal server error."}}


# --- rate limit ----------------------------------------------------------------------------


@override_settings(TOKEN_ADMIN={"ADN_RATE_LIMIT": 2, "ADN_RATE_LIMIT_PERIOD": 60})
def test_rate_limit_per_token(client, user_token, app_token):
    first = client.get(url("/stream/0/token"), **bearer(user_token))
    second = client.get(url("/stream/0/token"), **bearer(user_token))
    third = client.get(url("/stream/0/token"), **bearer(user_token))
    other = client.get(url("/stream/0/token"), **bearer(app_token))

    # 1200 s is the start of a 60 s window.
    limits = [(r.status_code, r["X-RateLimit-Remaining"]) for r in (first, second, third, other)]
    assert limits == [(200, "1"), (200, "0"), (429, "0"), (200, "1")]
    assert {r["X-RateLimit-Limit"] for r in (first, second, third, other)} == {"2"}
    assert {r["X-RateLimit-Reset"] for r in (first, second, third, other)} == {"60"}
    assert body(third) == {"meta": {"code": 429, "error_message": "Too many requests"}}
    assert third["Retry-After"] == "60"
    assert "Retry-After" not in second


@override_settings(TOKEN_ADMIN={"ADN_RATE_LIMIT": 1})
def test_rate_limit_applies_before_the_token_kind_check(client, user_token):
    client.get(url("/stream/0/token"), **bearer(user_token))
    response = client.get(url("/stream/0/apps/me/tokens"), **bearer(user_token))
    assert (response.status_code, body(response)["meta"]["code"]) == (429, 429)


# --- unknown paths and methods -------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", url("/stream/0/")),
        ("get", url("/stream/0/nope")),
        ("get", url("/stream/0/token/")),
        ("post", url("/stream/0/apps/me")),
        ("delete", url("/stream/0/users/me")),
        ("options", url("/stream/0/anything/at/all")),
    ],
)
def test_unknown_paths_are_404_in_the_envelope(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert body(response) == {"meta": {"code": 404, "error_message": "Not found."}}
    assert "Allow" not in response


@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("put", url("/stream/0/token"), "GET, DELETE, HEAD"),
        ("options", url("/stream/0/token"), "GET, DELETE, HEAD"),
        ("post", url("/stream/0/apps/me/tokens"), "GET, HEAD"),
        ("delete", url("/stream/0/apps/me/tokens/user_ids"), "GET, HEAD"),
    ],
)
def test_wrong_methods_are_405_in_the_envelope(client, app_token, method, path, allow):
    response = getattr(client, method)(path, **bearer(app_token))

    assert response.status_code == 405
    message = method_not_allowed(method)
    assert body(response) == {"meta": {"code": 405, "error_message": message}}
    assert response["Allow"] == allow


def test_an_accept_header_never_changes_the_format(client, user_token):
    response = client.get(url("/stream/0/token"), HTTP_ACCEPT="text/html", **bearer(user_token))
    assert response.status_code == 200
    assert body(response)["meta"] == {"code": 200}
