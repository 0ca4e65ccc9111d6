"""Views of the end-user token API (spec section 3): list and revoke a user's sessions."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBase
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ...conf import conf
from ...models import Device, TokenSession
from ...queries import ListedSession, end_user_sessions, session_device, software_name
from ...ratelimit import hit
from ...revocation import Actor, Selection, Surface, revoke
from ..limits import REQUEST_LIMIT_ERRORS, check_request_limits, message_for, status_for
from ..negotiation import JSONOnly
from ..openapi import extend_schema, view_schema
from . import schema as docs
from .authentication import APIClientAuthentication, IsEndUserAPIClient

logger = logging.getLogger(__name__)

#: Exactly as the Onegini documentation shows it (no space before ``charset``).
CONTENT_TYPE = "application/json;charset=UTF-8"

UNAUTHORIZED = {"code": "unauthorized", "message": "Provide valid credentials to get access to the API."}
FORBIDDEN = {
    "code": "insufficient_permissions",
    "message": (
        "The API client used to authenticate the request does not allow operations on the End User API."
    ),
}
NO_TOKENS = {"error": "No tokens found"}
TOO_MANY_ATTEMPTS = {
    "code": "too_many_requests",
    "message": "Too many failed authentication attempts. Retry after the time in Retry-After.",
}
NOT_FOUND = {"code": "not_found", "message": "There is no such resource in the end-user API."}
SERVER_ERROR = {"code": "server_error", "message": "The server could not handle the request."}

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error in the API's own format; an unexpected one is logged and becomes a JSON 500."""
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response = Response(UNAUTHORIZED, status=401)
        response["WWW-Authenticate"] = APIClientAuthentication().authenticate_header(context["request"])
        return response
    if isinstance(exc, exceptions.Throttled):
        # Too many failed authentications from this client id or IP (token_admin.throttle).
        response = Response(TOO_MANY_ATTEMPTS, status=429)
        wait = getattr(exc, "wait", None)  # (set by DRF; its stubs leave it out)
        response["Retry-After"] = str(wait if wait is not None else 1)
        return response
    if isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        return Response(FORBIDDEN, status=403)
    if isinstance(exc, (exceptions.NotFound, Http404)):
        return Response(NOT_FOUND, status=404)
    if isinstance(exc, REQUEST_LIMIT_ERRORS):
        status = status_for(exc)
        code = "request_too_large" if status == 413 else "bad_request"
        return Response({"code": code, "message": message_for(exc)}, status=status)
    if isinstance(exc, exceptions.APIException):
        # Method not allowed, and anything else DRF may raise: its code and its message.
        message = exc.detail if isinstance(exc.detail, str) else exc.default_detail
        return Response({"code": exc.default_code, "message": str(message)}, status=exc.status_code)
    logger.error("Unexpected error in the end-user API", exc_info=exc)
    return Response(SERVER_ERROR, status=500)


class EndUserAPIView(APIView):
    """API-client authentication, the contract's errors, and its headers on every response."""

    authentication_classes = [APIClientAuthentication]
    permission_classes = [IsEndUserAPIClient]
    renderer_classes = [JSONRenderer]
    parser_classes: list[Any] = []  # no endpoint reads a request body
    content_negotiation_class = JSONOnly
    throttle_classes: list[Any] = []
    metadata_class = None  # OPTIONS is not part of the API: it gets a 405
    schema = view_schema(docs.EndUserSchema)

    def get_exception_handler(self) -> Any:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_request_limits(request)
        super().initial(request, *args, **kwargs)

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
    field = get_user_model()._meta.pk
    assert field is not None
    try:
        pk = field.to_python(user_id)
        field.run_validators(pk)  # e.g. an integer out of the database's range
    except ValidationError:
        return None
    return pk if str(pk) == user_id else None


def parse_session_id(token_id: str) -> UUID | None:
    """The session id ``token_id`` spells as a hyphenated UUID (any case), or None."""
    try:
        value = UUID(token_id)
    except ValueError:
        return None
    return value if str(value) == token_id.lower() else None


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, in integer arithmetic (no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def session_type(session: TokenSession, device: Device | None) -> str:
    """``SESSION_TYPE_HOOK``'s answer, else the device's type, else ``DEFAULT``."""
    hook = conf.SESSION_TYPE_HOOK
    if hook is not None:
        value = hook(session)
        if value:
            return str(value)
    if device is not None:
        return str(device.type)
    return Device.Type.DEFAULT.value


def token_entry(listed: ListedSession) -> dict[str, Any]:
    """One entry of ``tokens``, for a session as ``queries.end_user_sessions`` lists it."""
    session = listed.session
    # The software's name and, apart, the device's (for a registered device they differ).
    entry: dict[str, Any] = {"id": str(session.public_id), "client_name": software_name(session.application)}
    device = session_device(session)
    if device is not None and device.name:
        entry["device_name"] = device.name
    entry["created_at"] = epoch_millis(session.created_at)
    entry["scopes"] = listed.token_scope.split()
    entry["type"] = session_type(session, device)
    entry["refresh_token_issued"] = session.token_family is not None
    entry["expired"] = listed.token_expired
    if conf.END_USER_ACTIVITY_FIELDS:
        # Documented extra fields, off by default so the contract's exact shape holds.
        entry.update(activity_fields(session))
    return entry


def activity_fields(session: TokenSession) -> dict[str, Any]:
    """The session's last use: null until a token of it authenticates or refreshes."""
    used = session.last_used_at
    return {
        "last_used_at": epoch_millis(used) if used is not None else None,
        "last_ip": session.last_ip,
        "user_agent": (
            {"browser": session.browser, "os": session.os, "device": session.device_family}
            if used is not None
            else None
        ),
    }


@extend_schema(**docs.LIST)
class UserTokensView(EndUserAPIView):
    """``GET users/{userId}/tokens``: the user's sessions, newest first."""

    http_method_names = ["get", "head"]

    def get(self, request: Request, user_id: str) -> Response:
        pk = parse_user_id(user_id)
        # An unknown user and a user without sessions look the same: no query for the user.
        entries = [] if pk is None else [token_entry(session) for session in end_user_sessions(pk)]
        if not entries:
            return Response(NO_TOKENS, status=404)
        return Response({"tokens": entries})


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


@extend_schema(**docs.REVOKE)
class UserTokenView(EndUserAPIView):
    """``DELETE users/{userId}/tokens/{tokenId}``: revoke one session of the user; always 204."""

    http_method_names = ["delete"]

    def delete(self, request: Request, user_id: str, token_id: str) -> HttpResponse:
        session_id = parse_session_id(token_id)
        pk = parse_user_id(user_id)
        if session_id is not None and pk is not None:
            # No query for the user: the sessions are filtered by the id itself, so a known and
            # an unknown user, an own and a foreign session run the same queries up to the
            # revocation itself, and nothing in the answer or its timing tells them apart.
            result = revoke(
                Selection.sessions([session_id], user=get_user_model()(pk=pk)),
                surface=Surface.END_USER,
                actor=Actor.api_client(request.auth),
                audit_empty=False,
            )
            if result.event is None:
                count_noop_revocation(request.auth)
        return HttpResponse(status=204)


@extend_schema(exclude=True)  # not an operation: what every other path under the mount answers
class UnknownPathView(EndUserAPIView):
    """Any other path under the mount: a JSON 404 (after authentication), never an HTML page."""

    def not_found(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound()

    get = post = put = patch = delete = options = not_found
