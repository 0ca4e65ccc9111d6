"""App.net-style token API; the contract mounts it at ``stream/0/``, any prefix works."""

from django.urls import path, re_path

from . import views

app_name = "token_admin_adn"

urlpatterns = [
    path("token", views.TokenView.as_view(), name="token"),
    path("apps/me/tokens/user_ids", views.AppTokenUserIdsView.as_view(), name="app-token-user-ids"),
    path("apps/me/tokens", views.AppTokensView.as_view(), name="app-tokens"),
    # Last: every other path under the mount answers a 404 in the envelope, not an HTML page.
    # [\s\S] rather than ".": a decoded %0A in the path must not escape to Django's HTML 404 page.
    re_path(r"^[\s\S]*$", views.NotFoundView.as_view(), name="not-found"),
]
