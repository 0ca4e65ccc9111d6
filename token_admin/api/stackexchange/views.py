"""Stack Exchange-style token methods (its wire contract: the README, "Stack Exchange style").

Every method is a GET, takes no authentication but the tokens in its path, counts against a
daily quota per client IP (or per ``key``), and answers with the common wrapper, or with the
error wrapper and HTTP 400 for every error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.cache import add_never_cache_headers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from token_admin import queries, ratelimit, revocation, watermarks
from token_admin.conf import conf
from token_admin.models import RevocationEvent
from token_admin.revocation import Actor, token_label

from ..limits import REQUEST_LIMIT_ERRORS, check_request_limits, message_for
from ..negotiation import JSONOnly
from ..openapi import extend_schema, view_schema
from . import errors
from . import schema as docs
from .errors import StackExchangeError
from .serializers import access_token_item, wrapper

logger = logging.getLogger(__name__)

MAX_TOKENS = 20
MAX_PAGESIZE = 100
FILTERS = ("default", "withbody", "none", "total")
# Whole numbers only ("+1", " 1" and "1.0" are bad); ten digits keep int() cheap.
NUMBER = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class Paging:
    page: int
    pagesize: int
    filter_name: str


def parse_tokens(value: str) -> list[str]:
    """The distinct tokens of a ``;``-separated vector, in the order passed.

    Empty entries (``a;;b``, a trailing ``;``) are skipped. The limit counts distinct
    tokens, since duplicates count once.
    """
    tokens = list(dict.fromkeys(token for token in value.split(";") if token))
    if not 1 <= len(tokens) <= MAX_TOKENS:
        raise errors.bad_parameter("accessTokens")
    return tokens


def parse_paging(params: Any) -> Paging:
    """``page``, ``pagesize`` and ``filter`` from the query string, or ``bad_parameter``."""
    page = _number(params, "page", default=1)
    if page < 1:
        raise errors.bad_parameter("page")
    pagesize = _number(params, "pagesize", default=30)
    if pagesize > MAX_PAGESIZE:
        raise errors.bad_parameter("pagesize")
    filter_name = params.get("filter", "default")
    if filter_name not in FILTERS:
        raise errors.bad_parameter("filter")
    return Paging(page, pagesize, filter_name)


def _number(params: Any, name: str, *, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not NUMBER.fullmatch(value):
        raise errors.bad_parameter(name)
    return int(value)


def token_actor(tokens: list[Any]) -> Actor:
    """The audit actor for the presented tokens: their owners and apps, never their values."""
    if len(tokens) == 1:
        return Actor.token(tokens[0])
    owners = sorted({token_label(token) for token in tokens})
    users = {token.user_id for token in tokens}
    applications = {token.application_id for token in tokens}
    return Actor(
        RevocationEvent.ActorType.TOKEN,
        f"{len(tokens)} tokens: {', '.join(owners)}",
        user=tokens[0].user if len(users) == 1 else None,
        application=tokens[0].application if len(applications) == 1 else None,
    )


class StackExchangeView(APIView):
    """What every method under the mount shares: GET only, the quota, JSON, the error wrapper."""

    # Only GET: the state-changing methods are GETs, so HEAD must not quietly run them too.
    http_method_names = ["get"]
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly
    versioning_class = None
    schema = view_schema(docs.SESchema)

    quota: ratelimit.Window
    #: Revoking methods count against the quota but are never refused by it: a thief who
    #: burns the quota must not stop the owner from revoking.
    revokes = False

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_request_limits(request)  # before the quota reads ``key`` from the query string
        super().initial(request, *args, **kwargs)
        # Every request counts, errors included, as on the real API.
        key = request.query_params.get("key")
        registered = conf.SE_KEYS
        known_key = bool(key) and (registered is None or key in registered)
        if known_key:
            identity, limit = f"key:{key}", conf.SE_QUOTA_MAX_WITH_KEY
        else:
            identity, limit = f"ip:{request.META.get('REMOTE_ADDR', '')}", conf.SE_QUOTA_MAX
        self.quota = ratelimit.hit("se", identity, limit=limit, period=conf.SE_QUOTA_PERIOD)
        if self.quota.exceeded and not self.revokes:
            raise errors.throttle_violation(self.quota.reset_in)
        if key and not known_key:
            raise errors.bad_parameter("key")
        if "callback" in request.query_params:
            # JSONP would let any web page read a caller's tokens.
            raise errors.bad_parameter("callback")

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        raise errors.no_method()

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, REQUEST_LIMIT_ERRORS):
            # The real API's answer to a request it cannot take: bad_parameter, HTTP 400.
            exc = StackExchangeError(400, "bad_parameter", message_for(exc))
        if not isinstance(exc, StackExchangeError):
            logger.exception("Stack Exchange-style API: unexpected error in %s", type(self).__name__)
            set_rollback()
            exc = errors.internal_error()
        return Response(exc.as_body(), status=400)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # GETs that revoke, and bodies that echo tokens: no cache may keep or replay them.
        add_never_cache_headers(response)
        response["Pragma"] = "no-cache"  # for HTTP/1.0 caches, as the other two styles send it
        # Django logs every 4xx with its path, and the path holds the caller's tokens: mark the
        # response as logged (Django's own flag) and log the error without the path instead.
        if response.status_code >= 400:
            response._has_been_logged = True
            logger.warning(
                "Stack Exchange-style API: %s in %s", response.data.get("error_name"), type(self).__name__
            )
        return response


class TokenMethodView(StackExchangeView):
    """A method over ``{accessTokens}``: read the valid tokens, :meth:`act` on them, list them."""

    def get(self, request: Request, access_tokens: str) -> Response:
        raw_tokens = parse_tokens(access_tokens)
        paging = parse_paging(request.query_params)
        loaded = queries.tokens_by_raw(raw_tokens, family=self.revokes)
        # Tokens issued before a not-before watermark are as invalid as revoked ones.
        found = {token.token_checksum: token for token in watermarks.drop_before(loaded)}
        # Items in the order passed; unknown, expired, revoked and registration tokens are left out.
        checksums = {raw: queries.checksum(raw) for raw in raw_tokens}
        valid = [(raw, found[checksums[raw]]) for raw in raw_tokens if checksums[raw] in found]
        # The items are built before acting: they show the tokens as they were.
        items = [access_token_item(raw, token) for raw, token in valid]
        if valid:
            # Every valid token, not only those on the requested page.
            self.act([token for _, token in valid])
        body = wrapper(
            items,
            page=paging.page,
            pagesize=paging.pagesize,
            filter_name=paging.filter_name,
            quota_remaining=self.quota.remaining,
            quota_max=self.quota.limit,
            # The last request of the quota: tell the caller how long to wait.
            backoff=self.quota.reset_in if self.quota.remaining == 0 else None,
        )
        return Response(body)

    def act(self, tokens: list[Any]) -> None:
        """What the method does to the valid tokens passed (nothing: it only reads)."""


@extend_schema(
    **docs.operation(
        "Read tokens",
        "The properties of the valid tokens passed.",
        "The valid tokens' properties; nothing changes.",
    )
)
class AccessTokensView(TokenMethodView):
    """``GET access-tokens/{accessTokens}``: the properties of the valid tokens passed."""


@extend_schema(
    **docs.operation(
        "Invalidate tokens",
        "Revokes each valid token passed, with its refresh-token family, at once.",
        "The tokens that were invalidated, as they were: each valid token is revoked with its family.",
    )
)
class InvalidateView(TokenMethodView):
    """``GET access-tokens/{accessTokens}/invalidate``: revoke each valid token with its family."""

    revokes = True

    def act(self, tokens: list[Any]) -> None:
        # The tokens as loaded carry their families: a refresh since cannot hide a session.
        selection = revocation.Selection.tokens(tokens)
        revocation.revoke(selection, surface=revocation.Surface.STACKEXCHANGE, actor=token_actor(tokens))


@extend_schema(
    **docs.operation(
        "De-authenticate apps",
        "De-authorizes each valid token's app for that token's user.",
        "The valid tokens passed, as they were: every token, refresh token and grant of each token's "
        "user for its app is revoked (for an app token, just that token).",
    )
)
class DeauthenticateView(TokenMethodView):
    """``GET apps/{accessTokens}/de-authenticate``: de-authorize the app for each valid token's user.

    Every token, refresh token and grant of each (user, app) is revoked, in one call.
    """

    revokes = True

    def act(self, tokens: list[Any]) -> None:
        pairs = revocation.Selection.user_apps(
            [(token.user, token.application) for token in tokens if token.user_id is not None]
        )
        # App tokens have no user to de-authorize: exactly these tokens are revoked.
        app_tokens = [token for token in tokens if token.user_id is None]
        selection = pairs | revocation.Selection.tokens(app_tokens) if app_tokens else pairs
        revocation.revoke(selection, surface=revocation.Surface.STACKEXCHANGE, actor=token_actor(tokens))


@extend_schema(exclude=True)  # not an operation: what every other path under the mount answers
class NoMethodView(StackExchangeView):
    """Any other path under the mount: ``no_method`` (after counting against the quota)."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.no_method()
