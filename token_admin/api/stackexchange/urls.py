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
from token_admin.routing import ANY_PATH

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
        # Every other path, even one a slash would complete (access-tokens: the method is
        # access-tokens/{tokens}, and the API's paths take no trailing slash), is no_method, as
        # the real API answers, not a redirect (token_admin.routing.catch_all).
        re_path(ANY_PATH, NoMethodViewSet.as_view({"get": "no_method"}), name="no-method"),
    ]


urlpatterns = routes()
