"""Stack Exchange-style token methods; the example project mounts them at ``/2.2/``.

``{accessTokens}`` is one path segment (``[^/]*``): an empty one is the API's own
``bad_parameter`` rather than an unknown path. The last pattern catches every other path under
the mount, so an unknown method gets ``no_method`` in the API's format, never Django's 404 page.
:func:`routes` builds the same patterns over subclasses of the viewsets (see the README).
"""

from __future__ import annotations

from typing import Any

from django.urls import re_path

from token_admin.api.stackexchange.views import AccessTokenViewSet, AppViewSet, NoMethodViewSet

app_name = "token_admin_stackexchange"


def routes(
    access_tokens: type[AccessTokenViewSet] = AccessTokenViewSet, apps: type[AppViewSet] = AppViewSet
) -> list[Any]:
    """The style's URL patterns over these viewsets (URL names as below)."""
    return [
        re_path(
            r"^access-tokens/(?P<access_tokens>[^/]*)$",
            access_tokens.as_view({"get": "retrieve"}),
            name="read",
        ),
        re_path(
            r"^access-tokens/(?P<access_tokens>[^/]*)/invalidate$",
            access_tokens.as_view({"get": "invalidate"}),
            name="invalidate",
        ),
        re_path(
            r"^apps/(?P<access_tokens>[^/]*)/de-authenticate$",
            apps.as_view({"get": "de_authenticate"}),
            name="de-authenticate",
        ),
        # [\s\S] rather than ".": a decoded %0A in the path must not escape to Django's 404 page.
        re_path(r"^[\s\S]*$", NoMethodViewSet.as_view({"get": "no_method"}), name="no-method"),
    ]


urlpatterns = routes()
