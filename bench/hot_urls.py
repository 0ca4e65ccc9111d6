"""URLs of ``bench/hot_path.py``: the host project's views on both sides, and ``/stream/0/token``
served by token_admin where it is installed (side B), by a stock DRF view otherwise (side A)."""

from django.apps import apps
from django.urls import include, path

from bench.hot_views import HostAPIView, HostProtectedView, StockTokenView

urlpatterns = [
    path("host/api", HostAPIView.as_view()),
    path("host/protected", HostProtectedView.as_view()),
]
if apps.is_installed("token_admin"):
    urlpatterns.append(path("stream/0/", include("token_admin.api.adn.urls")))
else:
    urlpatterns.append(path("stream/0/token", StockTokenView.as_view()))
