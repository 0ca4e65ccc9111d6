"""The App.net response envelope: ``{"data": ..., "meta": {"code": N}}``, and its JSON output.

Errors, which carry ``meta`` only, are ``errors.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

PRETTY_HEADER = "X-ADN-Pretty-JSON"


def envelope(data: Any, status: int = 200, **meta: Any) -> Response:
    """A success response: ``data`` plus ``meta`` with ``code`` equal to the HTTP status."""
    return Response({"data": data, "meta": {"code": status, **meta}}, status=status)


class ADNRenderer(JSONRenderer):
    """Minified JSON; indented with a trailing newline when ``X-ADN-Pretty-JSON`` is sent."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        context = dict(renderer_context or {})
        request = context.get("request")
        if request is not None and PRETTY_HEADER in request.headers:
            return super().render(data, accepted_media_type, {**context, "indent": 4}) + b"\n"
        return super().render(data, accepted_media_type, context)
