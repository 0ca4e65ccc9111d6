"""OpenAPI description of the staff resource API and the "me" API.

The viewsets' serializers describe the bodies; this module adds the tag, stable operation ids,
the error answers every operation may give (DRF's ``{"detail": ...}`` or field errors) and the
OAuth 2 scheme with the scope each operation needs.
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse
from rest_framework import serializers

from token_admin.api.manage.permissions import SCOPES
from token_admin.api.openapi import HAVE_SPECTACULAR, OpenApiAuthenticationExtension, OpenObject, StyleSchema


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class FieldErrorsSerializer(OpenObject):
    """Field errors: each key a field of the request (``non_field_errors`` for the whole), each
    value a list of messages; or ``detail`` for a malformed body."""


ERRORS = {
    "400": (FieldErrorsSerializer, "Bad input (a filter, a cursor page size, a body field)."),
    "401": (ErrorSerializer, "No credentials, or a bearer token that is invalid or expired."),
    "403": (ErrorSerializer, "Not allowed: not staff, a missing permission, or a missing scope."),
    "404": (ErrorSerializer, "No such object, or an invalid cursor."),
}


class ResourceSchema(StyleSchema):
    """One operation id per viewset action: ``<prefix>_<basename>_<action>``."""

    def get_operation_id(self) -> str:
        # "me-sessions" is the router's name; "me_sessions_list" says it once.
        view: Any = self.view  # a viewset: the router set its basename and action
        basename = view.basename.removeprefix(f"{self.operation_prefix}-").replace("-", "_")
        return f"{self.operation_prefix}_{basename}_{view.action}"

    def _is_list_view(self, serializer: Any = None) -> bool:
        # Unlike the styles' envelopes, these lists are DRF's own: arrays, cursor pages, filters.
        return bool(super(StyleSchema, self)._is_list_view(serializer))

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status, (serializer, description) in ERRORS.items():
            if status not in responses:
                responses[status] = self._get_response_for_code(serializer, status, direction=direction)
                responses[status]["description"] = description
        return responses


class ManageSchema(ResourceSchema):
    tag = "Staff resource API"
    operation_prefix = "manage"


class MeSchema(ResourceSchema):
    tag = "Me API"
    operation_prefix = "me"


def _url(name: str, default: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return default


if HAVE_SPECTACULAR:

    class BearerScheme(OpenApiAuthenticationExtension):
        """DOT's OAuth 2 with token_admin's scopes; each operation names the one it needs."""

        target_class = "token_admin.api.manage.permissions.BearerAuthentication"
        name = "tokenAdminOAuth2"

        def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
            return {self.name: [auto_schema.view.required_scope_for(auto_schema.method)]}

        def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
            return {
                "type": "oauth2",
                "description": "A DOT access token as `Authorization: Bearer`, with the operation's scope.",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": _url("oauth2_provider:authorize", "/o/authorize/"),
                        "tokenUrl": _url("oauth2_provider:token", "/o/token/"),
                        "scopes": SCOPES,
                    }
                },
            }
