"""Not-before watermarks, the read side: "every token of this user / app / everyone issued
before T is invalid" (Entra's ``signInSessionsValidFromDateTime``, Keycloak's not-before).

``token_admin.not_before`` sets them (through the revocation service); this module answers
"is this token issued before a watermark over it?" for every surface that authenticates a
token (``TokenAdminOAuth2Validator``, the App.net and Stack Exchange APIs) and for the lists.

**The database decides, in the token's own query.** ``with_watermarks`` adds the three
watermarks that can apply (global, the token's user, its app) to the statement that loads the
token, as three scalar subqueries (each one probe of a unique or foreign-key index of the small
``NotBefore`` table): a bearer check stays one statement, nothing can be stale, and no cache
server is involved, so neither a stale cache fill nor a cache outage can bring a token back.
Lists read the watermarks of their page in one indexed query (``applicable_for``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from datetime import timezone as dt_timezone
from functools import lru_cache
from typing import Any

from django.db import connections
from django.db.models import DateTimeField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from token_admin.conf import conf
from token_admin.models import NotBefore

Scope = NotBefore.Scope
# The global row's value until a global watermark is set (migration 0004): before every token.
EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
# The attributes ``with_watermarks`` sets on each token it loads.
GLOBAL_MARK = "token_admin_global_not_before"
USER_MARK = "token_admin_user_not_before"
APP_MARK = "token_admin_app_not_before"


def row_key(scope: str, pk: Any = None) -> str:
    """The ``NotBefore.key`` of a target: "global", "user:<pk>" or "app:<pk>"."""
    return "global" if scope == Scope.GLOBAL else f"{scope}:{pk}"


def with_watermarks(tokens: QuerySet[Any]) -> QuerySet[Any]:
    """Access or refresh tokens with the watermarks over each, read in the same statement
    (see the module docstring); ``token_is_before`` then needs no query.

    Written as SQL, built once per database and model, rather than as ``Subquery``
    expressions: on the hot path the ORM's building and compiling of three subqueries cost
    more than the statement (measured by ``bench/not_before.py``)."""
    if not conf.NOT_BEFORE_ENABLED:
        return tokens
    return tokens.annotate(**_marks(tokens.db or "default", str(tokens.model._meta.db_table)))


@lru_cache(maxsize=64)
def _marks(alias: str, token_table: str) -> dict[str, RawSQL]:
    # Built once per database and token table: the same SQL every time, and the ORM copies an
    # expression before resolving it into a query, so one instance serves every queryset.
    quote = connections[alias].ops.quote_name
    marks, token = quote(NotBefore._meta.db_table), quote(token_table)

    def mark(where: str, params: tuple[Any, ...] = ()) -> RawSQL:
        sql = f"(SELECT {marks}.{quote('not_before')} FROM {marks} WHERE {where})"
        return RawSQL(sql, params, output_field=DateTimeField())

    # NotBefore's own columns (its fields keep Django's default column names).
    key, user, app = quote("key"), quote("user_id"), quote("application_id")
    return {
        GLOBAL_MARK: mark(f"{marks}.{key} = %s", (row_key(Scope.GLOBAL),)),
        USER_MARK: mark(f"{marks}.{user} = {token}.{quote('user_id')}"),
        APP_MARK: mark(f"{marks}.{app} = {token}.{quote('application_id')}"),
    }


def _keys(user_id: Any, application_id: Any) -> list[str]:
    keys = [row_key(Scope.GLOBAL)]
    if user_id is not None:
        keys.append(row_key(Scope.USER, user_id))
    if application_id is not None:
        keys.append(row_key(Scope.APP, application_id))
    return keys


def _marks_where(user_ids: Iterable[Any], application_ids: Iterable[Any]) -> Q:
    condition = Q(key=row_key(Scope.GLOBAL))
    user_ids = sorted({pk for pk in user_ids if pk is not None}, key=str)
    application_ids = sorted({pk for pk in application_ids if pk is not None}, key=str)
    if user_ids:
        condition |= Q(user_id__in=user_ids)
    if application_ids:
        condition |= Q(application_id__in=application_ids)
    return condition


def applicable(user_id: Any, application_id: Any) -> datetime | None:
    """The latest watermark over a token of this user (None for an app token) and app, read
    from the database (one indexed query); None if there is none or watermarks are off
    (``NOT_BEFORE_ENABLED``). A refresh's transaction sees one committed a moment ago."""
    return applicable_for([(user_id, application_id)])[user_id, application_id]


def applicable_for(pairs: Iterable[tuple[Any, Any]]) -> dict[tuple[Any, Any], datetime | None]:
    """``applicable`` for many (user id, app id) pairs at once (a page of a list): one query."""
    pairs = set(pairs)
    if not conf.NOT_BEFORE_ENABLED or not pairs:
        return dict.fromkeys(pairs)
    rows = NotBefore.objects.filter(
        _marks_where((user_id for user_id, _ in pairs), (app_id for _, app_id in pairs))
    ).values_list("scope", "user_id", "application_id", "not_before")
    global_mark, by_user, by_app = None, {}, {}
    for scope, user_id, app_id, not_before in rows:
        if scope == Scope.GLOBAL:
            global_mark = not_before
        elif scope == Scope.USER:
            by_user[user_id] = not_before
        else:
            by_app[app_id] = not_before
    return {
        (user_id, app_id): _latest(global_mark, by_user.get(user_id), by_app.get(app_id))
        for user_id, app_id in pairs
    }


def _latest(*marks: datetime | None) -> datetime | None:
    return max((mark for mark in marks if mark is not None and mark > EPOCH), default=None)


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
    aware = [
        value if timezone.is_aware(value) else timezone.make_aware(value, dt_timezone.utc) for value in values
    ]
    return max(aware, default=None)


def issued_before(created: datetime | None, watermark: datetime | None) -> bool:
    """Whether a token issued at ``created`` (None: no token) predates ``watermark``."""
    return watermark is not None and created is not None and created < watermark


def token_is_before(token: Any) -> bool:
    """Whether an access or refresh token was issued before a watermark over it: what every
    surface that authenticates a token asks. No query for a token loaded through
    ``with_watermarks``; one indexed query otherwise."""
    if not conf.NOT_BEFORE_ENABLED:
        return False
    if hasattr(token, GLOBAL_MARK):
        mark = _latest(getattr(token, GLOBAL_MARK), getattr(token, USER_MARK), getattr(token, APP_MARK))
    else:
        mark = applicable(token.user_id, token.application_id)
    return issued_before(token.created, mark)
