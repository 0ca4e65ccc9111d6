"""The end-user token API as a viewset: list and revoke a user's sessions (its contract: the README).

``EndUserViewSet`` holds what the style does on every request, in one place: API-client
authentication and permission, the contract's headers, and (``errors.exception_handler``) its
error format. ``UserTokenViewSet`` is ``users/{userId}/tokens``: ``list`` and ``destroy``.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from token_admin import ids
from token_admin.api.base import ExceptionHandler, StyleViewSet
from token_admin.api.end_user import schema as docs
from token_admin.api.end_user.authentication import APIClientAuthentication, IsEndUserAPIClient
from token_admin.api.end_user.errors import NO_TOKENS, exception_handler
from token_admin.api.end_user.responses import token_entry
from token_admin.api.openapi import extend_action, extend_schema, view_schema
from token_admin.conf import conf
from token_admin.models import TokenSession
from token_admin.queries import end_user_sessions
from token_admin.ratelimit import hit
from token_admin.revocation import Actor, Selection, Surface, revoke

logger = logging.getLogger(__name__)

#: Exactly as the Onegini documentation shows it (no space before ``charset``).
CONTENT_TYPE = "application/json;charset=UTF-8"


class EndUserViewSet(StyleViewSet):
    """API-client authentication, the contract's errors, and its headers on every response."""

    authentication_classes = [APIClientAuthentication]
    permission_classes = [IsEndUserAPIClient]
    renderer_classes = [JSONRenderer]
    parser_classes: list[Any] = []  # no endpoint reads a request body
    metadata_class = None  # OPTIONS is not part of the API: it gets a 405
    schema = view_schema(docs.EndUserSchema)

    def get_exception_handler(self) -> ExceptionHandler:
        return exception_handler  # every error of the style's views, in its format

    # DRF accepts any HttpResponseBase here (its stubs say Response): the 204 is a plain
    # HttpResponse because DRF drops Content-Type from an empty Response when it renders.
    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]
        if isinstance(response, Response):
            # DRF sets Content-Type from this when it renders, after this method.
            response.content_type = CONTENT_TYPE
        response["Content-Type"] = CONTENT_TYPE
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        if response.status_code != 405:
            # DRF adds Allow everywhere; it only means something on a 405 (and would list
            # every method on the catch-all 404).
            response.headers.pop("Allow", None)
        return response


def parse_user_id(user_id: str) -> Any | None:
    """The user primary key that ``user_id`` spells exactly (``"7"``, not ``"07"`` or ``"+7"``), or None."""
    try:
        return ids.parse_exact(get_user_model(), user_id)
    except ValueError:  # not one, or e.g. an integer out of the database's range
        return None


def parse_session_id(token_id: str) -> UUID | None:
    """The session id ``token_id`` spells as a hyphenated UUID (any case), or None."""
    try:
        value = UUID(token_id)
    except ValueError:
        return None
    return value if str(value) == token_id.lower() else None


def count_noop_revocation(application: Any) -> None:
    """Count a DELETE that revoked nothing, per API client and day, in the cache.

    Such calls write no audit row (one client could otherwise grow the audit table without
    limit); the day's count reaching ``END_USER_NOOP_REVOCATIONS_WARNING`` logs one WARNING.
    """
    threshold = conf.END_USER_NOOP_REVOCATIONS_WARNING
    window = hit("end_user_noop_revocation", application.client_id, limit=max(threshold, 1), period=86_400)
    if threshold > 0 and window.used == threshold:
        logger.warning(
            "End-user API client %s made %d revocations that revoked nothing today",
            application.client_id,
            window.used,
        )


class UserTokenViewSet(EndUserViewSet):
    """``GET users/{userId}/tokens``: the user's sessions, newest first.
    ``DELETE users/{userId}/tokens/{tokenId}``: revoke one session of the user; always 204.

    Both act within :meth:`get_queryset` (every session): a subclass that narrows it narrows
    what the API client sees and what it can revoke.
    """

    operation_names = {"list": "user_tokens", "destroy": "user_token"}

    def get_queryset(self) -> QuerySet[TokenSession]:
        """The sessions this API may list and revoke; the user is chosen by the path."""
        return TokenSession.objects.all()

    @extend_action(docs.EndUserSchema, **docs.LIST)
    def list(self, request: Request, user_id: str) -> Response:
        pk = parse_user_id(user_id)
        # An unknown user and a user without sessions look the same: no query for the user.
        sessions = [] if pk is None else end_user_sessions(pk, within=self.get_queryset())
        entries = [token_entry(session) for session in sessions]
        if not entries:
            return Response(NO_TOKENS, status=404)
        return Response({"tokens": entries})

    @extend_action(docs.EndUserSchema, **docs.REVOKE)
    def destroy(self, request: Request, user_id: str, token_id: str) -> HttpResponse:
        session_id = parse_session_id(token_id)
        pk = parse_user_id(user_id)
        if session_id is not None and pk is not None:
            # No query for the user: the sessions are filtered by the id itself, so a known and
            # an unknown user, an own and a foreign session run the same queries up to the
            # revocation itself, and nothing in the answer or its timing tells them apart.
            result = revoke(
                Selection.sessions(
                    self.get_queryset().filter(public_id=session_id), user=get_user_model()(pk=pk)
                ),
                surface=Surface.END_USER,
                actor=Actor.api_client(request.auth),
                audit_empty=False,
            )
            if result.event is not None:
                return HttpResponse(status=204)
        # Revoked nothing, malformed ids included (integer ids sent to a project whose users have
        # UUID keys revoke nothing all day): counted, as the README says of every such DELETE.
        count_noop_revocation(request.auth)
        return HttpResponse(status=204)


@extend_schema(exclude=True)  # not an operation: what every other path under the mount answers
class UnknownPathViewSet(EndUserViewSet):
    """Any other path under the mount: a JSON 404 (after authentication), never an HTML page."""

    def not_found(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound()
