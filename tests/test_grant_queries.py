"""What token_admin adds to each token request, in SQL statements, against DOT alone.

Each test runs DOT's real token endpoint twice on the same kind of data: once as DOT alone
(token_admin's receivers disconnected, DOT's default validator) and once with token_admin
(receivers and ``TokenAdminOAuth2Validator``), and compares the statement counts measured
in that same run. README's table comes from these figures.
"""

from __future__ import annotations

import contextlib

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_application_model

from tests.factories import ApplicationFactory, AppProfileFactory, GrantFactory, UserFactory, issue_session
from tests.helpers import url
from token_admin import credentials, receivers
from token_admin.models import TokenSession

Application = get_application_model()

pytestmark = pytest.mark.django_db

DOT_VALIDATOR = "oauth2_provider.oauth2_validators.OAuth2Validator"


@pytest.fixture(autouse=True)
def _fresh_validator(fresh_validator):
    """Each request builds its validator (conftest's ``fresh_validator``)."""


def request_for(grant):
    """An app and the token request body of ``grant``, with its data in place."""
    user = UserFactory()
    if grant == "password":
        app = ApplicationFactory(authorization_grant_type=Application.GRANT_PASSWORD)
        data = {"grant_type": "password", "username": user.get_username(), "password": "password"}
    elif grant == "authorization_code":
        app = ApplicationFactory()
        code = GrantFactory(application=app, user=user)
        data = {"grant_type": "authorization_code", "code": code.code, "redirect_uri": code.redirect_uri}
    elif grant == "client_credentials":
        app = ApplicationFactory(authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS)
        data = {"grant_type": "client_credentials"}
    else:
        app = ApplicationFactory()
        _, refresh_token = issue_session(user, app)
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token.raw_token}
    return app, data


def token_request(client, grant):
    """Statements (SQL strings) of one successful token request of ``grant``, and sessions added."""
    app, data = request_for(grant)
    sessions_before = TokenSession.objects.count()
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            url("/o/token/"), {"client_id": app.client_id, "client_secret": app.raw_secret, **data}
        )
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return [query["sql"] for query in captured], TokenSession.objects.count() - sessions_before


@contextlib.contextmanager
def dot_alone(settings):
    token_admin_settings = settings.OAUTH2_PROVIDER
    settings.OAUTH2_PROVIDER = {**token_admin_settings, "OAUTH2_VALIDATOR_CLASS": DOT_VALIDATOR}
    receivers.disconnect()
    try:
        yield
    finally:
        receivers.connect()
        settings.OAUTH2_PROVIDER = token_admin_settings


def dot_alone_count(client, settings, grant):
    with dot_alone(settings):
        return len(token_request(client, grant)[0])


# A sign-in for a user reads the user's state under a shared lock on the user's row
# (``token_admin.credentials``): the lock, then the read, where the database has row locks;
# SQLite runs one write transaction at a time, so one plain read there.
SIGN_IN_CHECK = 1 if connection.vendor == "sqlite" else 2

# grant: statements token_admin adds
ADDED = {
    "password": 1 + SIGN_IN_CHECK,  # the family's session (one INSERT) and the sign-in check
    "authorization_code": 1 + SIGN_IN_CHECK,  # the family's session and the sign-in check
    "client_credentials": 1,  # the lone token's session (no user: no sign-in check)
    # The family's session exists; the revocation check uses DOT's lock; the not-before
    # watermarks are read once, under a shared lock, in DOT's transaction; the user's
    # ``is_active`` comes with DOT's own read of the refresh token's user.
    "refresh_token": 1,
}


@pytest.mark.parametrize("grant", list(ADDED))
def test_token_admin_adds_the_statements_its_checks_need_to_a_token_request(client, settings, grant):
    dot = dot_alone_count(client, settings, grant)
    added = ADDED[grant]

    statements, sessions_added = token_request(client, grant)

    assert len(statements) == dot + added
    session_writes = [sql for sql in statements if "token_admin_tokensession" in sql]
    watermark_reads = [
        sql
        for sql in statements
        if "token_admin_notbefore" in sql and "token_admin_credentialschange" not in sql
    ]
    user_reads = [sql for sql in statements if "token_admin_credentialschange" in sql]
    mint_lock = credentials.MINT_LOCK.get(connection.vendor, "-")
    user_table = connection.ops.quote_name(get_user_model()._meta.db_table)
    user_locks = [
        sql for sql in statements if sql.endswith(mint_lock) and sql.startswith(f"SELECT {user_table}.")
    ]
    signs_in = grant in ("password", "authorization_code")
    assert len(session_writes) + len(watermark_reads) + len(user_reads) + len(user_locks) == added
    assert len(watermark_reads) == (grant == "refresh_token")
    assert len(user_reads) == signs_in
    assert len(user_locks) == (signs_in and SIGN_IN_CHECK == 2)
    assert all(sql.startswith("INSERT") for sql in session_writes)
    # Bookkeeping done: one more session for a new token, none for a rotation.
    assert sessions_added == len(session_writes)


def test_client_credentials_of_a_client_credentials_app_reads_no_profile(client):
    statements, _ = token_request(client, "client_credentials")

    assert not [sql for sql in statements if "token_admin_appprofile" in sql]


def test_an_app_token_for_another_grant_type_costs_the_profile_lookup(client):
    app = AppProfileFactory(allow_app_token=True).application

    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            url("/o/token/"),
            {"client_id": app.client_id, "client_secret": app.raw_secret, "grant_type": "client_credentials"},
        )

    assert response.status_code == 200, response.content
    assert len([query for query in captured if "token_admin_appprofile" in query["sql"]]) == 1


@pytest.mark.parametrize("grant,added", [("password", 2), ("client_credentials", 1), ("refresh_token", 0)])
def test_with_dots_validator_a_new_pair_costs_an_insert_and_an_update(client, settings, grant, added):
    # Without TokenAdminOAuth2Validator nothing says a refresh token follows the access
    # token: its lone session is inserted, then re-keyed onto the family.
    dot = dot_alone_count(client, settings, grant)
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OAUTH2_VALIDATOR_CLASS": DOT_VALIDATOR}

    statements, sessions_added = token_request(client, grant)

    assert len(statements) == dot + added
    assert sessions_added == (grant != "refresh_token")
    assert not [sql for sql in statements if "token_admin_appprofile" in sql]
