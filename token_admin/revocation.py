"""THE one place tokens are revoked.

Every surface (the three APIs, the admin, the commands) calls one of the public functions
here. Each call is:

* **set-based**: a fixed number of SQL statements whatever the number of tokens;
* **atomic**: all of it or none of it;
* **complete**: revoking an access token revokes its whole refresh-token family, the way
  DOT's ``revoke_access_token()`` revokes the bound refresh token, so nothing revoked can
  mint a new access token. Access tokens are deleted (as DOT's ``AccessToken.revoke()``
  does); refresh tokens are kept, marked ``revoked``, because DOT's reuse protection
  relies on that record;
* **idempotent**: revoking what is already revoked changes nothing and does not fail;
* **audited and signalled**: one ``RevocationEvent`` per call, and ``tokens_revoked``
  after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import connections, router, transaction
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from .models import Device, RevocationEvent, Session
from .queries import user_pair_filter
from .signals import tokens_revoked

Surface = RevocationEvent.Surface
ActorType = RevocationEvent.ActorType

# Rows per statement on databases that check foreign keys at once (MySQL, MariaDB), where
# the ids are read first. Well above any single API or admin request.
ID_CHUNK_SIZE = 20_000


@dataclass(frozen=True)
class Actor:
    """Who asked for a revocation, as recorded in the audit event."""

    type: str
    label: str
    user: Any = None
    application: Any = None

    @classmethod
    def staff(cls, user: Any) -> Actor:
        return cls(ActorType.STAFF, user.get_username(), user=user)

    @classmethod
    def api_client(cls, application: Any) -> Actor:
        return cls(
            ActorType.API_CLIENT, f"{application.name} ({application.client_id})", application=application
        )

    @classmethod
    def token(cls, access_token: Any) -> Actor:
        """The calling token revoking itself; labelled by owner and app, never by value."""
        owner = access_token.user.get_username() if access_token.user_id else "app token"
        label = f"token of {owner} for {access_token.application.client_id}"
        return cls(ActorType.TOKEN, label, user=access_token.user, application=access_token.application)

    @classmethod
    def command(cls, label: str) -> Actor:
        return cls(ActorType.COMMAND, label)


@dataclass(frozen=True)
class Revocation:
    """What one call revoked (with ``dry_run``: would revoke; then ``event`` is None)."""

    event: RevocationEvent | None
    access_tokens: int
    refresh_tokens: int
    grants: int
    selection: dict[str, Any] = field(default_factory=dict)


# --- the public API ----------------------------------------------------------------------
#
# Each function describes a selection in two parts, then hands it to ``_revoke``:
#
# * ``tokens``: access tokens named one by one (ids, a queryset, sessions' lone tokens).
#   Their ids are known before anything is written, so every statement can name them
#   even after the rows are deleted.
# * ``owned``: a condition on columns that access tokens, refresh tokens and grants share
#   (user, application), applied to all three. A refresh-token family shares them too.
#
# ``families`` adds refresh-token families by ``token_family`` (sessions).


def revoke_access_tokens(
    tokens: QuerySet[Any] | Iterable[int],
    *,
    surface: str,
    actor: Actor,
    reason: str = "",
    selection: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> Revocation:
    """Revoke access tokens (a queryset, or primary keys) with their refresh-token families."""
    if isinstance(tokens, QuerySet):
        ids = sorted(tokens.values_list("pk", flat=True))
        described = {"kind": "access_tokens", **(selection or {})}
    else:
        ids = sorted(set(tokens))
        described = {"kind": "access_tokens", "access_token_ids": ids, **(selection or {})}
    return _revoke(
        token_ids=ids, selection=described, surface=surface, actor=actor, reason=reason, dry_run=dry_run
    )


def revoke_sessions(
    session_ids: Iterable[UUID | str],
    *,
    surface: str,
    actor: Actor,
    user: Any = None,
    reason: str = "",
    dry_run: bool = False,
    audit_empty: bool = True,
) -> Revocation:
    """Revoke sessions by public id; with ``user``, only sessions of that user are touched.

    ``audit_empty=False``: a call that revokes nothing writes no event and sends no signal.

    Raises ``ValueError`` for an id that is not a UUID, before anything is read or written.
    """
    ids = sorted({str(UUID(str(session_id))) for session_id in session_ids})
    sessions = Session.objects.filter(public_id__in=ids)
    if user is not None:
        sessions = sessions.filter(user=user)
    selection: dict[str, Any] = {"kind": "sessions", "session_ids": ids}
    if user is not None:
        selection["user_id"] = user.pk
    token_ids, families = _session_tokens(sessions)
    return _revoke(
        token_ids=token_ids,
        families=families,
        selection=selection,
        surface=surface,
        actor=actor,
        reason=reason,
        dry_run=dry_run,
        audit_empty=audit_empty,
    )


def revoke_user_tokens(
    users: Sequence[Any], *, surface: str, actor: Actor, reason: str = "", dry_run: bool = False
) -> Revocation:
    """Revoke every token, refresh token and grant of these users, in every app."""
    user_ids = sorted({user.pk for user in users})
    return _revoke(
        owned=Q(user_id__in=user_ids),
        selection={"kind": "users", "user_ids": user_ids},
        surface=surface,
        actor=actor,
        reason=reason,
        dry_run=dry_run,
    )


def deauthorize(
    pairs: Iterable[tuple[Any, Any]],
    *,
    surface: str,
    actor: Actor,
    reason: str = "",
    access_tokens: Iterable[int] = (),
    dry_run: bool = False,
) -> Revocation:
    """De-authorize apps for users: every token, refresh token and grant of each (user, app) pair.

    ``access_tokens`` (primary keys) are revoked in the same call: the way to include app
    tokens, which have no user to de-authorize.
    """
    unique = {(user.pk, application.pk): (user, application) for user, application in pairs}
    owned = user_pair_filter(unique)
    token_ids = sorted(set(access_tokens))
    selection: dict[str, Any] = {
        "kind": "user_apps",
        "pairs": sorted([user.pk, application.client_id] for user, application in unique.values()),
    }
    if token_ids:
        selection["access_token_ids"] = token_ids
    return _revoke(
        token_ids=token_ids,
        owned=owned,
        selection=selection,
        surface=surface,
        actor=actor,
        reason=reason,
        dry_run=dry_run,
    )


def revoke_applications(
    applications: Sequence[Any],
    *,
    surface: str,
    actor: Actor,
    user: Any = None,
    reason: str = "",
    dry_run: bool = False,
) -> Revocation:
    """Revoke every token, refresh token and grant of these apps (only ``user``'s, if given)."""
    owned = Q(application_id__in=sorted({application.pk for application in applications}))
    selection: dict[str, Any] = {
        "kind": "applications",
        "client_ids": sorted({application.client_id for application in applications}),
    }
    if user is not None:
        owned &= Q(user_id=user.pk)
        selection["user_id"] = user.pk
    return _revoke(
        owned=owned, selection=selection, surface=surface, actor=actor, reason=reason, dry_run=dry_run
    )


def revoke_devices(
    devices: Sequence[Device], *, surface: str, actor: Actor, reason: str = "", dry_run: bool = False
) -> Revocation:
    """Revoke every session of these devices, and everything of a device's registered client."""
    token_ids, families = _session_tokens(
        Session.objects.filter(device__in=[device.pk for device in devices])
    )
    owned = user_pair_filter(
        (device.user_id, device.application_id) for device in devices if device.application_id is not None
    )
    return _revoke(
        token_ids=token_ids,
        families=families,
        owned=owned,
        selection={"kind": "devices", "device_ids": sorted(str(device.public_id) for device in devices)},
        surface=surface,
        actor=actor,
        reason=reason,
        dry_run=dry_run,
    )


# --- the one implementation --------------------------------------------------------------


def _session_tokens(sessions: QuerySet[Session]) -> tuple[list[int], list[UUID]]:
    """The ids of these sessions' lone access tokens and their refresh-token families (two queries)."""
    lone_checksums = sessions.filter(access_token_checksum__isnull=False).values("access_token_checksum")
    token_ids = list(
        get_access_token_model()
        .objects.filter(token_checksum__in=lone_checksums)
        .values_list("pk", flat=True)
    )
    families = sessions.filter(token_family__isnull=False).values_list("token_family", flat=True)
    return token_ids, [family for family in families if family is not None]


def _revoke(
    *,
    token_ids: Sequence[int] = (),
    families: Sequence[UUID] = (),
    owned: Q | None = None,
    selection: dict[str, Any],
    surface: str,
    actor: Actor,
    reason: str,
    dry_run: bool = False,
    audit_empty: bool = True,
) -> Revocation:
    access_token_model = get_access_token_model()
    refresh_token_model = get_refresh_token_model()
    database = router.db_for_write(access_token_model)
    token_ids = sorted(set(token_ids))

    # DOT's registration tokens manage a client, not a session: never revoked from here.
    not_registration = ~Q(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
    # A named access token takes its whole refresh-token family with it.
    named_families = list(
        refresh_token_model.objects.filter(access_token__in=token_ids, token_family__isnull=False)
        .values_list("token_family", flat=True)
        .distinct()
    )
    # Which refresh tokens go: every part names ids or columns of the refresh token itself,
    # each with an index of its own, so the database combines index scans instead of reading
    # the whole table; and the condition stays true of the same rows after the delete.
    rt_condition = Q(access_token__in=token_ids) | Q(token_family__in=sorted({*named_families, *families}))
    if owned is not None:
        rt_condition |= owned
    grants = get_grant_model().objects.filter(owned) if owned is not None else None

    if dry_run:
        # The same selection, counted: four COUNTs, nothing written, no event, no signal.
        named = access_token_model.objects.filter(Q(pk__in=token_ids) | (owned or Q(pk__in=[])))
        named = named.filter(not_registration)
        live = refresh_token_model.objects.filter(rt_condition, revoked__isnull=True)
        bound = access_token_model.objects.filter(pk__in=live.values("access_token_id")).exclude(
            pk__in=named.values("pk")
        )
        grant_count = grants.count() if grants is not None else 0
        return Revocation(None, named.count() + bound.count(), live.count(), grant_count, selection)

    with transaction.atomic(using=database):
        now = timezone.now()
        access_count, refresh_count = _revoke_rows(token_ids, owned, rt_condition, now, database)
        grant_count = 0
        if grants is not None:
            # Count grants only, not rows a swapped grant model cascades to.
            grant_count = grants.delete()[1].get(grants.model._meta.label, 0)
        if not audit_empty and not (access_count or refresh_count or grant_count):
            return Revocation(None, 0, 0, 0, selection)
        event = RevocationEvent.objects.create(
            created_at=now,
            surface=surface,
            actor_type=actor.type,
            actor_label=actor.label[:255],
            actor_user=actor.user,
            actor_application=actor.application,
            selection=selection,
            access_tokens_revoked=access_count,
            refresh_tokens_revoked=refresh_count,
            grants_revoked=grant_count,
            reason=reason,
        )
        transaction.on_commit(
            lambda: tokens_revoked.send(
                sender=RevocationEvent,
                event=event,
                access_tokens=access_count,
                refresh_tokens=refresh_count,
                grants=grant_count,
            ),
            using=database,
        )
    return Revocation(event, access_count, refresh_count, grant_count, selection)


def _revoke_rows(
    token_ids: list[int], owned: Q | None, rt_condition: Q, now: Any, database: str
) -> tuple[int, int]:
    """Revoke the refresh tokens and delete the access tokens; returns (access, refresh) counts.

    1. A locking read of the live refresh tokens, in primary-key order. A refresh in
       progress holds its refresh token's row lock while it mints the next pair: waiting
       for it here, in a statement of its own, means the writes below see the pair it
       minted (under READ COMMITTED a statement that waited keeps its older snapshot). The
       fixed order keeps overlapping revocations from deadlocking. It also reads each
       refresh token's access token, so nothing below has to look the link up again.
    2. The refresh tokens are revoked and unlinked in one write per row.
    3. The access tokens are deleted: those named or owned, and those the other refresh
       tokens were bound to.
    4. Where foreign keys are checked at commit (PostgreSQL, SQLite), a sign-in that
       committed after step 2 may have lost its access token to step 3: its
       refresh token is revoked too, so none is left pointing at nothing. (MySQL and
       MariaDB check at once; their locking read also locks the gaps a new row would go
       into, so such a sign-in waits for this transaction instead.)

    Statements by id run in chunks of ``ID_CHUNK_SIZE``: a fixed number up to that many rows.
    """
    access_token_model = get_access_token_model()
    refresh_token_model = get_refresh_token_model()
    not_registration = ~Q(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)

    live = refresh_token_model.objects.filter(rt_condition, revoked__isnull=True)
    if owned is not None:
        # A refresh token of the owned rows is bound to an owned access token (they share
        # user and app), which the owned delete below takes anyway.
        live = live.annotate(owned=Case(When(owned, then=Value(True)), default=Value(False)))
    else:
        live = live.annotate(owned=Value(False))
    locked = list(live.select_for_update().order_by("pk").values_list("access_token_id", "owned"))
    # By the same condition, not by the ids just read: the database answers it from the same
    # indexes, faster than from a long list of ids (the rows are locked already).
    refresh_count = refresh_token_model.objects.filter(rt_condition, revoked__isnull=True).update(
        revoked=now, updated=now, access_token=None
    )

    access_count = 0
    if owned is not None:
        access_count += _delete_access_tokens(
            access_token_model.objects.filter(owned, not_registration), database
        )
    bound = [access_token_id for access_token_id, is_owned in locked if access_token_id and not is_owned]
    for chunk in _chunks(sorted({*token_ids, *bound})):
        access_count += _delete_access_tokens(
            access_token_model.objects.filter(not_registration, pk__in=chunk), database
        )

    if connections[database].features.can_defer_constraint_checks:
        gone = ~Exists(access_token_model.objects.filter(pk=OuterRef("access_token_id")))
        refresh_count += refresh_token_model.objects.filter(
            rt_condition, gone, revoked__isnull=True, access_token__isnull=False
        ).update(revoked=now, updated=now, access_token=None)
    return access_count, refresh_count


def _delete_access_tokens(queryset: QuerySet[Any], database: str) -> int:
    """Delete access tokens in one statement when nothing else needs to see the rows go."""
    if _plain_delete_is_safe(queryset.model):
        # One DELETE ... WHERE, rows never loaded; None when the condition can match nothing.
        return queryset._raw_delete(database) or 0
    # A project model points at access tokens, or listens for their deletion: let
    # Django's collector cascade and send the signals.
    deleted, per_model = queryset.delete()
    return per_model.get(queryset.model._meta.label, 0)


def _plain_delete_is_safe(access_token_model: Any) -> bool:
    refresh_token_model = get_refresh_token_model()
    for relation in access_token_model._meta.related_objects:
        # The refresh token's link is cleared by the callers; nothing else may point here.
        if not (relation.related_model is refresh_token_model and relation.field.name == "access_token"):
            return False
    return not (pre_delete.has_listeners(access_token_model) or post_delete.has_listeners(access_token_model))


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK_SIZE):
        yield ids[start : start + ID_CHUNK_SIZE]
