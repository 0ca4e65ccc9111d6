"""No token or secret value in logs, error bodies, admin pages or audit rows.

Every style is called on its success and error paths (401, 403, 404, 405, 400, 500) while
every log record is captured. A record is checked as a log line (message and traceback)
and, for records that carry the request (Django's ``django.request`` errors), as the
e-mail ``AdminEmailHandler`` would send: that report shows the full URL and GET data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    AppProfileFactory,
    UserFactory,
    issue_session,
)
from tests.helpers import basic, bearer, confirm_admin_action, url
from token_admin import queries
from token_admin.models import RevocationEvent, TokenSession

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

pytestmark = pytest.mark.django_db


@dataclass
class Secrets:
    user: Any
    app: Any
    api_client: Any
    access: Any
    refresh: Any
    app_token: Any
    expired: Any
    spare: Any  # a second session, for the calls that revoke

    def values(self) -> list[str]:
        tokens = [self.access, self.refresh, self.app_token, self.expired, self.spare]
        return [token.raw_token for token in tokens] + [self.app.raw_secret, self.api_client.raw_secret]


@pytest.fixture
def secrets_() -> Secrets:
    user = UserFactory()
    app = AppProfileFactory(allow_app_token=True).application
    access, refresh = issue_session(user, app)
    spare, _ = issue_session(user, app)
    return Secrets(
        user=user,
        app=app,
        api_client=ApplicationFactory(api_client=True),
        access=access,
        refresh=refresh,
        app_token=AccessTokenFactory(user=None, application=app, scope=""),
        expired=AccessTokenFactory(user=user, application=app, expired=True),
        spare=spare,
    )


def raising(*args: Any) -> None:
    raise RuntimeError("hook failed")


def break_se_lookup(monkeypatch: Any) -> None:
    monkeypatch.setattr(queries, "tokens_by_raw", raising)


def adn_hook_fails(settings: Any) -> None:
    settings.TOKEN_ADMIN = {"ADN_TOKEN_HOOK": raising}


def session_hook_fails(settings: Any) -> None:
    settings.TOKEN_ADMIN = {"SESSION_TYPE_HOOK": raising}


@dataclass(frozen=True)
class Call:
    method: str
    path: Callable[[Secrets], str]
    status: int
    headers: Callable[[Secrets], dict[str, str]] = lambda s: {}
    data: Callable[[Secrets], dict[str, str]] | None = None
    # The body holds tokens by design: SE items echo the tokens passed, DOT issues new ones.
    body_may_hold_tokens: bool = False
    setup: Callable[..., None] | None = None


def bearer_of(name: str) -> Callable[[Secrets], dict[str, str]]:
    """The headers presenting the token ``name`` of the world's secrets."""
    return lambda s: bearer(getattr(s, name))


