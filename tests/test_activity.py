"""Each session's last use (token_admin.activity): when, from where, with which browser.

Recorded when a token authenticates through DOT (any DOT-protected view, DRF's
OAuth2Authentication), through the App.net style, or refreshes at DOT's token endpoint; at
most once per session per ``ACTIVITY_WINDOW_SECONDS``, decided in the cache and remembered by
the process, so a use within the window costs DOT's single query and nothing more.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import ProtectedResourceView

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    UserFactory,
    issue_session,
    rotate,
)
from tests.helpers import basic, bearer
from tests.urls import urlpatterns as token_admin_urlpatterns
from token_admin import activity as tracking
from token_admin.activity import client_ip, parse_user_agent
from token_admin.cache import shared_cache
from token_admin.models import TokenSession

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


class Protected(ProtectedResourceView):
    def get(self, request):
        return HttpResponse("ok")


urlpatterns = [path("protected/", Protected.as_view()), *token_admin_urlpatterns]


def use(client, token, *, ip="203.0.113.7", agent=IPHONE, url="/protected/", **extra):
    response = client.get(url, **bearer(token), REMOTE_ADDR=ip, HTTP_USER_AGENT=agent, **extra)
    assert response.status_code == 200, response.content
    return response


def activity(session: TokenSession) -> tuple:
    session.refresh_from_db()
    return session.last_ip, session.browser, session.os, session.device_family


def session_of(access_token) -> TokenSession:
    return TokenSession.objects.get(user=access_token.user, application=access_token.application)


# --- what is recorded ----------------------------------------------------------------------


@pytest.mark.parametrize("refresh", [True, False], ids=["family", "lone"])
def test_a_dot_protected_view_records_the_sessions_last_use(client, refresh):
    access, _ = issue_session(UserFactory(), ApplicationFactory(), refresh=refresh)
    session = session_of(access)
    assert session.last_used_at is None
    before = timezone.now()

    use(client, access)

    assert activity(session) == ("203.0.113.7", "Mobile Safari", "iOS", "iPhone")
    assert before <= session.last_used_at <= timezone.now()


def test_the_app_net_style_records_it_too(client):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    use(client, access, url="/stream/0/token", agent=FIREFOX, ip="2001:db8::1")
    assert activity(session_of(access)) == ("2001:db8::1", "Firefox", "Windows", "")


def test_a_token_minted_by_a_refresh_is_found_through_its_family(client):
    access, refresh_token = issue_session(UserFactory(), ApplicationFactory())
    session = session_of(access)
    new_access, _ = rotate(refresh_token)
    use(client, new_access, agent=FIREFOX)
    assert activity(session) == ("203.0.113.7", "Firefox", "Windows", "")


def test_other_sessions_are_left_alone(client):
    user, app = UserFactory(), ApplicationFactory()
    access, _ = issue_session(user, app)
    other, _ = issue_session(user, app)
    lone, _ = issue_session(user, app, refresh=False)
    use(client, access)
    touched = TokenSession.objects.filter(last_used_at__isnull=False)
    assert list(touched.values_list("pk", flat=True)) == [
        TokenSession.objects.get(token_family=access.refresh_token.token_family).pk
    ]
    assert other and lone


def test_a_refresh_writes_nothing_and_the_new_tokens_first_use_records_it(client):
    """A token request stays within one statement of DOT's own (see test_grant_queries.py)."""
    app = ApplicationFactory()
    access, refresh_token = issue_session(UserFactory(), app)
    session = session_of(access)
    response = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.raw_token,
            "client_id": app.client_id,
            "client_secret": app.raw_secret,
        },
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT=FIREFOX,
    )
    assert response.status_code == 200, response.content
    assert activity(session) == (None, "", "", "")
    new_access = response.json()["access_token"]
    used = client.get(
        "/stream/0/token",
        **bearer(new_access),
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT=FIREFOX,
    )
    assert used.status_code == 200
    assert activity(session) == ("198.51.100.4", "Firefox", "Windows", "")


def test_a_registration_token_records_nothing(client):
    app = ApplicationFactory()
    scope = oauth2_settings.DCR_REGISTRATION_SCOPE
    token = AccessTokenFactory(user=UserFactory(), application=app, scope=scope)
    response = client.get("/protected/", **bearer(token))
    assert response.status_code == 403
    assert not TokenSession.objects.filter(last_used_at__isnull=False).exists()


def test_tracking_can_be_turned_off(client, settings):
    settings.TOKEN_ADMIN = {"ACTIVITY_TRACKING": False}
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    use(client, access)
    assert session_of(access).last_used_at is None


# --- at most one write per window, decided in the cache ------------------------------------


def test_the_hot_path_is_dots_query_plus_one_update_when_due(client, django_assert_num_queries):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    with django_assert_num_queries(2) as due:
        use(client, access)
    assert due.captured_queries[0]["sql"].startswith("SELECT")
    assert due.captured_queries[1]["sql"].startswith("UPDATE")
    assert "token_admin_tokensession" in due.captured_queries[1]["sql"]
    for _ in range(3):
        with django_assert_num_queries(1) as within_window:
            use(client, access, ip="192.0.2.99", agent=FIREFOX)
        assert "token_admin_tokensession" not in within_window.captured_queries[0]["sql"]
    # Another IP within the window is not written: last use is exact to the window.
    assert activity(session_of(access)) == ("203.0.113.7", "Mobile Safari", "iOS", "iPhone")


