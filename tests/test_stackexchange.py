"""The Stack Exchange-style API at /2.2/ (the README's "Stack Exchange style"), as a client sees it."""

from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone as dt_timezone
from types import SimpleNamespace

import pytest
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    GrantFactory,
    UserFactory,
    issue_session,
    rotate,
)
from tests.helpers import json_id, url
from token_admin import ratelimit, revocation
from token_admin.models import RevocationEvent
from token_admin.revocation import Actor

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

pytestmark = pytest.mark.django_db

EXPIRES = datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt_timezone.utc)
EXPIRES_ON_DATE = 1893553445
WRAPPER_KEYS = ["items", "quota_remaining", "quota_max", "has_more"]
METHODS = {
    "read": "access-tokens/{}",
    "invalidate": "access-tokens/{}/invalidate",
    "de-authenticate": "apps/{}/de-authenticate",
}
# Fixed bounds, whatever the number of tokens. Measured with 1 and with 20 tokens, counting the
# SAVEPOINT and RELEASE of the revocation's atomic block: read 1; invalidate 10 (SQLite, PostgreSQL)
# or 9 (MariaDB, which needs no sweep for orphaned refresh tokens); de-authenticate two more: the
# grants, and the owned access tokens apart from the named app tokens.
# Revoking methods: the service reads the selection's live refresh tokens twice under lock
# (the second read finds any pair a refresh committed while the first one waited).
# Each plus one read of not-before watermarks while the cache is cold (it is at each test's start);
# invalidate and de-authenticate: the revocation's statements include its two GROUP BY reads of
# whose tokens go (the audit event's "affected") and the events outbox's INSERT ... SELECT
# (which finds the receivers, none here, in the same statement).
MAX_QUERIES = {"read": 3, "invalidate": 14, "de-authenticate": 16}


def se_get(client, method, tokens, **params):
    """GET one of the three methods with ``tokens`` (raw strings) joined by ``;``."""
    return client.get(url("/2.2/") + METHODS[method].format(";".join(tokens)), params)


def item(token):
    """The ``access_token`` item a client expects for a factory token."""
    expected = {"access_token": token.raw_token}
    if token.user_id is not None:
        expected["account_id"] = json_id(token.user_id)
    expected["expires_on_date"] = int(token.expires.timestamp())
    if token.scope:
        expected["scope"] = token.scope.split()
    return expected


def wrapper(items, *, remaining=299, quota_max=300, has_more=False):
    return {"items": items, "quota_remaining": remaining, "quota_max": quota_max, "has_more": has_more}


def error(error_id, name, message):
    return {"error_id": error_id, "error_name": name, "error_message": message}


def assert_body(response, expected, status=200):
    """Status, JSON type, the exact body and its key order."""
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body == expected
    assert list(body) == list(expected)
    return body


def exists(token):
    return AccessToken.objects.filter(pk=token.pk).exists()


def live(refresh_token):
    return RefreshToken.objects.filter(pk=refresh_token.pk, revoked__isnull=True).exists()


@pytest.fixture
def frozen_time(monkeypatch):
    """Freeze the quota clock: 6400 seconds before the daily window ends."""
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_700_000_000.0))
    return 6400


# --- reading --------------------------------------------------------------------------------


def test_read_one_user_token(client):
    user = UserFactory()
    token = AccessTokenFactory(token="abc-DEF_ghi.jkl~mno", user=user, expires=EXPIRES, scope="basic stream")

    response = se_get(client, "read", [token.raw_token])

    # A number for an integer key (as the real API); a UUID key's string in the host configuration.
    account_id = json.dumps(json_id(user.pk)).encode()
    assert response.content == (
        b'{"items":[{"access_token":"abc-DEF_ghi.jkl~mno","account_id":%s,"expires_on_date":1893553445,'
        b'"scope":["basic","stream"]}],"quota_remaining":299,"quota_max":300,"has_more":false}' % account_id
    )
    body = assert_body(
        response,
        wrapper(
            [
                {
                    "access_token": "abc-DEF_ghi.jkl~mno",
                    "account_id": json_id(user.pk),
                    "expires_on_date": EXPIRES_ON_DATE,
                    "scope": ["basic", "stream"],
                }
            ]
        ),
    )
    assert list(body["items"][0]) == ["access_token", "account_id", "expires_on_date", "scope"]
    # Responses echo tokens and some GETs revoke: no cache may keep them.
    assert "no-store" in response["Cache-Control"]


