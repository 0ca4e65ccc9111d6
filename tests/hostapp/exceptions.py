"""The host project's DRF exception handler: its own error shape for its own views
(``{"error": {"status": ..., "detail": ...}}``), as real products wrap DRF's. token_admin's
styles must keep their formats whatever the project's ``EXCEPTION_HANDLER`` does."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler


def wrapped_errors(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is not None:
        response.data = {"error": {"status": response.status_code, "detail": response.data}}
    return response
