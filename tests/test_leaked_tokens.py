"""Leaked-token intake: ``POST /credentials/revoke`` (as GitHub's), always 202, set-based."""

from __future__ import annotations

import functools
import json
import logging

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.concurrency import can_mint, dot_accepts, refresh_request
from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session
from tests.helpers import url
from token_admin import ratelimit
from token_admin.models import RevocationEvent
from token_admin.signals import leaked_tokens_revoked

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
URL = url("/credentials/revoke")

pytestmark = pytest.mark.django_db


def report(client, credentials, **headers):
    return client.post(
        URL, json.dumps({"credentials": credentials}), content_type="application/json", **headers
    )


def test_a_report_revokes_each_found_session_and_answers_202_without_a_hint(client):
    user, app = UserFactory(username="alice"), ApplicationFactory(name="Stream")
    leaked_access, leaked_access_refresh = issue_session(user, app)
    rotated = refresh_request(app, issue_session(user, app)[1].raw_token).json()  # a rotated session
    leaked_refresh_access, leaked_refresh = issue_session(user, app)
    kept, kept_refresh = issue_session(user, app)

    response = report(
        client, [leaked_access.raw_token, rotated["refresh_token"], leaked_refresh.raw_token, "nope"]
    )

    assert response.status_code == 202
    assert response.json() == {"received": 4}
    assert response["Cache-Control"].startswith("max-age=0")
    for raw in (leaked_access.raw_token, rotated["access_token"], leaked_refresh_access.raw_token):
        assert not dot_accepts(raw)
    for raw in (leaked_access_refresh.raw_token, rotated["refresh_token"], leaked_refresh.raw_token):
        assert not can_mint(app, raw)
    assert dot_accepts(kept.raw_token) and can_mint(app, kept_refresh.raw_token)
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type) == ("leak_report", "scanner")
    assert event.actor_label == "leaked-token report from IP 127.0.0.1"
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (3, 3)
    assert event.selection["kind"] == "leak_report" and event.selection["reported"] == 4
    assert "nope" not in json.dumps(event.selection) and leaked_access.raw_token not in json.dumps(
        event.selection
    )


def test_nothing_found_answers_the_same_and_writes_nothing(client):
    response = report(client, ["unknown-1", "unknown-2"])
    assert (response.status_code, response.json()) == (202, {"received": 2})
    assert not RevocationEvent.objects.exists()