def test_an_app_token_has_no_account_id_and_a_token_without_scope_no_scope(client):
    app_token = AccessTokenFactory(user=None, expires=EXPIRES, scope="read")
    unscoped = AccessTokenFactory(expires=EXPIRES, scope="")

    response = se_get(client, "read", [app_token.raw_token, unscoped.raw_token])

    assert_body(
        response,
        wrapper(
            [
                {"access_token": app_token.raw_token, "expires_on_date": EXPIRES_ON_DATE, "scope": ["read"]},
                {
                    "access_token": unscoped.raw_token,
                    "account_id": json_id(unscoped.user_id),
                    "expires_on_date": EXPIRES_ON_DATE,
                },
            ]
        ),
    )


def test_read_twenty_tokens_of_two_users_and_two_apps_in_the_order_passed(
    client, django_assert_max_num_queries
):
    users, apps = UserFactory.create_batch(2), ApplicationFactory.create_batch(2)
    tokens = [AccessTokenFactory(user=users[n % 2], application=apps[n // 10]) for n in range(18)]
    tokens += [AccessTokenFactory(user=None, application=app) for app in apps]

    with django_assert_max_num_queries(MAX_QUERIES["read"]):
        response = se_get(client, "read", [token.raw_token for token in tokens])

    assert_body(response, wrapper([item(token) for token in tokens]))


def test_read_leaves_out_unknown_expired_revoked_and_registration_tokens_and_counts_duplicates_once(client):
    valid, other_valid = AccessTokenFactory(), AccessTokenFactory(user=None)
    expired = AccessTokenFactory(expired=True)
    revoked = AccessTokenFactory()
    revoked.revoke()  # DOT deletes a revoked access token
    registration = AccessTokenFactory(user=None, scope="oauth2_provider:registration")
    raw = [
        "unknown-token",
        valid.raw_token,
        expired.raw_token,
        revoked.raw_token,
        registration.raw_token,
        valid.raw_token,
        other_valid.raw_token,
    ]

    response = se_get(client, "read", raw, filter="total")

    assert_body(response, {"total": 2, **wrapper([item(valid), item(other_valid)])})


def test_only_unknown_tokens_give_empty_items(client):
    assert_body(se_get(client, "read", ["nope", "nada"]), wrapper([]))


def test_tokens_are_url_decoded_and_may_hold_url_safe_characters(client):
    tilde = AccessTokenFactory(token="abc~def")
    punctuated = AccessTokenFactory(token="A-b_c.d~e!$'()*+,=@:f")

    response = client.get(url("/2.2/access-tokens/abc%7Edef;A-b_c.d~e!$'()*+,=@:f"))

    assert_body(response, wrapper([item(tilde), item(punctuated)]))


def test_the_token_column_is_never_read(client):
    """With DOT's RFC 9700 storage the column is blank: lookups go by checksum only."""
    tokens = [AccessTokenFactory(), AccessTokenFactory(user=None)]
    AccessToken.objects.update(token="")
    raw = [token.raw_token for token in tokens]

    assert_body(se_get(client, "read", raw), wrapper([item(token) for token in tokens]))
    assert_body(se_get(client, "invalidate", raw[:1]), wrapper([item(tokens[0])], remaining=298))
    assert_body(se_get(client, "de-authenticate", raw[1:]), wrapper([item(tokens[1])], remaining=297))
    assert not AccessToken.objects.exists()


# --- the vector and parameters --------------------------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
def test_more_than_twenty_tokens_is_a_bad_parameter_and_changes_nothing(client, method):
    tokens = AccessTokenFactory.create_batch(21)

    response = se_get(client, method, [token.raw_token for token in tokens])

    assert_body(response, error(400, "bad_parameter", "accessTokens"), status=400)
    assert AccessToken.objects.count() == 21
    assert not RevocationEvent.objects.exists()


def test_twenty_distinct_tokens_with_a_duplicate_are_accepted(client):
    tokens = AccessTokenFactory.create_batch(20)
    raw = [token.raw_token for token in tokens] + [tokens[0].raw_token]

    assert_body(se_get(client, "read", raw), wrapper([item(token) for token in tokens]))


@pytest.mark.parametrize(
    "path",
    [
        "access-tokens/",
        "access-tokens/;",
        "access-tokens/;;",
        "access-tokens//invalidate",
        "apps//de-authenticate",
    ],
)
def test_an_empty_vector_is_a_bad_parameter(client, path):
    assert_body(client.get(url("/2.2/") + path), error(400, "bad_parameter", "accessTokens"), status=400)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize(
    "params, name",
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "two"}, "page"),
        ({"page": ""}, "page"),
        ({"page": "1.0"}, "page"),
        ({"page": "1" * 5000}, "page"),
        ({"pagesize": "101"}, "pagesize"),
        ({"pagesize": "-1"}, "pagesize"),
        ({"pagesize": "ten"}, "pagesize"),
        ({"filter": "!-q2RZj5_"}, "filter"),
        ({"filter": "Default"}, "filter"),
        ({"filter": ""}, "filter"),
        ({"callback": "steal"}, "callback"),
        ({"callback": ""}, "callback"),
        ({"page": "0", "callback": "steal"}, "callback"),
    ],
)
def test_bad_parameters_are_reported_by_name_and_revoke_nothing(client, method, params, name):
    token, refresh = issue_session(UserFactory(), ApplicationFactory())

    response = se_get(client, method, [token.raw_token], **params)

    assert_body(response, error(400, "bad_parameter", name), status=400)
    assert exists(token) and live(refresh)
    assert not RevocationEvent.objects.exists()