CALLS = {
    # App.net style
    "adn get": Call("get", lambda s: "/stream/0/token", 200, bearer_of("access")),
    "adn get, token in query": Call(
        "get", lambda s: f"/stream/0/token?access_token={s.access.raw_token}", 200
    ),
    "adn unknown token": Call(
        "get", lambda s: "/stream/0/token", 401, lambda s: {"HTTP_AUTHORIZATION": "Bearer x"}
    ),
    "adn expired token": Call("get", lambda s: f"/stream/0/token?access_token={s.expired.raw_token}", 401),
    "adn bad count": Call("get", lambda s: "/stream/0/apps/me/tokens?count=abc", 400, bearer_of("app_token")),
    "adn user token on app endpoint": Call(
        "get", lambda s: "/stream/0/apps/me/tokens", 403, bearer_of("access")
    ),
    "adn wrong method": Call(
        "post",
        lambda s: "/stream/0/apps/me/tokens",
        405,
        data=lambda s: {"access_token": s.app_token.raw_token},
    ),
    "adn unknown path": Call("get", lambda s: f"/stream/0/nowhere?access_token={s.access.raw_token}", 404),
    "adn delete": Call("delete", lambda s: f"/stream/0/token?access_token={s.spare.raw_token}", 200),
    "adn server error, token in query": Call(
        "get", lambda s: f"/stream/0/token?access_token={s.access.raw_token}", 500, setup=adn_hook_fails
    ),
    "adn server error, token in header": Call(
        "get", lambda s: "/stream/0/token", 500, bearer_of("access"), setup=adn_hook_fails
    ),
    # Stack Exchange style
    "se read": Call(
        "get",
        lambda s: f"/2.2/access-tokens/{s.access.raw_token};{s.app_token.raw_token}",
        200,
        body_may_hold_tokens=True,
    ),
    "se too many tokens": Call(
        "get", lambda s: "/2.2/access-tokens/" + ";".join([s.access.raw_token, *map(str, range(20))]), 400
    ),
    "se bad pagesize": Call("get", lambda s: f"/2.2/access-tokens/{s.access.raw_token}?pagesize=x", 400),
    "se unknown method": Call("get", lambda s: f"/2.2/access-tokens/{s.access.raw_token}/nope", 400),
    "se wrong http method": Call("post", lambda s: f"/2.2/access-tokens/{s.access.raw_token}", 400),
    "se jsonp": Call("get", lambda s: f"/2.2/apps/{s.access.raw_token}/de-authenticate?callback=f", 400),
    "se invalidate": Call(
        "get", lambda s: f"/2.2/access-tokens/{s.spare.raw_token}/invalidate", 200, body_may_hold_tokens=True
    ),
    "se server error": Call(
        "get", lambda s: f"/2.2/access-tokens/{s.access.raw_token}/invalidate", 400, setup=break_se_lookup
    ),
    # end-user token API
    "end-user list": Call(
        "get",
        lambda s: f"/oauth/api/v1/users/{s.user.pk}/tokens",
        200,
        lambda s: basic(s.api_client),
    ),
    "end-user wrong secret": Call(
        "get",
        lambda s: f"/oauth/api/v1/users/{s.user.pk}/tokens",
        401,
        lambda s: basic(s.api_client, s.app.raw_secret),
    ),
    "end-user not an API client": Call(
        "get",
        lambda s: f"/oauth/api/v1/users/{s.user.pk}/tokens",
        403,
        lambda s: basic(s.app, s.app.raw_secret),
    ),
    "end-user unknown path": Call(
        "get", lambda s: "/oauth/api/v1/nowhere", 404, lambda s: basic(s.api_client)
    ),
    "end-user wrong method": Call(
        "put",
        lambda s: f"/oauth/api/v1/users/{s.user.pk}/tokens",
        405,
        lambda s: basic(s.api_client),
    ),
    "end-user server error": Call(
        "get",
        lambda s: f"/oauth/api/v1/users/{s.user.pk}/tokens",
        500,
        lambda s: basic(s.api_client),
        setup=session_hook_fails,
    ),
    # DOT's token endpoint, as the APIs' clients use it
    "dot refresh": Call(
        "post",
        lambda s: "/o/token/",
        200,
        data=lambda s: {
            "grant_type": "refresh_token",
            "refresh_token": s.refresh.raw_token,
            "client_id": s.app.client_id,
            "client_secret": s.app.raw_secret,
        },
        body_may_hold_tokens=True,
    ),
    "dot refresh refused": Call(
        "post",
        lambda s: "/o/token/",
        400,
        data=lambda s: {
            "grant_type": "refresh_token",
            "refresh_token": s.expired.raw_token,
            "client_id": s.app.client_id,
            "client_secret": s.app.raw_secret,
        },
    ),
}


