"""The end-user API's errors: ``{"code", "message"}`` (``{"error"}`` for an empty list), JSON always.

:func:`exception_handler` is the style's one exception hook (``EndUserViewSet.get_exception_handler``):
every error an end-user view raises, DRF's own and unexpected ones included, is answered here.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from token_admin.api.end_user.authentication import APIClientAuthentication
from token_admin.api.limits import REQUEST_LIMIT_ERRORS, message_for, status_for

logger = logging.getLogger(__name__)

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
