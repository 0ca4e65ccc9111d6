"""The floor of ``GET /stream/0/token``: the least a DRF view can do to return the same fields.

DOT's ``OAuth2Authentication`` finds the token (one query, user and app joined), the app
profile gives ``link`` (one query), and the App.net Token object is built by hand.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from token_admin.models import AppProfile


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class FloorTokenView(APIView):
    authentication_classes = [OAuth2Authentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        token = request.auth
        application = token.application
        try:
            link = application.token_admin_profile.link
        except AppProfile.DoesNotExist:
            link = ""
        app = {"client_id": application.client_id, "link": link, "name": application.name}
        data: dict[str, Any] = {"app": app, "client_id": application.client_id, "scopes": []}
        user = token.user
        if user is not None:
            data["scopes"] = token.scope.split()
            data["user"] = {
                "id": str(user.pk),
                "username": user.get_username(),
                "name": user.get_full_name(),
                "type": "human",
                "created_at": _iso(user.date_joined),
            }
        response = Response({"data": data, "meta": {"code": 200}})
        if user is not None:
            response["X-OAuth-Scopes"] = ",".join(data["scopes"])
        return response
