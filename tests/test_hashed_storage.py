"""With DOT's RFC 9700 token storage, no token (or client secret) value is kept in any column.

Tokens are issued and used through the real endpoints (DOT's ``/o/token/``: authorization code,
refresh and client_credentials grants; then all three API styles, which also write audit
rows and sessions), and then every text column of every table is searched for each raw
value. The setting is switched on here, so this runs on every database pass, not only in
CI's hashed-storage pass; a second test shows the search does find values when DOT keeps
cleartext, so an empty result means something.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.db.models.functions import Cast
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from tests.factories import ApplicationFactory, AppProfileFactory, GrantFactory, UserFactory
from tests.helpers import basic, bearer, url

Application = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

pytestmark = pytest.mark.django_db


def storage(settings, hashed: bool) -> None:
    # pytest-django's settings fixture sends setting_changed: DOT reloads its settings.
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": hashed}


def token_endpoint(client, application, **data):
    response = client.post(
        url("/o/token/"),
        {"client_id": application.client_id, "client_secret": application.raw_secret, **data},
    )
    assert response.status_code == 200, response.content
    return response.json()


def sign_in(client, application, user):
    """The authorization-code exchange, with a code as DOT's authorize view saves it."""
    grant = GrantFactory(user=user, application=application)
    return token_endpoint(
        client, application, grant_type="authorization_code", code=grant.code, redirect_uri=grant.redirect_uri
    )


def issue_and_use_tokens(client) -> list[str]:
    """Every kind of token, issued and used on every surface; returns the raw values (and secrets)."""
    user = UserFactory()
    app = ApplicationFactory()
    AppProfileFactory(application=app, allow_app_token=True)
    api_client = ApplicationFactory(api_client=True)

    first = sign_in(client, app, user)
    second = token_endpoint(client, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    app_token = token_endpoint(client, app, grant_type="client_credentials")["access_token"]
    third = sign_in(client, app, user)
    # Left alive: the token columns are then checked on live rows too, not only on revoked ones.
    kept = sign_in(client, app, user)

    assert client.get(url("/stream/0/token"), **bearer(second["access_token"])).status_code == 200
    assert client.get(url("/stream/0/token"), **bearer(kept["access_token"])).status_code == 200
    assert client.get(url(f"/2.2/access-tokens/{app_token};{third['access_token']}")).status_code == 200
    sessions = client.get(url(f"/oauth/api/v1/users/{user.pk}/tokens"), **basic(api_client))
    assert sessions.status_code == 200
    # Revocations write audit rows: from each style.
    session_id = sessions.json()["tokens"][-1]["id"]  # the oldest: the refreshed session
    revoked = client.delete(url(f"/oauth/api/v1/users/{user.pk}/tokens/{session_id}"), **basic(api_client))
    assert revoked.status_code == 204
    assert client.get(url(f"/2.2/access-tokens/{app_token}/invalidate")).status_code == 200
    third_bearer = bearer(third["access_token"])
    assert client.delete(url("/stream/0/token"), **third_bearer).status_code == 200
    return [
        first["access_token"],
        first["refresh_token"],
        second["access_token"],
        second["refresh_token"],
        third["access_token"],
        third["refresh_token"],
        kept["access_token"],
        kept["refresh_token"],
        app_token,
        app.raw_secret,
        api_client.raw_secret,
    ]


def columns_holding(values: list[str]) -> list[tuple[str, str]]:
    """(table, column) of every text or JSON column, in every installed model, that holds a value."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, (models.CharField, models.TextField, models.JSONField)):
                continue
            # Cast: JSON columns are searched as text, the way a leaked value would sit in them.
            rows = model._default_manager.annotate(_text=Cast(field.attname, models.TextField()))
            for value in values:
                if rows.filter(_text__contains=value).exists():
                    found.append((model._meta.db_table, field.column))
    return sorted(set(found))


def test_no_token_or_secret_value_is_stored_in_any_column(client, settings):
    storage(settings, hashed=True)

    values = issue_and_use_tokens(client)

    assert columns_holding(values) == []
    # DOT's token columns are blank, and lookups still worked (above) by checksum alone.
    assert AccessToken.objects.count() == 1  # the kept one
    assert not AccessToken.objects.exclude(token="").exists()
    assert not RefreshToken.objects.exclude(token="").exists()


def test_the_search_finds_values_when_dot_keeps_cleartext(client, settings):
    storage(settings, hashed=False)

    values = issue_and_use_tokens(client)

    found = columns_holding(values)
    assert (AccessToken._meta.db_table, "token") in found
    assert (RefreshToken._meta.db_table, "token") in found
    # Even then, token_admin's own tables hold none.
    assert [column for column in found if column[0].startswith("token_admin_")] == []
