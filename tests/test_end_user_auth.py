"""API clients of the end-user token API: HTTP Basic, the flag, and the cached secret check."""

from __future__ import annotations

import contextlib
import json

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.cache import caches
from django.test import override_settings
from oauth2_provider.models import get_application_model
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from tests.cache_down import UNREACHABLE_CACHES, hung_caches
from tests.factories import ApplicationFactory, AppProfileFactory, UserFactory, issue_session
from tests.helpers import assert_end_user_contract_headers, basic_header, url
from token_admin.api.end_user import authentication
from token_admin.cache import forget_reports
from token_admin.models import AppProfile, RevocationEvent, TokenSession
from token_admin.throttle import FailedAuthThrottle

pytestmark = pytest.mark.django_db
Application = get_application_model()

MOUNT = url("/oauth/api/v1/")
UNAUTHORIZED = {"code": "unauthorized", "message": "Provide valid credentials to get access to the API."}
FORBIDDEN = {
    "code": "insufficient_permissions",
    "message": (
        "The API client used to authenticate the request does not allow operations on the End User API."
    ),
}


def assert_unauthorized(response) -> None:
    assert response.status_code == 401
    assert_end_user_contract_headers(response)
    assert response["WWW-Authenticate"] == 'Basic realm="token_admin"'
    assert json.loads(response.content) == UNAUTHORIZED


def assert_forbidden(response) -> None:
    assert response.status_code == 403
    assert_end_user_contract_headers(response)
    assert "WWW-Authenticate" not in response
    assert json.loads(response.content) == FORBIDDEN


@pytest.fixture
def user_with_tokens(db):
    user = UserFactory()
    issue_session(user, ApplicationFactory())
    return user


def tokens_path(user) -> str:
    return f"{MOUNT}users/{user.pk}/tokens"


def test_good_credentials_are_let_in(client, api_app, user_with_tokens):
    response = client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(api_app))

    assert response.status_code == 200
    assert_end_user_contract_headers(response)


def test_the_scheme_name_is_case_insensitive(client, api_app, user_with_tokens):
    header = basic_header(api_app).replace("Basic", "bAsIc")

    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header).status_code == 200


@pytest.mark.parametrize("method", ["get", "delete"])
def test_missing_credentials_get_401(client, user_with_tokens, method):
    path = tokens_path(user_with_tokens)
    if method == "delete":
        path += "/7d507b7e-6221-4f06-a75e-ef6e6f06d32b"

    assert_unauthorized(getattr(client, method)(path))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer abcdef", id="another-scheme"),
        pytest.param("Basic", id="no-credentials"),
        pytest.param("Basic !!!not-base64!!!", id="bad-base64"),
        pytest.param("Basic YWJj", id="bad-padding"),
        pytest.param(basic_header(b"no-colon-here"), id="no-colon"),
        pytest.param(basic_header(b"client\xff\xfe:secret"), id="not-utf-8"),
        pytest.param(basic_header(b":"), id="empty-id-and-secret"),
    ],
)
def test_malformed_credentials_get_401(client, api_app, user_with_tokens, header):
    assert_unauthorized(client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header))


def test_wrong_secret_gets_401(client, api_app, user_with_tokens):
    response = client.get(
        tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(api_app.client_id, "wrong")
    )

    assert_unauthorized(response)


def test_empty_secret_gets_401(client, api_app, user_with_tokens):
    response = client.get(
        tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(api_app.client_id, "")
    )

    assert_unauthorized(response)


def test_unknown_client_gets_401(client, api_app, user_with_tokens):
    response = client.get(
        tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header("nobody", api_app.raw_secret)
    )

    assert_unauthorized(response)


def test_another_apps_secret_gets_401(client, api_app, user_with_tokens):
    other = ApplicationFactory(api_client=True)

    response = client.get(
        tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(api_app.client_id, other.raw_secret)
    )

    assert_unauthorized(response)


def test_client_without_the_flag_gets_403(client, user_with_tokens):
    application = ApplicationFactory()
    AppProfileFactory(application=application, end_user_api=False)

    response = client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(application))

    assert_forbidden(response)


def test_client_without_a_profile_gets_403(client, user_with_tokens):
    application = ApplicationFactory()

    response = client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(application))

    assert_forbidden(response)


