"""The example project's URLs, the floor view, and DOT's stock access-token admin, for benchmarks only."""

from django.contrib import admin
from django.urls import path
from oauth2_provider import admin as dot_admin
from oauth2_provider.models import get_access_token_model

from bench.floor import FloorTokenView
from example_project.urls import urlpatterns as example_urlpatterns

# DOT's own AccessTokenAdmin (its one-token-at-a-time revoke action), on a site of its own so
# that token_admin's replacement on the default site stays as the app installs it.
stock_site = admin.AdminSite(name="bench_stock_admin")
stock_site.register(get_access_token_model(), dot_admin.AccessTokenAdmin)

urlpatterns = [
    path("bench/floor/token", FloorTokenView.as_view()),
    path("bench/stock-admin/", stock_site.urls),
    *example_urlpatterns,
]
