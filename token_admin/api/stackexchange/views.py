"""Stack Exchange-style token methods as viewsets (its wire contract: the README, "Stack Exchange style").

Every method is a GET, takes no authentication but the tokens in its path, counts against a
daily quota per client IP (or per ``key``), and answers with the common wrapper, or with the
error wrapper and HTTP 400 for every error (``errors.exception_handler``). ``SEViewSet`` holds
all of that in one place; ``AccessTokenViewSet`` is ``access-tokens/{accessTokens}`` and its
``invalidate`` action, ``AppViewSet`` the ``de-authenticate`` action of ``apps/{accessTokens}``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.cache import add_never_cache_headers
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from token_admin import queries, ratelimit, revocation
from token_admin.api.base import ExceptionHandler, StyleViewSet
from token_admin.api.openapi import extend_action, extend_schema, view_schema
from token_admin.api.stackexchange import errors
from token_admin.api.stackexchange import schema as docs
from token_admin.api.stackexchange.responses import access_token_item, wrapper
from token_admin.conf import conf
from token_admin.models import RevocationEvent
from token_admin.revocation import Actor, token_label

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


class SEViewSet(StyleViewSet):
    """What every method under the mount shares: GET only, the quota, JSON, the error wrapper."""

    # Only GET: the state-changing methods are GETs, so HEAD must not quietly run them too.
    http_method_names = ["get"]
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    renderer_classes = [JSONRenderer]
    versioning_class = None
    schema = view_schema(docs.SESchema)

    quota: ratelimit.Window
    #: Revoking actions count against the quota but are never refused by it: a thief who
    #: burns the quota must not stop the owner from revoking.
    revoking_actions: frozenset[str] = frozenset()

    def get_exception_handler(self) -> ExceptionHandler:
        return errors.exception_handler  # every error of the style's views, in its format

    @property
    def revokes(self) -> bool:
        return getattr(self, "action", None) in self.revoking_actions

    def check_permissions(self, request: Request) -> None:
        """The quota, ``key`` and ``callback``, then the ``permission_classes`` a subclass adds
        (none here). The request's size was checked first, before ``key`` is read."""
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
        super().check_permissions(request)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        raise errors.no_method()

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


class TokenMethodViewSet(SEViewSet):
    """Methods over ``{accessTokens}``: read the valid tokens, act on them, list them."""

    def get_queryset(self) -> QuerySet[Any]:
        """The valid tokens among those in the path (any order); a subclass may narrow it."""
        raw_tokens = parse_tokens(self.kwargs.get("access_tokens", ""))
        return queries.tokens_by_raw(raw_tokens, family=self.revokes)

    def answer(self, request: Request, act: Callable[[list[Any]], None] | None = None) -> Response:
        """The wrapper over the valid tokens passed, after ``act(tokens)`` on them (if any)."""
        raw_tokens = parse_tokens(self.kwargs["access_tokens"])
        paging = parse_paging(request.query_params)
        # Tokens issued before a not-before watermark, or of a deactivated user, are as invalid
        # as revoked ones (read in the same statement as the tokens).
        tokens = [token for token in self.get_queryset() if not queries.is_refused(token)]
        found = {token.token_checksum: token for token in tokens}
        # Items in the order passed; unknown, expired, revoked and registration tokens are left out.
        checksums = {raw: queries.checksum(raw) for raw in raw_tokens}
        valid = [(raw, found[checksums[raw]]) for raw in raw_tokens if checksums[raw] in found]
        # The items are built before acting: they show the tokens as they were.
        items = [access_token_item(raw, token) for raw, token in valid]
        if valid and act is not None:
            # Every valid token, not only those on the requested page.
            act([token for _, token in valid])
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


class AccessTokenViewSet(TokenMethodViewSet):
    """``GET access-tokens/{accessTokens}`` and its ``invalidate`` action."""

    revoking_actions = frozenset({"invalidate"})
    operation_names = {"retrieve": "access_tokens", "invalidate": "invalidate"}

    @extend_action(
        docs.SESchema,
        **docs.operation(
            "Read tokens",
            "The properties of the valid tokens passed.",
            "The valid tokens' properties; nothing changes.",
        ),
    )
    def retrieve(self, request: Request, access_tokens: str) -> Response:
        return self.answer(request)

    @extend_action(
        docs.SESchema,
        **docs.operation(
            "Invalidate tokens",
            "Revokes each valid token passed, with its refresh-token family, at once.",
            "The tokens that were invalidated, as they were: each valid token is revoked with its family.",
        ),
    )
    @action(detail=True, url_path="invalidate")
    def invalidate(self, request: Request, access_tokens: str) -> Response:
        return self.answer(request, act=invalidate_tokens)


class AppViewSet(TokenMethodViewSet):
    """``GET apps/{accessTokens}/de-authenticate``: de-authorize the app for each valid token's user.

    Every token, refresh token and grant of each (user, app) is revoked, in one call.
    """

    revoking_actions = frozenset({"de_authenticate"})
    operation_names = {"de_authenticate": "deauthenticate"}

    @extend_action(
        docs.SESchema,
        **docs.operation(
            "De-authenticate apps",
            "De-authorizes each valid token's app for that token's user.",
            "The valid tokens passed, as they were: every token, refresh token and grant of each token's "
            "user for its app is revoked (for an app token, just that token).",
        ),
    )
    @action(detail=True, url_path="de-authenticate")
    def de_authenticate(self, request: Request, access_tokens: str) -> Response:
        return self.answer(request, act=deauthenticate_tokens)


def invalidate_tokens(tokens: list[Any]) -> None:
    """Revoke each token with its family."""
    # The tokens as loaded carry their families: a refresh since cannot hide a session.
    selection = revocation.Selection.tokens(tokens)
    revocation.revoke(selection, surface=revocation.Surface.STACKEXCHANGE, actor=token_actor(tokens))


def deauthenticate_tokens(tokens: list[Any]) -> None:
    """Revoke everything each user token's user holds for its app, and the app tokens themselves."""
    pairs = revocation.Selection.user_apps(
        [(token.user, token.application) for token in tokens if token.user_id is not None]
    )
    # App tokens have no user to de-authorize: exactly these tokens are revoked.
    app_tokens = [token for token in tokens if token.user_id is None]
    selection = pairs | revocation.Selection.tokens(app_tokens) if app_tokens else pairs
    revocation.revoke(selection, surface=revocation.Surface.STACKEXCHANGE, actor=token_actor(tokens))


@extend_schema(exclude=True)  # not an operation: what every other path under the mount answers
class NoMethodViewSet(SEViewSet):
    """Any other path under the mount: ``no_method`` (after counting against the quota)."""

    def no_method(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.no_method()
