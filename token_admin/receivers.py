"""Keep ``TokenSession`` rows in step with the tokens DOT saves.

A session begins with the first token a client gets: a lone access token is a session of
its own; a refresh-token family is one session, whose public id stays the same for every
rotation.

These receivers run inside the caller's ``save()`` (DOT's token endpoint, or a project's
factories, import scripts, custom validators), so they must never raise into it: on
PostgreSQL any failed statement aborts the caller's whole transaction. Every statement
here is therefore one that cannot fail on a conflict: inserts ignore conflicts, and a lone
session is re-keyed onto its family only where no session of that family exists. Tokens
written without signals (``bulk_create``, fixtures with ``raw``) get their sessions from
``repair_sessions()``.

Statements per token write, on top of DOT's:

* a lone access token: one INSERT;
* a first token pair from ``TokenAdminOAuth2Validator`` (which says a refresh token
  follows, see ``family_follows``): one INSERT, made for the refresh token;
* a first token pair otherwise (access token saved, then its refresh token): the INSERT
  and one conditional UPDATE;
* a rotation (the new access token has a ``source_refresh_token``): none, the family's
  session exists since its first member;
* a member of a family written directly, in any order: at most three, all conflict-free;
* with ``MAX_SESSIONS_PER_USER_APP``, a new session of a user: one SELECT once the sign-in
  commits, and the revocation service's statements when the cap is passed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Exists
from django.db.models.signals import post_save
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from token_admin import expiry, queries
from token_admin.conf import conf
from token_admin.models import Device, TokenSession

# Set by TokenAdminOAuth2Validator while DOT saves a token pair: the access token saved
# then will be followed by its refresh token, which creates the family's session.
_family_follows: ContextVar[bool] = ContextVar("token_admin_family_follows", default=False)
# Marks an access token whose session is left to its refresh token.
_DEFERRED = "_token_admin_session_deferred"


@contextlib.contextmanager
def family_follows(follows: bool) -> Iterator[None]:
    """While active, a new access token without a refresh source gets no session of its own.

    For callers that save an access token and then, in the same transaction, its refresh
    token (as DOT's ``_save_bearer_token`` does): the pair costs one INSERT instead of an
    INSERT and an UPDATE. A refresh token that never comes leaves no session (see
    ``repair_sessions``).
    """
    reset = _family_follows.set(follows)
    try:
        yield
    finally:
        _family_follows.reset(reset)


def _is_registration_token(access_token: Any) -> bool:
    # DOT's dynamic client registration tokens are never shown as sessions.
    return queries.is_registration(access_token)


def _insert(session: TokenSession) -> None:
    # INSERT ... ON CONFLICT DO NOTHING (INSERT IGNORE, INSERT OR IGNORE): a row that is
    # there already is the row wanted, and a conflict must not reach the caller.
    TokenSession.objects.bulk_create([session], ignore_conflicts=True)
    if session.user_id is not None and conf.MAX_SESSIONS_PER_USER_APP:
        # A new session: the cap is checked once the sign-in has committed (see
        # ``token_admin.expiry``). ``robust``: a failure is logged, never raised into the
        # sign-in that already succeeded; the next sign-in checks again.
        user_id, application_id = session.user_id, session.application_id
        transaction.on_commit(
            lambda: expiry.enforce_cap(user_id, application_id),
            using=router.db_for_write(TokenSession),
            robust=True,
        )


def access_token_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw or instance.application_id is None:
        return
    # A token minted by a refresh belongs to its family's session, created with the family.
    if instance.source_refresh_token_id is not None or _is_registration_token(instance):
        return
    if _family_follows.get():
        setattr(instance, _DEFERRED, True)
        return
    _insert(
        TokenSession(
            access_token_checksum=instance.token_checksum,
            user_id=instance.user_id,
            application_id=instance.application_id,
            created_at=instance.created,
        )
    )


def refresh_token_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw or instance.token_family is None:
        return
    family = instance.token_family
    access_token = instance.access_token if instance.access_token_id else None
    if access_token is not None and access_token.source_refresh_token_id is not None:
        # A rotation (or DOT re-binding a refresh token to an access token it minted from
        # this family): the family's session was made with its first member.
        return
    if access_token is not None and getattr(access_token, _DEFERRED, False):
        # The first pair of a new family; its access token made no session of its own.
        _insert(_family_session(instance, access_token.created))
        return
    if access_token is not None and not _is_registration_token(access_token):
        # The access token's own session becomes the family's, keeping its public id, unless
        # the family has a session already: one statement that changes no row when that
        # session exists, so it cannot hit the unique constraint on token_family. (Only
        # another transaction inserting the same family's session between this statement's
        # read and its write could; DOT never does, a new family's id is a fresh uuid4.)
        lone = TokenSession.objects.filter(access_token_checksum=access_token.token_checksum)
        if connections[router.db_for_write(TokenSession)].features.update_can_self_select:
            turned = lone.filter(~Exists(TokenSession.objects.filter(token_family=family))).update(
                token_family=family, access_token_checksum=None
            )
        else:
            # MySQL (not MariaDB) refuses a subquery on the table it updates.
            turned = 0
            if not TokenSession.objects.filter(token_family=family).exists():
                turned = lone.update(token_family=family, access_token_checksum=None)
        if turned:
            return
        # The family has its session (a member written out of order, or a second access
        # token in the family): the access token's lone session, if any, is not a session.
        lone.delete()
    _insert(_family_session(instance, access_token.created if access_token is not None else None))


def _family_session(refresh_token: Any, created_at: Any) -> TokenSession:
    return TokenSession(
        token_family=refresh_token.token_family,
        user_id=refresh_token.user_id,
        application_id=refresh_token.application_id,
        created_at=created_at or refresh_token.created,
    )


def repair_sessions(batch_size: int = 500) -> dict[str, int]:
    """Bring ``TokenSession`` rows in line with the tokens there are; returns counts per change.

    The repair path for tokens saved without signals (``bulk_create``, ``loaddata``, rows
    written before token_admin was installed): a session for each refresh-token family and
    each lone access token that has none, and no lone session for an access token that
    belongs to a family. Idempotent; safe to run at any time (``manage.py shell -c "from
    token_admin.receivers import repair_sessions; print(repair_sessions())"``).
    """
    access_token_model, refresh_token_model = get_access_token_model(), get_refresh_token_model()
    family_members = refresh_token_model.objects.filter(
        token_family__isnull=False, access_token__isnull=False
    )
    dropped, _ = TokenSession.objects.filter(
        access_token_checksum__in=access_token_model.objects.filter(
            pk__in=family_members.values("access_token_id")
        ).values("token_checksum")
    ).delete()

    known_families = TokenSession.objects.filter(token_family__isnull=False).values("token_family")
    families: dict[Any, TokenSession] = {}
    for family, user_id, application_id, created in (
        refresh_token_model.objects.filter(token_family__isnull=False)
        .exclude(token_family__in=known_families)
        .order_by("pk")
        .values_list("token_family", "user_id", "application_id", "created")
        .iterator()
    ):
        families.setdefault(
            family,
            TokenSession(
                token_family=family, user_id=user_id, application_id=application_id, created_at=created
            ),
        )
    TokenSession.objects.bulk_create(families.values(), ignore_conflicts=True, batch_size=batch_size)

    bound = refresh_token_model.objects.filter(access_token__isnull=False).values("access_token_id")
    lone = [
        TokenSession(
            access_token_checksum=checksum, user_id=user_id, application_id=application_id, created_at=created
        )
        for checksum, user_id, application_id, created in access_token_model.objects.filter(
            application__isnull=False, source_refresh_token__isnull=True
        )
        .filter(queries.not_registration())
        .exclude(pk__in=bound)
        .exclude(
            token_checksum__in=TokenSession.objects.filter(access_token_checksum__isnull=False).values(
                "access_token_checksum"
            )
        )
        .values_list("token_checksum", "user_id", "application_id", "created")
        .iterator()
    ]
    TokenSession.objects.bulk_create(lone, ignore_conflicts=True, batch_size=batch_size)
    counts = {"family_sessions_created": len(families), "lone_sessions_created": len(lone)}
    counts["lone_sessions_dropped"] = dropped
    return counts


#: RFC 7591 metadata of the registration in progress (``oauth_views.DynamicClientRegistrationView``
#: sets it around DOT's view); empty when a project mounts DOT's view directly.
registration_metadata: ContextVar[dict[str, Any] | None] = ContextVar(
    "token_admin_registration_metadata", default=None
)


def _text(metadata: dict[str, Any], key: str) -> str:
    value = metadata.get(key)
    return value.strip() if isinstance(value, str) else ""


def application_registered(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """Give a client that a signed-in user registered through DOT's DCR endpoint its Device.

    DOT's ``POST /o/register/`` saves the Application with ``registration_source="dcr"`` and
    the registering user; the registration's ``client_name`` (the software's name) becomes
    ``Application.name``. The device is named by the registration's ``device_name`` (an
    extension member, RFC 7591 section 2), else after the client; ``software_id`` is kept
    too. Without a user, or with no name at all, there is no device to record.
    """
    if not created or raw or instance.user_id is None:
        return
    if getattr(instance, "registration_source", None) != "dcr":
        return
    metadata = registration_metadata.get() or {}
    name = _text(metadata, "device_name") or instance.name
    if not name:
        return
    name_length = Device._meta.get_field("name").max_length or len(name)
    software_length = Device._meta.get_field("software_id").max_length or 255
    Device.objects.create(
        user_id=instance.user_id,
        name=name[:name_length],
        software_id=_text(metadata, "software_id")[:software_length],
        application=instance,
    )


def connect() -> None:
    post_save.connect(
        application_registered,
        sender=get_application_model(),
        dispatch_uid="token_admin_application_registered",
    )
    post_save.connect(
        access_token_saved, sender=get_access_token_model(), dispatch_uid="token_admin_access_token_saved"
    )
    post_save.connect(
        refresh_token_saved, sender=get_refresh_token_model(), dispatch_uid="token_admin_refresh_token_saved"
    )


def disconnect() -> None:
    """Undo ``connect()`` for the token models (measurements of DOT alone use it)."""
    post_save.disconnect(sender=get_access_token_model(), dispatch_uid="token_admin_access_token_saved")
    post_save.disconnect(sender=get_refresh_token_model(), dispatch_uid="token_admin_refresh_token_saved")