def test_the_owners_are_told_through_the_signal(client, django_capture_on_commit_callbacks):
    owner = UserFactory(username="owner")
    user, app = UserFactory(username="alice"), ApplicationFactory(name="Stream", user=owner)
    access, _ = issue_session(user, app)
    app_token = AccessTokenFactory(user=None, application=app)
    received = []
    leaked_tokens_revoked.connect(lambda sender, **kw: received.append(kw), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report(client, [access.raw_token, app_token.raw_token])
    finally:
        leaked_tokens_revoked.disconnect(dispatch_uid="t")

    # The users' and apps' primary keys as their models have them (a UUID in the host configuration).
    assert [(kw["user_ids"], kw["application_ids"]) for kw in received] == [([user.pk], [app.pk])]
    assert received[0]["event"] == RevocationEvent.objects.get()


@pytest.mark.skipif(
    settings.AUTH_USER_MODEL != "auth.User",
    reason="the example project's settings (its INSTALLED_APPS) lack the host configuration's user model app",
)
@pytest.mark.usefixtures("example_project")
def test_the_example_project_logs_a_notice_to_each_owner(client, caplog, django_capture_on_commit_callbacks):
    owner = UserFactory(username="owner")
    user, app = UserFactory(username="alice"), ApplicationFactory(name="Stream", user=owner)
    access, _ = issue_session(user, app)
    app_token = AccessTokenFactory(user=None, application=app)

    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        report(client, [access.raw_token, app_token.raw_token])

    notices = [
        record.getMessage() for record in caplog.records if record.name == "example_project.notifications"
    ]
    assert any(notice.startswith("Notice to alice: a token of yours") for notice in notices)
    assert any(notice.startswith("Notice to owner: a token of app Stream") for notice in notices)
    assert not any(access.raw_token in notice for notice in notices)


@pytest.mark.parametrize("count", [1, 1000])
def test_a_fixed_number_of_queries_for_1_or_1000_tokens(client, count):
    user, app = UserFactory(), ApplicationFactory()
    tokens = [issue_session(user, app)[0].raw_token for _ in range(3)]
    values = tokens[:1] + [f"unknown-{i}" for i in range(count - 1)]
    with CaptureQueriesContext(connection) as captured:
        assert report(client, values).status_code == 202
    # Two reads (access tokens with their families, refresh tokens), then the service:
    # savepoint, two locking reads, two GROUP BY reads of whose tokens go (the event's
    # "affected"), revoke, delete, (sweep where foreign keys are deferred), the event, the
    # events outbox's INSERT ... SELECT (with or without receivers), release.
    expected = 13 if connection.features.can_defer_constraint_checks else 12
    assert len(captured) == expected, "\n".join(query["sql"][:100] for query in captured)


def test_a_registration_token_reported_as_leaked_is_revoked():
    user = UserFactory()
    client_app = ApplicationFactory(registration_source="dcr", user=user)
    registration = AccessTokenFactory(user=user, application=client_app, scope="oauth2_provider:registration")
    from django.test import Client

    assert report(Client(), [registration.raw_token]).status_code == 202
    assert not AccessToken.objects.filter(pk=registration.pk).exists()
    assert RevocationEvent.objects.get().selection["registration_tokens_revoked"] == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("not json", "application/json", 400, "The body is not JSON."),
        ("[]", "application/json", 400, 'Send {"credentials": ["<token>", ...]} with at least one token.'),
        (
            '{"credentials": []}',
            "application/json",
            400,
            'Send {"credentials": ["<token>", ...]} with at least one token.',
        ),
        (
            '{"credentials": "abc"}',
            "application/json",
            400,
            'Send {"credentials": ["<token>", ...]} with at least one token.',
        ),
        (
            '{"credentials": [1]}',
            "application/json",
            400,
            "Each token is a non-empty string of at most 1024 characters.",
        ),
        (
            '{"credentials": [""]}',
            "application/json",
            400,
            "Each token is a non-empty string of at most 1024 characters.",
        ),
        (
            json.dumps({"credentials": ["x" * 1025]}),
            "application/json",
            400,
            "Each token is a non-empty string of at most 1024 characters.",
        ),
        (
            json.dumps({"credentials": ["t"] * 1001}),
            "application/json",
            400,
            "At most 1000 tokens per report.",
        ),
        ("credentials=abc", "application/x-www-form-urlencoded", 415, "Send the report as application/json."),
        (
            '{"credentials": ["\\ud800"]}',
            "application/json",
            400,
            "Each token is a non-empty string of at most 1024 characters.",
        ),
        (b"\xff\xfe", "application/json", 400, "The body is not JSON."),
    ],
)
def test_bad_reports_get_a_clear_json_error(client, body, content_type, status, message):
    response = client.post(URL, body, content_type=content_type)
    assert response.status_code == status, response.content
    if message is not None:
        assert response.json() == {"message": message}
    assert response["Content-Type"] == "application/json"


