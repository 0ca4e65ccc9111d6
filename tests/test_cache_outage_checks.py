"""What each cache check does while the cache server is down, hung or cut off, and once it is back.

* rate limits and quotas (App.net rate limit, Stack Exchange quota, leaked-token reports, the
  end-user API's count of empty DELETEs) fail open: the request is answered as under the limit
  and counts nothing;
* the end-user API's failed-authentication throttle counts per IP in the server process while
  the cache is out, and not per client id (so a guesser cannot lock the real client out);
* activity tracking degrades to the database: its conditional UPDATE is written without asking
  the cache whether one is due.

A WARNING per check and process says so, at most once a minute. The cache server is the test's
own (the ``cache_server`` fixture). Not-before watermarks and the end-user API's remembered
secrets have their own outage rules (tests/test_cache_outage.py): they are turned off here so
that each test sees one check only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.http import HttpResponse
from django.urls import path
from oauth2_provider.views import ProtectedResourceView

from tests.cacheserver import CacheServer
from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session
from tests.helpers import assert_end_user_contract_headers, basic_header, bearer
from tests.test_end_user_auth import assert_unauthorized
from tests.urls import urlpatterns as token_admin_urlpatterns
from token_admin import ratelimit
from token_admin.models import RevocationEvent, TokenSession

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


class Protected(ProtectedResourceView):
    def get(self, request):
        return HttpResponse("ok")


urlpatterns = [path("protected/", Protected.as_view()), *token_admin_urlpatterns]
# This module's URLconf mounts the URL modules at the root, in either test configuration.
MOUNT = "/oauth/api/v1/"

# Each check alone: watermarks and remembered secrets are other checks' business.
ONE_CHECK = {"NOT_BEFORE_ENABLED": False, "END_USER_SECRET_CACHE_SECONDS": 0}


def limits(settings, **values):
    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, **ONE_CHECK, **values}


@dataclass
class Outage:
    """One kind of outage of the test's cache server: ``begin()``, then ``end()``."""

    server: CacheServer
    kind: str  # "stopped" (refused), "hung" (no answer until the timeout) or "cut" (reset)

    def begin(self) -> None:
        {"stopped": self.server.stop, "hung": self.server.hang, "cut": self.server.cut}[self.kind]()

    def end(self) -> None:
        self.server.start() if self.kind == "stopped" else self.server.heal()

    @property
    def keeps_values(self) -> bool:
        """Whether the server still holds its values once back (a crash loses them)."""
        return self.kind != "stopped"


@pytest.fixture(params=["stopped", "hung", "cut"])
def outage(request, cache_server, settings, caplog, monkeypatch):
    limits(settings)
    # One window throughout: a hung server makes a test take seconds, which may cross a boundary.
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_700_000_000.0))
    caplog.set_level(logging.WARNING)
    yield Outage(cache_server, request.param)
    # Whatever the outage, nothing was logged at ERROR (no 500, no traceback).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def outage_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "token_admin.cache"]


# --- App.net rate limit ------------------------------------------------------------------------


def adn_get(client, token):
    return client.get("/stream/0/token", **bearer(token))


def test_adn_answers_as_under_its_rate_limit_while_the_cache_is_out(client, outage, settings):
    limits(settings, ADN_RATE_LIMIT=1)
    token = AccessTokenFactory(user=UserFactory(), application=ApplicationFactory(), scope="basic")
    expected = adn_get(client, token)
    assert expected.status_code == 200
    assert adn_get(client, token).status_code == 429  # the limit of 1 is used up

    outage.begin()
    responses = [adn_get(client, token) for _ in range(3)]

    for response in responses:
        assert response.status_code == 200
        assert response.json() == expected.json()
        # Nothing counted: the whole limit shows as remaining.
        assert (response["X-RateLimit-Limit"], response["X-RateLimit-Remaining"]) == ("1", "1")


def test_adn_rate_limit_counts_again_once_the_cache_is_back(client, outage, settings):
    limits(settings, ADN_RATE_LIMIT=1)
    token = AccessTokenFactory(user=UserFactory(), application=ApplicationFactory(), scope="basic")
    assert adn_get(client, token).status_code == 200
    outage.begin()
    assert adn_get(client, token).status_code == 200

    outage.end()

    after = [adn_get(client, token).status_code for _ in range(2)]
    # Healed, the server still holds the window's count; restarted, it counts from nothing.
    assert after == ([429, 429] if outage.keeps_values else [200, 429])


# --- Stack Exchange quota ----------------------------------------------------------------------


def test_se_answers_as_under_its_quota_while_the_cache_is_out(client, outage, settings):
    limits(settings, SE_QUOTA_MAX=1)
    token = AccessTokenFactory(user=UserFactory(), scope="basic")
    url = f"/2.2/access-tokens/{token.raw_token}"
    expected = client.get(url)
    assert (expected.status_code, expected.json()["quota_remaining"]) == (200, 0)
    assert client.get(url).json()["error_name"] == "throttle_violation"

    outage.begin()
    response = client.get(url)

    assert response.status_code == 200
    items = expected.json()["items"]
    assert response.json() == {"items": items, "quota_remaining": 1, "quota_max": 1, "has_more": False}

    outage.end()
    assert client.get(url).status_code == (400 if outage.keeps_values else 200)


# --- leaked-token reports ----------------------------------------------------------------------


def report(client, credentials):
    return client.post(
        "/credentials/revoke", json.dumps({"credentials": credentials}), content_type="application/json"
    )


