"""Each session's last use: when, from which IP, with which browser / OS / device.

Written when a token of the session authenticates through DOT (``TokenAdminOAuth2Validator.
validate_bearer_token``, so any DOT-protected view) or the App.net style, at most once per
session per ``ACTIVITY_WINDOW_SECONDS``. Whether a write is due is decided in three steps,
cheapest first:

1. **This process's memory** (``_due_here``): per token, the time before which this process
   knows no write is due. The hot path (a token used again within the window) stops here:
   no cache call, no query on top of DOT's own.
2. **The cache**, once per token per window per process: ``cache.add`` of the write time.
   If another process wrote first, one ``cache.get`` reads when, and this process asks
   again exactly when that window ends, so ``last_used_at`` stays exact to the window.
3. **The database**: one UPDATE finds the session by its refresh-token family (through the
   refresh token the access token came from or is bound to) or, for a lone token, by
   checksum, and only writes a row not written within the window (so two access tokens of
   one session, or processes with separate caches, still write a session at most once per
   window).

While the cache cannot be reached, the UPDATE runs without asking it: its own condition
keeps the write to once per window, so activity stays exact and only costs more (until the
UPDATE writes, after which this process's memory spares the rest of the window).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from datetime import timedelta
from functools import lru_cache
from typing import Any, Literal

from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

from token_admin.cache import cache_errors, report_outage, shared_cache
from token_admin.conf import conf
from token_admin.models import TokenSession

FIELD_LENGTH = 100
# User agents are client-controlled: parse at most this much of one.
MAX_USER_AGENT = 512
#: Tokens this process remembers (``_due_here``); beyond it, entries whose window is over go
#: first, then all: forgetting costs a cache call, never a missed write.
LOCAL_MAX_ENTRIES = 10_000

# Cache key -> the epoch time (``_clock``) before which this process asks nothing for it.
_quiet_until: dict[str, float] = {}
_prune_lock = threading.Lock()
_clock = time.time  # wall-clock, as it is compared with times other processes wrote


def token_used(access_token: Any, headers: Any) -> None:
    """Record a use of ``access_token`` (a DOT AccessToken that DOT has just validated).

    ``headers`` is the oauthlib request's headers (DOT copies ``request.META`` into them).
    """
    if not conf.ACTIVITY_TRACKING:
        return
    window = conf.ACTIVITY_WINDOW_SECONDS
    key = _token_key(access_token.token_checksum)
    now = _clock()
    if not _due_here(key, now):
        return  # this process wrote, or learnt of a write, within the window
    due = _due_in_cache(key, now, window)
    if due is None:
        return  # another process wrote (or attempted) within the window
    # The family through the refresh token it was minted from, or the one bound to it.
    members = Q(access_token_id=access_token.pk)
    if access_token.source_refresh_token_id is not None:
        members |= Q(pk=access_token.source_refresh_token_id)
    families = get_refresh_token_model().objects.filter(members, token_family__isnull=False)
    session = Q(token_family__in=families.values("token_family")) | Q(
        access_token_checksum=access_token.token_checksum
    )
    if _write(session, headers, window) or due == "cache":
        # Written now, or the cache holds this attempt: nothing due until the window ends.
        _remember(key, now + window)


def _due_here(key: str, now: float) -> bool:
    until = _quiet_until.get(key)
    return until is None or now >= until


def _due_in_cache(key: str, now: float, window: int) -> Literal["cache", "database"] | None:
    """Whether a write is due: "cache" (yes, and the cache now holds this attempt), "database"
    (the cache is out: the UPDATE's condition decides) or None (another process wrote within
    the window)."""
    try:
        cache = shared_cache()
        if cache.add(key, now, timeout=window):
            return "cache"
        written = cache.get(key)
    except cache_errors() as error:
        report_outage("activity tracking", error, "writes to the database on every use")
        return "database"
    # Another process wrote at ``written``: ask again when its window ends (at most a window
    # from now, whatever its clock). An older release stored 1, and an expired key reads as
    # None: ask again on the next use.
    if isinstance(written, float):
        _remember(key, min(written + window, now + window))
    return None


def _remember(key: str, until: float) -> None:
    if len(_quiet_until) >= LOCAL_MAX_ENTRIES and key not in _quiet_until:
        with _prune_lock:
            now = _clock()
            for stale in [k for k, v in list(_quiet_until.items()) if v <= now]:
                _quiet_until.pop(stale, None)
            if len(_quiet_until) >= LOCAL_MAX_ENTRIES:
                _quiet_until.clear()
    _quiet_until[key] = until


def forget() -> None:
    """Drop this process's memory of recent writes (tests; as if in a fresh process)."""
    _quiet_until.clear()


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
