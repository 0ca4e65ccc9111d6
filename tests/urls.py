"""Every URL module token_admin provides, mounted where the contract (and the README) puts them.

The example project mounts the same modules at the same paths plus its demo pages;
``tests/test_example_project.py`` checks that the two stay in step.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("o/", include("token_admin.oauth_urls", namespace="oauth2_provider")),
    path("stream/0/", include("token_admin.api.adn.urls")),
    path("2.2/", include("token_admin.api.stackexchange.urls")),
    path("oauth/api/v1/", include("token_admin.api.end_user.urls")),
    path("credentials/", include("token_admin.api.leaked.urls")),
    path("api/", include("token_admin.api.schema_urls")),
    path("account/", include("token_admin.account.urls")),
    path("api/token-admin/", include("token_admin.api.manage.urls")),
]
