"""Self-service pages for the signed-in user; mount under any prefix::

    path("account/", include("token_admin.account.urls")),

They use Django's session authentication (``login_required`` sends visitors to
``settings.LOGIN_URL``) and CSRF protection, and need ``django.contrib.messages``.
"""

from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from token_admin.account import views
from token_admin.routing import catch_all

app_name = "token_admin_account"

pages = [
    path("", RedirectView.as_view(pattern_name="token_admin_account:sessions"), name="index"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/sign-out-all/", views.sign_out_everywhere, name="sign-out-all"),
    path("sessions/<str:session_id>/sign-out/", views.sign_out, name="sign-out"),
    path("apps/", views.apps, name="apps"),
    path("apps/<str:client_id>/remove/", views.remove_access, name="remove-access"),
]

# Any other path under the mount: the account pages' own 404, not the project's (but
# ``sessions`` is redirected to ``sessions/`` by APPEND_SLASH).
urlpatterns = [*pages, catch_all(views.not_found, name="not-found", before=pages)]
