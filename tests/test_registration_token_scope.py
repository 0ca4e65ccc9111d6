"""A DCR registration token works at DOT's client configuration endpoint and nowhere else.

DOT's ``/o/register/<client_id>/`` authenticates the token itself; every other view that asks
the validator (DOT's protected views, DRF's OAuth2Authentication) and the App.net style
refuse it as an invalid token, for the price of DOT's own single query.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import path
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.views import ProtectedResourceView, ScopedProtectedResourceView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from tests.factories import AccessTokenFactory, UserFactory
from tests.helpers import bearer, translated
from tests.urls import urlpatterns as token_admin_urlpatterns

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


class Protected(ProtectedResourceView):
    def get(self, request):
        return HttpResponse(f"hello {request.resource_owner.get_username()}")


class ScopedProtected(ScopedProtectedResourceView):
    required_scopes = ["basic"]

    def get(self, request):
        return HttpResponse("scoped")


class DRFProtected(APIView):
    authentication_classes = [OAuth2Authentication]
    permission_classes = [IsAuthenticated]

    def get_exception_handler(self):
        return exception_handler  # DRF's own errors, whatever the project's EXCEPTION_HANDLER

    def get(self, request):
        return Response({"user": request.user.get_username()})


urlpatterns = [
    path("protected/", Protected.as_view()),
    path("scoped/", ScopedProtected.as_view()),
    path("drf/", DRFProtected.as_view()),
    *token_admin_urlpatterns,
]


def answer(response):
    """What a client sees: status, body and the authentication challenge, if any."""
    return response.status_code, response.content, response.get("WWW-Authenticate")


@pytest.fixture
def registered(client):
    """A client registered through DOT's real POST /o/register/, and its registration token."""
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        "/o/register/",
        json.dumps({"client_name": "Ada's iPad", "redirect_uris": ["https://ipad.example.com/cb"]}),
        content_type="application/json",
    )
    client.logout()
    assert response.status_code == 201, response.content
    body = response.json()
    return user, body["client_id"], body["registration_access_token"]


def test_the_registration_token_manages_its_client(client, registered):
    _, client_id, raw = registered

    response = client.get(f"/o/register/{client_id}/", **bearer(raw))

    assert response.status_code == 200, response.content
    assert response.json()["client_id"] == client_id
    assert response.json()["client_name"] == "Ada's iPad"


@pytest.mark.parametrize("url", ["/protected/", "/scoped/"])
def test_dots_protected_views_refuse_it_as_an_invalid_token(client, registered, url):
    user, _, raw = registered
    token = AccessTokenFactory(user=user, scope="basic")
    assert client.get(url, **bearer(token.raw_token)).status_code == 200

    response = client.get(url, **bearer(raw))

    # Exactly what a token that does not exist gets.
    assert answer(response) == answer(client.get(url, **bearer("no-such-token"))) == (403, b"", None)


def test_drf_oauth2_authentication_refuses_it(client, registered):
    user, _, raw = registered
    token = AccessTokenFactory(user=user)
    ok = client.get("/drf/", **bearer(token.raw_token))
    assert (ok.status_code, ok.json()) == (200, {"user": user.get_username()})

    response = client.get("/drf/", **bearer(raw))

    assert answer(response) == answer(client.get("/drf/", **bearer("no-such-token")))
    assert response.status_code == 401
    assert response.json() == {"detail": translated("Authentication credentials were not provided.")}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api",error="invalid_token",error_description="The access token is invalid."'
    )


def test_the_app_net_token_endpoint_refuses_it(client, registered):
    _, _, raw = registered

    response = client.get("/stream/0/token", **bearer(raw))

    assert response.status_code == 401
    assert response.json()["meta"]["error_slug"] == "invalid-token"


def test_refusing_it_costs_no_query_of_its_own(client, registered):
    user, _, raw = registered
    token = AccessTokenFactory(user=user)
    client.get("/protected/", **bearer(token.raw_token))  # caches the watermarks, writes its activity

    with CaptureQueriesContext(connection) as accepted:
        client.get("/protected/", **bearer(token.raw_token))
    with CaptureQueriesContext(connection) as refused:
        client.get("/protected/", **bearer(raw))

    assert len(refused) == len(accepted) == 1
