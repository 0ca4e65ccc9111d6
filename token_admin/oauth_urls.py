"""DOT's URLs with its revoking views, token endpoint and registration endpoint replaced by
token_admin's (``oauth_views``).

Use it where you would include ``oauth2_provider.urls``::

    path("o/", include("token_admin.oauth_urls", namespace="oauth2_provider")),

Every other URL, name and view is DOT's own.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from oauth2_provider import urls as dot_urls

from token_admin.oauth_views import (
    AuthorizedTokenDeleteView,
    DynamicClientRegistrationView,
    RevokeTokenView,
    TokenView,
)

app_name = dot_urls.app_name

_REPLACED: dict[str, Any] = {
    "token": path("token/", TokenView.as_view(), name="token"),
    "revoke-token": path("revoke_token/", RevokeTokenView.as_view(), name="revoke-token"),
    "authorized-token-delete": path(
        "authorized_tokens/<slug:pk>/delete/",
        AuthorizedTokenDeleteView.as_view(),
        name="authorized-token-delete",
    ),
    "dcr-register": path("register/", DynamicClientRegistrationView.as_view(), name="dcr-register"),
}

urlpatterns: list[Any] = [
    _REPLACED.get(pattern.name or "", pattern) if isinstance(pattern, URLPattern) else pattern
    for pattern in dot_urls.urlpatterns
]