def test_paging_cuts_the_items_and_has_more_tells_what_lies_beyond(client):
    tokens = AccessTokenFactory.create_batch(5)
    raw = [token.raw_token for token in tokens]
    items = [item(token) for token in tokens]

    assert_body(se_get(client, "read", raw, pagesize=2), wrapper(items[:2], remaining=299, has_more=True))
    assert_body(
        se_get(client, "read", raw, pagesize=2, page=2), wrapper(items[2:4], remaining=298, has_more=True)
    )
    assert_body(se_get(client, "read", raw, pagesize=2, page=3), wrapper(items[4:], remaining=297))
    assert_body(se_get(client, "read", raw, pagesize=2, page=4), wrapper([], remaining=296))
    assert_body(se_get(client, "read", raw, pagesize=0), wrapper([], remaining=295, has_more=True))
    assert_body(se_get(client, "read", raw, pagesize=100, page=1), wrapper(items, remaining=294))


def test_filters(client):
    tokens = AccessTokenFactory.create_batch(3)
    raw = [token.raw_token for token in tokens]
    items = [item(token) for token in tokens]

    assert_body(se_get(client, "read", raw, filter="default"), wrapper(items, remaining=299))
    assert_body(se_get(client, "read", raw, filter="withbody"), wrapper(items, remaining=298))
    assert_body(se_get(client, "read", raw, filter="none"), wrapper([], remaining=297))
    assert_body(
        se_get(client, "read", raw, filter="total", pagesize=1, page=2),
        {"total": 3, **wrapper(items[1:2], remaining=296, has_more=True)},
    )


def test_unknown_parameters_and_an_empty_key_are_ignored(client):
    token = AccessTokenFactory()
    assert_body(
        se_get(client, "read", [token.raw_token], site="stackoverflow", key=""), wrapper([item(token)])
    )


# --- quota ----------------------------------------------------------------------------------


def test_every_request_costs_one_of_the_daily_quota_errors_included(client):
    token = AccessTokenFactory()

    assert_body(se_get(client, "read", [token.raw_token]), wrapper([item(token)], remaining=299))
    assert se_get(client, "read", [token.raw_token], page="0").status_code == 400
    assert client.get(url("/2.2/no/such/method")).status_code == 400
    assert client.post(url("/2.2/access-tokens/x")).status_code == 400
    assert_body(se_get(client, "read", [token.raw_token]), wrapper([item(token)], remaining=295))


