"""DOT's URLs with its two revoking views replaced by token_admin's (``token_admin.oauth_views``).

Use it where you would include ``oauth2_provider.urls``::

    path("o/", include("token_admin.oauth_urls", namespace="oauth2_provider")),

Every other URL, name and view is DOT's own.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from oauth2_provider import urls as dot_urls

from .oauth_views import AuthorizedTokenDeleteView, RevokeTokenView

app_name = dot_urls.app_name

_REPLACED: dict[str, Any] = {
    "revoke-token": path("revoke_token/", RevokeTokenView.as_view(), name="revoke-token"),
    "authorized-token-delete": path(
        "authorized_tokens/<slug:pk>/delete/",
        AuthorizedTokenDeleteView.as_view(),
        name="authorized-token-delete",
    ),
}

urlpatterns: list[Any] = [
    _REPLACED.get(pattern.name or "", pattern) if isinstance(pattern, URLPattern) else pattern
    for pattern in dot_urls.urlpatterns
]