def rendered(record: logging.LogRecord) -> str:
    """The record as a log line with its traceback, and as the e-mail Django's ``mail_admins`` sends.

    ``mail_admins`` (AdminEmailHandler) takes ERROR records; for one with a request, the report
    holds the full URL and the GET data (Django hides only headers such as Authorization).
    """
    text = logging.Formatter().format(record)
    request = getattr(record, "request", None)
    if request is not None and record.levelno >= logging.ERROR:
        exc_info = record.exc_info or (None, None, None)
        text += ExceptionReporter(request, *exc_info, is_email=True).get_traceback_text()
    return text


@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_no_token_or_secret_in_logs_or_error_bodies(call, secrets_, caplog, settings, monkeypatch):
    if call.setup is break_se_lookup:
        call.setup(monkeypatch)
    elif call.setup is not None:
        call.setup(settings)
    caplog.set_level(logging.DEBUG)  # every logger at every level: DOT's and token_admin's debug lines too
    # Except oauthlib's DEBUG lines, which print refresh tokens and issued tokens verbatim
    # (upstream, not ours to change): SECURITY.md says to keep that logger at INFO or above.
    caplog.set_level(logging.INFO, logger="oauthlib")
    client = Client(raise_request_exception=False)

    kwargs: dict[str, Any] = call.headers(secrets_)
    if call.data is not None:
        kwargs["data"] = call.data(secrets_)
    response = getattr(client, call.method)(url(call.path(secrets_)), **kwargs)

    assert response.status_code == call.status, response.content
    values = secrets_.values()
    leaked = [
        (record.name, record.levelname)
        for record in caplog.records
        if any(value in rendered(record) for value in values)
    ]
    assert leaked == [], "a log record holds a token or secret"
    if not call.body_may_hold_tokens:
        assert not [value for value in values if value in response.content.decode()]


def test_audit_rows_name_no_token(client, secrets_):
    client.delete(url("/stream/0/token"), **bearer(secrets_.access))
    client.get(url(f"/2.2/apps/{secrets_.spare.raw_token}/de-authenticate"))
    client.get(url(f"/2.2/access-tokens/{secrets_.app_token.raw_token}/invalidate"))

    events = list(RevocationEvent.objects.values())
    assert len(events) == 3
    text = repr(events)
    assert not [value for value in secrets_.values() if value in text]


def test_admin_pages_show_no_token(client, secrets_):
    """Change lists, change pages and the revoke confirmation of every token-bearing model."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    token_admin_url = f"admin:{AccessToken._meta.app_label}_{AccessToken._meta.model_name}"
    refresh_admin_url = f"admin:{RefreshToken._meta.app_label}_{RefreshToken._meta.model_name}"
    session = TokenSession.objects.get(token_family=secrets_.refresh.token_family)
    pages = [
        reverse(f"{token_admin_url}_changelist"),
        reverse(f"{token_admin_url}_change", args=[secrets_.access.pk]),
        reverse(f"{refresh_admin_url}_changelist"),
        reverse(f"{refresh_admin_url}_change", args=[secrets_.refresh.pk]),
        reverse("admin:token_admin_tokensession_changelist"),
        reverse("admin:token_admin_tokensession_change", args=[session.pk]),
    ]
    responses = [client.get(page) for page in pages]
    responses.append(
        client.post(
            reverse(f"{token_admin_url}_changelist"),
            {
                "action": "revoke_selected_tokens",
                "_selected_action": [secrets_.access.pk, secrets_.app_token.pk],
            },
        )
    )
    confirm_admin_action(
        client,
        reverse(f"{token_admin_url}_changelist"),
        {
            "action": "revoke_selected_tokens",
            "_selected_action": [secrets_.access.pk],
            "post": "yes",
            "reason": "r",
        },
    )
    event = RevocationEvent.objects.get()
    responses.append(client.get(reverse("admin:token_admin_revocationevent_change", args=[event.pk])))

    assert [response.status_code for response in responses] == [200] * len(responses)
    for response in responses:
        assert not [value for value in secrets_.values() if value in response.content.decode()], (
            response.request
        )
