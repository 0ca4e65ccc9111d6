"""What to revoke, as a value: ``Selection``, its named constructors and the conditions the
service writes by."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from token_admin import ids, queries
from token_admin.models import Device, TokenSession


def user_pair_filter(pairs: Iterable[tuple[Any, Any]]) -> Q:
    """``Q`` matching rows of any of the (user_id, application_id) pairs; matches nothing if empty."""
    condition = Q(pk__in=[])
    for user_id, application_id in pairs:
        condition |= Q(user_id=user_id, application_id=application_id)
    return condition


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

    ``described`` is what the audit event records as the selection: JSON, so every id in it
    goes through ``token_admin.ids.to_json`` (a UUID user key is not a JSON value).
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
            token_ids = set(tokens.values_list("pk", flat=True))
        else:
            token_ids = set()
            for token in tokens:
                if isinstance(token, int):
                    token_ids.add(token)
                else:
                    token_ids.add(token.pk)
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
            access_token_model.objects.filter(pk__in=sorted(token_ids))
            .filter(queries.not_registration())
            .values_list("pk", "token_checksum", "source_refresh_token__token_family")
        )
        bound = dict(
            get_refresh_token_model()
            .objects.filter(access_token_id__in=sorted(token_ids), token_family__isnull=False)
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
            if pk not in found and not _has_family(token) and not queries.is_registration(token):
                lone.add(token.token_checksum)
        kept_ids = found | {pk for pk, token in known.items() if not queries.is_registration(token)}
        return cls(
            families=frozenset(families),
            lone_checksums=frozenset(lone),
            access_token_ids=frozenset(kept_ids),
            described={"kind": "access_tokens", "access_token_ids": _json_ids(kept_ids), **described},
        )

    @classmethod
    def _loaded_tokens(cls, tokens: list[Any], described: dict[str, Any]) -> Selection:
        """Tokens loaded with ``queries.with_family``: their sessions are known, no query."""
        kept = [token for token in tokens if not queries.is_registration(token)]
        families = {
            family
            for token in kept
            for family in (token.bound_family, token.source_family)
            if family is not None
        }
        token_ids = sorted(token.pk for token in kept)
        return cls(
            families=frozenset(families),
            lone_checksums=frozenset(token.token_checksum for token in kept if not _has_family(token)),
            access_token_ids=frozenset(token_ids),
            described={"kind": "access_tokens", "access_token_ids": _json_ids(token_ids), **described},
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
            session_ids = sorted(str(public_id) for public_id in queryset.values_list("public_id", flat=True))
        else:
            session_ids = sorted({str(UUID(str(session_id))) for session_id in sessions})
            queryset = TokenSession.objects.filter(public_id__in=session_ids)
        described: dict[str, Any] = {"kind": "sessions", "session_ids": session_ids}
        if user is not None:
            queryset = queryset.filter(user=user)
            described["user_id"] = ids.to_json(user.pk)
        families, lone = queries.session_keys(queryset)
        return cls(families=families, lone_checksums=lone, described=described)

    @classmethod
    def users(cls, users: Iterable[Any]) -> Selection:
        """Every token, refresh token and grant of these users (instances or ids), in every app,
        and the registration tokens of their devices."""
        user_ids = frozenset(_pk(user) for user in users)
        return cls(
            user_ids=user_ids,
            registration_owner_ids=user_ids,
            described={"kind": "users", "user_ids": _json_ids(user_ids)},
        )

    @classmethod
    def user_apps(cls, pairs: Iterable[tuple[Any, Any]]) -> Selection:
        """De-authorize apps for users: everything of each (user, application) pair."""
        unique = {(user.pk, application.pk): (user, application) for user, application in pairs}
        return cls(
            pairs=frozenset(unique),
            described={
                "kind": "user_apps",
                "pairs": sorted([ids.to_json(user.pk), app.client_id] for user, app in unique.values()),
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
            described["user_id"] = ids.to_json(user.pk)
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
        families, lone = queries.session_keys(
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
        """A JSON-able form, signed into the admin's confirmation page: ids only, never a token
        value or checksum (a signed value is readable by anyone who holds it).

        Lone sessions are named by their session's public id (one query, none without lone
        sessions); ``from_data`` reads them again. A lone token without a session row is left
        out: only ``tokens`` names one, and it names it by id as well.
        """
        lone_sessions: list[str] = []
        if self.lone_checksums:
            lone_sessions = sorted(
                str(public_id)
                for public_id in TokenSession.objects.filter(
                    access_token_checksum__in=sorted(self.lone_checksums)
                ).values_list("public_id", flat=True)
            )
        return {
            "families": sorted(str(family) for family in self.families),
            "lone_sessions": lone_sessions,
            "access_token_ids": _json_ids(self.access_token_ids),
            "user_ids": _json_ids(self.user_ids),
            "pairs": sorted([ids.to_json(user_id), ids.to_json(app_id)] for user_id, app_id in self.pairs),
            "application_ids": _json_ids(self.application_ids),
            "registration_client_ids": _json_ids(self.registration_client_ids),
            "registration_owner_ids": _json_ids(self.registration_owner_ids),
            "described": self.described,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Selection:
        """The selection ``to_data`` gave, its lone sessions read again as they are now (one
        query, none without lone sessions): a session gone since names nothing, and one that
        has gained a refresh-token family names the family.

        Ids are read back as their models have them (``token_admin.ids.parse``: a UUID user key
        from its string). Raises ``KeyError``, ``TypeError`` or ``ValueError`` for data not of
        that shape.
        """
        token, user, app = get_access_token_model(), ids.user_pk, get_application_model()
        families, lone = frozenset[UUID](), frozenset[str]()
        if data["lone_sessions"]:
            public_ids = sorted({UUID(public_id) for public_id in data["lone_sessions"]})
            families, lone = queries.session_keys(TokenSession.objects.filter(public_id__in=public_ids))
        return cls(
            families=frozenset(UUID(family) for family in data["families"]) | families,
            lone_checksums=lone,
            access_token_ids=frozenset(ids.parse(token, pk) for pk in data["access_token_ids"]),
            user_ids=frozenset(user(pk) for pk in data["user_ids"]),
            pairs=frozenset((user(user_id), ids.parse(app, app_id)) for user_id, app_id in data["pairs"]),
            application_ids=frozenset(ids.parse(app, pk) for pk in data["application_ids"]),
            registration_client_ids=frozenset(ids.parse(app, pk) for pk in data["registration_client_ids"]),
            registration_owner_ids=frozenset(user(pk) for pk in data["registration_owner_ids"]),
            described=dict(data["described"]),
        )

    # --- conditions the service writes by ----------------------------------------------

    def owned_condition(self) -> Q | None:
        """Rows (access tokens, refresh tokens, grants) of the selected users, pairs and apps."""
        condition: Q | None = None
        if self.user_ids:
            condition = either(condition, Q(user_id__in=sorted(self.user_ids)))
        if self.pairs:
            condition = either(condition, user_pair_filter(sorted(self.pairs)))
        if self.application_ids:
            condition = either(condition, Q(application_id__in=sorted(self.application_ids)))
        return condition


def _has_family(token: Any) -> bool:
    return (
        getattr(token, "bound_family", None) is not None or getattr(token, "source_family", None) is not None
    )


def _pk(obj: Any) -> Any:
    return getattr(obj, "pk", obj)


def _json_ids(pks: Iterable[Any]) -> list[Any]:
    """Primary keys as sorted JSON values (``token_admin.ids.to_json``)."""
    return sorted(ids.to_json(pk) for pk in pks)


def either(condition: Q | None, other: Q) -> Q:
    return other if condition is None else condition | other
