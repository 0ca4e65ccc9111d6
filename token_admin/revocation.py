"""THE one place tokens are revoked: a ``Selection`` (a value) and ``revoke()``.

Every surface (the three APIs, the admin, the commands, DOT's own revoking views, the
deletion of a user or app) builds a ``Selection`` with one of its named constructors and
hands it to ``revoke()``. Each call is:

* **keyed on sessions and owners**: a selection names refresh-token families, lone tokens,
  users, (user, app) pairs, apps and devices. Access-token ids change at every refresh, so
  tokens named one by one are turned into their sessions when the selection is built;
* **complete after every wait**: ``revoke()`` locks the live refresh tokens of the selection
  and reads them again until a read finds nothing new, so a pair minted by a refresh that
  committed while the revocation waited for its lock is revoked too (under READ COMMITTED a
  statement that waited keeps its older snapshot; the next statement sees the new rows);
* **set-based**: a fixed number of SQL statements whatever the number of tokens;
* **atomic**: all of it or none of it;
* **idempotent**: revoking what is already revoked changes nothing and does not fail;
* **audited and signalled**: one ``RevocationEvent`` per call, and ``tokens_revoked``
  after the transaction commits.

Access tokens are deleted (as DOT's ``AccessToken.revoke()`` does); refresh tokens are kept,
marked ``revoked``, because DOT's reuse protection relies on that record.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import OperationalError, connections, router, transaction
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from .events import outbox
from .models import Device, RevocationEvent, TokenSession
from .queries import user_pair_filter
from .signals import tokens_revoked

Surface = RevocationEvent.Surface
ActorType = RevocationEvent.ActorType

# Rows per statement where ids are named. Well above any single API or admin request.
ID_CHUNK_SIZE = 20_000
# How often the live refresh tokens are read again after a lock wait before giving up.
# Each extra read means a refresh committed a rotation of a token of the selection while
# the previous read waited; reads hold their locks, so a read that waited for none ends it.
MAX_LOCKING_READS = 10
# Most users and apps an audit event lists by name (the totals count all of them).
AFFECTED_MAX = 20
# How often a revocation that a deadlock rolled back is run again.
DEADLOCK_ATTEMPTS = 5


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
    def signed_in_user(cls, user: Any) -> Actor:
        """A signed-in user revoking their own sessions (DOT's authorized-token pages)."""
        return cls(ActorType.USER, user.get_username(), user=user)

    @classmethod
    def api_client(cls, application: Any) -> Actor:
        """An API client of the end-user API, labelled by its app's name."""
        return cls(ActorType.API_CLIENT, app_label(application), application=application)

    @classmethod
    def oauth_client(cls, application: Any) -> Actor:
        """An OAuth client revoking a token it was issued (RFC 7009)."""
        return cls(
            ActorType.OAUTH_CLIENT, f"{application.name} ({application.client_id})", application=application
        )

    @classmethod
    def token(cls, access_token: Any) -> Actor:
        """The calling token revoking itself; labelled by owner and app, never by value."""
        return cls(
            ActorType.TOKEN,
            token_label(access_token),
            user=access_token.user,
            application=access_token.application,
        )

    @classmethod
    def command(cls, label: str) -> Actor:
        return cls(ActorType.COMMAND, label)

    @classmethod
    def policy(cls, label: str) -> Actor:
        """A revocation policy acting on an account event (e.g. a password change)."""
        return cls(ActorType.POLICY, label)

    @classmethod
    def scanner(cls, label: str) -> Actor:
        """Whoever reported leaked tokens (a secret scanner, by key, or an IP)."""
        return cls(ActorType.SCANNER, label)

    @classmethod
    def system(cls, label: str) -> Actor:
        """No person asked: e.g. a user or app is being deleted."""
        return cls(ActorType.SYSTEM, label)


def app_label(application: Any) -> str:
    """An app as people know it: its name (its client id only when it has none)."""
    return str(application.name or application.client_id)


def token_label(access_token: Any) -> str:
    """A token by owner and app: "alice's token in Acc App", "app token of Acc App"; never its value."""
    app = app_label(access_token.application)
    if access_token.user_id:
        return f"{access_token.user.get_username()}'s token in {app}"
    return f"app token of {app}"


@dataclass(frozen=True)
class Selection:
    """What to revoke, as a value: build one with a named constructor, combine with ``|``.

    * ``families``: refresh-token families (sessions that have a refresh token);
    * ``lone_checksums``: sessions of a lone access token (no refresh token), by checksum;
    * ``access_token_ids``: access tokens named one by one, deleted even without a session;
    * ``user_ids``, ``pairs`` ((user id, app id)), ``application_ids``: everything they own,
      sessions begun after the selection was built included;
    * ``registration_client_ids``: apps whose DCR registration token goes too (devices);
    * ``registration_owner_ids``: users whose devices' registration tokens go too.

    ``described`` is what the audit event records as the selection.
    """

    families: frozenset[UUID] = frozenset()
    lone_checksums: frozenset[str] = frozenset()
    access_token_ids: frozenset[int] = frozenset()
    user_ids: frozenset[Any] = frozenset()
    pairs: frozenset[tuple[Any, Any]] = frozenset()
    application_ids: frozenset[Any] = frozenset()
    registration_client_ids: frozenset[Any] = frozenset()
    registration_owner_ids: frozenset[Any] = frozenset()
    described: dict[str, Any] = field(default_factory=dict, compare=False)

    # --- named constructors -------------------------------------------------------------

    @classmethod
    def tokens(cls, tokens: QuerySet[Any] | Iterable[Any], **described: Any) -> Selection:
        """Access tokens (instances, primary keys or a queryset) with their whole sessions.

        Each token is turned into its session here: its refresh-token family (through the
        refresh token bound to it, or the one it was minted from) or, without one, its own
        lone session. An instance loaded by ``queries.token_by_raw``/``tokens_by_raw`` carries
        its family already, so a rotation committed after that load cannot hide it.
        DOT's registration tokens are left out (devices revoke them).
        """
        known: dict[int, Any] = {}
        if not isinstance(tokens, QuerySet):
            tokens = list(tokens)
            if tokens and all(hasattr(token, "bound_family") for token in tokens):
                return cls._loaded_tokens(tokens, described)
        if isinstance(tokens, QuerySet):
            ids = set(tokens.values_list("pk", flat=True))
        else:
            ids = set()
            for token in tokens:
                if isinstance(token, int):
                    ids.add(token)
                else:
                    ids.add(token.pk)
                    known[token.pk] = token
        families: set[UUID] = {
            family
            for token in known.values()
            for family in (getattr(token, "bound_family", None), getattr(token, "source_family", None))
            if family is not None
        }
        lone: set[str] = set()
        access_token_model = get_access_token_model()
        rows = (
            access_token_model.objects.filter(pk__in=sorted(ids))
            .exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
            .values_list("pk", "token_checksum", "source_refresh_token__token_family")
        )
        bound = dict(
            get_refresh_token_model()
            .objects.filter(access_token_id__in=sorted(ids), token_family__isnull=False)
            .values_list("access_token_id", "token_family")
        )
        found = set()
        for pk, checksum, source_family in rows:
            found.add(pk)
            family = bound.get(pk) or source_family
            if family is not None:
                families.add(family)
            elif pk not in known or not _has_family(known[pk]):
                lone.add(checksum)
        for pk, token in known.items():
            # Gone since it was loaded (a refresh rotated it away): its family was loaded with it.
            if pk not in found and not _has_family(token) and token.scope != _registration_scope():
                lone.add(token.token_checksum)
        kept_ids = found | {pk for pk, token in known.items() if token.scope != _registration_scope()}
        return cls(
            families=frozenset(families),
            lone_checksums=frozenset(lone),
            access_token_ids=frozenset(kept_ids),
            described={"kind": "access_tokens", "access_token_ids": sorted(kept_ids), **described},
        )

    @classmethod
    def _loaded_tokens(cls, tokens: list[Any], described: dict[str, Any]) -> Selection:
        """Tokens loaded with ``queries.with_family``: their sessions are known, no query."""
        kept = [token for token in tokens if token.scope != _registration_scope()]
        families = {
            family
            for token in kept
            for family in (token.bound_family, token.source_family)
            if family is not None
        }
        ids = sorted(token.pk for token in kept)
        return cls(
            families=frozenset(families),
            lone_checksums=frozenset(token.token_checksum for token in kept if not _has_family(token)),
            access_token_ids=frozenset(ids),
            described={"kind": "access_tokens", "access_token_ids": ids, **described},
        )

    @classmethod
    def sessions(
        cls, sessions: QuerySet[TokenSession] | Iterable[UUID | str], *, user: Any = None
    ) -> Selection:
        """Sessions by public id (or a queryset); with ``user``, only that user's sessions.

        Raises ``ValueError`` for an id that is not a UUID, before anything is read.
        """
        if isinstance(sessions, QuerySet):
            queryset = sessions
            ids = sorted(str(public_id) for public_id in queryset.values_list("public_id", flat=True))
        else:
            ids = sorted({str(UUID(str(session_id))) for session_id in sessions})
            queryset = TokenSession.objects.filter(public_id__in=ids)
        described: dict[str, Any] = {"kind": "sessions", "session_ids": ids}
        if user is not None:
            queryset = queryset.filter(user=user)
            described["user_id"] = user.pk
        families, lone = _session_keys(queryset)
        return cls(families=families, lone_checksums=lone, described=described)

    @classmethod
    def users(cls, users: Iterable[Any]) -> Selection:
        """Every token, refresh token and grant of these users (instances or ids), in every app,
        and the registration tokens of their devices."""
        user_ids = frozenset(_pk(user) for user in users)
        return cls(
            user_ids=user_ids,
            registration_owner_ids=user_ids,
            described={"kind": "users", "user_ids": sorted(user_ids)},
        )

    @classmethod
    def user_apps(cls, pairs: Iterable[tuple[Any, Any]]) -> Selection:
        """De-authorize apps for users: everything of each (user, application) pair."""
        unique = {(user.pk, application.pk): (user, application) for user, application in pairs}
        return cls(
            pairs=frozenset(unique),
            described={
                "kind": "user_apps",
                "pairs": sorted([user.pk, app.client_id] for user, app in unique.values()),
            },
        )

    @classmethod
    def applications(cls, applications: Iterable[Any], *, user: Any = None) -> Selection:
        """Everything of these apps (only ``user``'s, if given)."""
        applications = list(applications)
        described: dict[str, Any] = {
            "kind": "applications",
            "client_ids": sorted({application.client_id for application in applications}),
        }
        if user is not None:
            described["user_id"] = user.pk
            return cls(
                pairs=frozenset((user.pk, application.pk) for application in applications),
                described=described,
            )
        return cls(
            application_ids=frozenset(application.pk for application in applications), described=described
        )

    @classmethod
    def devices(cls, devices: Iterable[Device]) -> Selection:
        """Everything each device shows: its owner's sessions on its registered client, the
        sessions bound to it, and the client's registration token."""
        devices = list(devices)
        families, lone = _session_keys(
            TokenSession.objects.filter(device__in=[device.pk for device in devices])
        )
        clients = [device for device in devices if device.application_id is not None]
        return cls(
            families=families,
            lone_checksums=lone,
            pairs=frozenset((device.user_id, device.application_id) for device in clients),
            registration_client_ids=frozenset(device.application_id for device in clients),
            described={"kind": "devices", "device_ids": sorted(str(device.public_id) for device in devices)},
        )

    # --- combining and serialising -------------------------------------------------------

    def __or__(self, other: Selection) -> Selection:
        merged = {key: value for key, value in other.described.items() if key != "kind"}
        return Selection(
            families=self.families | other.families,
            lone_checksums=self.lone_checksums | other.lone_checksums,
            access_token_ids=self.access_token_ids | other.access_token_ids,
            user_ids=self.user_ids | other.user_ids,
            pairs=self.pairs | other.pairs,
            application_ids=self.application_ids | other.application_ids,
            registration_client_ids=self.registration_client_ids | other.registration_client_ids,
            registration_owner_ids=self.registration_owner_ids | other.registration_owner_ids,
            described={**merged, **self.described},
        )

    def with_description(self, **described: Any) -> Selection:
        return replace(self, described={**self.described, **described})

    def is_empty(self) -> bool:
        return not (
            self.families
            or self.lone_checksums
            or self.access_token_ids
            or self.owned_condition() is not None
            or self.registration_client_ids
            or self.registration_owner_ids
        )

    def to_data(self) -> dict[str, Any]:
        """A JSON-able form (e.g. signed into the admin's confirmation page); no token value."""
        return {
            "families": sorted(str(family) for family in self.families),
            "lone_checksums": sorted(self.lone_checksums),
            "access_token_ids": sorted(self.access_token_ids),
            "user_ids": sorted(self.user_ids),
            "pairs": sorted([user_id, app_id] for user_id, app_id in self.pairs),
            "application_ids": sorted(self.application_ids),
            "registration_client_ids": sorted(self.registration_client_ids),
            "registration_owner_ids": sorted(self.registration_owner_ids),
            "described": self.described,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Selection:
        return cls(
            families=frozenset(UUID(family) for family in data["families"]),
            lone_checksums=frozenset(data["lone_checksums"]),
            access_token_ids=frozenset(data["access_token_ids"]),
            user_ids=frozenset(data["user_ids"]),
            pairs=frozenset((user_id, app_id) for user_id, app_id in data["pairs"]),
            application_ids=frozenset(data["application_ids"]),
            registration_client_ids=frozenset(data["registration_client_ids"]),
            registration_owner_ids=frozenset(data["registration_owner_ids"]),
            described=dict(data["described"]),
        )

    # --- conditions the service writes by ----------------------------------------------

    def owned_condition(self) -> Q | None:
        """Rows (access tokens, refresh tokens, grants) of the selected users, pairs and apps."""
        condition: Q | None = None
        if self.user_ids:
            condition = _or(condition, Q(user_id__in=sorted(self.user_ids)))
        if self.pairs:
            condition = _or(condition, user_pair_filter(sorted(self.pairs)))
        if self.application_ids:
            condition = _or(condition, Q(application_id__in=sorted(self.application_ids)))
        return condition


@dataclass(frozen=True)
class Revocation:
    """What one call revoked (with ``dry_run``: would revoke; then ``event`` is None).

    ``registration_tokens`` counts DOT registration tokens deleted with devices; they are
    never part of ``access_tokens``, as they are never listed as sessions.
    """

    event: RevocationEvent | None
    access_tokens: int
    refresh_tokens: int
    grants: int
    selection: dict[str, Any] = field(default_factory=dict)
    registration_tokens: int = 0

    @property
    def revoked_anything(self) -> bool:
        return bool(self.access_tokens or self.refresh_tokens or self.grants or self.registration_tokens)


def revoke(
    selection: Selection,
    *,
    actor: Actor,
    surface: Surface,
    reason: str = "",
    dry_run: bool = False,
    audit_empty: bool = True,
) -> Revocation:
    """Revoke ``selection``: atomic, set-based, audited, signalled (see the module docstring).

    ``dry_run`` counts what would be revoked and writes nothing. With ``audit_empty=False``
    a call that revokes nothing writes no event and sends no signal (for surfaces that
    must not let a caller grow the audit table with no-ops).
    """
    if dry_run:
        return _count(selection)
    database = router.db_for_write(get_access_token_model())
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return _revoke_once(selection, actor, surface, reason, audit_empty, database)
        except OperationalError as error:
            # Overlapping revocations can deadlock (InnoDB picks one victim and rolls it back).
            # The revocation is atomic and idempotent, so it runs again, unless an outer
            # transaction of the caller's was rolled back with it.
            if (
                attempt == DEADLOCK_ATTEMPTS
                or not _is_deadlock(error)
                or connections[database].in_atomic_block
            ):
                raise
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


def _revoke_once(
    selection: Selection, actor: Actor, surface: Surface, reason: str, audit_empty: bool, database: str
) -> Revocation:
    with transaction.atomic(using=database):
        now = timezone.now()
        *counts, affected = _revoke_rows(selection, now, database)
        access_count, refresh_count, grant_count, registration_count = counts
        described = dict(selection.described)
        described["affected"] = affected
        if registration_count:
            described["registration_tokens_revoked"] = registration_count
        if not any(counts) and not audit_empty:
            return Revocation(None, 0, 0, 0, described)
        event = RevocationEvent.objects.create(
            created_at=now,
            surface=surface,
            actor_type=actor.type,
            actor_label=actor.label[:255],
            actor_user=actor.user,
            actor_application=actor.application,
            selection=described,
            access_tokens_revoked=access_count,
            refresh_tokens_revoked=refresh_count,
            grants_revoked=grant_count,
            reason=reason,
        )
        outbox.record(event, selection, any(counts))
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
    return Revocation(event, access_count, refresh_count, grant_count, described, registration_count)


# --- the one implementation --------------------------------------------------------------


def _revoke_rows(selection: Selection, now: Any, database: str) -> tuple[int, int, int, int, dict[str, Any]]:
    """Revoke the selection's rows; returns (access, refresh, grant, registration) counts and
    whose they were (``_affected``, read once the rows are locked, before they go).

    1. Locking reads of the selection's live refresh tokens, in primary-key order, repeated
       until one finds the same rows as the one before. A refresh in progress holds its
       refresh token's lock while it mints the next pair: a read that waited for it does
       not see that pair (its snapshot is older), the next read does, and locks it. Reads
       hold their locks, so once two agree no refresh of the selection can commit anymore
       (it waits for this transaction, then ``TokenAdminOAuth2Validator`` refuses it). The
       fixed order keeps overlapping revocations from deadlocking.
    2. The refresh tokens are revoked and unlinked in one write per row.
    3. The access tokens are deleted: those named (lone sessions' by id, read first) or
       owned, and those the refresh tokens were bound to; then the registration tokens the
       selection names.
    4. Grants of the owned rows are deleted.
    5. Where foreign keys are checked at commit (PostgreSQL, SQLite), a sign-in that
       committed after step 2 may have lost its access token to step 3: its refresh token
       is revoked too, so none is left pointing at nothing. (MySQL and MariaDB check at
       once: step 3 leaves such a sign-in's access token alone, see
       ``_delete_access_tokens``, and its session lives on, as one begun after the
       revocation would.)
    """
    access_token_model = get_access_token_model()
    refresh_token_model = get_refresh_token_model()
    owned = selection.owned_condition()
    not_registration = ~Q(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
    if selection.lone_checksums:
        # A lone session's token is named by id from here on, so a refresh token bound to it
        # (one from before DOT kept families) goes with it.
        lone_ids = access_token_model.objects.filter(
            not_registration, token_checksum__in=sorted(selection.lone_checksums)
        ).values_list("pk", flat=True)
        selection = replace(selection, access_token_ids=selection.access_token_ids | set(lone_ids))
    rt_condition = _refresh_condition(selection)

    locked = _lock_live_refresh_tokens(rt_condition, owned)
    # A refresh token of the owned rows is bound to an owned access token (they share user
    # and app), which the owned delete below takes.
    bound = [access_token_id for access_token_id, is_owned in locked if access_token_id and not is_owned]
    named_ids = sorted({*selection.access_token_ids, *bound})
    affected = _affected(rt_condition, owned, named_ids)
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
    for chunk in _chunks(named_ids):
        access_count += _delete_access_tokens(
            access_token_model.objects.filter(not_registration, pk__in=chunk), database
        )

    registration_count = 0
    registration = _registration_condition(selection)
    if registration is not None:
        registration_count = _delete_access_tokens(
            access_token_model.objects.filter(registration, scope=oauth2_settings.DCR_REGISTRATION_SCOPE),
            database,
        )

    grant_count = 0
    if owned is not None:
        grants = get_grant_model().objects.filter(owned)
        # Count grants only, not rows a swapped grant model cascades to.
        grant_count = grants.delete()[1].get(grants.model._meta.label, 0)

    if connections[database].features.can_defer_constraint_checks:
        gone = ~Exists(access_token_model.objects.filter(pk=OuterRef("access_token_id")))
        refresh_count += refresh_token_model.objects.filter(
            rt_condition, gone, revoked__isnull=True, access_token__isnull=False
        ).update(revoked=now, updated=now, access_token=None)
    return access_count, refresh_count, grant_count, registration_count, affected


def _affected(rt_condition: Q, owned: Q | None, named_ids: list[int]) -> dict[str, Any]:
    """Whose tokens are about to go, for the audit event: users and apps, by id and label.

    Two GROUP BY reads (live refresh tokens, then access tokens) per (user, app), joined to
    the user and app for their labels: a fixed number of statements whatever the number of
    tokens (one more per ``ID_CHUNK_SIZE`` named access tokens beyond the first, as the
    delete). A session is a live refresh token, or an access token that no refresh token
    was ever bound to and none minted. Lists are capped at ``AFFECTED_MAX`` entries, most
    sessions first; the totals count them all. Ids and labels only, never a token value.
    """
    username = f"user__{get_user_model().USERNAME_FIELD}"
    labels = ("user_id", username, "application_id", "application__name")
    per_pair: dict[tuple[Any, Any], dict[str, Any]] = {}

    def pair(row: dict[str, Any]) -> dict[str, Any]:
        key = (row["user_id"], row["application_id"])
        return per_pair.setdefault(
            key,
            {
                "user": row[username],
                "app": row["application__name"],
                "access": 0,
                "refresh": 0,
                "sessions": 0,
            },
        )

    refresh_rows = (
        get_refresh_token_model()
        .objects.filter(rt_condition, revoked__isnull=True)
        .order_by()
        .values(*labels)
        .annotate(count=Count("pk"))
    )
    for row in refresh_rows:
        entry = pair(row)
        entry["refresh"] += row["count"]
        entry["sessions"] += row["count"]

    access_token_model = get_access_token_model()
    refresh_token_model = get_refresh_token_model()
    never_bound = ~Exists(refresh_token_model.objects.filter(access_token_id=OuterRef("pk"))) & Q(
        source_refresh_token__isnull=True
    )
    conditions: list[Q] = []
    for index, chunk in enumerate(_chunks(named_ids)):
        named = Q(pk__in=chunk)
        if owned is not None:
            # The owned rows go with the first chunk; later chunks leave them out, so no
            # token is counted twice.
            named = named | owned if index == 0 else named & ~owned
        conditions.append(named)
    if not conditions and owned is not None:
        conditions.append(owned)
    for condition in conditions:
        access_rows = (
            access_token_model.objects.filter(condition)
            .exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
            .order_by()
            .values(*labels)
            .annotate(count=Count("pk"), lone=Count("pk", filter=never_bound))
        )
        for row in access_rows:
            entry = pair(row)
            entry["access"] += row["count"]
            entry["sessions"] += row["lone"]

    users: dict[Any, dict[str, Any]] = {}
    apps: dict[Any, dict[str, Any]] = {}
    for (user_id, app_id), entry in per_pair.items():
        if user_id is not None:
            user = users.setdefault(
                user_id, {"id": _json_id(user_id), "username": entry["user"], "sessions": 0}
            )
            user["sessions"] += entry["sessions"]
        if app_id is not None:
            app = apps.setdefault(
                app_id,
                {
                    "id": _json_id(app_id),
                    "name": entry["app"],
                    "access_tokens": 0,
                    "refresh_tokens": 0,
                    "sessions": 0,
                },
            )
            app["access_tokens"] += entry["access"]
            app["refresh_tokens"] += entry["refresh"]
            app["sessions"] += entry["sessions"]

    def most_first(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(entries, key=lambda entry: (-entry["sessions"], str(entry["id"])))[:AFFECTED_MAX]

    return {
        "sessions": sum(entry["sessions"] for entry in per_pair.values()),
        "users": most_first(users.values()),
        "users_total": len(users),
        "apps": most_first(apps.values()),
        "apps_total": len(apps),
    }


def _json_id(pk: Any) -> Any:
    return pk if isinstance(pk, (int, str)) else str(pk)


def _lock_live_refresh_tokens(rt_condition: Q, owned: Q | None) -> list[tuple[int | None, bool]]:
    """Lock the live refresh tokens of the selection (step 1 above): (access token id, owned) each."""
    live = get_refresh_token_model().objects.filter(rt_condition, revoked__isnull=True)
    if owned is not None:
        live = live.annotate(owned=Case(When(owned, then=Value(True)), default=Value(False)))
    else:
        live = live.annotate(owned=Value(False))
    reads = live.select_for_update().order_by("pk").values_list("pk", "access_token_id", "owned")
    previous = None
    for _ in range(MAX_LOCKING_READS):
        rows = list(reads.all())
        if rows == previous:
            break
        previous = rows
    else:
        # Refreshes kept rotating this selection's tokens faster than it could lock them:
        # give up rather than revoke part of it (the caller sees an error and may retry).
        raise RuntimeError("The selection's refresh tokens kept changing while they were locked.")
    return [(access_token_id, is_owned) for _, access_token_id, is_owned in rows]


def _refresh_condition(selection: Selection) -> Q:
    """Which refresh tokens go. Every part names ids or columns of the refresh token itself,
    each with an index of its own, so the database combines index scans instead of reading
    the whole table; and the condition stays true of the same rows after the update."""
    condition = Q(token_family__in=sorted(selection.families)) | Q(
        access_token_id__in=sorted(selection.access_token_ids)
    )
    owned = selection.owned_condition()
    return condition | owned if owned is not None else condition


def _registration_condition(selection: Selection) -> Q | None:
    condition: Q | None = None
    if selection.registration_client_ids:
        condition = Q(application_id__in=sorted(selection.registration_client_ids))
    if selection.registration_owner_ids:
        clients = Device.objects.filter(
            user_id__in=sorted(selection.registration_owner_ids), application__isnull=False
        ).values("application_id")
        condition = _or(condition, Q(application_id__in=clients))
    return condition


def _count(selection: Selection) -> Revocation:
    """The dry run: what ``revoke`` would revoke, counted from indexes, nothing written.

    One read of the live refresh tokens (their bound access tokens), then one COUNT each for
    access tokens, grants and registration tokens, each a union of index lookups.
    """
    access_token_model = get_access_token_model()
    owned = selection.owned_condition()
    live = list(
        get_refresh_token_model()
        .objects.filter(_refresh_condition(selection), revoked__isnull=True)
        .values_list("access_token_id", flat=True)
    )
    named = Q(pk__in=sorted({*selection.access_token_ids, *(pk for pk in live if pk)}))
    if selection.lone_checksums:
        named |= Q(token_checksum__in=sorted(selection.lone_checksums))
    if owned is not None:
        named |= owned
    access_count = (
        access_token_model.objects.filter(named).exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE).count()
    )
    grant_count = get_grant_model().objects.filter(owned).count() if owned is not None else 0
    registration_count = 0
    registration = _registration_condition(selection)
    if registration is not None:
        registration_count = access_token_model.objects.filter(
            registration, scope=oauth2_settings.DCR_REGISTRATION_SCOPE
        ).count()
    return Revocation(
        None, access_count, len(live), grant_count, dict(selection.described), registration_count
    )


def _session_keys(sessions: QuerySet[TokenSession]) -> tuple[frozenset[UUID], frozenset[str]]:
    """The refresh-token families and lone-token checksums of these sessions (one query)."""
    families: set[UUID] = set()
    lone: set[str] = set()
    for family, checksum in sessions.values_list("token_family", "access_token_checksum"):
        if family is not None:
            families.add(family)
        elif checksum:
            lone.add(checksum)
    return frozenset(families), frozenset(lone)


def _delete_access_tokens(queryset: QuerySet[Any], database: str) -> int:
    """Delete access tokens in one statement when nothing else needs to see the rows go."""
    if not connections[database].features.can_defer_constraint_checks:
        # MySQL and MariaDB check foreign keys at once: an access token that a refresh token
        # still points at is one a sign-in committed after this revocation revoked the
        # refresh tokens (they are unlinked then). Deleting it would fail the whole
        # revocation; that sign-in raced the revocation and keeps its new session instead.
        linked = get_refresh_token_model().objects.filter(access_token_id=OuterRef("pk"))
        queryset = queryset.filter(~Exists(linked))
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


def _is_deadlock(error: OperationalError) -> bool:
    """MySQL/MariaDB error 1213, or PostgreSQL's deadlock_detected (40P01)."""
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) == "40P01" or getattr(cause, "pgcode", None) == "40P01":
        return True
    return bool(error.args) and error.args[0] == 1213


def _has_family(token: Any) -> bool:
    return (
        getattr(token, "bound_family", None) is not None or getattr(token, "source_family", None) is not None
    )


def _registration_scope() -> str:
    return str(oauth2_settings.DCR_REGISTRATION_SCOPE)


def _pk(obj: Any) -> Any:
    return getattr(obj, "pk", obj)


def _or(condition: Q | None, other: Q) -> Q:
    return other if condition is None else condition | other


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK_SIZE):
        yield list(ids[start : start + ID_CHUNK_SIZE])
