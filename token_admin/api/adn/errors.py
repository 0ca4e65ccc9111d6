"""App.net errors: ``{"meta": {"code", "error_message", "error_slug"?}}``, never a ``data`` key.

:func:`exception_handler` is the style's one exception hook (``ADNViewSet.get_exception_handler``):
every error an App.net view raises, DRF's own and unexpected ones included, is answered here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from token_admin.api.limits import REQUEST_LIMIT_ERRORS, message_for, status_for

logger = logging.getLogger(__name__)

AUTH_PREFIX = "Call requires authentication: "


class ADNError(exceptions.APIException):
    """An error answered as ``{"meta": {"code", "error_message", "error_slug"?}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        slug: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message)
        self.status_code = status
        self.message = message
        self.slug = slug
        self.headers = dict(headers or {})

    @classmethod
    def no_token(cls) -> ADNError:
        return cls(
            401,
            AUTH_PREFIX + "This view requires authentication and no token was provided.",
            headers={"WWW-Authenticate": 'Bearer realm="stream"'},
        )

    @classmethod
    def invalid_token(cls) -> ADNError:
        return cls(
            401,
            AUTH_PREFIX + "Invalid token.",
            "invalid-token",
            headers={"WWW-Authenticate": 'Bearer realm="stream", error="invalid_token"'},
        )

    @classmethod
    def token_expired(cls) -> ADNError:
        return cls(
            401,
            AUTH_PREFIX + "Token expired.",
            "token-expired",
            headers={"WWW-Authenticate": 'Bearer realm="stream", error="invalid_token"'},
        )

    @classmethod
    def app_token_required(cls) -> ADNError:
        return cls(403, "This endpoint requires an app token.", "not-authorized")

    @classmethod
    def bad_request(cls, message: str) -> ADNError:
        return cls(400, message, "bad-request")

    @classmethod
    def rate_limited(cls, retry_after: int) -> ADNError:
        return cls(429, "Too many requests", headers={"Retry-After": str(retry_after)})

    @classmethod
    def not_found(cls) -> ADNError:
        return cls(404, "Not found.")


def error_body(status: int, message: str, slug: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"code": status, "error_message": message}
    if slug:
        meta["error_slug"] = slug
    return {"meta": meta}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Answer every exception raised in an App.net view in the envelope, never as an HTML page."""
    if isinstance(exc, Http404):
        exc = ADNError.not_found()
    if isinstance(exc, REQUEST_LIMIT_ERRORS):
        status = status_for(exc)
        exc = ADNError(status, message_for(exc), "request-too-large" if status == 413 else "bad-request")
    if isinstance(exc, ADNError):
        status, message, slug, headers = exc.status_code, exc.message, exc.slug, exc.headers
    elif isinstance(exc, exceptions.APIException):
        # DRF's own: 405 for a wrong method, 400 for a malformed form body, ...
        status, slug, headers = exc.status_code, None, {}
        message = str(exc.detail) if isinstance(exc.detail, str) else "Bad request."
        if status == 400:
            slug = "bad-request"
        elif status == 403:  # a permission a subclass adds
            slug = "not-authorized"
    else:
        # An unexpected error: log it, with the path but never the query string or headers,
        # which may carry the caller's token (``?access_token=``). Django's own request log
        # and error reporters would copy the whole request (mail_admins shows the URL and
        # GET data), so the response is marked as logged and they are not told.
        request = context["request"]
        logger.exception("Unhandled error in an App.net-style view: %s %s", request.method, request.path)
        status, message, slug, headers = 500, "Internal server error.", None, {}
    set_rollback()
    response = Response(error_body(status, message, slug), status=status, headers=headers)
    if status >= 500:
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django: logged already
    return response