def test_public_client_is_never_an_api_client(client, user_with_tokens):
    application = ApplicationFactory(api_client=True, client_type="public")

    response = client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(application))

    assert_forbidden(response)


def test_client_without_the_flag_gets_403_on_delete_and_revokes_nothing(client, user_with_tokens):
    application = ApplicationFactory()
    AppProfileFactory(application=application, end_user_api=False)
    session = TokenSession.objects.get(user=user_with_tokens)

    response = client.delete(
        f"{tokens_path(user_with_tokens)}/{session.public_id}",
        HTTP_AUTHORIZATION=basic_header(application),
    )

    assert_forbidden(response)
    assert not RevocationEvent.objects.exists()


def test_losing_the_flag_takes_effect_at_once(client, api_app, user_with_tokens):
    header = basic_header(api_app)
    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header).status_code == 200

    api_app.token_admin_profile.end_user_api = False
    api_app.token_admin_profile.save()

    assert_forbidden(client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header))


def test_a_deleted_client_is_refused_at_once(client, api_app, user_with_tokens):
    header = basic_header(api_app)
    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header).status_code == 200

    api_app.delete()

    assert_unauthorized(client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header))


def test_a_cleartext_secret_is_compared_too(client, user_with_tokens):
    application = ApplicationFactory(api_client=True, hash_client_secret=False)

    good = client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(application))
    wrong = client.get(
        tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(application.client_id, "x")
    )

    assert good.status_code == 200
    assert_unauthorized(wrong)


# --- the cached secret check -----------------------------------------------------------------


def test_the_hasher_checks_a_good_secret_once(client, api_app, user_with_tokens, hasher_calls):
    header = basic_header(api_app)

    statuses = [
        client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header).status_code for _ in range(5)
    ]

    assert statuses == [200] * 5
    assert hasher_calls == [api_app.raw_secret]


def test_a_wrong_secret_is_always_checked_and_rejected(client, api_app, user_with_tokens, hasher_calls):
    good = basic_header(api_app)
    wrong = basic_header(api_app.client_id, api_app.raw_secret + "x")
    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=good).status_code == 200

    for _ in range(3):
        assert_unauthorized(client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=wrong))

    assert len(hasher_calls) == 4
    # The good secret is still remembered after the failures.
    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=good).status_code == 200
    assert len(hasher_calls) == 4


def test_a_changed_secret_is_rejected_at_once(client, api_app, user_with_tokens, hasher_calls):
    old = basic_header(api_app)
    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=old).status_code == 200

    api_app.client_secret = "a-brand-new-secret"
    api_app.save()

    assert_unauthorized(client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=old))
    new = basic_header(api_app.client_id, "a-brand-new-secret")
    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=new).status_code == 200
    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=new).status_code == 200
    assert len(hasher_calls) == 3  # old (cached), old again (new hash: checked, refused), new (cached)


def test_the_cache_holds_a_keyed_digest_never_the_secret(
    client, api_app, user_with_tokens, monkeypatch, settings
):
    settings.TOKEN_ADMIN = {"END_USER_SECRET_CACHE_SECONDS": 120}
    cache = caches["default"]
    stored = []
    real_set = cache.set

    def recording_set(key, value, timeout=None, *args, **kwargs):
        stored.append((key, value, timeout))
        return real_set(key, value, timeout, *args, **kwargs)

    monkeypatch.setattr(cache, "set", recording_set)

    client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(api_app))

    [(key, value, timeout)] = stored
    assert timeout == 120
    assert api_app.raw_secret not in key and api_app.raw_secret not in value
    assert api_app.client_secret not in value  # nor the stored hash
    assert len(value) == 64 and int(value, 16) >= 0  # an HMAC-SHA256 hex digest


def test_a_zero_cache_time_checks_every_time(client, api_app, user_with_tokens, hasher_calls, settings):
    settings.TOKEN_ADMIN = {"END_USER_SECRET_CACHE_SECONDS": 0}
    header = basic_header(api_app)

    for _ in range(3):
        assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header).status_code == 200

    assert len(hasher_calls) == 3


