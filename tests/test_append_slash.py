"""The catch-all patterns that give each URL module its own 404 leave ``APPEND_SLASH`` working:
``CommonMiddleware`` (in the test settings, as in the example project's) still redirects a path
that only lacks its trailing slash, at the contract's paths and under a prefix."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tests.factories import UserFactory
from tests.helpers import url

pytestmark = pytest.mark.django_db

PREFIXES = [
    pytest.param("", "tests.urls", id="at-the-root"),
    pytest.param("/api/v2", "tests.urls_host", id="under-api-v2"),
]

NOT_FOUND_PAGE = "There is no such session or app in your account."


@pytest.fixture
def signed_in(client):
    client.force_login(UserFactory())
    return client


@pytest.mark.parametrize(("prefix", "urlconf"), PREFIXES)
@pytest.mark.parametrize(
    ("path", "query"),
    [("/account/sessions", ""), ("/account/apps", "?from=menu"), ("/account/apps/some-client/remove", "")],
)
def test_an_account_page_without_its_slash_is_redirected(signed_in, prefix, urlconf, path, query):
    with override_settings(ROOT_URLCONF=urlconf):
        response = signed_in.get(prefix + path + query)

    assert response.status_code == 301
    assert response["Location"] == f"{prefix}{path}/{query}"


@pytest.mark.parametrize(("prefix", "urlconf"), PREFIXES)
@pytest.mark.parametrize("path", ["/account/nowhere", "/account/nowhere/", "/account/sessions/x/y"])
def test_any_other_account_path_is_still_the_pages_own_404(signed_in, prefix, urlconf, path):
    with override_settings(ROOT_URLCONF=urlconf):
        response = signed_in.get(prefix + path)

    assert response.status_code == 404
    assert NOT_FOUND_PAGE in response.content.decode()


@override_settings(APPEND_SLASH=False)
def test_without_append_slash_the_path_without_its_slash_is_the_pages_own_404(signed_in):
    response = signed_in.get(url("/account/sessions"))

    assert response.status_code == 404
    assert NOT_FOUND_PAGE in response.content.decode()


@pytest.mark.parametrize(("prefix", "urlconf"), PREFIXES)
def test_the_apis_unknown_paths_keep_their_own_json_404(client, prefix, urlconf):
    with override_settings(ROOT_URLCONF=urlconf):
        adn = client.get(prefix + "/stream/0/token/")
        manage = client.get(prefix + "/api/token-admin/nowhere")
        stackexchange = client.get(prefix + "/2.2/nowhere")
        # Not a redirect to access-tokens/ (an empty token list): Stack Exchange's paths take no
        # trailing slash, and the method is access-tokens/{tokens}.
        no_tokens = client.get(prefix + "/2.2/access-tokens")

    assert (adn.status_code, adn["Content-Type"]) == (404, "application/json")
    assert json.loads(adn.content)["meta"]["code"] == 404
    assert (manage.status_code, manage["Content-Type"]) == (404, "application/json")
    assert stackexchange.status_code == 400
    assert json.loads(stackexchange.content)["error_name"] == "no_method"
    assert no_tokens.status_code == 400
    assert json.loads(no_tokens.content)["error_name"] == "no_method"