def test_running_out_of_quota(client, settings, frozen_time):
    settings.TOKEN_ADMIN = {"SE_QUOTA_MAX": 3}
    token, refresh = issue_session(UserFactory(), ApplicationFactory())
    raw = [token.raw_token]

    assert_body(se_get(client, "read", raw), wrapper([item(token)], remaining=2, quota_max=3))
    assert se_get(client, "read", raw, pagesize="x").status_code == 400  # errors count too
    # The last request of the quota tells the caller how long to wait.
    last = se_get(client, "read", raw)
    assert_body(last, {"backoff": frozen_time, **wrapper([item(token)], remaining=0, quota_max=3)})

    throttled = error(
        502, "throttle_violation", "too many requests from this IP, more requests available in 6400 seconds"
    )
    assert_body(se_get(client, "read", raw), throttled, status=400)
    assert_body(client.get(url("/2.2/unknown")), throttled, status=400)
    assert exists(token) and live(refresh)

    # Another client IP has its own quota.
    other_ip = client.get(url(f"/2.2/access-tokens/{token.raw_token}"), REMOTE_ADDR="10.1.2.3")
    assert_body(other_ip, wrapper([item(token)], remaining=2, quota_max=3))

    # Revoking is counted but never refused by the quota: a thief who burns the quota must
    # not stop the owner from revoking.
    assert_body(
        se_get(client, "invalidate", raw),
        {"backoff": frozen_time, **wrapper([item(token)], remaining=0, quota_max=3)},
    )
    assert not exists(token) and not live(refresh)
    second, second_refresh = issue_session(UserFactory(), ApplicationFactory())
    assert_body(
        se_get(client, "de-authenticate", [second.raw_token]),
        {"backoff": frozen_time, **wrapper([item(second)], remaining=0, quota_max=3)},
    )
    assert not exists(second) and not live(second_refresh)


def test_a_key_has_its_own_larger_quota(client, settings, frozen_time):
    settings.TOKEN_ADMIN = {"SE_QUOTA_MAX": 1, "SE_QUOTA_MAX_WITH_KEY": 2}
    token = AccessTokenFactory()
    raw = [token.raw_token]

    assert_body(
        se_get(client, "read", raw), {"backoff": 6400, **wrapper([item(token)], remaining=0, quota_max=1)}
    )
    assert_body(se_get(client, "read", raw, key="app-key"), wrapper([item(token)], remaining=1, quota_max=2))
    # From another IP, the same key shares its count.
    response = client.get(
        url(f"/2.2/access-tokens/{token.raw_token}"), {"key": "app-key"}, REMOTE_ADDR="10.9.9.9"
    )
    assert_body(response, {"backoff": 6400, **wrapper([item(token)], remaining=0, quota_max=2)})
    assert se_get(client, "read", raw, key="app-key").json()["error_name"] == "throttle_violation"
    assert se_get(client, "read", raw, key="other-key").status_code == 200


def test_default_quotas(client):
    token = AccessTokenFactory()
    assert_body(
        se_get(client, "read", [token.raw_token], key="k"),
        wrapper([item(token)], remaining=9999, quota_max=10000),
    )


# --- no_method and internal_error -----------------------------------------------------------

NO_METHOD = error(404, "no_method", "no method found with this name")


@pytest.mark.parametrize(
    "path",
    [
        "",
        "access-tokens",
        "access-tokens/x/bogus",
        "access-tokens/x/invalidate/",
        "access-tokens/x/",
        "apps/x",
        "apps/x/de-authenticate/more",
        "errors",
        "line%0Abreak",
    ],
)
def test_unknown_paths_under_the_mount_are_no_method(client, path):
    assert_body(client.get(url("/2.2/") + path), NO_METHOD, status=400)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("http_method", ["post", "put", "patch", "delete", "head", "options"])
def test_methods_other_than_get_are_no_method_and_change_nothing(client, method, http_method):
    token, refresh = issue_session(UserFactory(), ApplicationFactory())

    response = getattr(client, http_method)(url("/2.2/") + METHODS[method].format(token.raw_token))

    assert response.status_code == 400
    if http_method != "head":  # a HEAD response has no body
        assert_body(response, NO_METHOD, status=400)
    assert exists(token) and live(refresh)


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_an_internal_error_not_a_django_page(client, monkeypatch, settings, debug):
    settings.DEBUG = debug

    def broken(raw_tokens):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("token_admin.api.stackexchange.views.queries.tokens_by_raw", broken)

    response = se_get(client, "read", ["any"])

    assert_body(response, error(500, "internal_error", "an unexpected error occurred"), status=400)


