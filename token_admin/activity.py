"""Each session's last use: when, from which IP, with which browser / OS / device.

Written when a token of the session authenticates through DOT (``TokenAdminOAuth2Validator.
validate_bearer_token``, so any DOT-protected view) or refreshes, at most once per session per
``ACTIVITY_WINDOW_SECONDS``. The hot path (a token used again within the window) costs one
cache call, ``cache.add``, on top of DOT's own query: the cache says whether a write is due
before anything about the session is looked up. When one is due, one UPDATE finds the
session by its refresh-token family (through the refresh token the access token came from
or is bound to) or, for a lone token, by checksum, and only writes a row not written within
the window (so two access tokens of one session, or several processes with separate caches,
still write a session at most once per window).

While the cache cannot be reached, the UPDATE runs on every use without asking it: its own
condition keeps the write to once per window, so activity stays exact and only costs more.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

from token_admin.cache import cache_errors, report_outage, shared_cache
from token_admin.conf import conf
from token_admin.models import TokenSession

FIELD_LENGTH = 100
# User agents are client-controlled: parse at most this much of one.
MAX_USER_AGENT = 512


def token_used(access_token: Any, headers: Any) -> None:
    """Record a use of ``access_token`` (a DOT AccessToken that DOT has just validated).

    ``headers`` is the oauthlib request's headers (DOT copies ``request.META`` into them).
    """
    if not conf.ACTIVITY_TRACKING:
        return
    window = conf.ACTIVITY_WINDOW_SECONDS
    try:
        due = shared_cache().add(_token_key(access_token.token_checksum), 1, timeout=window)
    except cache_errors() as error:
        report_outage("activity tracking", error, "writes to the database on every use")
        due = True
    if not due:
        return  # written (or attempted) within the window
    # The family through the refresh token it was minted from, or the one bound to it.
    members = Q(access_token_id=access_token.pk)
    if access_token.source_refresh_token_id is not None:
        members |= Q(pk=access_token.source_refresh_token_id)
    families = get_refresh_token_model().objects.filter(members, token_family__isnull=False)
    session = Q(token_family__in=families.values("token_family")) | Q(
        access_token_checksum=access_token.token_checksum
    )
    _write(session, headers, window)


def _write(session: Q, headers: Any, window: int) -> int:
    now = timezone.now()
    browser, os, device = parse_user_agent(_header(headers, "HTTP_USER_AGENT")[:MAX_USER_AGENT])
    return (
        TokenSession.objects.filter(session)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - timedelta(seconds=window)))
        .update(
            last_used_at=now,
            last_ip=client_ip(headers),
            browser=browser,
            os=os,
            device_family=device,
        )
    )


def client_ip(headers: Any) -> str | None:
    """The client's IP: ``REMOTE_ADDR``, or with ``TRUSTED_PROXY_COUNT`` = N the Nth address
    from the right of ``X-Forwarded-For``. None when that is not an IP address."""
    proxies = conf.TRUSTED_PROXY_COUNT
    candidate = _header(headers, "REMOTE_ADDR")
    if proxies:
        forwarded = [part.strip() for part in _header(headers, "HTTP_X_FORWARDED_FOR").split(",")]
        forwarded = [part for part in forwarded if part]
        # Fewer entries than trusted proxies: the request did not come through all of them.
        candidate = forwarded[-proxies] if len(forwarded) >= proxies else ""
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def parse_user_agent(user_agent: str) -> tuple[str, str, str]:
    """(browser, OS, device family) of a User-Agent header, by ua-parser; "" where unknown."""
    if not user_agent:
        return "", "", ""
    from ua_parser import parse  # imported on first use: loading its rules takes a while

    result = parse(user_agent)
    browser = _family(result.user_agent)
    os = _family(result.os)
    device = _family(result.device)
    return browser, os, device


def _family(part: Any) -> str:
    family = getattr(part, "family", "") or ""
    return "" if family == "Other" else str(family)[:FIELD_LENGTH]


def _header(headers: Any, name: str) -> str:
    value = headers.get(name, "") if headers is not None else ""
    return value if isinstance(value, str) else ""


def _token_key(checksum: str) -> str:
    return f"token_admin:activity:token:{checksum}"
