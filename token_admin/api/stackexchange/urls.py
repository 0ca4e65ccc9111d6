"""Stack Exchange-style token methods; the example project mounts them at ``/2.2/``.

``{accessTokens}`` is one path segment (``[^/]*``): an empty one is the API's own
``bad_parameter`` rather than an unknown path. The last pattern catches every other path under
the mount, so an unknown method gets ``no_method`` in the API's format, never Django's 404 page.
"""

from django.urls import re_path

from . import views

app_name = "token_admin_stackexchange"

urlpatterns = [
    re_path(r"^access-tokens/(?P<access_tokens>[^/]*)$", views.AccessTokensView.as_view(), name="read"),
    re_path(
        r"^access-tokens/(?P<access_tokens>[^/]*)/invalidate$",
        views.InvalidateView.as_view(),
        name="invalidate",
    ),
    re_path(
        r"^apps/(?P<access_tokens>[^/]*)/de-authenticate$",
        views.DeauthenticateView.as_view(),
        name="de-authenticate",
    ),
    # [\s\S] rather than ".": a decoded %0A in the path must not escape to Django's 404 page.
    re_path(r"^[\s\S]*$", views.NoMethodView.as_view(), name="no-method"),
]
