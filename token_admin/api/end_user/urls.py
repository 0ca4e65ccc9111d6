"""URLs of the end-user token API; the example project mounts them at ``/oauth/api/v1/``.

:func:`routes` builds the same patterns over a subclass of the viewset, for an integrator who
narrows what it lists and revokes or who may call it (see the README).
"""

from __future__ import annotations

from typing import Any

from django.urls import path

from token_admin.api.end_user.views import UnknownPathViewSet, UserTokenViewSet
from token_admin.routing import catch_all

app_name = "token_admin_end_user"

#: Every method the catch-all answers (with a JSON 404) after authentication; HEAD goes with GET.
ANY_METHOD: dict[str, Any] = dict.fromkeys(("get", "post", "put", "patch", "delete", "options"), "not_found")


def routes(user_tokens: type[UserTokenViewSet] = UserTokenViewSet) -> list[Any]:
    """The API's URL patterns over this viewset (URL names as below)."""
    endpoints = [
        path(
            "users/<str:user_id>/tokens",
            user_tokens.as_view({"get": "list"}, http_method_names=["get", "head"]),
            name="user-tokens",
        ),
        path(
            "users/<str:user_id>/tokens/<str:token_id>",
            user_tokens.as_view({"delete": "destroy"}, http_method_names=["delete"]),
            name="user-token",
        ),
    ]
    # Last: every other path under the mount gets the API's JSON 404, not Django's HTML page.
    return [
        *endpoints,
        catch_all(UnknownPathViewSet.as_view(ANY_METHOD), name="unknown-path", before=endpoints),
    ]


urlpatterns = routes()
