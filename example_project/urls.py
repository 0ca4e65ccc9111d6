"""Every URL module of token_admin at the paths the README gives them, plus the demo's own pages."""

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from example_project import views

urlpatterns = [
    path("", views.landing, name="demo-landing"),
    path("demo/authorize", views.authorize, name="demo-authorize"),
    path("callback", views.callback, name="demo-callback"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(next_page="/"), name="logout"),
    path("admin/", admin.site.urls),
    path("o/", include("token_admin.oauth_urls", namespace="oauth2_provider")),
    path("stream/0/", include("token_admin.api.adn.urls")),
    path("2.2/", include("token_admin.api.stackexchange.urls")),
    path("oauth/api/v1/", include("token_admin.api.end_user.urls")),
    # POST credentials/revoke: secret scanners report leaked tokens (as GitHub's endpoint).
    path("credentials/", include("token_admin.api.leaked.urls")),
    # api/schema/ (OpenAPI 3, YAML; ?format=json for JSON) and api/docs/ (offline Swagger UI).
    path("api/", include("token_admin.api.schema_urls")),
    # The signed-in user's own sessions and connected apps (self-service pages).
    path("account/", include("token_admin.account.urls")),
    # The staff resource API and the signed-in user's "me" API (browsable with a session).
    path("api/token-admin/", include("token_admin.api.manage.urls")),
]
