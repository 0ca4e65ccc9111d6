"""Not-before watermarks, the read side: "every token of this user / app / everyone issued
before T is invalid" (Entra's ``signInSessionsValidFromDateTime``, Keycloak's not-before).

``token_admin.not_before`` sets them (through the revocation service); this module answers
"is this token issued before a watermark over it?" for every surface that authenticates a
token (``TokenAdminOAuth2Validator``, the App.net and Stack Exchange APIs) and for the lists.

**The hot path stays DOT's one query.** A bearer check reads the three watermarks that can
apply (global, the token's user, its app) from Django's cache in one ``get_many``; a cold
cache costs one indexed query (``key IN (...)``), whose answer, absences included, fills
the cache. Setting a watermark writes the new value into the cache once its transaction
commits, so every process sharing the cache sees it at once; with a per-process cache
(``LocMemCache``) other processes see it within ``NOT_BEFORE_CACHE_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.core.cache import caches
from django.db import connections
from django.utils import timezone

from token_admin.conf import conf
from token_admin.models import NotBefore

Scope = NotBefore.Scope
CACHE_PREFIX = "token_admin:not_before:"
# Cached for a target without a watermark, so an absence is a cache hit too.
NONE = 0.0
# The global row's value until a global watermark is set (migration 0004): before every token.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def row_key(scope: str, pk: Any = None) -> str:
    """The ``NotBefore.key`` of a target: "global", "user:<pk>" or "app:<pk>"."""
    return "global" if scope == Scope.GLOBAL else f"{scope}:{pk}"


def _keys(user_id: Any, application_id: Any) -> list[str]:
    keys = [row_key(Scope.GLOBAL)]
    if user_id is not None:
        keys.append(row_key(Scope.USER, user_id))
    if application_id is not None:
        keys.append(row_key(Scope.APP, application_id))
    return keys


def _read(keys: Iterable[str]) -> dict[str, float]:
    """Watermarks as epoch seconds (``NONE`` for none) by row key: one cache round trip, and
    on a miss one indexed query whose answer fills the cache."""
    keys = sorted(set(keys))
    cache = caches[conf.CACHE_ALIAS]
    cached = cache.get_many([CACHE_PREFIX + key for key in keys])
    found = {key: cached[CACHE_PREFIX + key] for key in keys if CACHE_PREFIX + key in cached}
    missing = [key for key in keys if key not in found]
    if missing:
        loaded = dict.fromkeys(missing, NONE)
        for key, not_before in (
            NotBefore.objects.filter(key__in=missing).order_by().values_list("key", "not_before")
        ):
            loaded[key] = not_before.timestamp()
        cache.set_many(
            {CACHE_PREFIX + key: value for key, value in loaded.items()}, conf.NOT_BEFORE_CACHE_SECONDS
        )
        found.update(loaded)
    return found


def _as_datetime(timestamp: float) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp > NONE else None


def applicable(user_id: Any, application_id: Any) -> datetime | None:
    """The latest watermark over a token of this user (None for an app token) and app, from
    the cache; None if there is none or watermarks are off (``NOT_BEFORE_ENABLED``)."""
    if not conf.NOT_BEFORE_ENABLED:
        return None
    return _as_datetime(max(_read(_keys(user_id, application_id)).values()))


def applicable_for(pairs: Iterable[tuple[Any, Any]]) -> dict[tuple[Any, Any], datetime | None]:
    """``applicable`` for many (user id, app id) pairs at once (a page of a list): one cache
    round trip, and one query for what it misses."""
    pairs = set(pairs)
    if not conf.NOT_BEFORE_ENABLED:
        return dict.fromkeys(pairs)
    values = _read(key for user_id, app_id in pairs for key in _keys(user_id, app_id))
    return {
        (user_id, app_id): _as_datetime(max(values[key] for key in _keys(user_id, app_id)))
        for user_id, app_id in pairs
    }


def applicable_uncached(user_id: Any, application_id: Any) -> datetime | None:
    """``applicable`` read from the database (one query), for checks that must see a
    watermark committed a moment ago, whatever the cache says (a refresh's transaction)."""
    if not conf.NOT_BEFORE_ENABLED:
        return None
    rows = NotBefore.objects.filter(key__in=_keys(user_id, application_id)).values_list(
        "not_before", flat=True
    )
    return max(rows, default=None)


def applicable_locked(user_id: Any, application_id: Any) -> datetime | None:
    """``applicable`` read from the database under a shared lock (one query), inside a
    refresh's transaction: it sees a watermark committed a moment ago, and a watermark being
    set waits until the refresh commits (``not_before.set_not_before`` locks the row). SQLite
    locks the whole database for a write transaction, so a plain read does there."""
    if not conf.NOT_BEFORE_ENABLED:
        return None
    rows = NotBefore.objects.filter(key__in=sorted(_keys(user_id, application_id))).order_by("key")
    connection = connections[rows.db]
    # PostgreSQL's weakest row lock is enough: it conflicts with the setter's FOR UPDATE only.
    share = {"postgresql": " FOR KEY SHARE", "mysql": " LOCK IN SHARE MODE"}.get(connection.vendor)
    if share is None:
        return max(rows.values_list("not_before", flat=True), default=None)
    sql, params = rows.values_list("not_before").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql + share, params)
        values = [row[0] for row in cursor.fetchall()]
    # MySQL and MariaDB hand back naive UTC times (USE_TZ); the ORM would make them aware.
    aware = [value if timezone.is_aware(value) else timezone.make_aware(value, UTC) for value in values]
    return max(aware, default=None)


def issued_before(created: datetime | None, watermark: datetime | None) -> bool:
    """Whether a token issued at ``created`` (None: no token) predates ``watermark``."""
    return watermark is not None and created is not None and created < watermark


def token_is_before(token: Any) -> bool:
    """Whether an access or refresh token was issued before a watermark over it: what every
    surface that authenticates a token asks (one cache round trip, no query when warm)."""
    return issued_before(token.created, applicable(token.user_id, token.application_id))


def drop_before(tokens: Iterable[Any]) -> list[Any]:
    """The tokens not issued before a watermark over them (one cache round trip for all)."""
    tokens = list(tokens)
    if not tokens or not conf.NOT_BEFORE_ENABLED:
        return tokens
    marks = applicable_for((token.user_id, token.application_id) for token in tokens)
    return [
        token
        for token in tokens
        if not issued_before(token.created, marks[token.user_id, token.application_id])
    ]