def test_with_tracking_off_the_hot_path_is_dots_query_alone(client, settings, django_assert_num_queries):
    settings.TOKEN_ADMIN = {"ACTIVITY_TRACKING": False, "NOT_BEFORE_ENABLED": False}
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    for _ in range(2):
        with django_assert_num_queries(1):
            use(client, access)


def test_a_process_whose_cache_forgot_writes_no_row_within_the_window(client):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    use(client, access)
    first = session_of(access).last_used_at
    # Another process (nothing remembered), and an evicted key: the UPDATE's condition holds.
    cache.clear()
    tracking.forget()
    use(client, access, ip="192.0.2.99")
    session = session_of(access)
    assert (session.last_used_at, session.last_ip) == (first, "203.0.113.7")


def test_a_use_after_the_window_writes_again(client, settings, monkeypatch):
    settings.TOKEN_ADMIN = {"ACTIVITY_WINDOW_SECONDS": 60}
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    use(client, access)
    TokenSession.objects.update(last_used_at=timezone.now() - timedelta(seconds=61))
    # 61 s later: the window is over for this process and the cache key expired with it.
    monkeypatch.setattr(tracking, "_clock", lambda: time.time() + 61)
    cache.clear()
    use(client, access, ip="192.0.2.99", agent=FIREFOX)
    session = session_of(access)
    assert activity(session) == ("192.0.2.99", "Firefox", "Windows", "")
    assert session.last_used_at > timezone.now() - timedelta(seconds=5)


# --- the client IP and the user agent ------------------------------------------------------


# --- this process's memory: the cache is asked once per token per window -------------------


