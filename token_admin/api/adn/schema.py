"""OpenAPI description of the App.net style (its wire contract: the README, "App.net style").

Schema-only serializers: the views build their JSON with plain functions (``responses.py``);
these classes only describe it, and ``tests/test_openapi.py`` checks real responses against them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from token_admin.api.adn.envelope import PRETTY_HEADER
from token_admin.api.adn.errors import AUTH_PREFIX
from token_admin.api.adn.pagination import DEFAULT_COUNT, MAX_COUNT
from token_admin.api.openapi import (
    HEADER,
    QUERY,
    OpenApiAuthenticationExtension,
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    OpenObject,
    StyleSchema,
)


class ADNSchema(StyleSchema):
    tag = "App.net style"
    operation_prefix = "adn"


class ADNTokenScheme(OpenApiAuthenticationExtension):
    """Either way of passing the token: the ``Authorization`` header or ``?access_token=``."""

    target_class = "token_admin.api.adn.authentication.ADNTokenAuthentication"
    name = ["adnBearer", "adnAccessTokenQuery"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"adnBearer": []}, {"adnAccessTokenQuery": []}]  # one or the other, not both

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A DOT access token: a user token, or an app token (no user).",
            },
            {
                "type": "apiKey",
                "in": "query",
                "name": "access_token",
                "description": "The same token as a query parameter; the Authorization header wins.",
            },
        ]


# Objects (section 1, "Objects").


class ADNApp(serializers.Serializer):
    client_id = serializers.CharField()
    link = serializers.CharField(help_text="The app's URL from its token_admin profile; empty when unset.")
    name = serializers.CharField()


class ADNUser(OpenObject):
    """A user; ``ADN_USER_HOOK`` may add keys (description, avatar_image, counts, ...) and its
    keys win over these."""

    id = serializers.CharField(help_text="The user's primary key, as a string.")
    username = serializers.CharField()
    name = serializers.CharField(
        allow_blank=True, help_text="Full name (get_full_name(), else get_short_name()); may be empty."
    )
    type = serializers.ChoiceField(choices=[("human", "a person")])
    created_at = serializers.DateTimeField(
        required=False, help_text="When the user joined, ISO 8601 UTC to the second (2012-12-31T13:22:55Z)."
    )


class ADNLimits(serializers.Serializer):
    following = serializers.IntegerField()
    max_file_size = serializers.IntegerField()


class ADNStorage(serializers.Serializer):
    available = serializers.IntegerField()
    used = serializers.IntegerField()


HOOK_ONLY = "User tokens only, and only when the integrator's ADN_TOKEN_HOOK supplies it."


class ADNToken(serializers.Serializer):
    """A token. App tokens (no user) carry only ``app``, ``client_id`` and ``scopes`` (empty)."""

    app = ADNApp()
    client_id = serializers.CharField(help_text="Same as app.client_id; kept for old clients.")
    scopes = serializers.ListField(child=serializers.CharField(), help_text="Always empty for app tokens.")
    user = ADNUser(required=False, help_text="User tokens only.")
    limits = ADNLimits(required=False, help_text=HOOK_ONLY)
    storage = ADNStorage(required=False, help_text=HOOK_ONLY)
    invite_link = serializers.CharField(required=False, help_text=HOOK_ONLY)


class ADNListedToken(ADNToken):
    """A user token of the calling app, as ``apps/me/tokens`` lists it."""

    user = ADNUser()
    pagination_id = serializers.CharField(help_text="Orders the tokens; pass it as before_id or since_id.")


# The envelope: {"data": ..., "meta": {"code": <HTTP status>}}; errors have no "data".


class ADNMeta(serializers.Serializer):
    code = serializers.IntegerField(help_text="The HTTP status.")


class ADNPageMeta(ADNMeta):
    more = serializers.BooleanField(help_text="Whether there are more tokens beyond this page.")
    min_id = serializers.CharField(
        required=False, help_text="pagination_id of the last item; no items, no key."
    )
    max_id = serializers.CharField(
        required=False, help_text="pagination_id of the first item; no items, no key."
    )


# A field named ``data`` shadows Serializer.data for mypy only: DRF's metaclass takes fields off the class.


class ADNTokenEnvelope(serializers.Serializer):
    data = ADNToken()  # type: ignore[assignment]
    meta = ADNMeta()


class ADNUserIdsEnvelope(serializers.Serializer):
    data = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(), help_text="User ids, ascending."
    )
    meta = ADNMeta()


class ADNTokenPageEnvelope(serializers.Serializer):
    data = ADNListedToken(many=True, help_text="Newest first.")  # type: ignore[assignment]
    meta = ADNPageMeta()


class ADNErrorMeta(serializers.Serializer):
    code = serializers.IntegerField(help_text="The HTTP status.")
    error_message = serializers.CharField()
    error_slug = serializers.ChoiceField(
        choices=[
            ("invalid-token", "an unknown or revoked token"),
            ("token-expired", "an expired token: refresh it"),
            ("not-authorized", "a user token on an endpoint for app tokens"),
            ("bad-request", "a bad parameter"),
        ],
        required=False,
        help_text="Left out where no slug applies (no token, rate limited, server error).",
    )


class ADNError(serializers.Serializer):
    """An error: ``meta`` only, never ``data``."""

    meta = ADNErrorMeta()


# Parameters and headers.

PRETTY = OpenApiParameter(
    PRETTY_HEADER,
    str,
    HEADER,
    description="Any value turns on indented JSON with a trailing newline.",
)
PAGE_PARAMETERS = [
    OpenApiParameter(
        "count",
        {"type": "integer", "minimum": -MAX_COUNT, "maximum": MAX_COUNT, "not": {"enum": [0]}},
        QUERY,
        description=f"Tokens per page (default {DEFAULT_COUNT}). Negative: the oldest tokens after "
        "since_id, still newest first.",
    ),
    OpenApiParameter(
        "before_id",
        str,
        QUERY,
        pattern=r"^[0-9]{1,19}$",
        description="Only tokens older than this pagination_id (an earlier min_id).",
    ),
    OpenApiParameter(
        "since_id",
        str,
        QUERY,
        pattern=r"^[0-9]{1,19}$",
        description="Only tokens newer than this pagination_id (an earlier max_id).",
    ),
]


def response_headers(*, rate_limited: list[int], scopes: list[int]) -> list[Any]:
    """Response headers: the rate-limit trio on ``rate_limited`` statuses, scopes on ``scopes``.

    The rate limit counts a request once its token is known to be valid, so 401s carry neither.
    """
    return [
        OpenApiParameter(
            "Cache-Control", str, HEADER, response=True, description="Always `no-store`: token data."
        ),
        OpenApiParameter("Pragma", str, HEADER, response=True, description="Always `no-cache`."),
        OpenApiParameter(
            "X-RateLimit-Limit", int, HEADER, response=rate_limited, description="Requests per window."
        ),
        OpenApiParameter(
            "X-RateLimit-Remaining", int, HEADER, response=rate_limited, description="Left in this window."
        ),
        OpenApiParameter(
            "X-RateLimit-Reset", int, HEADER, response=rate_limited, description="Seconds until it resets."
        ),
        OpenApiParameter(
            "X-OAuth-Scopes",
            str,
            HEADER,
            response=scopes,
            description="The user token's scopes, comma-separated. Not sent for app tokens.",
        ),
        OpenApiParameter(
            "Retry-After", int, HEADER, response=[429], description="Seconds until the window resets."
        ),
        OpenApiParameter(
            "WWW-Authenticate",
            str,
            HEADER,
            response=[401],
            description='Bearer realm="stream" (with error="invalid_token" for a bad token).',
        ),
    ]


# Error responses.


def _error(status: int, message: str, slug: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"code": status, "error_message": message}
    if slug:
        meta["error_slug"] = slug
    return {"meta": meta}


UNAUTHORIZED = OpenApiResponse(
    ADNError,
    "No token, or an unknown, revoked or expired one.",
    examples=[
        OpenApiExample(
            "No token",
            _error(401, AUTH_PREFIX + "This view requires authentication and no token was provided."),
        ),
        OpenApiExample("Invalid token", _error(401, AUTH_PREFIX + "Invalid token.", "invalid-token")),
        OpenApiExample("Expired token", _error(401, AUTH_PREFIX + "Token expired.", "token-expired")),
    ],
)
APP_TOKEN_REQUIRED = OpenApiResponse(
    ADNError,
    "A user token on an endpoint for app tokens.",
    examples=[
        OpenApiExample("User token", _error(403, "This endpoint requires an app token.", "not-authorized"))
    ],
)
BAD_PAGE_PARAMETER = OpenApiResponse(
    ADNError,
    "A bad count, before_id or since_id; the message names it.",
    examples=[
        OpenApiExample(
            "Bad count",
            _error(
                400,
                f"Invalid count: must be a non-zero integer from -{MAX_COUNT} to {MAX_COUNT}.",
                "bad-request",
            ),
        )
    ],
)
RATE_LIMITED = OpenApiResponse(
    ADNError,
    "The token used up its rate limit; see Retry-After.",
    examples=[OpenApiExample("Rate limited", _error(429, "Too many requests"))],
)
SERVER_ERROR = OpenApiResponse(
    ADNError,
    "An unexpected error, still in the envelope.",
    examples=[OpenApiExample("Server error", _error(500, "Internal server error."))],
)


def responses(
    ok: OpenApiResponse, *, app_token_only: bool = False, paginated: bool = False, revokes: bool = False
) -> dict[int, Any]:
    """The responses of an operation: ``ok`` for 200, and the errors it can answer.

    A revoking operation counts against the rate limit but is never refused by it: no 429.
    """
    result: dict[int, Any] = {200: ok}
    if paginated:
        result[400] = BAD_PAGE_PARAMETER
    result[401] = UNAUTHORIZED
    if app_token_only:
        result[403] = APP_TOKEN_REQUIRED
    if not revokes:
        result[429] = RATE_LIMITED
    result[500] = SERVER_ERROR
    return result


def operation(
    summary: str,
    description: str,
    ok: OpenApiResponse,
    *,
    app_token_only: bool = False,
    paginated: bool = False,
    revokes: bool = False,
) -> dict[str, Any]:
    """``extend_schema`` arguments for one App.net operation."""
    answers = responses(ok, app_token_only=app_token_only, paginated=paginated, revokes=revokes)
    # Only a user token gets a 403 (that is what it is for), and a user token on an endpoint for app
    # tokens never gets further: its scopes go out on the 403 and 429 there, on every answer elsewhere.
    scopes = [403, 429, 500] if app_token_only else [200, 429, 500]
    headers = response_headers(rate_limited=[status for status in answers if status != 401], scopes=scopes)
    return {
        "summary": summary,
        "description": description,
        "parameters": [PRETTY, *(PAGE_PARAMETERS if paginated else []), *headers],
        "responses": answers,
    }
