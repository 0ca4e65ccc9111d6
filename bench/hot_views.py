"""The host project's views of ``bench/hot_path.py``, the same on both sides.

* ``HostAPIView``: a DRF view authenticated by DOT's ``OAuth2Authentication`` (what a host
  project's API looks like);
* ``HostProtectedView``: DOT's plain ``ProtectedResourceView``;
* ``StockTokenView``: what a stock DOT project would serve at ``GET /stream/0/token``: the
  App.net fields built by hand from the token DOT loaded (one query), the same JSON as
  token_admin's view for the bench's tokens (``bench/hot_path.py`` checks the bodies match).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.views import ProtectedResourceView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class HostAPIView(APIView):
    authentication_classes = [OAuth2Authentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"username": request.user.get_username(), "scope": request.auth.scope})


class HostProtectedView(ProtectedResourceView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse("ok", content_type="text/plain")


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class StockTokenView(APIView):
    authentication_classes = [OAuth2Authentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        token = request.auth
        application, user = token.application, token.user
        data: dict[str, Any] = {
            "app": {"client_id": application.client_id, "link": "", "name": application.name},
            "client_id": application.client_id,
            "scopes": token.scope.split(),
            "user": {
                "id": str(user.pk),
                "username": user.get_username(),
                "name": user.get_full_name(),
                "type": "human",
                "created_at": _iso(user.date_joined),
            },
        }
        return Response({"data": data, "meta": {"code": 200}})