def test_leaked_token_reports_are_taken_past_their_limit_while_the_cache_is_out(client, outage, settings):
    limits(settings, LEAKED_TOKENS_RATE_LIMIT=1)
    assert [report(client, ["unknown"]).status_code for _ in range(2)] == [202, 429]

    outage.begin()
    responses = [report(client, ["unknown"]) for _ in range(2)]

    assert [(r.status_code, r.json()) for r in responses] == [(202, {"received": 1})] * 2
    outage.end()
    assert report(client, ["unknown"]).status_code == (429 if outage.keeps_values else 202)


# --- the end-user API: failed-authentication throttle and empty DELETEs -------------------------


def end_user_get(client, api_app, secret=None, ip="10.0.0.1"):
    return client.get(
        f"{MOUNT}users/1/tokens", HTTP_AUTHORIZATION=basic_header(api_app, secret), REMOTE_ADDR=ip
    )


def test_end_user_api_clients_get_in_while_the_cache_is_out(client, api_app, outage, settings):
    limits(settings, END_USER_AUTH_FAILURES_PER_CLIENT=2, END_USER_AUTH_FAILURES_PER_IP=2)
    user = UserFactory()
    issue_session(user, ApplicationFactory(name="Stream"))
    outage.begin()

    wrong = end_user_get(client, api_app, "wrong")
    right = client.get(f"{MOUNT}users/{user.pk}/tokens", HTTP_AUTHORIZATION=basic_header(api_app))

    assert_unauthorized(wrong)
    assert right.status_code == 200
    assert_end_user_contract_headers(right)
    assert [entry["client_name"] for entry in right.json()["tokens"]] == ["Stream"]


def test_end_user_failures_are_counted_per_ip_in_the_process_while_the_cache_is_out(
    client, api_app, outage, settings, hasher_calls
):
    limits(settings, END_USER_AUTH_FAILURES_PER_CLIENT=2, END_USER_AUTH_FAILURES_PER_IP=3)
    outage.begin()

    # Per client id: not counted (the real client's remembered success is out with the cache, so
    # a guesser who filled its count would lock it out).
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert_unauthorized(end_user_get(client, api_app, "wrong", ip))
    # Per IP: counted in this process. The third failure from 10.0.0.3 came above.
    assert_unauthorized(end_user_get(client, api_app, "wrong", "10.0.0.3"))
    assert_unauthorized(end_user_get(client, api_app, "wrong", "10.0.0.3"))
    throttled = end_user_get(client, api_app, "wrong", "10.0.0.3")

    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_requests"
    assert len(hasher_calls) == 5  # the throttled attempt computed no hash
    # The real client from elsewhere still gets in.
    assert end_user_get(client, api_app, ip="10.0.0.9").status_code == 404  # user 1 has no sessions
    outage.end()
    # Back: the shared counts apply again (nothing was counted in them during the outage).
    assert_unauthorized(end_user_get(client, api_app, "wrong", "10.0.0.3"))


def test_end_user_empty_deletes_answer_204_while_the_cache_is_out(client, api_app, outage, settings):
    limits(settings, END_USER_NOOP_REVOCATIONS_WARNING=1)
    user = UserFactory()
    outage.begin()

    response = client.delete(
        f"{MOUNT}users/{user.pk}/tokens/6f1c2b8e-0000-4000-8000-000000000000",
        HTTP_AUTHORIZATION=basic_header(api_app),
    )

    assert (response.status_code, response.content) == (204, b"")
    assert not RevocationEvent.objects.exists()


# --- activity tracking -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/protected/", "/stream/0/token"], ids=["dot", "adn"])
def test_activity_is_written_to_the_database_while_the_cache_is_out(client, outage, url):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    session = TokenSession.objects.get()
    outage.begin()

    responses = [
        client.get(url, **bearer(access), REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/128.0")
        for _ in range(2)
    ]

    assert [response.status_code for response in responses] == [200, 200]
    session.refresh_from_db()
    assert (session.last_ip, session.browser) == ("203.0.113.7", "Firefox")
    written = session.last_used_at
    assert written is not None
    # The second use fell within the window: the database's condition skipped its write.
    outage.end()
    client.get(url, **bearer(access), REMOTE_ADDR="198.51.100.1")
    session.refresh_from_db()
    assert (session.last_used_at, session.last_ip) == (written, "203.0.113.7")


# --- the log -----------------------------------------------------------------------------------


def test_each_check_warns_once_while_the_cache_is_out(client, api_app, outage, caplog):
    token = AccessTokenFactory(user=UserFactory(), application=ApplicationFactory(), scope="basic")
    outage.begin()

    for _ in range(3):
        assert adn_get(client, token).status_code == 200
        assert_unauthorized(end_user_get(client, api_app, "wrong"))

    warnings = outage_warnings(caplog)
    assert len(warnings) == 4, warnings  # activity, the App.net limit, the failure throttle's two reads
    assert all("unreachable" in message for message in warnings)


def test_a_bearer_check_costs_one_conditional_update_more_while_the_cache_is_out(
    client, outage, django_assert_num_queries
):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    client.get("/protected/", **bearer(access))  # written for this window
    with django_assert_num_queries(1):  # DOT's token query; the cache says no write is due
        assert client.get("/protected/", **bearer(access)).status_code == 200
    outage.begin()

    with django_assert_num_queries(2):  # and the UPDATE, which writes nothing within the window
        assert client.get("/protected/", **bearer(access)).status_code == 200
