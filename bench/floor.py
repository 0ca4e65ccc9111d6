"""The floor of ``GET /stream/0/token``: a minimal DRF view with DOT's ``OAuth2Authentication``.

Nothing else: DOT finds the token with its user and app (one query), and the view returns
the App.net fields it already has, built by hand. No app profile (``link`` stays empty, so
no second query), no rate limit, no envelope helpers. ``GET /stream/0/token`` does all of
that and more (the profile joined into the same one query, a cache round trip for the rate
limit): the ratio says what those cost.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class FloorTokenView(APIView):
    authentication_classes = [OAuth2Authentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        token = request.auth
        application = token.application
        app = {"client_id": application.client_id, "link": "", "name": application.name}
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
        return Response({"data": data, "meta": {"code": 200}})
