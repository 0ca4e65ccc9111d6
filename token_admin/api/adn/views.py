"""The App.net-style endpoints (its wire contract: the README, "App.net style")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.cache import patch_vary_headers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from token_admin import queries
from token_admin.conf import conf
from token_admin.ratelimit import Window, hit
from token_admin.revocation import Actor, Selection, Surface, revoke

from ..limits import check_request_limits
from ..negotiation import JSONOnly
from ..openapi import OpenApiResponse, extend_schema, view_schema
from . import schema as docs
from .authentication import ADNTokenAuthentication
from .envelope import PRETTY_HEADER, ADNError, ADNRenderer, envelope, exception_handler
from .pagination import paginate, parse_params
from .serializers import token_object, token_scopes


class ADNView(APIView):
    """Base view: token authentication, per-token rate limit, the envelope for every answer."""

    authentication_classes = [ADNTokenAuthentication]
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    renderer_classes = [ADNRenderer]
    parser_classes = [FormParser, MultiPartParser]
    content_negotiation_class = JSONOnly
    # OPTIONS is not part of the API (CORS preflights are the CORS middleware's business):
    # it gets a 405 like any other method an endpoint lacks.
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]
    #: Only app tokens (``user = None``) may call this endpoint.
    app_token_only = False

    rate_window: Window | None = None
    schema = view_schema(docs.ADNSchema)

    def get_exception_handler(self) -> Callable[..., Response]:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_request_limits(request)  # before authentication reads the query string or form
        super().initial(request, *args, **kwargs)
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


@extend_schema(
    methods=["GET"],
    **docs.operation(
        "The calling token",
        "The token the request is made with: its app, scopes and (for a user token) user.",
        OpenApiResponse(docs.ADNTokenEnvelope, "The token the request was made with."),
    ),
)
@extend_schema(
    methods=["DELETE"],
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
class TokenView(ADNView):
    """``GET token``: the calling token. ``DELETE token``: revoke it (with its family)."""

    def get(self, request: Request) -> Response:
        return envelope(token_object(request.auth))

    def delete(self, request: Request) -> Response:
        token: Any = request.auth
        data = token_object(token)  # the token as it was
        # The token as loaded carries its family: a refresh since then cannot hide the session.
        revoke(Selection.tokens([token]), surface=Surface.ADN, actor=Actor.token(token))
        return envelope(data)


@extend_schema(
    **docs.operation(
        "Users with a valid token for the calling app",
        "App tokens only. The ids of the users who hold a valid token for the calling app.",
        OpenApiResponse(docs.ADNUserIdsEnvelope, "Not paginated."),
        app_token_only=True,
    )
)
class AppTokenUserIdsView(ADNView):
    """``GET apps/me/tokens/user_ids``: ids of users with a valid token for the calling app."""

    app_token_only = True

    def get(self, request: Request) -> Response:
        token: Any = request.auth
        return envelope([str(user_id) for user_id in queries.app_user_ids(token.application)])


@extend_schema(
    **docs.operation(
        "The calling app's valid user tokens",
        "App tokens only. Keyset pagination: `count`, `before_id`, `since_id`; a deep page costs "
        "what the first one does.",
        OpenApiResponse(docs.ADNTokenPageEnvelope, "One page, newest first."),
        app_token_only=True,
        paginated=True,
    )
)
class AppTokensView(ADNView):
    """``GET apps/me/tokens``: the calling app's valid user tokens, newest first, paginated."""

    app_token_only = True

    def get(self, request: Request) -> Response:
        token: Any = request.auth
        params = parse_params(request.query_params)
        page = paginate(queries.app_user_tokens(token.application), params)
        data = [{**token_object(token), "pagination_id": str(token.pk)} for token in page.items]
        return envelope(data, **page.meta())


@extend_schema(exclude=True)  # not an operation: what every other path under the mount answers
class NotFoundView(ADNView):
    """Any other path under the mount: a 404 in the envelope, whatever the method or token."""

    @property
    def default_response_headers(self) -> dict[str, str]:
        return {}  # no ``Allow``: there is no resource here to allow anything on

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise ADNError.not_found()
