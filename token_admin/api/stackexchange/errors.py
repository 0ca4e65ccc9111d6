"""The Stack Exchange-style errors: HTTP 400 and ``{"error_id", "error_name", "error_message"}``.

:func:`exception_handler` is the style's one exception hook (``SEViewSet.get_exception_handler``):
every error a Stack Exchange-style view raises, DRF's own and unexpected ones included, is
answered here.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from token_admin.api.limits import REQUEST_LIMIT_ERRORS, message_for

logger = logging.getLogger(__name__)


class StackExchangeError(Exception):
    """An error the API answers with its error wrapper (always HTTP 400, as the real API does)."""

    def __init__(self, error_id: int, error_name: str, error_message: str) -> None:
        super().__init__(error_message)
        self.error_id = error_id
        self.error_name = error_name
        self.error_message = error_message

    def as_body(self) -> dict[str, int | str]:
        """The error wrapper, in the key order the real API sends."""
        return {"error_id": self.error_id, "error_name": self.error_name, "error_message": self.error_message}


def bad_parameter(name: str) -> StackExchangeError:
    """A parameter was invalid; like the real API, the message is the parameter's name."""
    return StackExchangeError(400, "bad_parameter", name)


def no_method() -> StackExchangeError:
    """An unknown path under the mount, or a method other than GET."""
    return StackExchangeError(404, "no_method", "no method found with this name")


def throttle_violation(seconds: int) -> StackExchangeError:
    """The caller's quota is used up; it starts afresh in ``seconds``."""
    return StackExchangeError(
        502,
        "throttle_violation",
        f"too many requests from this IP, more requests available in {seconds} seconds",
    )


def internal_error() -> StackExchangeError:
    """Anything unexpected; the exception itself is logged, never shown."""
    return StackExchangeError(500, "internal_error", "an unexpected error occurred")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """The error wrapper with HTTP 400 for every error, as the real API answers."""
    if isinstance(exc, REQUEST_LIMIT_ERRORS):
        # The real API's answer to a request it cannot take: bad_parameter, HTTP 400.
        exc = StackExchangeError(400, "bad_parameter", message_for(exc))
    if isinstance(exc, exceptions.PermissionDenied):
        # Refused by a permission a subclass adds: the real API's access_denied.
        exc = StackExchangeError(403, "access_denied", str(exc.detail))
    if not isinstance(exc, StackExchangeError):
        # Logged without the path, which holds the caller's tokens.
        logger.exception("Stack Exchange-style API: unexpected error in %s", type(context["view"]).__name__)
        set_rollback()
        exc = internal_error()
    return Response(exc.as_body(), status=400)
