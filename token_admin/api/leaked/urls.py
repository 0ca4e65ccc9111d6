"""Mount under any prefix, e.g. ``path("credentials/", include("token_admin.api.leaked.urls"))``."""

from django.urls import path

from token_admin.api.leaked.views import RevokeLeakedTokensView

app_name = "token_admin_leaked"

urlpatterns = [
    path("revoke", RevokeLeakedTokensView.as_view(), name="revoke"),
]
