"""API clients: HTTP Basic with a DOT confidential application's ``client_id:client_secret``.

DOT hashes client secrets (PBKDF2 by default, about 0.2 s per check), which would cap the
API at a few requests per second per process. A secret is therefore checked with the
hasher once, and the success is remembered in the shared cache for
``END_USER_SECRET_CACHE_SECONDS`` as a keyed digest over the client id, the presented
secret and the stored hash: a changed secret, a changed hash or another app never
matches, and the cache never holds the secret. The application row (and its profile) is
loaded on every request, so a removed ``end_user_api`` flag or a deleted app takes
effect at once.

The memo can only skip a hash check that would succeed now. A stale fill (a check that
read the old hash, remembered after the secret was rotated) is harmless: it is compared
with a digest over the hash loaded by the request that reads it, which is the new one. A
cache server that is down or hung (within its socket timeout) only costs the memo: every
secret is then checked by its hash, and a wrong one is still refused.

Refusing is cheap and tells nothing (``token_admin.throttle``): failed attempts are counted
per client id and per IP, and past the limit an attempt is answered 429 before any hash is
computed. An unknown client id costs the same hash check as a known one, against a dummy
hash made with DOT's configured hasher (as Django's ``ModelBackend`` does for unknown
users), so timing does not tell which client ids exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from functools import cache
from typing import Any

from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import get_random_string, salted_hmac
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from token_admin.cache import cache_errors, report_outage, shared_cache
from token_admin.conf import conf
from token_admin.throttle import FailedAuthThrottle

REALM = "token_admin"
_DIGEST_SALT = "token_admin.api.end_user.client_secret"
logger = logging.getLogger(__name__)
REMEMBERED_CHECK = "the end-user API's remembered secret check"


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


@cache
def _dummy_hash(hasher: str) -> str:
    """A hash of a random secret made with ``hasher``: the cost of checking a real one."""
    return make_password(get_random_string(32), hasher=hasher)


def _check_dummy(presented: str) -> bool:
    """Spend what a hashed secret's check spends, and fail."""
    check_password(presented, _dummy_hash(oauth2_settings.CLIENT_SECRET_HASHER))
    return False


def _secret_matches(presented: str, stored: str) -> bool:
    """DOT's own check: the hasher for a hashed secret, else a constant-time comparison."""
    try:
        identify_hasher(stored)
    except ValueError:  # stored in cleartext (``hash_client_secret=False``)
        _check_dummy(presented)  # the same cost as a hashed secret's check
        return hmac.compare_digest(presented.encode("utf-8"), stored.encode("utf-8"))
    return check_password(presented, stored)


def _remembered_key(client_id: str) -> str:
    # Hashed so that any client id is a valid cache key (memcached refuses spaces).
    return (
        "token_admin:end_user:secret:"
        + hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()
    )


def _digest(client_id: str, presented: str, stored: str) -> str:
    # JSON keeps the three parts apart whatever characters they hold.
    return salted_hmac(
        _DIGEST_SALT, json.dumps([client_id, presented, stored]), algorithm="sha256"
    ).hexdigest()


def remembered(client_id: str, application: Any, presented: str) -> bool:
    """Whether a check of this very secret for this app succeeded lately (no hash computed).

    The same cache read for a known or an unknown client id.
    """
    if conf.END_USER_SECRET_CACHE_SECONDS <= 0:
        return False
    try:
        value = shared_cache().get(_remembered_key(client_id))
    except cache_errors() as error:
        report_outage(REMEMBERED_CHECK, error, "checks each secret by its hash")
        return False
    if application is None or not isinstance(value, str):
        return False
    stored = application.client_secret or ""
    return hmac.compare_digest(value, _digest(application.client_id, presented, stored))


def verify_client_secret(application: Any, presented: str) -> bool:
    """Whether ``presented`` is ``application``'s client secret, with a full hash check.

    ``application`` None (an unknown client id), an empty secret or none stored cost the same
    check against a dummy hash. A success is remembered for ``END_USER_SECRET_CACHE_SECONDS``.
    """
    stored = (application.client_secret or "") if application is not None else ""
    if not presented or not stored:
        return _check_dummy(presented)
    if not _secret_matches(presented, stored):
        return False
    seconds = conf.END_USER_SECRET_CACHE_SECONDS
    if seconds > 0:
        try:
            shared_cache().set(
                _remembered_key(application.client_id),
                _digest(application.client_id, presented, stored),
                seconds,
            )
        except cache_errors() as error:
            report_outage(
                "the end-user API's remembered secret check", error, "checks each secret by its hash"
            )
    return True


class APIClientAuthentication(authentication.BaseAuthentication):
    """Authenticates an API client; ``request.auth`` is its DOT Application (profile loaded)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        credentials = parse_basic_credentials(request.headers.get("authorization", ""))
        if credentials is None:
            return None
        client_id, client_secret = credentials
        # The same steps whether the client id exists or not: one query, one cache read, then
        # either a 429 or one hash check; only the right secret gets past them.
        application = (
            get_application_model()
            .objects.select_related("token_admin_profile")
            .filter(client_id=client_id.replace("\x00", ""))  # PostgreSQL refuses NUL in a query
            .first()
        )
        if application is not None and application.client_id != client_id:
            application = None  # (the NUL removed above, or a case-insensitive MySQL collation)
        if not remembered(client_id, application, client_secret):
            throttle = FailedAuthThrottle(client_id, request.META.get("REMOTE_ADDR", ""))
            wait = throttle.retry_after()
            if wait is not None:
                raise exceptions.Throttled(wait)
            if not verify_client_secret(application, client_secret):
                throttle.record_failure()
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
