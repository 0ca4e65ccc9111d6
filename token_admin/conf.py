"""token_admin's settings, read from ``settings.TOKEN_ADMIN`` each time they are used.

Reading on use (as django-cors-headers does) means ``override_settings`` just works and
nothing is read at import time. Every setting is documented in the README's settings
reference; the docstrings here are the source of that text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    "CACHE_ALIAS": "default",
    "ADN_USER_HOOK": None,
    "ADN_TOKEN_HOOK": None,
    "ADN_RATE_LIMIT": 5000,
    "ADN_RATE_LIMIT_PERIOD": 3600,
    "SE_QUOTA_MAX": 300,
    "SE_QUOTA_MAX_WITH_KEY": 10000,
    "SE_QUOTA_PERIOD": 86400,
    "SE_KEYS": None,
    "END_USER_SECRET_CACHE_SECONDS": 300,
    "END_USER_AUTH_FAILURES_PER_CLIENT": 10,
    "END_USER_AUTH_FAILURES_PER_IP": 30,
    "END_USER_AUTH_FAILURE_PERIOD": 300,
    "END_USER_NOOP_REVOCATIONS_WARNING": 1000,
    "SESSION_TYPE_HOOK": None,
    "REASON_REQUIRED": True,
    "REVOKE_ON_ACCOUNT_EVENTS": ("password_change", "deactivation"),
    "PASSWORD_CHANGE_KEEPS_APPS": (),
    "LEAKED_TOKENS_MAX": 1000,
    "LEAKED_TOKENS_RATE_LIMIT": 60,
    "LEAKED_TOKENS_RATE_LIMIT_WITH_KEY": 6000,
    "LEAKED_TOKENS_RATE_LIMIT_PERIOD": 3600,
    "LEAKED_TOKENS_SCANNER_KEYS": {},
    "LEAKED_TOKENS_REQUIRE_KEY": False,
    "NOT_BEFORE_ENABLED": True,
    "ACTIVITY_TRACKING": True,
    "ACTIVITY_WINDOW_SECONDS": 300,
    "TRUSTED_PROXY_COUNT": 0,
    "END_USER_ACTIVITY_FIELDS": False,
    "ADMIN_SITE": "django.contrib.admin.site",
    "UNUSED_SESSION_DAYS": None,
    "MAX_SESSIONS_PER_USER_APP": None,
}

#: Settings that name a callable by dotted path; the system check imports each one.
HOOK_SETTINGS = ("ADN_USER_HOOK", "ADN_TOKEN_HOOK", "SESSION_TYPE_HOOK")


class Settings:
    def _get(self, name: str) -> Any:
        return getattr(settings, "TOKEN_ADMIN", {}).get(name, DEFAULTS[name])

    def hook(self, name: str) -> Callable[..., Any] | None:
        """The callable a hook setting names (a dotted path or a callable), or None."""
        value = self._get(name)
        if value is None or callable(value):
            return value
        return import_string(value)

    @property
    def CACHE_ALIAS(self) -> str:
        """Django cache alias for shared state: quotas, rate limits, verified secrets. Give it a
        socket timeout: while it is down or hung, limits fail open and nothing is refused for
        want of it (``token_admin.cache``)."""
        return self._get("CACHE_ALIAS")

    @property
    def ADN_USER_HOOK(self) -> Callable[..., Any] | None:
        """``callable(user) -> dict``: keys of the App.net User object; they win over the built-in
        ones (``name``, say, for a user model without ``get_full_name``)."""
        return self.hook("ADN_USER_HOOK")

    @property
    def ADN_TOKEN_HOOK(self) -> Callable[..., Any] | None:
        """``callable(access_token) -> dict`` with any of ``limits``, ``storage``, ``invite_link``."""
        return self.hook("ADN_TOKEN_HOOK")

    @property
    def ADN_RATE_LIMIT(self) -> int:
        """Requests one token may make to the App.net style per period."""
        return int(self._get("ADN_RATE_LIMIT"))

    @property
    def ADN_RATE_LIMIT_PERIOD(self) -> int:
        """Length of the App.net rate-limit window, in seconds."""
        return int(self._get("ADN_RATE_LIMIT_PERIOD"))

    @property
    def SE_QUOTA_MAX(self) -> int:
        """Stack Exchange style: requests per period per client IP when no ``key`` is passed."""
        return int(self._get("SE_QUOTA_MAX"))

    @property
    def SE_QUOTA_MAX_WITH_KEY(self) -> int:
        """Stack Exchange style: requests per period per ``key``."""
        return int(self._get("SE_QUOTA_MAX_WITH_KEY"))

    @property
    def SE_QUOTA_PERIOD(self) -> int:
        """Stack Exchange style: length of the quota window, in seconds (a day)."""
        return int(self._get("SE_QUOTA_PERIOD"))

    @property
    def SE_KEYS(self) -> frozenset[str] | None:
        """Stack Exchange style: the registered ``key`` values, or None to take any key.

        With a set, an unregistered key is refused (``bad_parameter`` "key") and counted
        against the caller's IP, so inventing keys cannot escape the IP quota.
        """
        keys = self._get("SE_KEYS")
        return None if keys is None else frozenset(keys)

    @property
    def END_USER_SECRET_CACHE_SECONDS(self) -> int:
        """How long a verified API-client secret is remembered (0 turns the cache off)."""
        return int(self._get("END_USER_SECRET_CACHE_SECONDS"))

    @property
    def END_USER_AUTH_FAILURES_PER_CLIENT(self) -> int:
        """Failed end-user API authentications per client id per period before 429 (0: no limit).

        Counted for unknown client ids too. Once reached, attempts with that client id are
        refused without a hash check, except with the right secret while its success is still
        remembered (``END_USER_SECRET_CACHE_SECONDS``), so a guesser cannot lock out a busy client.
        """
        return int(self._get("END_USER_AUTH_FAILURES_PER_CLIENT"))

    @property
    def END_USER_AUTH_FAILURES_PER_IP(self) -> int:
        """Failed end-user API authentications per client IP per period before 429 (0: no limit)."""
        return int(self._get("END_USER_AUTH_FAILURES_PER_IP"))

    @property
    def END_USER_AUTH_FAILURE_PERIOD(self) -> int:
        """Length of the failed-authentication window, in seconds; ``Retry-After`` counts to its end."""
        return int(self._get("END_USER_AUTH_FAILURE_PERIOD"))

    @property
    def END_USER_NOOP_REVOCATIONS_WARNING(self) -> int:
        """End-user ``DELETE`` calls that revoke nothing, per API client per day, at which one
        WARNING is logged (0: never). They are counted in the cache, never written as audit rows."""
        return int(self._get("END_USER_NOOP_REVOCATIONS_WARNING"))

    @property
    def SESSION_TYPE_HOOK(self) -> Callable[..., Any] | None:
        """``callable(session) -> str``: the end-user API ``type`` of a session, or None."""
        return self.hook("SESSION_TYPE_HOOK")

    @property
    def REVOKE_ON_ACCOUNT_EVENTS(self) -> frozenset[str]:
        """Account events that revoke all of a user's tokens: ``"password_change"`` (a new
        password set through ``set_password()`` and saved, by any path) and ``"deactivation"``
        (``is_active`` saved as False). Deleting a user always revokes first."""
        return frozenset(self._get("REVOKE_ON_ACCOUNT_EVENTS"))

    @property
    def PASSWORD_CHANGE_KEEPS_APPS(self) -> frozenset[str]:
        """Client ids of apps whose sessions survive a password change (e.g. the first-party
        app the user changed it in); every other app's tokens are revoked."""
        return frozenset(self._get("PASSWORD_CHANGE_KEEPS_APPS"))

    @property
    def LEAKED_TOKENS_MAX(self) -> int:
        """Leaked-token intake: most token values one report may carry."""
        return int(self._get("LEAKED_TOKENS_MAX"))

    @property
    def LEAKED_TOKENS_RATE_LIMIT(self) -> int:
        """Leaked-token intake: requests per period per client IP without a valid scanner key
        (a wrong key counts too; an IP may send this many wrong keys per period)."""
        return int(self._get("LEAKED_TOKENS_RATE_LIMIT"))

    @property
    def LEAKED_TOKENS_RATE_LIMIT_WITH_KEY(self) -> int:
        """Leaked-token intake: reports per period per scanner key."""
        return int(self._get("LEAKED_TOKENS_RATE_LIMIT_WITH_KEY"))

    @property
    def LEAKED_TOKENS_RATE_LIMIT_PERIOD(self) -> int:
        """Leaked-token intake: length of the rate-limit window, in seconds."""
        return int(self._get("LEAKED_TOKENS_RATE_LIMIT_PERIOD"))

    @property
    def LEAKED_TOKENS_SCANNER_KEYS(self) -> dict[str, str]:
        """Leaked-token intake: ``{key: scanner name}``; a report may carry one in the
        ``X-Scanner-Key`` header for the higher rate limit and an audit label by name."""
        return dict(self._get("LEAKED_TOKENS_SCANNER_KEYS"))

    @property
    def LEAKED_TOKENS_REQUIRE_KEY(self) -> bool:
        """Leaked-token intake: refuse reports without a registered scanner key (401)."""
        return bool(self._get("LEAKED_TOKENS_REQUIRE_KEY"))

    @property
    def ACTIVITY_TRACKING(self) -> bool:
        """Record each session's last use (time, IP, parsed user agent) when one of its
        tokens authenticates through DOT or refreshes."""
        return bool(self._get("ACTIVITY_TRACKING"))

    @property
    def ACTIVITY_WINDOW_SECONDS(self) -> int:
        """At most one activity write per session per this many seconds (decided in the
        cache ``CACHE_ALIAS``): ``last_used_at`` is exact to within this window."""
        return max(1, int(self._get("ACTIVITY_WINDOW_SECONDS")))

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        """Reverse proxies in front of the site that append to ``X-Forwarded-For``. 0 (the
        default) never reads that header: the client IP is ``REMOTE_ADDR``. With N, the IP
        is the Nth address from the right of ``X-Forwarded-For`` (the one the outermost
        trusted proxy saw); a client can put anything to the left of it."""
        return max(0, int(self._get("TRUSTED_PROXY_COUNT")))

    @property
    def END_USER_ACTIVITY_FIELDS(self) -> bool:
        """End-user API: add ``last_used_at``, ``last_ip`` and ``user_agent`` to each entry of
        ``tokens`` (off by default, so the contract's exact shape holds)."""
        return bool(self._get("END_USER_ACTIVITY_FIELDS"))

    @property
    def REASON_REQUIRED(self) -> bool:
        """Whether staff must give a reason to revoke: the admin's confirmation page and the
        ``revoke_tokens`` command (``--reason``). Default True. The APIs never ask for one: their
        callers revoke their own or their users' tokens, and their audit events say which API."""
        return bool(self._get("REASON_REQUIRED"))

    @property
    def NOT_BEFORE_ENABLED(self) -> bool:
        """Whether not-before watermarks are enforced at authentication and refresh (and
        shown in the session lists). Off, setting one still revokes what it covers."""
        return bool(self._get("NOT_BEFORE_ENABLED"))

    @property
    def ADMIN_SITE(self) -> Any:
        """The ``AdminSite`` token_admin registers its admins on when Django's admin autodiscovers
        ``token_admin.admin``: a dotted path (or the site itself). Default
        ``"django.contrib.admin.site"``. ``None`` registers nothing: call
        ``token_admin.admin.register(site)`` for the site(s) of your choice."""
        value = self._get("ADMIN_SITE")
        return import_string(value) if isinstance(value, str) else value

    @property
    def UNUSED_SESSION_DAYS(self) -> int | None:
        """Sessions unused for this many days are revoked by ``revoke_tokens --unused``
        (run it from cron); None (the default) turns that policy off. Last use is the
        session's ``last_used_at`` (``ACTIVITY_TRACKING``), or its start if never used."""
        days = self._get("UNUSED_SESSION_DAYS")
        return None if days is None else int(days)

    @property
    def MAX_SESSIONS_PER_USER_APP(self) -> int | None:
        """Most live sessions one user may hold in one app; a sign-in beyond it revokes the
        oldest (GitHub's rule of thumb is 10). None (the default): no cap."""
        cap = self._get("MAX_SESSIONS_PER_USER_APP")
        return None if cap is None else int(cap)


conf = Settings()
