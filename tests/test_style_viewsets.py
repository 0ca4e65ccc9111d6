"""The three styles as viewsets: an integrator subclasses one to narrow what it reads or who may
call it, mounts the subclass with the style's ``urls.routes()``, and the contract still holds."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import include, path, reverse
from oauth2_provider.models import get_refresh_token_model
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    AppProfileFactory,
    UserFactory,
    issue_session,
)
from tests.helpers import translated, url
from token_admin.api.adn import urls as adn_urls
from token_admin.api.adn.views import AppTokenViewSet, TokenViewSet
from token_admin.api.end_user import urls as end_user_urls
from token_admin.api.end_user.authentication import IsEndUserAPIClient
from token_admin.api.end_user.views import UserTokenViewSet
from token_admin.api.stackexchange import urls as stackexchange_urls
from token_admin.api.stackexchange.views import AccessTokenViewSet
from token_admin.models import RevocationEvent, TokenSession

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

RefreshToken = get_refresh_token_model()

FORBIDDEN = {
    "code": "insufficient_permissions",
    "message": (
        "The API client used to authenticate the request does not allow operations on the End User API."
    ),
}


# What an integrator writes (the README shows the first one).


class MobileUserTokens(UserTokenViewSet):
    """The end-user API, for the sessions of the mobile app only."""

    def get_queryset(self):
        return super().get_queryset().filter(application__name="Mobile")


class SupportDeskOnly(IsEndUserAPIClient):
    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.auth.name == "Support desk"


class SupportDeskUserTokens(UserTokenViewSet):
    permission_classes = [SupportDeskOnly]


class StreamScopedAppTokens(AppTokenViewSet):
    """``apps/me/tokens`` listing only the tokens with the ``stream`` scope."""

    def get_queryset(self):
        return super().get_queryset().filter(scope__contains="stream")


class UserTokensOnly(BasePermission):
    """Only user tokens may call (App.net: the calling token is ``request.auth``)."""

    def has_permission(self, request, view):
        return request.auth.user_id is not None


class UserTokenOnlyTokens(TokenViewSet):
    permission_classes = [UserTokensOnly]


class NoInvalidation(BasePermission):
    """Stack Exchange methods that only read."""

    def has_permission(self, request, view):
        return view.action != "invalidate"


class ReadOnlyAccessTokens(AccessTokenViewSet):
    permission_classes = [NoInvalidation]


class PlainView(APIView):
    """A project's own DRF view, answered by the project's exception handler."""

    def get(self, request):
        raise NotFound()


def project_exception_handler(exc, context):
    return Response({"project": True}, status=418)


urlpatterns = [
    path("mobile/", include((end_user_urls.routes(MobileUserTokens), "mobile"))),
    path("desk/", include((end_user_urls.routes(SupportDeskUserTokens), "desk"))),
    path("scoped/", include((adn_urls.routes(app_tokens=StreamScopedAppTokens), "scoped"))),
    path("users-only/", include((adn_urls.routes(token=UserTokenOnlyTokens), "users-only"))),
    path("read-only/", include((stackexchange_urls.routes(access_tokens=ReadOnlyAccessTokens), "read-only"))),
    path("stream/0/", include("token_admin.api.adn.urls")),
    path("2.2/", include("token_admin.api.stackexchange.urls")),
    path("oauth/api/v1/", include("token_admin.api.end_user.urls")),
    path("plain/", PlainView.as_view()),
]


def basic(application) -> str:
    return "Basic " + base64.b64encode(f"{application.client_id}:{application.raw_secret}".encode()).decode()


def api_client(name: str):
    application = ApplicationFactory(
        name=name, authorization_grant_type="client-credentials", redirect_uris=""
    )
    AppProfileFactory(application=application, end_user_api=True)
    return application


@pytest.fixture
def desk():
    return api_client("Support desk")


@pytest.fixture
def two_sessions():
    """A user signed in to the mobile app and to the web app: (user, mobile session, web session)."""
    user = UserFactory()
    issue_session(user, ApplicationFactory(name="Mobile"))
    issue_session(user, ApplicationFactory(name="Web"))
    sessions = {
        session.application.name: session for session in TokenSession.objects.select_related("application")
    }
    return user, sessions["Mobile"], sessions["Web"]


def listed_ids(response) -> list[str]:
    return [entry["id"] for entry in json.loads(response.content)["tokens"]]


def test_a_narrowed_get_queryset_narrows_the_list(client, desk, two_sessions):
    user, mobile, web = two_sessions

    narrowed = client.get(f"/mobile/users/{user.pk}/tokens", HTTP_AUTHORIZATION=basic(desk))
    everything = client.get(url(f"/oauth/api/v1/users/{user.pk}/tokens"), HTTP_AUTHORIZATION=basic(desk))

    assert narrowed.status_code == 200
    assert narrowed["Content-Type"] == "application/json;charset=UTF-8"
    assert listed_ids(narrowed) == [str(mobile.public_id)]
    assert json.loads(narrowed.content)["tokens"][0]["client_name"] == "Mobile"
    assert sorted(listed_ids(everything)) == sorted([str(mobile.public_id), str(web.public_id)])


def test_a_narrowed_list_with_nothing_left_is_the_contracts_404(client, desk):
    user = UserFactory()
    issue_session(user, ApplicationFactory(name="Web"))

    response = client.get(f"/mobile/users/{user.pk}/tokens", HTTP_AUTHORIZATION=basic(desk))

    assert response.status_code == 404
    assert json.loads(response.content) == {"error": "No tokens found"}


def test_a_narrowed_get_queryset_narrows_what_can_be_revoked(client, desk, two_sessions):
    user, mobile, web = two_sessions

    outside = client.delete(f"/mobile/users/{user.pk}/tokens/{web.public_id}", HTTP_AUTHORIZATION=basic(desk))

    assert outside.status_code == 204
    assert outside.content == b""
    assert RefreshToken.objects.filter(token_family=web.token_family, revoked__isnull=True).exists()
    assert not RevocationEvent.objects.exists()

    inside = client.delete(
        f"/mobile/users/{user.pk}/tokens/{mobile.public_id}", HTTP_AUTHORIZATION=basic(desk)
    )

    assert inside.status_code == 204
    assert not RefreshToken.objects.filter(token_family=mobile.token_family, revoked__isnull=True).exists()
    assert RefreshToken.objects.filter(token_family=web.token_family, revoked__isnull=True).exists()
    event = RevocationEvent.objects.get()
    assert (event.surface, event.refresh_tokens_revoked) == ("end_user", 1)
    assert event.actor_application_id == desk.pk


def test_an_overridden_permission_refuses_in_the_styles_format(client, desk, two_sessions):
    user, mobile, _ = two_sessions
    other = api_client("Reporting")

    refused = client.get(f"/desk/users/{user.pk}/tokens", HTTP_AUTHORIZATION=basic(other))
    allowed = client.get(f"/desk/users/{user.pk}/tokens", HTTP_AUTHORIZATION=basic(desk))
    not_revoked = client.delete(
        f"/desk/users/{user.pk}/tokens/{mobile.public_id}", HTTP_AUTHORIZATION=basic(other)
    )

    assert refused.status_code == 403
    assert json.loads(refused.content) == FORBIDDEN
    assert refused["Content-Type"] == "application/json;charset=UTF-8"
    assert refused["Cache-Control"] == "no-store"
    assert allowed.status_code == 200
    assert not_revoked.status_code == 403
    assert json.loads(not_revoked.content) == FORBIDDEN
    assert RefreshToken.objects.filter(token_family=mobile.token_family, revoked__isnull=True).exists()


def test_a_subclass_mounted_with_routes_keeps_the_catch_all_and_url_names(client, desk):
    response = client.post("/mobile/no/such/path", HTTP_AUTHORIZATION=basic(desk))

    assert response.status_code == 404
    assert json.loads(response.content) == {
        "code": "not_found",
        "message": "There is no such resource in the end-user API.",
    }
    assert reverse("mobile:user-tokens", args=["7"]) == "/mobile/users/7/tokens"
    assert reverse("mobile:user-token", args=["7", "x"]) == "/mobile/users/7/tokens/x"


def test_a_narrowed_app_token_list_pages_over_what_is_left(client):
    app = ApplicationFactory()
    app_token = AccessTokenFactory(user=None, application=app, scope="")
    streaming = [AccessTokenFactory(application=app, scope="basic stream") for _ in range(3)]
    AccessTokenFactory(application=app, scope="basic")  # not listed by the subclass

    first = client.get("/scoped/apps/me/tokens?count=2", HTTP_AUTHORIZATION=f"Bearer {app_token.raw_token}")
    body = json.loads(first.content)
    rest = client.get(
        f"/scoped/apps/me/tokens?count=2&before_id={body['meta']['min_id']}",
        HTTP_AUTHORIZATION=f"Bearer {app_token.raw_token}",
    )

    assert first.status_code == 200
    assert [item["pagination_id"] for item in body["data"]] == [str(t.pk) for t in streaming[::-1][:2]]
    assert body["meta"] == {
        "code": 200,
        "more": True,
        "min_id": str(streaming[1].pk),
        "max_id": str(streaming[2].pk),
    }
    assert json.loads(rest.content)["data"][0]["pagination_id"] == str(streaming[0].pk)
    assert json.loads(rest.content)["meta"]["more"] is False


def test_the_projects_exception_handler_never_answers_for_a_style(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": f"{__name__}.project_exception_handler",
    }

    project = client.get("/plain/")
    adn = client.get(url("/stream/0/token"))
    stackexchange = client.get(url("/2.2/access-tokens/"))
    end_user = client.get(url("/oauth/api/v1/users/1/tokens"))

    assert (project.status_code, json.loads(project.content)) == (418, {"project": True})
    assert adn.status_code == 401
    assert json.loads(adn.content) == {
        "meta": {
            "code": 401,
            "error_message": "Call requires authentication: This view requires authentication and no token "
            "was provided.",
        }
    }
    assert stackexchange.status_code == 400
    assert json.loads(stackexchange.content) == {
        "error_id": 400,
        "error_name": "bad_parameter",
        "error_message": "accessTokens",
    }
    assert end_user.status_code == 401
    assert json.loads(end_user.content) == {
        "code": "unauthorized",
        "message": "Provide valid credentials to get access to the API.",
    }


def test_an_app_net_permission_refuses_in_the_envelope_after_the_styles_own_checks(client):
    app = ApplicationFactory()
    app_token = AccessTokenFactory(user=None, application=app, scope="")
    user_token = AccessTokenFactory(application=app)

    refused = client.delete("/users-only/token", HTTP_AUTHORIZATION=f"Bearer {app_token.raw_token}")
    no_token = client.get("/users-only/token")
    allowed = client.get("/users-only/token", HTTP_AUTHORIZATION=f"Bearer {user_token.raw_token}")

    assert refused.status_code == 403
    assert json.loads(refused.content) == {
        "meta": {
            "code": 403,
            "error_message": translated("You do not have permission to perform this action."),
            "error_slug": "not-authorized",
        }
    }
    assert refused["X-RateLimit-Remaining"]  # counted, as every request with a valid token
    assert app_token.__class__.objects.filter(pk=app_token.pk).exists()  # not revoked
    assert no_token.status_code == 401
    assert json.loads(no_token.content)["meta"]["error_message"].startswith("Call requires authentication:")
    assert allowed.status_code == 200
    assert json.loads(allowed.content)["data"]["user"]["id"] == str(user_token.user_id)


def test_a_stack_exchange_permission_refuses_with_the_error_wrapper(client):
    token = AccessTokenFactory()

    refused = client.get(f"/read-only/access-tokens/{token.raw_token}/invalidate")
    read = client.get(f"/read-only/access-tokens/{token.raw_token}")

    assert refused.status_code == 400
    assert json.loads(refused.content) == {
        "error_id": 403,
        "error_name": "access_denied",
        "error_message": translated("You do not have permission to perform this action."),
    }
    assert token.__class__.objects.filter(pk=token.pk).exists()  # not revoked
    assert read.status_code == 200
    body = json.loads(read.content)
    assert [item["access_token"] for item in body["items"]] == [token.raw_token]
    # The refused request counted against the quota too: two requests, two units.
    assert body["quota_remaining"] == body["quota_max"] - 2
