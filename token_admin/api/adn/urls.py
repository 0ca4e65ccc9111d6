"""App.net-style token API; the contract mounts it at ``stream/0/``, any prefix works.

:func:`routes` builds the same patterns over subclasses of the viewsets, for an integrator who
narrows what they read or who may call them (see the README).
"""

from __future__ import annotations

from typing import Any

from django.urls import path

from token_admin.api.adn.views import AppTokenViewSet, NotFoundViewSet, TokenViewSet
from token_admin.routing import catch_all

app_name = "token_admin_adn"

#: Every method the catch-all answers (with a 404 in the envelope).
ANY_METHOD: dict[str, Any] = dict.fromkeys(NotFoundViewSet.http_method_names, "not_found")


def routes(
    token: type[TokenViewSet] = TokenViewSet, app_tokens: type[AppTokenViewSet] = AppTokenViewSet
) -> list[Any]:
    """The style's URL patterns over these viewsets (URL names as below)."""
    endpoints = [
        path("token", token.as_view({"get": "retrieve", "delete": "destroy"}), name="token"),
        path("apps/me/tokens/user_ids", app_tokens.as_view({"get": "user_ids"}), name="app-token-user-ids"),
        path("apps/me/tokens", app_tokens.as_view({"get": "list"}), name="app-tokens"),
    ]
    # Last: every other path under the mount answers a 404 in the envelope, not an HTML page.
    return [*endpoints, catch_all(NotFoundViewSet.as_view(ANY_METHOD), name="not-found", before=endpoints)]


urlpatterns = routes()
