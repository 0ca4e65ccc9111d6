"""A revocation never depends on the cache (issue 26, finding 7): with the cache server of the
test's own stopped, hung or cut off, every surface revokes, commits its audit event and says so.

The checks a surface makes before revoking have outage rules of their own
(tests/test_cache_outage_checks.py). A revocation itself reads nothing from the cache: the events
outbox picks its receivers from the database, not-before watermarks are read in the token's own
statement, and the end-user API's remembered secret check degrades to the hash.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
import redis
from django.contrib.auth.models import Permission
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.helpers import basic_header, bearer, confirm_admin_action, url
from tests.test_end_user_auth import MOUNT
from token_admin.models import RevocationEvent, TokenSession

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
TOKEN_CHANGELIST = f"admin:{AccessToken._meta.app_label}_{AccessToken._meta.model_name}_changelist"

pytestmark = pytest.mark.django_db

# --- the harness ---------------------------------------------------------------------------------


def test_the_harness_stops_hangs_cuts_and_brings_back_its_server(cache_server):
    cache = caches["outage"]
    cache.set("kept", 1)

    cache_server.hang()
    with pytest.raises(redis.exceptions.TimeoutError):
        cache.get("kept")
    cache_server.heal()
    assert cache.get("kept") == 1  # back, with what it held

    cache_server.cut()
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get("kept")
    cache_server.heal()
    assert cache.get("kept") == 1

    cache_server.stop()
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get("kept")
    cache_server.start()
    assert cache.get("kept") is None  # a crash keeps nothing


# --- every surface revokes with the cache out ----------------------------------------------------


def adn_delete(session):
    response = Client().delete(url("/stream/0/token"), **bearer(session["access"]))
    assert response.status_code == 200, response.content
    assert response.json()["meta"] == {"code": 200}


def se_invalidate(session):
    response = Client().get(url(f"/2.2/access-tokens/{session['access'].raw_token}/invalidate"))
    assert response.status_code == 200, response.content
    assert [item["access_token"] for item in response.json()["items"]] == [session["access"].raw_token]


def end_user_delete(session):
    api_app = ApplicationFactory(api_client=True)
    public_id = TokenSession.objects.get(token_family=session["refresh"].token_family).public_id
    response = Client().delete(
        f"{MOUNT}users/{session['user'].pk}/tokens/{public_id}", HTTP_AUTHORIZATION=basic_header(api_app)
    )
    assert (response.status_code, response.content) == (204, b""), response.content


def rfc7009_revoke(session):
    app = session["app"]
    response = Client().post(
        url("/o/revoke_token/"),
        {"token": session["access"].raw_token, "client_id": app.client_id, "client_secret": app.raw_secret},
    )
    assert (response.status_code, response.content) == (200, b"")


def admin_action(session):
    staff = UserFactory(is_staff=True)
    for codename in (f"view_{AccessToken._meta.model_name}", "revoke_tokens"):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    browser = Client()
    browser.force_login(staff)
    payload = {
        "action": "revoke_selected_tokens",
        "_selected_action": [session["access"].pk],
        "post": "yes",
        "reason": "cache outage drill",
    }
    response = confirm_admin_action(browser, reverse(TOKEN_CHANGELIST), payload)
    assert response.status_code == 302, response.content
    messages = [str(message) for message in response.wsgi_request._messages]
    assert any(message.startswith("Revoked 1 access token and 1 refresh token") for message in messages)


def revoke_tokens_command(session):
    out = StringIO()
    # No CommandError: the command exits 0.
    call_command("revoke_tokens", "--user", session["user"].get_username(), "--reason", "drill", stdout=out)
    assert out.getvalue() == "Revoked 1 access token, 1 refresh token and 0 grants.\n"


def leaked_report(session):
    response = Client().post(
        url("/credentials/revoke"),
        json.dumps({"credentials": [session["access"].raw_token]}),
        content_type="application/json",
    )
    assert (response.status_code, response.json()) == (202, {"received": 1})


SURFACES = [
    pytest.param(adn_delete, "adn", id="adn-delete-token"),
    pytest.param(se_invalidate, "stackexchange", id="se-invalidate"),
    pytest.param(end_user_delete, "end_user", id="end-user-delete"),
    pytest.param(rfc7009_revoke, "oauth", id="rfc7009"),
    pytest.param(admin_action, "admin", id="admin-action"),
    pytest.param(revoke_tokens_command, "command", id="revoke-tokens-command"),
    pytest.param(leaked_report, "leak_report", id="leaked-token-report"),
]


@pytest.fixture
def session(cache_server):
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    return {"user": user, "app": app, "access": access, "refresh": refresh}


def assert_revoked(session, surface: str) -> None:
    assert not AccessToken.objects.filter(pk=session["access"].pk).exists()
    assert RefreshToken.objects.get(pk=session["refresh"].pk).revoked is not None
    event = RevocationEvent.objects.get()
    assert (event.surface, event.access_tokens_revoked, event.refresh_tokens_revoked) == (surface, 1, 1)


@pytest.mark.parametrize("outage", ["stop", "hang", "cut"])
@pytest.mark.parametrize(("revoke", "surface"), SURFACES)
def test_every_surface_revokes_and_says_so_with_the_cache_out(cache_server, session, revoke, surface, outage):
    getattr(cache_server, outage)()

    revoke(session)

    assert_revoked(session, surface)


def test_a_token_revoked_during_a_partition_stays_dead_once_it_heals(cache_server, session):
    client = Client()
    assert client.get(url("/stream/0/token"), **bearer(session["access"])).status_code == 200  # cache warm
    cache_server.cut()
    adn_delete(session)

    cache_server.heal()

    # Whatever the cache kept from before (activity, limits, watermarks, receivers), the token is gone.
    response = client.get(url("/stream/0/token"), **bearer(session["access"]))
    assert (response.status_code, response.json()["meta"]["error_slug"]) == (401, "invalid-token")
    assert_revoked(session, "adn")
