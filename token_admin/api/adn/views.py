"""The App.net-style endpoints as viewsets (its wire contract: the README, "App.net style").

``ADNViewSet`` holds what the style does on every request, in one place: token authentication,
the per-token rate limit, the envelope and its headers, and (``errors.exception_handler``) the
error format. ``TokenViewSet`` is ``token``; ``AppTokenViewSet`` is ``apps/me/tokens`` and its
``user_ids`` action.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.cache import patch_vary_headers
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from token_admin import queries
from token_admin.api.adn import schema as docs
from token_admin.api.adn.authentication import ADNTokenAuthentication
from token_admin.api.adn.envelope import PRETTY_HEADER, ADNRenderer, envelope
from token_admin.api.adn.errors import ADNError, exception_handler
from token_admin.api.adn.pagination import paginate, parse_params
from token_admin.api.adn.responses import token_object, token_scopes
from token_admin.api.base import ExceptionHandler, StyleViewSet
from token_admin.api.openapi import OpenApiResponse, extend_action, extend_schema, view_schema
from token_admin.conf import conf
from token_admin.ratelimit import Window, hit
from token_admin.revocation import Actor, Selection, Surface, revoke


class ADNViewSet(StyleViewSet):
    """Base viewset: token authentication, per-token rate limit, the envelope for every answer."""

    authentication_classes = [ADNTokenAuthentication]
    permission_classes: list[Any] = []
    renderer_classes = [ADNRenderer]
    parser_classes = [FormParser, MultiPartParser]
    # OPTIONS is not part of the API (CORS preflights are the CORS middleware's business):
    # it gets a 405 like any other method an endpoint lacks.
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]
    #: Only app tokens (``user = None``) may call this endpoint.
    app_token_only = False

    rate_window: Window | None = None
    schema = view_schema(docs.ADNSchema)

    def get_exception_handler(self) -> ExceptionHandler:
        return exception_handler  # every error of the style's views, in its format

    def check_permissions(self, request: Request) -> None:
        """The style's own checks (a token, the rate limit, app tokens only), then the
        ``permission_classes`` a subclass adds (none here)."""
        token: Any = request.auth
        if token is None:
            raise ADNError.no_token()
        # The cache counts the request; no SQL beyond the token lookup.
        self.rate_window = hit(
            "adn", token.token_checksum, limit=conf.ADN_RATE_LIMIT, period=conf.ADN_RATE_LIMIT_PERIOD
        )
        # Revoking is never refused by the limit: a thief who burns the budget must not stop
        # the owner from revoking. It still counts.
        if self.rate_window.exceeded and request.method != "DELETE":
            raise ADNError.rate_limited(self.rate_window.reset_in)
        if self.app_token_only and token.user_id is not None:
            raise ADNError.app_token_required()
        super().check_permissions(request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, [PRETTY_HEADER])  # the header changes the body
        # Responses carry the caller's token data (and errors echo nothing worth caching).
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        token = getattr(request, "_auth", None)  # set only once authentication has run
        if token is not None and token.user_id is not None:
            response["X-OAuth-Scopes"] = ",".join(token_scopes(token))
        if self.rate_window is not None:
            response["X-RateLimit-Limit"] = str(self.rate_window.limit)
            response["X-RateLimit-Remaining"] = str(self.rate_window.remaining)
            response["X-RateLimit-Reset"] = str(self.rate_window.reset_in)
        return response


class TokenViewSet(ADNViewSet):
    """``GET token``: the calling token. ``DELETE token``: revoke it (with its family)."""

    operation_names = {"retrieve": "token", "destroy": "token"}

    def get_object(self) -> Any:
        """The calling token, as authentication loaded it (with its family for a DELETE)."""
        return self.request.auth

    @extend_action(
        docs.ADNSchema,
        **docs.operation(
            "The calling token",
            "The token the request is made with: its app, scopes and (for a user token) user.",
            OpenApiResponse(docs.ADNTokenEnvelope, "The token the request was made with."),
        ),
    )
    def retrieve(self, request: Request) -> Response:
        return envelope(token_object(self.get_object()))

    @extend_action(
        docs.ADNSchema,
        **docs.operation(
            "Revoke the calling token",
            "Revokes the token the request is made with, and its refresh-token family, so that nothing "
            "revoked can mint a new access token.",
            OpenApiResponse(
                docs.ADNTokenEnvelope,
                "The token as it was; it is revoked with its refresh-token family, and the next call "
                "with it gets 401 invalid-token.",
            ),
            revokes=True,
        ),
    )
    def destroy(self, request: Request) -> Response:
        token = self.get_object()
        data = token_object(token)  # the token as it was
        # The token as loaded carries its family: a refresh since then cannot hide the session.
        revoke(Selection.tokens([token]), surface=Surface.ADN, actor=Actor.token(token))
        return envelope(data)


class AppTokenViewSet(ADNViewSet):
    """``GET apps/me/tokens``: the calling app's valid user tokens, newest first, paginated;
    ``GET apps/me/tokens/user_ids``: ids of the users with a valid token for it. App tokens only."""

    app_token_only = True
    operation_names = {"list": "app_tokens", "user_ids": "app_token_user_ids"}

    def get_queryset(self) -> QuerySet[Any]:
        """The calling app's valid user tokens, newest first; a subclass may narrow it."""
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema pass: no token
            return queries.access_tokens().none()
        token: Any = self.request.auth
        return queries.app_user_tokens(token.application)

    @extend_action(
        docs.ADNSchema,
        **docs.operation(
            "The calling app's valid user tokens",
            "App tokens only. Keyset pagination: `count`, `before_id`, `since_id`; a deep page costs "
            "what the first one does.",
            OpenApiResponse(docs.ADNTokenPageEnvelope, "One page, newest first."),
            app_token_only=True,
            paginated=True,
        ),
    )
    def list(self, request: Request) -> Response:
        params = parse_params(request.query_params)
        page = paginate(self.get_queryset(), params)
        data = [{**token_object(token), "pagination_id": str(token.pk)} for token in page.items]
        return envelope(data, **page.meta())

    @extend_action(
        docs.ADNSchema,
        **docs.operation(
            "Users with a valid token for the calling app",
            "App tokens only. The ids of the users who hold a valid token for the calling app.",
            OpenApiResponse(docs.ADNUserIdsEnvelope, "Not paginated."),
            app_token_only=True,
        ),
    )
    @action(detail=False, url_path="user_ids")
    def user_ids(self, request: Request) -> Response:
        token: Any = request.auth
        return envelope([str(user_id) for user_id in queries.app_user_ids(token.application)])


@extend_schema(exclude=True)  # not an operation: what every other path under the mount answers
class NotFoundViewSet(ADNViewSet):
    """Any other path under the mount: a 404 in the envelope, whatever the method or token."""

    @property
    def default_response_headers(self) -> dict[str, str]:
        return {}  # no ``Allow``: there is no resource here to allow anything on

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise ADNError.not_found()

    def not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise ADNError.not_found()  # (``initial`` answers first; this names the action)