def test_the_cache_entry_of_one_client_does_not_let_another_in(client, user_with_tokens, hasher_calls):
    first, second = ApplicationFactory(api_client=True), ApplicationFactory(api_client=True)
    assert (
        client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(first))
    ).status_code == 200

    response = client.get(
        tokens_path(user_with_tokens), HTTP_AUTHORIZATION=basic_header(second.client_id, first.raw_secret)
    )

    assert_unauthorized(response)


def test_with_dots_real_pbkdf2_hashing_the_hasher_runs_once(client, user_with_tokens, settings, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    application = ApplicationFactory(api_client=True)
    assert application.client_secret.startswith("pbkdf2_sha256$")
    verifications = []
    real_verify = PBKDF2PasswordHasher.verify

    def counting_verify(self, password, encoded):
        verifications.append(encoded)
        return real_verify(self, password, encoded)

    monkeypatch.setattr(PBKDF2PasswordHasher, "verify", counting_verify)
    header = basic_header(application)

    statuses = [
        client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=header).status_code for _ in range(5)
    ]

    assert statuses == [200] * 5
    assert len(verifications) == 1


# --- a stale fill and a cache server that is down ----------------------------------------------


def change_during_the_check(monkeypatch, change):
    """Run ``change`` (another process's write) after the hash check succeeds and before its
    success is remembered: the memo of the old state lands after the write."""
    real_check = authentication.check_password

    def check_then_change(password, encoded, *args, **kwargs):
        matches = real_check(password, encoded, *args, **kwargs)
        change()
        return matches

    monkeypatch.setattr(authentication, "check_password", check_then_change)
    return lambda: monkeypatch.setattr(authentication, "check_password", real_check)


def rotate_secret(application):
    application.client_secret = "a-brand-new-secret"
    application.save()


def clear_flag(application):
    AppProfile.objects.filter(application=application).update(end_user_api=False)


@pytest.mark.parametrize("change", [rotate_secret, clear_flag, Application.delete])
def test_a_check_remembered_after_a_change_never_lets_the_old_state_back_in(
    client, api_app, user_with_tokens, monkeypatch, change
):
    old = basic_header(api_app)
    stop = change_during_the_check(monkeypatch, lambda: change(Application.objects.get(pk=api_app.pk)))
    # Checked against the hash it loaded before the change, and answered as before it.
    assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=old).status_code == 200
    stop()
    assert caches["default"].get(authentication._remembered_key(api_app.client_id))  # the stale fill

    again = client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=old)

    if change is clear_flag:
        assert_forbidden(again)
    else:
        assert_unauthorized(again)
    if change is rotate_secret:
        new = basic_header(api_app.client_id, "a-brand-new-secret")
        assert client.get(tokens_path(user_with_tokens), HTTP_AUTHORIZATION=new).status_code == 200


@pytest.fixture
def no_throttle(monkeypatch):
    """The failed-auth throttle's own behaviour in an outage is ``token_admin.throttle``'s (and
    tested with it): left out here, where only the secret check's memo is under test."""
    monkeypatch.setattr(FailedAuthThrottle, "retry_after", lambda throttle: None)
    monkeypatch.setattr(FailedAuthThrottle, "record_failure", lambda throttle: None)


def authenticate(header: str):
    request = Request(APIRequestFactory().get(MOUNT + "users/1/tokens", HTTP_AUTHORIZATION=header))
    return authentication.APIClientAuthentication().authenticate(request)


@pytest.mark.parametrize("outage", ["down", "hung"])
def test_with_the_cache_server_down_or_hung_every_secret_is_checked_by_its_hash(
    api_app, hasher_calls, no_throttle, caplog, outage
):
    forget_reports()  # the outage warns afresh (once per check and process per minute)
    with contextlib.ExitStack() as stack:
        broken = UNREACHABLE_CACHES if outage == "down" else stack.enter_context(hung_caches())
        stack.enter_context(override_settings(CACHES=broken))
        first = authenticate(basic_header(api_app))
        second = authenticate(basic_header(api_app))
        with pytest.raises(exceptions.AuthenticationFailed):
            authenticate(basic_header(api_app.client_id, api_app.raw_secret + "x"))

    assert first[1] == second[1] == api_app
    assert hasher_calls == [api_app.raw_secret, api_app.raw_secret, api_app.raw_secret + "x"]
    assert "unreachable" in caplog.text and "checks each secret by its hash" in caplog.text
    assert api_app.raw_secret not in caplog.text
