"""The OpenAPI schema (/api/schema/) and docs page (/api/docs/) of the three API styles.

The schema is checked for OpenAPI 3 validity, and against what the endpoints really send: for every
documented (path, method, status), real requests get that status and a body that validates against
its schema with no undocumented key (objects are closed unless the schema says otherwise), and carry
only documented API headers. Each style's test also fails if a documented response goes unexercised.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import textwrap
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import jsonschema
import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import include, path
from drf_spectacular.validation import validate_schema
from rest_framework.response import Response
from rest_framework.schemas.openapi import AutoSchema as DRFAutoSchema
from rest_framework.views import APIView

import token_admin
from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    AppProfileFactory,
    DeviceFactory,
    UserFactory,
    issue_session,
)
from tests.helpers import basic, bearer, url
from token_admin import queries, ratelimit
from token_admin.api.adn import views as adn_views
from token_admin.api.end_user import views as end_user_views
from token_admin.models import TokenSession

pytestmark = pytest.mark.django_db

OPERATIONS = {
    (url("/stream/0/token"), "get"): "adn_token_get",
    (url("/stream/0/token"), "delete"): "adn_token_delete",
    (url("/stream/0/apps/me/tokens/user_ids"), "get"): "adn_app_token_user_ids_get",
    (url("/stream/0/apps/me/tokens"), "get"): "adn_app_tokens_get",
    (url("/2.2/access-tokens/{access_tokens}"), "get"): "se_access_tokens_get",
    (url("/2.2/access-tokens/{access_tokens}/invalidate"), "get"): "se_invalidate_get",
    (url("/2.2/apps/{access_tokens}/de-authenticate"), "get"): "se_deauthenticate_get",
    (url("/oauth/api/v1/users/{user_id}/tokens"), "get"): "end_user_user_tokens_get",
    (url("/oauth/api/v1/users/{user_id}/tokens/{token_id}"), "delete"): "end_user_user_token_delete",
}
# The staff resource API and the "me" API (token_admin.api.manage), mounted at /api/token-admin/.
MANAGE_OPERATIONS = {
    (url("/api/token-admin/access-tokens"), "get"): "manage_access_tokens_list",
    (url("/api/token-admin/access-tokens/{id}"), "get"): "manage_access_tokens_retrieve",
    (url("/api/token-admin/applications"), "get"): "manage_applications_list",
    (url("/api/token-admin/applications/{id}"), "get"): "manage_applications_retrieve",
    (url("/api/token-admin/applications/{id}/revoke"), "post"): "manage_applications_revoke",
    (url("/api/token-admin/devices"), "get"): "manage_devices_list",
    (url("/api/token-admin/devices/{id}"), "get"): "manage_devices_retrieve",
    (url("/api/token-admin/revocation-events"), "get"): "manage_revocation_events_list",
    (url("/api/token-admin/revocation-events/{id}"), "get"): "manage_revocation_events_retrieve",
    (url("/api/token-admin/revocations"), "post"): "manage_revocations_create",
    (url("/api/token-admin/sessions"), "get"): "manage_sessions_list",
    (url("/api/token-admin/sessions/{id}"), "get"): "manage_sessions_retrieve",
    (url("/api/token-admin/sessions/{id}/revoke"), "post"): "manage_sessions_revoke",
    (url("/api/token-admin/users/{id}/revoke"), "post"): "manage_users_revoke",
    (url("/api/token-admin/me/apps"), "get"): "me_apps_list",
    (url("/api/token-admin/me/apps/{id}/revoke"), "post"): "me_apps_revoke",
    (url("/api/token-admin/me/devices"), "get"): "me_devices_list",
    (url("/api/token-admin/me/devices/{id}/revoke"), "post"): "me_devices_revoke",
    (url("/api/token-admin/me/sessions"), "get"): "me_sessions_list",
    (url("/api/token-admin/me/sessions/{id}/revoke"), "post"): "me_sessions_revoke",
    (url("/api/token-admin/me/sign-out"), "post"): "me_sign_out_create",
}
# Headers that are part of an API's contract: a response may only carry those its schema documents.
API_HEADERS = {
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-oauth-scopes",
    "retry-after",
    "www-authenticate",
    "cache-control",
    "pragma",
}


def fetch_schema(client: Client) -> dict[str, Any]:
    response = client.get(url("/api/schema/"), {"format": "json"})
    assert response.status_code == 200, response.content
    return json.loads(response.content)


@pytest.fixture
def schema(client):
    return fetch_schema(client)


def closed(node: Any) -> Any:
    """A copy of a schema in which every object without ``additionalProperties`` allows no other key."""
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: closed(value) for key, value in node.items()}
    if "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result


class Conformance:
    """Checks real responses against the schema and records which documented responses were seen."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.components = closed(schema["components"])
        self.seen: set[tuple[str, str, str]] = set()

    def validate(self, body: Any, body_schema: dict[str, Any]) -> None:
        # OpenAPI 3.0 schema objects are (close to) JSON Schema draft 4; $refs point into components.
        root = {"components": self.components, "allOf": [closed(body_schema)]}
        jsonschema.Draft4Validator(root, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(
            body
        )

    def check(self, response: Any, method: str, template: str, status: int) -> Any:
        """Assert ``response`` has ``status`` and is what the schema documents for it; return its JSON."""
        assert response.status_code == status, (method, template, response.status_code, response.content)
        documented = self.schema["paths"][template][method]["responses"]
        assert str(status) in documented, f"{method} {template}: {status} is not documented"
        spec = documented[str(status)]
        self.seen.add((template, method, str(status)))

        headers = {name.lower() for name in spec.get("headers", {})}
        sent = {name.lower() for name in response.headers} & API_HEADERS
        assert sent <= headers, f"{method} {template} {status}: undocumented headers {sent - headers}"

        if "content" not in spec:
            assert response.content == b""
            return None
        media_type = response["Content-Type"].partition(";")[0].strip()
        assert media_type in spec["content"]
        body = json.loads(response.content)
        self.validate(body, spec["content"][media_type]["schema"])
        return body

    def assert_all_seen(self, prefix: str) -> None:
        documented = {
            (template, method, status)
            for template, operations in self.schema["paths"].items()
            if template.startswith(prefix)
            for method, operation in operations.items()
            for status in operation["responses"]
        }
        assert documented - self.seen == set(), "documented but never seen"


@pytest.fixture
def conformance(schema):
    return Conformance(schema)


@pytest.fixture
def api_client():
    # The App.net style reports a 500 to Django's listeners as Django does; answer it, do not raise.
    return Client(raise_request_exception=False)


def failing(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("boom")


# --- the schema itself ----------------------------------------------------------------------


def test_schema_is_valid_openapi_3(schema):
    validate_schema(schema)  # drf-spectacular's check against the OpenAPI 3.0 JSON schema
    assert schema["openapi"].startswith("3.0")
    assert schema["info"]["title"] == "django-token-admin"
    assert schema["info"]["version"] == token_admin.__version__


def test_schema_is_yaml_by_default(client, schema):
    response = client.get(url("/api/schema/"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(response.content) == schema


def test_spectacular_command_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"]


def test_schema_has_the_operations_of_the_three_styles_and_the_resource_apis_and_nothing_else(schema):
    operations = {
        (template, method): operation["operationId"]
        for template, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert operations == {**OPERATIONS, **MANAGE_OPERATIONS}
    tags = {schema["paths"][template][method]["tags"][0] for template, method in OPERATIONS}
    assert tags == {"App.net style", "Stack Exchange style", "End-user token API"}
    tags = {schema["paths"][template][method]["tags"][0] for template, method in MANAGE_OPERATIONS}
    assert tags == {"Staff resource API", "Me API"}


def test_security_schemes(schema):
    assert schema["components"]["securitySchemes"] == {
        "adnBearer": {"type": "http", "scheme": "bearer", "description": ANY},
        "adnAccessTokenQuery": {
            "type": "apiKey",
            "in": "query",
            "name": "access_token",
            "description": ANY,
        },
        "endUserApiClient": {"type": "http", "scheme": "basic", "description": ANY},
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        "tokenAdminOAuth2": {
            "type": "oauth2",
            "description": ANY,
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": url("/o/authorize/"),
                    "tokenUrl": url("/o/token/"),
                    "scopes": {"token_admin:read": ANY, "token_admin:revoke": ANY, "token_admin:me": ANY},
                }
            },
        },
    }
    paths = schema["paths"]
    # App.net: the header or the query parameter; Stack Exchange: none; end-user: HTTP Basic.
    assert paths[url("/stream/0/token")]["get"]["security"] == [
        {"adnBearer": []},
        {"adnAccessTokenQuery": []},
    ]
    assert paths[url("/2.2/access-tokens/{access_tokens}")]["get"]["security"] == [{}]
    assert paths[url("/oauth/api/v1/users/{user_id}/tokens")]["get"]["security"] == [{"endUserApiClient": []}]
    # The resource APIs: a session, or a bearer token with the operation's scope.
    assert paths[url("/api/token-admin/sessions")]["get"]["security"] == [
        {"tokenAdminOAuth2": ["token_admin:read"]},
        {"cookieAuth": []},
    ]
    assert paths[url("/api/token-admin/revocations")]["post"]["security"] == [
        {"tokenAdminOAuth2": ["token_admin:revoke"]},
        {"cookieAuth": []},
    ]
    assert paths[url("/api/token-admin/me/sign-out")]["post"]["security"] == [
        {"tokenAdminOAuth2": ["token_admin:me"]},
        {"cookieAuth": []},
    ]


def test_parameters(schema):
    def parameters(template, method):
        return {(p["in"], p["name"]): p for p in schema["paths"][template][method]["parameters"]}

    adn = parameters(url("/stream/0/apps/me/tokens"), "get")
    assert set(adn) == {
        ("header", "X-ADN-Pretty-JSON"),
        ("query", "count"),
        ("query", "before_id"),
        ("query", "since_id"),
    }
    assert adn["query", "count"]["schema"] == {
        "type": "integer",
        "minimum": -200,
        "maximum": 200,
        "not": {"enum": [0]},
    }
    se = parameters(url("/2.2/apps/{access_tokens}/de-authenticate"), "get")
    assert set(se) == {
        ("path", "access_tokens"),
        ("query", "page"),
        ("query", "pagesize"),
        ("query", "filter"),
        ("query", "key"),
    }
    assert se["query", "filter"]["schema"]["enum"] == ["default", "none", "total", "withbody"]
    assert se["query", "pagesize"]["schema"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
        "default": 30,
    }
    # Ten digits at most, as the view parses it: a longer page number is a bad_parameter.
    assert se["query", "page"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 9_999_999_999,
        "default": 1,
    }
    end_user = parameters(url("/oauth/api/v1/users/{user_id}/tokens/{token_id}"), "delete")
    assert set(end_user) == {("path", "user_id"), ("path", "token_id")}


def test_every_example_matches_its_schema(schema, conformance):
    count = 0
    for methods in schema["paths"].values():
        for operation in methods.values():
            for spec in operation["responses"].values():
                for content in spec.get("content", {}).values():
                    for example in content.get("examples", {}).values():
                        conformance.validate(example["value"], content["schema"])
                        count += 1
    assert count >= 10


# --- App.net style ----------------------------------------------------------------------------


def user_hook(user):
    return {"description": {"text": "Hello"}, "counts": {"followers": 3}}


def token_hook(token):
    return {
        "limits": {"following": 40, "max_file_size": 10_000},
        "storage": {"available": 5, "used": 1},
        "invite_link": "https://example.com/i/1",
    }


@override_settings(
    TOKEN_ADMIN={"ADN_RATE_LIMIT": 2, "ADN_USER_HOOK": user_hook, "ADN_TOKEN_HOOK": token_hook}
)
def test_app_net_style_responses_match_the_schema(api_client, conformance, monkeypatch):
    monkeypatch.setattr(adn_views, "hit", functools.partial(ratelimit.hit, now=1200.0))
    app = AppProfileFactory(link="https://app.example.com/").application
    user = UserFactory()
    AccessTokenFactory(user=UserFactory(), application=app)  # another user of the app, listed

    def call(method, template, token=None, expected=200, path=None, **params):
        headers = bearer(token) if token is not None else {}
        response = getattr(api_client, method)(path or template, params, **headers)
        return conformance.check(response, method, template, expected)

    def user_token():
        return AccessTokenFactory(user=user, application=app, scope="basic stream")

    def app_token():
        return AccessTokenFactory(user=None, application=app, scope="")

    token = url("/stream/0/token")
    user_ids = url("/stream/0/apps/me/tokens/user_ids")
    tokens = url("/stream/0/apps/me/tokens")

    # GET token: user token (with every hook key), app token, the token as a query parameter.
    body = call("get", token, user_token())
    assert {"user", "limits", "storage", "invite_link"} <= set(body["data"])
    assert body["data"]["user"]["counts"] == {"followers": 3}  # the hook's keys: the User object is open
    assert "user" not in call("get", token, app_token())["data"]
    call("get", token, path=token, access_token=user_token().raw_token)
    # DELETE token, then the same token again.
    revoked = user_token()
    call("delete", token, revoked)
    call("delete", token, revoked, expected=401)

    for method, template in (("get", token), ("delete", token), ("get", user_ids), ("get", tokens)):
        call(method, template, expected=401)  # no token
        expired = AccessTokenFactory(application=app, expired=True)
        call(method, template, expired, expected=401)
        limited = app_token()  # two requests of ADN_RATE_LIMIT, then one too many
        call("get", user_ids, limited)
        call("get", user_ids, limited)
        # Revoking is never refused by the rate limit (a thief who burns it must not stop the owner).
        call(method, template, limited, expected=200 if method == "delete" else 429)

    call("get", user_ids, app_token())
    call("get", user_ids, user_token(), expected=403)
    # One token per page (more: true), then a page past the end (no min_id/max_id).
    page = call("get", tokens, app_token(), count="1")
    assert page["meta"]["more"] is True and "min_id" in page["meta"]
    assert "min_id" not in call("get", tokens, app_token(), since_id=str(2**62))["meta"]
    call("get", tokens, app_token(), expected=400, count="abc")
    call("get", tokens, user_token(), expected=403)

    monkeypatch.setattr(adn_views, "token_object", failing)
    call("get", token, user_token(), expected=500)
    call("delete", token, user_token(), expected=500)
    monkeypatch.setattr(queries, "app_user_ids", failing)
    call("get", user_ids, app_token(), expected=500)
    monkeypatch.setattr(queries, "app_user_tokens", failing)
    call("get", tokens, app_token(), expected=500)

    conformance.assert_all_seen(url("/stream/0/"))


# --- Stack Exchange style ---------------------------------------------------------------------


@override_settings(TOKEN_ADMIN={"SE_QUOTA_MAX": 1000})
def test_stack_exchange_style_responses_match_the_schema(api_client, conformance, monkeypatch):
    # A frozen clock: the quota window cannot turn over in the middle of the test.
    monkeypatch.setattr(ratelimit, "hit", functools.partial(ratelimit.hit, now=1200.0))
    templates = {
        url("/2.2/access-tokens/{access_tokens}"): url("/2.2/access-tokens/{}"),
        url("/2.2/access-tokens/{access_tokens}/invalidate"): url("/2.2/access-tokens/{}/invalidate"),
        url("/2.2/apps/{access_tokens}/de-authenticate"): url("/2.2/apps/{}/de-authenticate"),
    }

    def call(template, tokens, status=200, remote="10.0.0.1", **params):
        path = templates[template].format(";".join(tokens))
        return conformance.check(api_client.get(path, params, REMOTE_ADDR=remote), "get", template, status)

    for number, template in enumerate(templates):
        user_token = AccessTokenFactory(scope="basic stream")
        app_token = AccessTokenFactory(user=None, scope="")  # no account_id, no scope
        body = call(template, [user_token.raw_token, app_token.raw_token, "unknown"], filter="total")
        assert body["total"] == 2
        assert call(template, [AccessTokenFactory().raw_token], filter="none")["items"] == []
        assert call(template, ["a"], status=400, page="0")["error_name"] == "bad_parameter"
        assert call(template, [f"t{i}" for i in range(21)], status=400)["error_message"] == "accessTokens"
        with override_settings(TOKEN_ADMIN={"SE_QUOTA_MAX": 1}):
            # The last request of the quota carries backoff; the next read is a throttle_violation,
            # while a revoking method still revokes (the quota never stops a revocation).
            assert "backoff" in call(template, [AccessTokenFactory().raw_token], remote=f"10.1.0.{number}")
            if template.endswith("{access_tokens}"):
                error = call(template, ["x"], status=400, remote=f"10.1.0.{number}")
                assert error["error_name"] == "throttle_violation"
            else:
                assert call(template, ["x"], remote=f"10.1.0.{number}")["quota_remaining"] == 0

    monkeypatch.setattr(queries, "tokens_by_raw", failing)
    for template in templates:
        assert call(template, ["x"], status=400)["error_name"] == "internal_error"

    conformance.assert_all_seen(url("/2.2/"))


# --- end-user token API -----------------------------------------------------------------------


def test_end_user_api_responses_match_the_schema(api_client, conformance, monkeypatch, settings):
    client_app = ApplicationFactory(api_client=True)
    user = UserFactory()
    issue_session(user, ApplicationFactory())
    issue_session(user, ApplicationFactory(), expires_in=timedelta(seconds=-1))  # expired, refreshable
    on_device, _ = issue_session(user, ApplicationFactory())
    TokenSession.objects.filter(application=on_device.application).update(
        device=DeviceFactory(user=user, name="iPad")
    )
    listing = url("/oauth/api/v1/users/{user_id}/tokens")
    revoke = url("/oauth/api/v1/users/{user_id}/tokens/{token_id}")

    def call(method, template, expected, headers=None, **kwargs):
        path = template.format(**kwargs)
        response = getattr(api_client, method)(path, **(basic(client_app) if headers is None else headers))
        return conformance.check(response, method, template, expected)

    entries = call("get", listing, 200, user_id=user.pk)["tokens"]
    assert any("device_name" in entry for entry in entries)
    assert any(entry["expired"] for entry in entries)
    assert call("get", listing, 404, user_id="nobody") == {"error": "No tokens found"}
    call("delete", revoke, 204, user_id=user.pk, token_id=entries[0]["id"])
    call("delete", revoke, 204, user_id=user.pk, token_id="not-a-uuid")
    for method, template in (("get", listing), ("delete", revoke)):
        ids = {"user_id": user.pk, "token_id": uuid.uuid4()}
        call(method, template, 401, headers={}, **ids)
        call(
            method,
            template,
            403,
            headers=basic(ApplicationFactory(api_client=True, profile__end_user_api=False)),
            **ids,
        )

    # Too many parameters, a body over the limit, too many failed authentications.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    many = "&".join(f"p{n}=1" for n in range(1001))
    for method, template in (("get", listing), ("delete", revoke)):
        path = template.format(user_id=user.pk, token_id=uuid.uuid4())
        for args, status in (((f"{path}?{many}",), 400), ((path, "x" * 200, "text/plain"), 413)):
            response = api_client.generic(method.upper(), *args, **basic(client_app))
            conformance.check(response, method, template, status)
    settings.TOKEN_ADMIN = {"END_USER_AUTH_FAILURES_PER_IP": 1}
    wrong = basic("nobody", "wrong")
    call("get", listing, 401, headers=wrong, user_id=user.pk)
    call("get", listing, 429, headers=wrong, user_id=user.pk)
    call("delete", revoke, 429, headers=wrong, user_id=user.pk, token_id=uuid.uuid4())
    settings.TOKEN_ADMIN = {}

    monkeypatch.setattr(end_user_views, "end_user_sessions", failing)
    call("get", listing, 500, user_id=user.pk)
    monkeypatch.setattr(end_user_views, "revoke", failing)
    call("delete", revoke, 500, user_id=user.pk, token_id=entries[1]["id"])

    conformance.assert_all_seen(url("/oauth/api/v1/"))


# --- the docs page ---------------------------------------------------------------------------


def schema_url(html: str) -> str:
    """The schema URL the Swagger UI page loads (a JavaScript string, escaped by ``escapejs``)."""
    match = re.search(r'url: "([^"]*)"', html)
    assert match
    return json.loads(f'"{match.group(1)}"')


def test_docs_page_uses_only_local_files(client):
    response = client.get(url("/api/docs/"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert not re.search(r"https?://|//cdn", html), "the page must not load anything from the internet"
    assert schema_url(html) == url("/api/schema/")
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 4  # favicon, stylesheet, bundle, standalone preset
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/")
        assert finders.find(asset.removeprefix("/static/")), asset
    assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io


# --- the package's schema view in another project ---------------------------------------------


class ForeignView(APIView):
    """A project's own view, documented (if at all) by DRF's own schema class."""

    schema = DRFAutoSchema()

    def get(self, request):
        return Response({})


urlpatterns = [
    path("elsewhere/", ForeignView.as_view()),
    path("adn/", include("token_admin.api.adn.urls")),
    path("se/", include("token_admin.api.stackexchange.urls")),
    path("users-api/", include("token_admin.api.end_user.urls")),
    path("token-docs/", include("token_admin.api.schema_urls")),
]


def test_package_schema_view_documents_token_admin_wherever_it_is_mounted(client):
    # A project that does not use drf-spectacular itself: DRF's default schema class.
    rest_framework = {k: v for k, v in settings.REST_FRAMEWORK.items() if k != "DEFAULT_SCHEMA_CLASS"}
    with override_settings(ROOT_URLCONF=__name__, REST_FRAMEWORK=rest_framework):
        check_mounted_elsewhere(client)


def check_mounted_elsewhere(client):
    response = client.get("/token-docs/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    # Only token_admin's operations, under this project's prefixes, with the same operation ids.
    operation_ids = {
        operation["operationId"]: template
        for template, methods in schema["paths"].items()
        for operation in methods.values()
    }
    assert set(operation_ids) == set(OPERATIONS.values())
    assert operation_ids["adn_token_get"] == "/adn/token"
    assert operation_ids["se_invalidate_get"] == "/se/access-tokens/{access_tokens}/invalidate"
    assert schema["info"]["title"] == "django-token-admin"
    assert schema["info"]["version"] == token_admin.__version__
    docs = client.get("/token-docs/docs/").content.decode()
    assert schema_url(docs) == "/token-docs/schema/"
    assert "drf_spectacular_sidecar" in docs


# --- without the "openapi" extra ----------------------------------------------------------------

WITHOUT_SPECTACULAR = """
import sys
sys.modules["drf_spectacular"] = sys.modules["drf_spectacular_sidecar"] = None  # not installed
import django
from django.conf import settings
from tests import settings as test_settings
conf = {name: getattr(test_settings, name) for name in dir(test_settings) if name.isupper()}
conf.pop("SPECTACULAR_SETTINGS")
conf["INSTALLED_APPS"] = [app for app in conf["INSTALLED_APPS"] if not app.startswith("drf_spectacular")]
conf["REST_FRAMEWORK"] = {k: v for k, v in conf["REST_FRAMEWORK"].items() if k != "DEFAULT_SCHEMA_CLASS"}
conf["DATABASES"] = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
conf["ROOT_URLCONF"] = "token_admin.api.stackexchange.urls"
settings.configure(**conf)
django.setup()
import token_admin.api.adn.views, token_admin.api.end_user.views
from django.test import Client
response = Client().get("/access-tokens/")
print(response.status_code, response.json()["error_message"])
"""


def test_the_api_styles_work_without_drf_spectacular():
    # A fresh interpreter: this one has drf-spectacular imported already.
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_SPECTACULAR)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["400", "accessTokens"]