def test_a_failing_revocation_is_an_internal_error_and_revokes_nothing(client, monkeypatch):
    token, refresh = issue_session(UserFactory(), ApplicationFactory())

    def broken(**kwargs):
        raise RuntimeError("audit table gone")

    # The audit event is the last write of the revocation's transaction.
    monkeypatch.setattr(RevocationEvent.objects, "create", broken)

    for method in ("invalidate", "de-authenticate"):
        response = se_get(client, method, [token.raw_token])
        assert_body(response, error(500, "internal_error", "an unexpected error occurred"), status=400)
        assert exists(token) and live(refresh)


# --- invalidate -----------------------------------------------------------------------------


def test_invalidate_one_token_revokes_its_family_and_answers_with_it_as_it_was(client):
    user, app = UserFactory(), ApplicationFactory()
    first, first_refresh = issue_session(user, app)
    token, refresh = rotate(first_refresh)
    other, other_refresh = issue_session(user, app)
    expected = [item(token)]

    response = se_get(client, "invalidate", [token.raw_token])

    assert_body(response, wrapper(expected))
    assert not exists(token)
    assert not live(refresh) and not live(first_refresh)
    assert exists(other) and live(other_refresh)
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.access_tokens_revoked, event.refresh_tokens_revoked) == (
        "stackexchange",
        "token",
        1,
        1,
    )
    assert event.actor_label == f"{user.get_username()}'s token in {app.name}"
    assert event.actor_user == user and event.actor_application == app
    # Invalidated tokens are gone: a second call finds nothing and revokes nothing.
    assert_body(se_get(client, "invalidate", [token.raw_token]), wrapper([], remaining=298))
    assert RevocationEvent.objects.count() == 1


