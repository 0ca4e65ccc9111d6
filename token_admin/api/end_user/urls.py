"""URLs of the end-user token API; the example project mounts them at ``/oauth/api/v1/``."""

from django.urls import path, re_path

from . import views

app_name = "token_admin_end_user"

urlpatterns = [
    path("users/<str:user_id>/tokens", views.UserTokensView.as_view(), name="user-tokens"),
    path("users/<str:user_id>/tokens/<str:token_id>", views.UserTokenView.as_view(), name="user-token"),
    # Last: every other path under the mount gets the API's JSON 404, not Django's HTML page.
    re_path(r"", views.UnknownPathView.as_view(), name="unknown-path"),
]
