"""Schemathesis against the OpenAPI schema at ``/api/schema/``: every operation of the three styles.

Whatever the fuzzer sends, no answer is a 5xx, every error is in its style's own format, and
every answer matches the schema. Every other example carries valid credentials (fresh
tokens, the API client's secret, a real user and session id), so the fuzzer reaches past
authentication into parameter parsing, paging and revocation; the rest keep what the fuzzer
generated. Bounded and derandomized: the same examples on every run.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection, unsupported_method

from tests.factories import AccessTokenFactory, AppProfileFactory, UserFactory, issue_session
from token_admin.models import Session

pytestmark = pytest.mark.django_db

END_USER_HEADERS = {
    "Content-Type": "application/json;charset=UTF-8",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Calls go straight to the WSGI app, so Django would close the connection after each one
    (``close_old_connections``), and with it the test's transaction; Django's own test client
    holds these receivers back the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeds() -> dict[str, Any]:
    user = UserFactory()
    app = AppProfileFactory(allow_app_token=True).application
    issue_session(user, app)
    api_client = AppProfileFactory(end_user_api=True).application
    credentials = f"{api_client.client_id}:{api_client.raw_secret}".encode()
    return {
        "user": user,
        "app": app,
        "basic": "Basic " + base64.b64encode(credentials).decode(),
        # Alternate between seeded and purely generated examples, the same way on every run.
        "turn": itertools.count(),
    }


def targets_a_header(case: Any) -> bool:
    """Whether schemathesis made this example to probe one header (say, Authorization left out)."""
    data = case.meta.phase.data if case.meta is not None else None
    return getattr(data, "parameter_location", None) == ParameterLocation.HEADER


def seed(case: Any, seeds: dict[str, Any]) -> bool:
    """Put valid credentials (and ids) into every other example; the fuzzer keeps the rest."""
    if next(seeds["turn"]) % 2 or targets_a_header(case):
        return False
    user, app = seeds["user"], seeds["app"]
    path = case.operation.path
    headers = case.headers if case.headers is not None else {}
    if path.startswith("/stream/0/"):
        # A fresh token each time: DELETE token revokes the one it is given.
        owner = None if path.startswith("/stream/0/apps/me/") else user
        headers["Authorization"] = f"Bearer {AccessTokenFactory(user=owner, application=app).raw_token}"
    elif path.startswith("/2.2/"):
        fresh = AccessTokenFactory(user=user, application=app).raw_token
        generated = case.path_parameters.get("access_tokens", "")
        case.path_parameters["access_tokens"] = f"{fresh};{generated}" if generated else fresh
    elif path.startswith("/oauth/api/v1/"):
        headers["Authorization"] = seeds["basic"]
        issue_session(user, app)  # something to list, and to delete
        case.path_parameters["user_id"] = str(user.pk)
        if "token_id" in case.path_parameters:
            session = Session.objects.filter(user=user).order_by("-pk").first()
            case.path_parameters["token_id"] = str(session.public_id)
    case.headers = headers
    return True


def check_style(path: str, status: int, headers: Any, content: bytes) -> None:
    """The style's own error format, and no 5xx."""
    assert status < 500, content
    body = json.loads(content) if content else None
    if path.startswith("/stream/0/"):
        assert body["meta"]["code"] == status
        if status >= 400:
            assert "data" not in body
            assert isinstance(body["meta"]["error_message"], str)
        else:
            assert "data" in body
    elif path.startswith("/2.2/"):
        if status != 200:
            assert status == 400
            assert list(body) == ["error_id", "error_name", "error_message"]
    elif path.startswith("/oauth/api/v1/"):
        # Schemathesis gives header names in lower case, each with a list of values.
        assert {name: headers.get(name.lower()) for name in END_USER_HEADERS} == {
            name: [value] for name, value in END_USER_HEADERS.items()
        }
        if status >= 400:
            assert set(body) in ({"code", "message"}, {"error"}), body
    else:
        raise AssertionError(f"an operation outside the three styles: {path}")


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    # The database fixture is set up once per operation; examples add rows, which is harmless here.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzz(case, seeds):
    seeded = seed(case, seeds)

    response = case.call()

    check_style(case.operation.path, response.status_code, response.headers, response.content)
    # Schemathesis' checks, less those the contract answers otherwise: the styles ignore query
    # parameters they do not know (as the real APIs do); the Stack Exchange style answers every
    # error, an unknown HTTP method included, with HTTP 400 (``no_method``) rather than 405; and
    # seeded credentials are valid, where ignored_auth takes any credentials it did not make
    # for invalid ones (it still runs on the examples left as generated).
    excluded = [negative_data_rejection]
    if case.operation.path.startswith("/2.2/"):
        excluded.append(unsupported_method)
    if seeded:
        excluded.append(ignored_auth)
    case.validate_response(response, excluded_checks=excluded)
