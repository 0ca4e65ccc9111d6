"""Credentials checked, then an account event, then a mint: the race closed at mint time.

A password grant checks the password, and DOT mints the pair a moment later in its own
transaction. A password change or a deactivation that lands in between revokes the user's
tokens, none of this sign-in's yet, and the new pair would outlive the event. The same holds
for an authorization code or a device code the user approved before the event.

**The rule:** a token is minted for a user only if, read under a lock on the user's row inside
DOT's transaction (``MINT_LOCK``), the user is active and the grant was verified after the
user's last credentials change (``CredentialsChange``) and user watermark (``NotBefore``). An
account event takes its own lock on the user's row first (``lock_user``, which conflicts with
the mint's) and records its time in the same transaction as its revocation, so one of two
things happens: the mint holds its lock first and commits, and the event's revocation (which
waits for it, then reads again) revokes what it minted; or the event commits first, and the
mint reads its time and refuses with ``invalid_grant``. Two statements per sign-in (the lock,
then the read: see ``_read_locked``; one on SQLite); a refresh needs none of this (DOT locks
its refresh token, and a revocation waits for that lock).

When was the grant verified?

* **password**: when the validator began checking the password (``validate_user``);
* **authorization code**: when the code was issued (DOT's ``Grant.created``, read in the same
  statement; a code revoked since reads as none, and mints nothing);
* **device code** (when the project's validator gives the request a user): when the device
  grant was created (DOT's ``DeviceGrant.last_checked``, which DOT sets at creation and does
  not rewrite on approval): a device code approved before the event was created before it too.
  One created before and approved after the event is refused as well; the device starts the
  flow again.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import OuterRef, Subquery, Value
from django.db.models.fields import DateTimeField
from django.utils import timezone
from oauth2_provider.models import get_device_grant_model, get_grant_model

from token_admin.conf import conf
from token_admin.models import CredentialsChange, NotBefore

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Where the validator keeps the time it began checking a password, on oauthlib's request.
VERIFIED_AT = "token_admin_verified_at"


# The row locks of the protocol, per database: the event's and the mint's conflict with each
# other, and the event's does not conflict with the lock a foreign-key check takes on the user's
# row when a token is inserted. (A refresh in flight holds its refresh token's lock and inserts
# the new pair; the event's revocation waits on that refresh token: if the refresh's insert
# then waited on the event's lock, neither could go on.) PostgreSQL's foreign-key checks take
# FOR KEY SHARE, InnoDB's a shared lock. SQLite runs one write transaction at a time: none.
EVENT_LOCK = {"postgresql": " FOR NO KEY UPDATE", "mysql": " LOCK IN SHARE MODE"}
MINT_LOCK = {"postgresql": " FOR SHARE", "mysql": " FOR UPDATE"}


def lock_user(user: Any) -> None:
    """Take the account event's lock on the user's row (inside its transaction), so a mint in
    flight either commits before the event's revocation reads or reads the event's time."""
    _lock(get_user_model()._default_manager.filter(pk=user.pk), EVENT_LOCK)


def _lock(rows: Any, locks: dict[str, str]) -> bool:
    """Lock ``rows`` with this database's clause from ``locks``; False where it has none."""
    connection = connections[router.db_for_write(rows.model)]
    clause = locks.get(connection.vendor)
    if clause is None:
        return False
    sql, params = rows.order_by().values_list("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql + clause, params)
    return True


def record_change(user: Any, event: str, when: datetime) -> None:
    """Record that the user's credentials changed at ``when`` (call under ``lock_user``)."""
    CredentialsChange.objects.update_or_create(user_id=user.pk, defaults={"changed_at": when, "event": event})


def mint_refused(request: Any) -> str | None:
    """Why a token may not be minted for ``request.user`` now (None: it may), read under a lock
    on the user's row (see the module docstring). Called inside DOT's transaction, before it
    saves the token; nothing to check without a user (an app token)."""
    user = getattr(request, "user", None)
    grant_type = request.grant_type
    if user is None or grant_type in ("refresh_token", "client_credentials"):
        return None
    user_model = get_user_model()
    annotations: dict[str, Any] = {
        "changed_at": Subquery(
            CredentialsChange.objects.filter(user_id=OuterRef("pk")).values("changed_at")[:1]
        ),
        "user_mark": Subquery(
            NotBefore.objects.filter(user_id=OuterRef("pk")).order_by().values("not_before")[:1]
        )
        if conf.NOT_BEFORE_ENABLED
        else Value(None, output_field=DateTimeField()),
    }
    if grant_type == "authorization_code":
        annotations["verified_at"] = Subquery(
            get_grant_model()
            .objects.filter(code=request.code, application_id=request.client.pk)
            .order_by()
            .values("created")[:1]
        )
    elif grant_type == DEVICE_CODE_GRANT:
        annotations["verified_at"] = Subquery(
            get_device_grant_model()
            .objects.filter(device_code=getattr(request, "device_code", None) or "")
            .order_by()
            .values("last_checked")[:1]
        )
    rows = user_model._default_manager.filter(pk=user.pk).annotate(**annotations)
    fields = ["changed_at", "user_mark", *(["verified_at"] if "verified_at" in annotations else [])]
    has_is_active = any(field.name == "is_active" for field in user_model._meta.concrete_fields)
    if has_is_active:
        fields.insert(0, "is_active")
    row = _read_locked(rows.values_list(*fields))
    if row is None:
        return "the user no longer exists"
    values = dict(zip(fields, row, strict=True))
    if has_is_active and not values["is_active"]:
        return "the user is inactive"
    verified_at = values.get("verified_at", getattr(request, VERIFIED_AT, None))
    if verified_at is None:
        # An authorization or device code revoked since it was validated (or a grant whose
        # check this module does not know): nothing verified survives to mint from.
        return "the grant was revoked" if grant_type in ("authorization_code", DEVICE_CODE_GRANT) else None
    verified_at = _aware(verified_at)
    events = {"changed_at": "the user's credentials changed", "user_mark": "a not-before time"}
    for name, event in events.items():
        if values[name] is not None and verified_at < _aware(values[name]):
            return f"{event} after the grant was verified"
    return None


def _read_locked(rows: Any) -> Any:
    """The first row of ``rows`` (the user's, with subqueries over other tables), read after
    taking the mint's lock on the user's row (``MINT_LOCK``). Two statements: a locking read
    that waited sees the newest version of the row it locked, but its subqueries still read
    the snapshot taken before the wait (PostgreSQL), so the row is read again once the lock is
    held. SQLite runs one write transaction at a time: one plain read there."""
    _lock(rows, MINT_LOCK)
    return rows.first()


def _aware(value: datetime) -> datetime:
    # A project with USE_TZ = False hands back naive times (taken as UTC, as Django does).
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt_timezone.utc)
