"""``tests/urls.py`` under a prefix, as a host project mounts token_admin: every URL module at
``/api/v2/`` + the contract's path (``/api/v2/stream/0/token``, ``/api/v2/account/sessions/``).
``tests.settings_host`` uses it; tests build paths with ``reverse()`` or ``tests.helpers.url``."""

from django.urls import include, path

PREFIX = "/api/v2"

urlpatterns = [path(PREFIX.lstrip("/") + "/", include("tests.urls"))]
