"""API clients: HTTP Basic with a DOT confidential application's ``client_id:client_secret``.

DOT hashes client secrets (PBKDF2 by default, about 0.2 s per check), which would cap the
API at a few requests per second per process. A secret is therefore checked with the
hasher once, and the success is remembered in the shared cache for
``END_USER_SECRET_CACHE_SECONDS`` as a keyed digest over the client id, the presented
secret and the stored hash: a changed secret, a changed hash or another app never
matches, and the cache never holds the secret. The application row (and its profile) is
loaded on every request, so a removed ``end_user_api`` flag or a deleted app takes
effect at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from django.contrib.auth.hashers import check_password, identify_hasher
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.utils.crypto import salted_hmac
from oauth2_provider.models import get_application_model
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from ...conf import conf

REALM = "token_admin"
_DIGEST_SALT = "token_admin.api.end_user.client_secret"


def parse_basic_credentials(header: str) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from an ``Authorization: Basic`` value (RFC 7617), or None.

    None means "no Basic credentials"; malformed ones (bad base64, not UTF-8, no colon)
    raise ``AuthenticationFailed``. The id and secret are taken as they are, not
    form-decoded: DOT-generated ids and secrets are plain letters and digits.
    """
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise exceptions.AuthenticationFailed() from exc
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        raise exceptions.AuthenticationFailed()
    return client_id, client_secret


def _secret_matches(presented: str, stored: str) -> bool:
    """DOT's own check: the hasher for a hashed secret, else a constant-time comparison."""
    try:
        identify_hasher(stored)
    except ValueError:  # stored in cleartext (``hash_client_secret=False``)
        return hmac.compare_digest(presented.encode("utf-8"), stored.encode("utf-8"))
    return check_password(presented, stored)


def verify_client_secret(application: Any, presented: str) -> bool:
    """Whether ``presented`` is ``application``'s client secret; a success is cached for a while."""
    stored = application.client_secret or ""
    if not presented or not stored:
        return False
    seconds = conf.END_USER_SECRET_CACHE_SECONDS
    if seconds <= 0:
        return _secret_matches(presented, stored)

    cache = caches[conf.CACHE_ALIAS]
    # Hashed so that any client id is a valid cache key (memcached refuses spaces).
    key = "token_admin:end_user:secret:" + hashlib.sha256(application.client_id.encode("utf-8")).hexdigest()
    # JSON keeps the three parts apart whatever characters they hold.
    digest = salted_hmac(
        _DIGEST_SALT, json.dumps([application.client_id, presented, stored]), algorithm="sha256"
    ).hexdigest()
    remembered = cache.get(key)
    if isinstance(remembered, str) and hmac.compare_digest(remembered, digest):
        return True
    if not _secret_matches(presented, stored):
        return False
    cache.set(key, digest, seconds)
    return True


class APIClientAuthentication(authentication.BaseAuthentication):
    """Authenticates an API client; ``request.auth`` is its DOT Application (profile loaded)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        credentials = parse_basic_credentials(request.META.get("HTTP_AUTHORIZATION", ""))
        if credentials is None:
            return None
        client_id, client_secret = credentials
        application = (
            get_application_model()
            .objects.select_related("token_admin_profile")
            .filter(client_id=client_id)
            .first()
        )
        if application is None or not verify_client_secret(application, client_secret):
            raise exceptions.AuthenticationFailed()
        # The API client is not a person: no Django user acts here.
        return AnonymousUser(), application

    def authenticate_header(self, request: Request) -> str:
        return f'Basic realm="{REALM}"'


class IsEndUserAPIClient(permissions.BasePermission):
    """A confidential application whose profile grants the end-user API."""

    def has_permission(self, request: Request, view: Any) -> bool:
        application: Any = request.auth
        if application is None:
            return False
        if application.client_type != application.CLIENT_CONFIDENTIAL:
            # A public client's secret ships inside its app: it proves nothing.
            return False
        profile = getattr(application, "token_admin_profile", None)
        return bool(profile and profile.end_user_api)
