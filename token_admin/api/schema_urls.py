"""The OpenAPI schema of token_admin's API styles and an offline Swagger UI (the ``openapi`` extra).

Mount it under any prefix: ``path("api/", include("token_admin.api.schema_urls"))`` serves
``api/schema/`` and ``api/docs/``. It needs ``drf_spectacular`` and ``drf_spectacular_sidecar`` in
``INSTALLED_APPS`` (templates and the Swagger UI's static files).

The schema covers token_admin's endpoints only, wherever the project mounts them, so it works in a
project whose other DRF views use DRF's own schema class; ``SPECTACULAR_SETTINGS`` ``TITLE``,
``VERSION`` and ``DESCRIPTION`` win over the defaults below. A project with its own drf-spectacular
schema needs none of this: the styles' views carry their annotations into it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import patched_settings, spectacular_settings
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response

import token_admin
from token_admin.api.openapi import StyleSchema

app_name = "token_admin_schema"

DESCRIPTION = (
    "See and revoke django-oauth-toolkit access tokens in three API styles: App.net "
    "(bearer token, data/meta envelope), Stack Exchange (tokens in the path, items wrapper, daily "
    "quota) and an end-user token API (HTTP Basic with an API client)."
)


def defaults() -> dict[str, Any]:
    """Title, version and description, unless the project's ``SPECTACULAR_SETTINGS`` sets them."""
    project = getattr(settings, "SPECTACULAR_SETTINGS", {})
    return {
        "TITLE": project.get("TITLE") or "django-token-admin",
        "VERSION": project.get("VERSION") or token_admin.__version__,
        "DESCRIPTION": project.get("DESCRIPTION") or DESCRIPTION,
    }


def only_token_admin(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """drf-spectacular preprocessing hook: keep the endpoints of the API styles' views."""
    return [endpoint for endpoint in endpoints if isinstance(endpoint[3].cls.schema, StyleSchema)]


class Undocumented(AutoSchema):
    """The schema and its docs page are not operations of the API, whatever the project's settings."""

    def is_excluded(self) -> bool:
        return True


class TokenAdminSchemaView(SpectacularAPIView):
    """The schema of token_admin's endpoints; ``?format=json`` for JSON (YAML by default)."""

    # drf-spectacular's own views count on DEFAULT_SCHEMA_CLASS being its AutoSchema; these do not.
    schema = Undocumented()

    def get(self, request: Request | HttpRequest, *args: Any, **kwargs: Any) -> Response:
        # Read on each request, so that settings changed after import (override_settings) count.
        project_hooks = getattr(settings, "SPECTACULAR_SETTINGS", {}).get("PREPROCESSING_HOOKS", [])
        self.custom_settings = {
            **defaults(),
            "PREPROCESSING_HOOKS": [*project_hooks, f"{__name__}.only_token_admin"],
        }
        return super().get(request, *args, **kwargs)


class TokenAdminSwaggerView(SpectacularSwaggerView):
    """Swagger UI from drf-spectacular-sidecar's static files: the page works with no internet."""

    url_name = "token_admin_schema:schema"
    schema = Undocumented()

    def get(self, request: Request | HttpRequest, *args: Any, **kwargs: Any) -> Response:
        self.title = defaults()["TITLE"]
        offline: dict[str, Any] = {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR"}
        ui_settings = spectacular_settings.SWAGGER_UI_SETTINGS
        if isinstance(ui_settings, dict):  # (a string is JavaScript, the project's own business)
            # Swagger UI would otherwise send the schema's URL to validator.swagger.io for a badge.
            offline["SWAGGER_UI_SETTINGS"] = {**ui_settings, "validatorUrl": None}
        with patched_settings(offline):
            return super().get(request, *args, **kwargs)

    def options(self, request: Request | HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        """The page's methods in ``Allow`` (DRF adds it), with no body.

        DRF's own OPTIONS answer is metadata rendered by the page's renderer, an HTML template
        renderer with no template for it: a 500 (``TemplateDoesNotExist``).
        """
        return HttpResponse(status=200)


urlpatterns = [
    path("schema/", TokenAdminSchemaView.as_view(), name="schema"),
    path("docs/", TokenAdminSwaggerView.as_view(), name="docs"),
]
