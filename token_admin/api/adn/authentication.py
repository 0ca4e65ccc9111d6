"""App.net token passing: ``Authorization: Bearer``, ``?access_token=`` or an ``access_token`` form field."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request, is_form_media_type

from token_admin import activity, queries
from token_admin.api.adn.errors import ADNError

# App.net: "GET and DELETE do not accept an HTTP body", so those take the query parameter;
# the methods that have a body take the form field.
QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def raw_token(request: Request) -> str | None:
    """The token the request passes, or None; the ``Authorization`` header wins."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if request.method in QUERY_METHODS:
        return request.query_params.get("access_token") or None
    # Only a form body is read: any other body is not where App.net looks for a token.
    if request.method in BODY_METHODS and is_form_media_type(request.content_type):
        return request.POST.get("access_token") or None
    return None


class ADNTokenAuthentication(BaseAuthentication):
    """Authenticate by a DOT access token: ``request.user`` is None for an app token.

    Unknown, revoked and DOT registration tokens are all "invalid"; an expired token is
    told apart so the client knows to refresh it.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = raw_token(request)
        if raw is None:
            return None
        # One query: the token with its user, app, app profile and the watermarks over it
        # (looked up by checksum).
        # A DELETE revokes the token: load its family in the same query (reads do without).
        token = queries.token_by_raw(raw, family=request.method == "DELETE")
        if token is None or token.application_id is None:
            raise ADNError.invalid_token()
        if token.is_expired():
            raise ADNError.token_expired()
        # Issued before a not-before watermark, or its user deactivated: as invalid as a
        # revoked token (read with the token, in its one query).
        if queries.is_refused(token):
            raise ADNError.invalid_token()
        # As DOT's validator does for its views: at most one UPDATE per window (and, per
        # process, one cache call per window: a use within it costs nothing more).
        activity.token_used(token, request.META)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="stream"'