def test_a_body_over_djangos_upload_limit_is_413(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = report(client, ["x" * 200])
    assert (response.status_code, response.json()) == (413, {"message": "The report is too large."})


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_other_methods_are_a_json_405(client, method):
    response = getattr(client, method)(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    if method != "head":
        assert response.json() == {"message": "Method not allowed: POST a JSON body."}


def test_reports_are_rate_limited_per_ip_and_per_scanner_key(client, settings):
    settings.TOKEN_ADMIN = {
        "LEAKED_TOKENS_RATE_LIMIT": 2,
        "LEAKED_TOKENS_RATE_LIMIT_WITH_KEY": 3,
        "LEAKED_TOKENS_SCANNER_KEYS": {"k-123": "Acme scanner"},
    }
    assert [report(client, ["a"]).status_code for _ in range(3)] == [202, 202, 429]
    limited = report(client, ["a"])
    assert limited.json() == {"message": "Too many reports."} and int(limited["Retry-After"]) > 0
    keyed = [report(client, ["a"], HTTP_X_SCANNER_KEY="k-123").status_code for _ in range(4)]
    assert keyed == [202, 202, 202, 429]


# The rate-limit clock frozen at 1200 s: an hour-long window then resets in 2400 s.
@pytest.fixture
def frozen_rate_limit_clock(monkeypatch):
    monkeypatch.setattr(ratelimit, "hit", functools.partial(ratelimit.hit, now=1200.0))
    monkeypatch.setattr(ratelimit, "peek", functools.partial(ratelimit.peek, now=1200.0))


TOO_MANY = (429, {"message": "Too many reports."}, "2400")
UNKNOWN_KEY = (401, {"message": "Unknown scanner key."}, None)
RECEIVED = (202, {"received": 1}, None)


def answer(response):
    return (response.status_code, response.json(), response.get("Retry-After"))


@pytest.mark.usefixtures("frozen_rate_limit_clock")
def test_scanner_key_guesses_get_429_once_the_ip_is_over_its_limit(client, settings):
    settings.TOKEN_ADMIN = {"LEAKED_TOKENS_RATE_LIMIT": 2, "LEAKED_TOKENS_SCANNER_KEYS": {"k-123": "Acme"}}
    assert [answer(report(client, ["a"])) for _ in range(3)] == [RECEIVED, RECEIVED, TOO_MANY]

    guesses = [answer(report(client, ["a"], HTTP_X_SCANNER_KEY=f"guess-{i}")) for i in range(50)]

    assert guesses == [TOO_MANY] * 50
    # The IP has tried its keys: the right one is answered as a wrong one would be.
    assert answer(report(client, ["a"], HTTP_X_SCANNER_KEY="k-123")) == TOO_MANY


@pytest.mark.usefixtures("frozen_rate_limit_clock")
def test_scanner_key_guesses_use_up_the_ips_budget(client, settings):
    settings.TOKEN_ADMIN = {"LEAKED_TOKENS_RATE_LIMIT": 2, "LEAKED_TOKENS_SCANNER_KEYS": {"k-123": "Acme"}}

    assert answer(report(client, ["a"], HTTP_X_SCANNER_KEY="guess")) == UNKNOWN_KEY
    assert [answer(report(client, ["a"])) for _ in range(2)] == [RECEIVED, TOO_MANY]
    # One guess so far: the valid key is still served, on its own limit.
    assert answer(report(client, ["a"], HTTP_X_SCANNER_KEY="k-123")) == RECEIVED
    assert answer(report(client, ["a"], HTTP_X_SCANNER_KEY="guess-2")) == TOO_MANY
    # Two guesses, the IP's limit: no key is tried from this IP until the window ends.
    assert answer(report(client, ["a"], HTTP_X_SCANNER_KEY="k-123")) == TOO_MANY
    assert answer(report(client, ["a"], REMOTE_ADDR="10.0.0.2", HTTP_X_SCANNER_KEY="k-123")) == RECEIVED


@pytest.mark.usefixtures("frozen_rate_limit_clock")
def test_a_valid_key_keeps_working_when_reports_without_one_spent_its_ips_budget(client, settings):
    settings.TOKEN_ADMIN = {
        "LEAKED_TOKENS_RATE_LIMIT": 2,
        "LEAKED_TOKENS_RATE_LIMIT_WITH_KEY": 3,
        "LEAKED_TOKENS_SCANNER_KEYS": {"k-123": "Acme"},
    }
    assert [answer(report(client, ["a"])) for _ in range(3)] == [RECEIVED, RECEIVED, TOO_MANY]

    keyed = [answer(report(client, ["a"], HTTP_X_SCANNER_KEY="k-123")) for _ in range(4)]

    assert keyed == [RECEIVED, RECEIVED, RECEIVED, TOO_MANY]


@pytest.mark.usefixtures("frozen_rate_limit_clock")
def test_a_missing_required_key_counts_against_the_ip_but_is_no_guess(client, settings):
    settings.TOKEN_ADMIN = {
        "LEAKED_TOKENS_RATE_LIMIT": 2,
        "LEAKED_TOKENS_SCANNER_KEYS": {"k-123": "Acme"},
        "LEAKED_TOKENS_REQUIRE_KEY": True,
    }
    required = (401, {"message": "A scanner key is required (X-Scanner-Key)."}, None)

    assert [answer(report(client, ["a"])) for _ in range(3)] == [required, required, TOO_MANY]
    assert answer(report(client, ["a"], HTTP_X_SCANNER_KEY="k-123")) == RECEIVED


def test_a_scanner_key_names_the_reporter_and_can_be_required(client, settings):
    settings.TOKEN_ADMIN = {
        "LEAKED_TOKENS_SCANNER_KEYS": {"k-123": "Acme scanner"},
        "LEAKED_TOKENS_REQUIRE_KEY": True,
    }
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    refused = report(client, [access.raw_token])
    assert (refused.status_code, refused.json()) == (
        401,
        {"message": "A scanner key is required (X-Scanner-Key)."},
    )
    assert dot_accepts(access.raw_token)

    assert report(client, [access.raw_token], HTTP_X_SCANNER_KEY="k-123").status_code == 202
    assert RevocationEvent.objects.get().actor_label == "leaked-token report from scanner Acme scanner"


ODD_BODIES = (
    b"",
    b"null",
    b"0",
    b'"credentials"',
    b"{}",
    b'{"credentials": null}',
    b'{"credentials": {"a": 1}}',
    b'{"credentials": [null]}',
    b'{"credentials": [["nested"]]}',
    b'{"credentials": ["\\u0000"]}',
    b'{"credentials": ["\\udfff\\ud800"]}',
    '{"credentials": ["😀²٣\u202e"]}'.encode(),
    b'{"credentials": ["a"], "credentials": ["b"]}',
    b"[" * 5000,
    b'{"credentials": [' + b'"x",' * 1000 + b'"y"]}',
    b"\xff\xfe\x00",
    b"a=1&" * 1001,
)
ODD_TYPES = ("application/json", "application/json; charset=latin-1", "text/plain", "", "multipart/form-data")


def test_odd_reports_never_get_a_5xx_nor_log_an_error(client, caplog):
    sent = 0
    with caplog.at_level(logging.WARNING):
        for body in ODD_BODIES:
            for content_type in ODD_TYPES:
                for method in ("POST", "PUT", "GET", "DELETE", "OPTIONS"):
                    response = client.generic(method, URL, body, content_type)
                    sent += 1
                    assert response.status_code < 500, (method, content_type, body[:40], response.content)
                    assert response["Content-Type"] == "application/json"
                    assert set(response.json()) <= {"message", "received"}
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert sent == len(ODD_BODIES) * len(ODD_TYPES) * 5


def test_a_rotated_away_refresh_token_revokes_its_session(client):
    user, app = UserFactory(), ApplicationFactory()
    _, first_refresh = issue_session(user, app)
    current = refresh_request(app, first_refresh.raw_token).json()  # the reported one is rotated away
    kept, kept_refresh = issue_session(user, app)

    response = report(client, [first_refresh.raw_token])

    assert (response.status_code, response.json()) == (202, {"received": 1})
    assert not dot_accepts(current["access_token"])
    refused = refresh_request(app, current["refresh_token"])
    assert (refused.status_code, refused.json()) == (400, {"error": "invalid_grant"})
    assert dot_accepts(kept.raw_token) and can_mint(app, kept_refresh.raw_token)
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type) == ("leak_report", "scanner")
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)


def test_a_refresh_token_of_a_session_revoked_already_writes_nothing(client):
    user, app = UserFactory(), ApplicationFactory()
    _, refresh = issue_session(user, app)
    assert report(client, [refresh.raw_token]).status_code == 202
    assert RevocationEvent.objects.count() == 1

    response = report(client, [refresh.raw_token])

    assert (response.status_code, response.json()) == (202, {"received": 1})
    assert RevocationEvent.objects.count() == 1
