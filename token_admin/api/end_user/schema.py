"""OpenAPI description of the end-user token API (its wire contract: the README, "End-user token API").

Schema-only serializers: the views build their JSON with plain functions (``responses.py``); these
classes only describe it, and ``tests/test_openapi.py`` checks real responses against them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from token_admin.api.end_user.authentication import REALM
from token_admin.api.openapi import (
    HEADER,
    PATH,
    Int64Field,
    OpenApiAuthenticationExtension,
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    StyleSchema,
)
from token_admin.models import Device


class EndUserSchema(StyleSchema):
    tag = "End-user token API"
    operation_prefix = "end_user"


class APIClientScheme(OpenApiAuthenticationExtension):
    target_class = "token_admin.api.end_user.authentication.APIClientAuthentication"
    name = "endUserApiClient"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "An API client's client_id and client_secret: a confidential DOT application "
            "whose token_admin profile grants the end-user API.",
        }


class EndUserAgent(serializers.Serializer):
    """A User-Agent header as ua-parser reads it; "" where it names nothing it knows."""

    browser = serializers.CharField(allow_blank=True, help_text='e.g. "Mobile Safari"')
    os = serializers.CharField(allow_blank=True, help_text='e.g. "iOS"')
    device = serializers.CharField(allow_blank=True, help_text='e.g. "iPhone"')


class EndUserToken(serializers.Serializer):
    """One session of the user: a valid access token, or an expired one with a usable refresh token."""

    id = serializers.UUIDField(
        help_text="The session's id: stable while the refresh token rotates; never a token or a database key."
    )
    client_name = serializers.CharField(
        help_text="The application's name: for a dynamically registered client, the software's name "
        "from its registration (client_name, else software_id), never the device's."
    )
    device_name = serializers.CharField(
        required=False,
        help_text="Only for a session bound to a device, or a session of the user who registered its "
        "client dynamically (named by the registration's device_name, else its client_name); never null.",
    )
    created_at = Int64Field(help_text="When the session began, in milliseconds since the epoch.")
    scopes = serializers.ListField(child=serializers.CharField())
    type = serializers.CharField(
        help_text=f"{', '.join(Device.Type.values)}: DEFAULT unless the device or SESSION_TYPE_HOOK says "
        "otherwise (the hook may return other strings)."
    )
    refresh_token_issued = serializers.BooleanField()
    expired = serializers.BooleanField(
        help_text="The access token expired; the refresh token is still usable."
    )
    last_used_at = Int64Field(
        required=False,
        allow_null=True,
        help_text="Only with the END_USER_ACTIVITY_FIELDS setting: when a token of the session last "
        "authenticated or refreshed (exact to within ACTIVITY_WINDOW_SECONDS), in milliseconds since "
        "the epoch; null if never since tracking began.",
    )
    last_ip = serializers.IPAddressField(
        required=False,
        allow_null=True,
        help_text="Only with END_USER_ACTIVITY_FIELDS: the client IP of that use (see TRUSTED_PROXY_COUNT).",
    )
    user_agent = EndUserAgent(
        required=False,
        allow_null=True,
        help_text="Only with END_USER_ACTIVITY_FIELDS: the parsed User-Agent of that use; null if none.",
    )


class EndUserTokens(serializers.Serializer):
    tokens = EndUserToken(many=True, help_text="Newest first; never empty (no sessions is a 404).")


class EndUserError(serializers.Serializer):
    """An error of the API client's request."""

    code = serializers.ChoiceField(
        choices=[
            ("unauthorized", "missing or wrong credentials"),
            ("insufficient_permissions", "the API client lacks the end-user API"),
            ("bad_request", "too many query parameters"),
            ("request_too_large", "a body over the size limit"),
            ("too_many_requests", "too many failed authentications from this client id or IP"),
            ("server_error", "an unexpected error"),
        ]
    )
    message = serializers.CharField()


class EndUserNoTokens(serializers.Serializer):
    """The user is unknown or has no sessions: the two look the same."""

    error = serializers.ChoiceField(choices=[("No tokens found", "no such user, or no sessions")])


USER_ID = OpenApiParameter("user_id", str, PATH, description="The user's primary key, as a string.")
TOKEN_ID = OpenApiParameter(
    "token_id", str, PATH, description="A session id (the `id` of a listed token); anything else is ignored."
)
NO_STORE = [
    OpenApiParameter("Cache-Control", str, HEADER, response=True, description="Always `no-store`."),
    OpenApiParameter("Pragma", str, HEADER, response=True, description="Always `no-cache`."),
    OpenApiParameter("WWW-Authenticate", str, HEADER, response=[401], description=f'Basic realm="{REALM}"'),
    OpenApiParameter("Retry-After", int, HEADER, response=[429], description="Seconds to wait."),
]


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def responses(ok: dict[int, Any]) -> dict[int, Any]:
    """``ok`` plus the errors that every operation can answer."""
    return {
        **ok,
        401: OpenApiResponse(
            EndUserError,
            "Missing or wrong credentials.",
            examples=[
                OpenApiExample(
                    "Unauthorized",
                    _error("unauthorized", "Provide valid credentials to get access to the API."),
                )
            ],
        ),
        403: OpenApiResponse(
            EndUserError,
            "The API client does not have the end-user API.",
            examples=[
                OpenApiExample(
                    "Forbidden",
                    _error(
                        "insufficient_permissions",
                        "The API client used to authenticate the request does not allow operations on "
                        "the End User API.",
                    ),
                )
            ],
        ),
        400: OpenApiResponse(
            EndUserError,
            "Too many query parameters (over Django's DATA_UPLOAD_MAX_NUMBER_FIELDS).",
            examples=[
                OpenApiExample("Bad request", _error("bad_request", "Too many parameters or form fields."))
            ],
        ),
        413: OpenApiResponse(
            EndUserError,
            "A body over Django's DATA_UPLOAD_MAX_MEMORY_SIZE.",
            examples=[OpenApiExample("Too large", _error("request_too_large", "Request body too large."))],
        ),
        429: OpenApiResponse(
            EndUserError,
            "Too many failed authentications from this client id or IP; retry after `Retry-After` seconds.",
            examples=[
                OpenApiExample(
                    "Throttled",
                    _error(
                        "too_many_requests",
                        "Too many failed authentication attempts. Retry after the time in Retry-After.",
                    ),
                )
            ],
        ),
        500: OpenApiResponse(
            EndUserError,
            "An unexpected error.",
            examples=[
                OpenApiExample(
                    "Server error", _error("server_error", "The server could not handle the request.")
                )
            ],
        ),
    }


LIST: dict[str, Any] = {
    "summary": "A user's sessions",
    "description": "One entry per session of the user, newest first. An unknown user and a user without "
    "sessions both get the 404.",
    "parameters": [USER_ID, *NO_STORE],
    "responses": responses(
        {
            200: OpenApiResponse(EndUserTokens, "The user's sessions."),
            404: OpenApiResponse(
                EndUserNoTokens,
                "No such user, or no sessions.",
                examples=[OpenApiExample("No tokens", {"error": "No tokens found"})],
            ),
        }
    ),
}
REVOKE: dict[str, Any] = {
    "summary": "Revoke a session",
    "description": "Revokes the session (access token and refresh-token family) if it belongs to the user. "
    "The answer is the same whether or not the user or the session exists.",
    "parameters": [USER_ID, TOKEN_ID, *NO_STORE],
    "responses": responses({204: OpenApiResponse(None, "Done, or nothing to do; no body.")}),
}
