"""OpenAPI description of the Stack Exchange style (its wire contract: the README, "Stack Exchange style").

Schema-only serializers: the views build their JSON with plain functions (``responses.py``);
these classes only describe it, and ``tests/test_openapi.py`` checks real responses against them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from token_admin import ids
from token_admin.api.openapi import (
    HEADER,
    PATH,
    QUERY,
    Int64Field,
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    StyleSchema,
)


class SESchema(StyleSchema):
    tag = "Stack Exchange style"
    operation_prefix = "se"

    def get_auth(self) -> list[dict[str, list[Any]]]:
        # No authentication but the tokens in the path: say so explicitly, so that a project-wide
        # SPECTACULAR_SETTINGS["SECURITY"] does not claim otherwise.
        return [{}]


class SEAccessToken(serializers.Serializer):
    """The ``access_token`` type."""

    access_token = serializers.CharField(help_text="The token as passed.")
    account_id = (
        Int64Field(required=False, help_text="The user's id; left out for app tokens.")
        if ids.kind(get_user_model()) == "integer"
        else serializers.CharField(
            required=False,
            help_text="The user's id (this project's user ids are not numbers); left out for app tokens.",
        )
    )
    expires_on_date = Int64Field(help_text="Unix time, in seconds.")
    scope = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Left out when the token has no scope."
    )


class SEWrapper(serializers.Serializer):
    """The common wrapper (the real API sends its keys in this order)."""

    backoff = serializers.IntegerField(
        required=False,
        help_text="Seconds to wait before the next request; sent only when the quota is used up.",
    )
    total = serializers.IntegerField(required=False, help_text="The number of items; only with filter=total.")
    items = SEAccessToken(
        many=True,
        help_text="The valid tokens passed, in the order passed (unknown, revoked and expired tokens are "
        "left out); empty with filter=none.",
    )
    quota_remaining = serializers.IntegerField(help_text="Requests left in this quota period.")
    quota_max = serializers.IntegerField(help_text="Requests allowed per quota period.")
    has_more = serializers.BooleanField(help_text="Whether later pages have items.")


class SEError(serializers.Serializer):
    """The error wrapper: these three keys and nothing else, always with HTTP 400."""

    error_id = serializers.ChoiceField(
        choices=[
            (400, "bad_parameter"),
            (404, "no_method"),
            (500, "internal_error"),
            (502, "throttle_violation"),
        ]
    )
    error_name = serializers.ChoiceField(
        choices=[
            ("bad_parameter", "a bad or missing parameter"),
            ("no_method", "an unknown method (path) or an HTTP method other than GET"),
            ("throttle_violation", "the quota is used up"),
            ("internal_error", "an unexpected error"),
        ]
    )
    error_message = serializers.CharField(
        help_text="For bad_parameter, the parameter's name: accessTokens, page, pagesize, filter or "
        "callback (JSONP is not supported)."
    )


ACCESS_TOKENS = OpenApiParameter(
    "access_tokens",
    str,
    PATH,
    description="1 to 20 access tokens separated by `;` (duplicates count once).",
)
PAGING = [
    OpenApiParameter(
        # Ten digits at most (the view refuses longer numbers with bad_parameter).
        "page",
        {"type": "integer", "minimum": 1, "maximum": 9_999_999_999},
        QUERY,
        default=1,
        description="1-based page of items.",
    ),
    OpenApiParameter(
        "pagesize",
        {"type": "integer", "minimum": 0, "maximum": 100},
        QUERY,
        default=30,
        description="Items per page.",
    ),
    OpenApiParameter(
        "filter",
        str,
        QUERY,
        enum=["default", "withbody", "none", "total"],
        default="default",
        description="`withbody` is the same as `default`; `none` empties `items`; `total` adds `total`.",
    ),
    OpenApiParameter(
        "key",
        str,
        QUERY,
        description="An app key: the quota is counted per key, with a higher maximum, instead of per IP.",
    ),
]
NO_CACHE = OpenApiParameter(
    "Cache-Control",
    str,
    HEADER,
    response=[200, 400],
    description="Never cached: the methods that revoke are GETs, and the bodies echo tokens.",
)
NO_CACHE_PRAGMA = OpenApiParameter(
    "Pragma", str, HEADER, response=[200, 400], description="`no-cache`, for HTTP/1.0 caches."
)


QUOTA = (
    " Takes no authentication but the tokens in the path. Every request, errors included, costs one "
    "unit of a daily quota per client IP (or per `key`)."
)


def _error(error_id: int, name: str, message: str) -> dict[str, Any]:
    return {"error_id": error_id, "error_name": name, "error_message": message}


ERROR = OpenApiResponse(
    SEError,
    "Every error, as on the real API: a bad parameter, the quota used up, an unexpected error.",
    examples=[
        OpenApiExample("Bad parameter", _error(400, "bad_parameter", "accessTokens")),
        OpenApiExample(
            "Quota used up",
            _error(
                502,
                "throttle_violation",
                "too many requests from this IP, more requests available in 3600 seconds",
            ),
        ),
        OpenApiExample("Unexpected error", _error(500, "internal_error", "an unexpected error occurred")),
    ],
)


def operation(summary: str, description: str, ok: str) -> dict[str, Any]:
    """``extend_schema`` arguments for one method; ``ok`` describes its ``items``."""
    return {
        "summary": summary,
        "description": description + QUOTA,
        "parameters": [ACCESS_TOKENS, *PAGING, NO_CACHE, NO_CACHE_PRAGMA],
        "responses": {200: OpenApiResponse(SEWrapper, ok), 400: ERROR},
    }