def test_invalidate_twenty_tokens_in_one_revocation(client, django_assert_max_num_queries):
    users, apps = UserFactory.create_batch(2), ApplicationFactory.create_batch(2)
    sessions = [issue_session(users[n % 2], apps[n // 10]) for n in range(19)]
    app_token = AccessTokenFactory(user=None, application=apps[0])
    tokens = [access for access, _ in sessions] + [app_token]
    bystander, bystander_refresh = issue_session(users[0], apps[0])
    expected = [item(token) for token in tokens]

    with django_assert_max_num_queries(MAX_QUERIES["invalidate"]):
        response = se_get(client, "invalidate", [token.raw_token for token in tokens])

    assert_body(response, wrapper(expected))
    assert not AccessToken.objects.filter(pk__in=[token.pk for token in tokens]).exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exclude(pk=bystander_refresh.pk).exists()
    assert exists(bystander) and live(bystander_refresh)
    event = RevocationEvent.objects.get()
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (20, 19)
    assert event.selection["access_token_ids"] == sorted(token.pk for token in tokens)
    # The label names owners and apps, never a token value.
    assert event.actor_label.startswith("20 tokens: app token of ")
    assert not any(token.raw_token in event.actor_label for token in tokens)


def test_invalidate_acts_on_every_valid_token_whatever_the_page_or_filter(client):
    tokens = AccessTokenFactory.create_batch(4)
    expired = AccessTokenFactory(expired=True)
    registration = AccessTokenFactory(user=None, scope="oauth2_provider:registration")
    revoked = AccessTokenFactory()
    revoked.revoke()
    raw = [token.raw_token for token in tokens] + ["unknown", expired.raw_token, registration.raw_token]
    raw.append(revoked.raw_token)

    response = se_get(client, "invalidate", raw, pagesize=1, page=2, filter="total")

    assert_body(response, {"total": 4, **wrapper([item(tokens[1])], has_more=True)})
    assert not AccessToken.objects.filter(pk__in=[token.pk for token in tokens]).exists()
    assert exists(expired) and exists(registration)
    assert RevocationEvent.objects.get().access_tokens_revoked == 4

    more = AccessTokenFactory.create_batch(2)
    response = se_get(client, "invalidate", [token.raw_token for token in more], filter="none")
    assert_body(response, wrapper([], remaining=298))
    assert not AccessToken.objects.filter(pk__in=[token.pk for token in more]).exists()


def test_invalidate_with_only_invalid_tokens_writes_no_audit_event(client):
    expired = AccessTokenFactory(expired=True)
    assert_body(se_get(client, "invalidate", ["unknown", expired.raw_token]), wrapper([]))
    assert not RevocationEvent.objects.exists()


# --- de-authenticate ------------------------------------------------------------------------


@pytest.fixture
def two_users_two_apps():
    """Two users with sessions and grants in two apps, and app tokens of both apps."""
    users, apps = UserFactory.create_batch(2), ApplicationFactory.create_batch(2)
    world = SimpleNamespace(users=users, apps=apps, sessions={}, grants={}, app_tokens={})
    for user in users:
        for app in apps:
            world.sessions[user, app] = [issue_session(user, app), issue_session(user, app)]
            world.grants[user, app] = GrantFactory(user=user, application=app)
    for app in apps:
        world.app_tokens[app] = AccessTokenFactory.create_batch(2, user=None, application=app)
    return world


def untouched(world, *, except_pairs=(), except_tokens=()):
    """Assert that every session, grant and app token outside the exceptions is still live."""
    for (user, app), sessions in world.sessions.items():
        if (user, app) in except_pairs:
            continue
        for access, refresh in sessions:
            assert exists(access) and live(refresh), (user, app)
        assert Grant.objects.filter(pk=world.grants[user, app].pk).exists()
    for tokens in world.app_tokens.values():
        for token in tokens:
            if token not in except_tokens:
                assert exists(token)


def test_de_authenticate_revokes_everything_of_the_user_for_the_app_and_nothing_else(
    client, two_users_two_apps
):
    world = two_users_two_apps
    user, app = world.users[0], world.apps[0]
    (presented, presented_refresh), (sibling, sibling_refresh) = world.sessions[user, app]
    app_token = world.app_tokens[world.apps[1]][0]
    expected = [item(presented), item(app_token)]

    response = se_get(client, "de-authenticate", [presented.raw_token, "unknown", app_token.raw_token])

    assert_body(response, wrapper(expected))
    assert not AccessToken.objects.filter(user=user, application=app).exists()
    assert not RefreshToken.objects.filter(user=user, application=app, revoked__isnull=True).exists()
    assert not Grant.objects.filter(user=user, application=app).exists()
    assert not exists(app_token)
    untouched(world, except_pairs=[(user, app)], except_tokens=[app_token])
    event = RevocationEvent.objects.get()
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked, event.grants_revoked) == (3, 2, 1)
    assert event.selection["pairs"] == [[json_id(user.pk), app.client_id]]
    assert event.selection["access_token_ids"] == [app_token.pk]
    assert (event.surface, event.actor_type, event.actor_user) == ("stackexchange", "token", None)


def test_de_authenticate_one_token(client, two_users_two_apps, django_assert_max_num_queries):
    world = two_users_two_apps
    user, app = world.users[1], world.apps[1]
    presented = world.sessions[user, app][1][0]

    with django_assert_max_num_queries(MAX_QUERIES["de-authenticate"]):
        response = se_get(client, "de-authenticate", [presented.raw_token])

    assert_body(response, wrapper([item(presented)]))
    assert not AccessToken.objects.filter(user=user, application=app).exists()
    assert not Grant.objects.filter(user=user, application=app).exists()
    untouched(world, except_pairs=[(user, app)])
    assert RevocationEvent.objects.get().actor_label == f"{user.get_username()}'s token in {app.name}"


def test_de_authenticate_twenty_tokens(client, two_users_two_apps, django_assert_max_num_queries):
    world = two_users_two_apps
    user, app = world.users[0], world.apps[1]
    extra = [issue_session(user, app)[0] for _ in range(19)]
    app_token = world.app_tokens[world.apps[0]][1]
    presented = extra + [app_token]
    expected = [item(token) for token in presented]

    with django_assert_max_num_queries(MAX_QUERIES["de-authenticate"]):
        response = se_get(client, "de-authenticate", [token.raw_token for token in presented])

    assert_body(response, wrapper(expected))
    assert not AccessToken.objects.filter(user=user, application=app).exists()
    assert not RefreshToken.objects.filter(user=user, application=app, revoked__isnull=True).exists()
    assert not exists(app_token)
    untouched(world, except_pairs=[(user, app)], except_tokens=[app_token])
    assert RevocationEvent.objects.get().access_tokens_revoked == 2 + 19 + 1


def test_de_authenticate_leaves_registration_and_expired_tokens_alone(client):
    user, app = UserFactory(), ApplicationFactory()
    registration = AccessTokenFactory(user=None, application=app, scope="oauth2_provider:registration")
    expired = AccessTokenFactory(user=user, application=app, expired=True)
    live_token = AccessTokenFactory(user=user, application=app)

    response = se_get(client, "de-authenticate", [registration.raw_token, expired.raw_token])

    assert_body(response, wrapper([]))
    assert exists(registration) and exists(expired) and exists(live_token)
    assert not RevocationEvent.objects.exists()


# --- constant queries -----------------------------------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
def test_the_number_of_queries_does_not_depend_on_the_number_of_tokens(
    client, method, django_assert_max_num_queries
):
    users, apps = UserFactory.create_batch(2), ApplicationFactory.create_batch(2)

    def count_queries(size, app_token=True):
        # User tokens of two users and two apps, the last one an app token (unless not wanted).
        user_tokens = size - 1 if app_token else size
        tokens = [issue_session(users[n % 2], apps[n % 2])[0] for n in range(user_tokens)]
        if app_token:
            tokens.append(AccessTokenFactory(user=None, application=apps[0]))
        with django_assert_max_num_queries(MAX_QUERIES[method]) as captured:
            response = se_get(client, method, [token.raw_token for token in tokens])
        assert len(response.json()["items"]) == size
        return len(captured)

    # The same kinds of token cost the same whatever their number; a lone user token stays
    # within the bound too (de-authenticate then has no app token to look up families for).
    assert count_queries(2) == count_queries(20)
    assert count_queries(1, app_token=False) <= count_queries(20)


def test_the_revocation_service_is_called_once_per_request(client, monkeypatch):
    calls = []
    real = revocation.revoke

    def spy(selection, **kwargs):
        calls.append((sorted(selection.access_token_ids), kwargs["surface"], type(kwargs["actor"])))
        return real(selection, **kwargs)

    monkeypatch.setattr(revocation, "revoke", spy)
    tokens = AccessTokenFactory.create_batch(3)

    se_get(client, "invalidate", [token.raw_token for token in tokens])

    assert calls == [(sorted(token.pk for token in tokens), "stackexchange", Actor)]


def test_with_registered_keys_an_unknown_key_is_refused_and_counted_against_the_ip(client, settings):
    settings.TOKEN_ADMIN = {"SE_KEYS": ["registered"], "SE_QUOTA_MAX": 2}
    token = AccessTokenFactory()

    refused = client.get(url(f"/2.2/access-tokens/{token.raw_token}"), {"key": "made-up"})
    assert refused.status_code == 400
    assert refused.json() == {"error_id": 400, "error_name": "bad_parameter", "error_message": "key"}

    # The made-up key used one of the IP's two requests.
    anonymous = client.get(url(f"/2.2/access-tokens/{token.raw_token}"))
    assert anonymous.json()["quota_remaining"] == 0
    assert anonymous.json()["quota_max"] == 2

    keyed = client.get(url(f"/2.2/access-tokens/{token.raw_token}"), {"key": "registered"})
    assert keyed.status_code == 200
    assert (keyed.json()["quota_max"], keyed.json()["quota_remaining"]) == (10000, 9999)


def test_without_registered_keys_any_key_has_its_own_quota(client, settings):
    settings.TOKEN_ADMIN = {"SE_QUOTA_MAX_WITH_KEY": 5}
    token = AccessTokenFactory()
    response = client.get(url(f"/2.2/access-tokens/{token.raw_token}"), {"key": "anything"})
    assert response.status_code == 200
    assert (response.json()["quota_max"], response.json()["quota_remaining"]) == (5, 4)