class CountingCache:
    """The shared cache, with each call activity tracking makes recorded by method name."""

    def __init__(self):
        self.calls: list[str] = []

    def __getattr__(self, name):
        method = getattr(shared_cache(), name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


@pytest.fixture
def counting(monkeypatch):
    counting = CountingCache()
    monkeypatch.setattr(tracking, "shared_cache", lambda: counting)
    return counting


def test_uses_within_the_window_touch_the_cache_once_per_process(client, counting, django_assert_num_queries):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    use(client, access)
    assert counting.calls == ["add"]
    assert session_of(access).last_used_at is not None
    for _ in range(5):
        with django_assert_num_queries(1):  # DOT's token query alone
            use(client, access, ip="192.0.2.99")
    assert counting.calls == ["add"]  # and no cache call either
    assert activity(session_of(access))[0] == "203.0.113.7"


def test_another_processs_write_is_read_once_and_remembered_to_the_end_of_its_window(
    client, counting, settings, monkeypatch
):
    settings.TOKEN_ADMIN = {"ACTIVITY_WINDOW_SECONDS": 60}
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    written = time.time() - 50  # another process wrote 50 s ago: 10 s of its window are left
    cache.set(tracking._token_key(access.token_checksum), written, timeout=60)

    for _ in range(3):
        use(client, access)
    assert counting.calls == ["add", "get"]
    assert session_of(access).last_used_at is None  # that process's write is not this one's

    # Its window is over (the key expired with it): this process asks again, and writes.
    monkeypatch.setattr(tracking, "_clock", lambda: written + 60.5)
    cache.clear()
    use(client, access, ip="192.0.2.99")
    assert counting.calls == ["add", "get", "add"]
    assert activity(session_of(access))[0] == "192.0.2.99"


def test_the_memory_is_bounded_and_forgetting_costs_a_cache_call_not_a_write(client, counting, monkeypatch):
    monkeypatch.setattr(tracking, "LOCAL_MAX_ENTRIES", 2)
    tokens = [issue_session(UserFactory(), ApplicationFactory())[0] for _ in range(3)]
    for token in tokens:
        use(client, token)
    assert len(tracking._quiet_until) <= 2
    written = {token.pk: session_of(token).last_used_at for token in tokens}
    counting.calls.clear()
    for token in tokens:
        use(client, token, ip="192.0.2.99")
    # The forgotten ones asked the cache again, which remembers the writes: none is repeated.
    assert counting.calls.count("add") >= 1
    assert len(tracking._quiet_until) <= 2
    assert {token.pk: session_of(token).last_used_at for token in tokens} == written


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),  # never trusted by default
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # what the client wrote is not read
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (2, "198.51.100.1", None),  # not through both proxies
        (1, "", None),
        (1, "not-an-ip", None),
        (1, " 2001:DB8::5 ", "2001:db8::5"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.TOKEN_ADMIN = {"TRUSTED_PROXY_COUNT": proxies}
    assert client_ip({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": forwarded}) == expected


def test_a_forwarded_ip_is_recorded_behind_a_trusted_proxy(client, settings):
    settings.TOKEN_ADMIN = {"TRUSTED_PROXY_COUNT": 1}
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    use(client, access, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.8")
    assert activity(session_of(access))[0] == "198.51.100.8"


def test_unknown_and_missing_user_agents():
    assert parse_user_agent("") == ("", "", "")
    assert parse_user_agent("curl/8.5.0") == ("curl", "", "")
    assert parse_user_agent("\x00" * 10) == ("", "", "")


def test_a_huge_user_agent_is_cut_before_parsing(client):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    use(client, access, agent=FIREFOX + "x" * 100_000)
    assert activity(session_of(access))[1:3] == ("Firefox", "Windows")


# --- the admin -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _watermarks_cached(settings):
    """These tests count activity's statements: no not-before watermark read among them."""
    settings.TOKEN_ADMIN = {"NOT_BEFORE_ENABLED": False}


@pytest.fixture
def viewer(client):
    user = UserFactory(is_staff=True)
    permission = Permission.objects.get(content_type__app_label="token_admin", codename="view_tokensession")
    user.user_permissions.add(permission)
    client.force_login(user)
    return user


def sessions_url():
    return reverse("admin:token_admin_tokensession_changelist")


def test_admin_session_list_shows_last_use_and_browser(client, viewer):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    TokenSession.objects.update(
        last_used_at=timezone.now(), browser="Firefox", os="Windows", device_family="", last_ip="192.0.2.1"
    )
    response = client.get(sessions_url())
    assert response.status_code == 200
    html = response.content.decode()
    used = f"{timezone.localtime(session_of(access).last_used_at):%Y-%m-%d %H:%M}"
    assert f"<small>{used}<br>Firefox / Windows</small>" in html
    assert "began / last used" in html.lower()
    assert access.raw_token not in html
    page = client.get(reverse("admin:token_admin_tokensession_change", args=[session_of(access).pk]))
    assert page.status_code == 200
    assert "192.0.2.1" in page.content.decode()


def test_admin_unused_days_filter(client, viewer):
    user, app = UserFactory(), ApplicationFactory()
    now = timezone.now()
    old_use, recent_use, old_never, new_never = (issue_session(user, app)[0] for _ in range(4))
    TokenSession.objects.update(created_at=now - timedelta(days=90))
    families = [token.refresh_token.token_family for token in (old_use, recent_use, old_never, new_never)]
    TokenSession.objects.filter(token_family=families[0]).update(last_used_at=now - timedelta(days=31))
    TokenSession.objects.filter(token_family=families[1]).update(last_used_at=now - timedelta(days=29))
    TokenSession.objects.filter(token_family=families[3]).update(created_at=now - timedelta(days=1))

    response = client.get(sessions_url(), {"unused_days": "30"})

    assert response.status_code == 200
    listed = {session.token_family for session in response.context["cl"].result_list}
    assert listed == {families[0], families[2]}


@pytest.mark.parametrize("value", ["abc", "0", "-3", "030", " 30", "3e1", "²", "99999999", "36501"])
def test_admin_unused_days_refuses_anything_but_a_number_of_days(client, viewer, value):
    response = client.get(sessions_url(), {"unused_days": value})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


# --- the end-user API ----------------------------------------------------------------------


def end_user_get(client, user):
    api_app = ApplicationFactory(name="Desk", api_client=True)
    response = client.get(f"/oauth/api/v1/users/{user.pk}/tokens", **basic(api_app))
    assert response.status_code == 200, response.content
    return response.json()["tokens"]


CONTRACT_KEYS = ["id", "client_name", "created_at", "scopes", "type", "refresh_token_issued", "expired"]


def test_end_user_api_keeps_the_contracts_shape_by_default(client):
    user = UserFactory()
    access, _ = issue_session(user, ApplicationFactory())
    use(client, access)
    [entry] = end_user_get(client, user)
    assert list(entry) == CONTRACT_KEYS


def test_end_user_api_activity_fields_behind_a_setting(client, settings):
    settings.TOKEN_ADMIN = {"END_USER_ACTIVITY_FIELDS": True}
    user = UserFactory()
    used, _ = issue_session(user, ApplicationFactory())
    unused, _ = issue_session(user, ApplicationFactory(), refresh=False)
    use(client, used)
    session = session_of(used)
    millis = int(session.last_used_at.timestamp() * 1000)

    entries = {entry["id"]: entry for entry in end_user_get(client, user)}

    assert list(entries[str(session.public_id)]) == [*CONTRACT_KEYS, "last_used_at", "last_ip", "user_agent"]
    assert {key: entries[str(session.public_id)][key] for key in ("last_ip", "user_agent")} == {
        "last_ip": "203.0.113.7",
        "user_agent": {"browser": "Mobile Safari", "os": "iOS", "device": "iPhone"},
    }
    assert abs(entries[str(session.public_id)]["last_used_at"] - millis) <= 1
    never = entries[str(session_of(unused).public_id)]
    assert (never["last_used_at"], never["last_ip"], never["user_agent"]) == (None, None, None)
