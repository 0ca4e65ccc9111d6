"""The one implementation of a revocation's writes: lock, revoke, delete, in a fixed number of
statements whatever the number of tokens."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.db import connections
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.signals import post_delete, pre_delete
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from token_admin import queries
from token_admin.models import Device
from token_admin.revocation.affected import chunks, whose_tokens
from token_admin.revocation.selection import Selection, either

# How often the live refresh tokens are locked again before giving up. Each extra read
# means a refresh rotated a token of the selection (or a sign-in added one) meanwhile;
# reads hold their locks, so once nothing live is left unlocked it ends.
MAX_LOCKING_READS = 10

# --- the one implementation --------------------------------------------------------------


def revoke_rows(selection: Selection, now: Any, database: str) -> tuple[int, int, int, int, dict[str, Any]]:
    """Revoke the selection's rows; returns (access, refresh, grant, registration) counts and
    whose they were (``whose_tokens``, read once the rows are locked, before they go).

    1. Locking reads of the selection's live refresh tokens, in primary-key order, each
       followed by a plain read of them, repeated until the plain read finds no live row
       the locking read did not lock. A refresh in progress holds its refresh token's lock
       while it mints the next pair: a locking read that waited for it skips the token it
       rotated and does not see the pair it minted (its snapshot is older); the plain read
       sees that pair, or the token a refresh in progress still holds, and the next locking
       read takes it. Two locking reads that agree prove nothing: each may have waited for
       a refresh of its own. Reads hold their locks, so once the plain read agrees no
       refresh of the selection can commit anymore (it waits for this transaction, then
       ``TokenAdminOAuth2Validator`` refuses it). The fixed order keeps overlapping
       revocations from deadlocking.
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
    not_registration = queries.not_registration()
    if selection.lone_checksums:
        # A lone session's token is named by id from here on, so a refresh token bound to it
        # (one from before DOT kept families) goes with it.
        lone_ids = access_token_model.objects.filter(
            not_registration, token_checksum__in=sorted(selection.lone_checksums)
        ).values_list("pk", flat=True)
        selection = replace(selection, access_token_ids=selection.access_token_ids | set(lone_ids))
    rt_condition = refresh_condition(selection)

    locked = _lock_live_refresh_tokens(rt_condition, owned)
    # A refresh token of the owned rows is bound to an owned access token (they share user
    # and app), which the owned delete below takes.
    bound = [access_token_id for access_token_id, is_owned in locked if access_token_id and not is_owned]
    named_ids = sorted({*selection.access_token_ids, *bound})
    affected = whose_tokens(rt_condition, owned, named_ids)
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
    for chunk in chunks(named_ids):
        access_count += _delete_access_tokens(
            access_token_model.objects.filter(not_registration, pk__in=chunk), database
        )

    registration_count = 0
    registration = registration_condition(selection)
    if registration is not None:
        registration_count = _delete_access_tokens(
            access_token_model.objects.filter(registration, queries.registration()),
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


def _lock_live_refresh_tokens(rt_condition: Q, owned: Q | None) -> list[tuple[int | None, bool]]:
    """Lock the live refresh tokens of the selection (step 1 above): (access token id, owned) each."""
    live = get_refresh_token_model().objects.filter(rt_condition, revoked__isnull=True)
    if owned is not None:
        annotated = live.annotate(owned=Case(When(owned, then=Value(True)), default=Value(False)))
    else:
        annotated = live.annotate(owned=Value(False))
    reads = annotated.select_for_update().order_by("pk").values_list("pk", "access_token_id", "owned")
    # Waits for no lock and sees every committed row: a live row that a refresh in progress
    # holds, or one a refresh committed while the locking read waited.
    live_ids = live.order_by("pk").values_list("pk", flat=True)
    for _ in range(MAX_LOCKING_READS):
        rows = list(reads.all())
        if list(live_ids.all()) == [pk for pk, _, _ in rows]:
            break
    else:
        # Refreshes kept rotating this selection's tokens faster than it could lock them:
        # give up rather than revoke part of it (the caller sees an error and may retry).
        raise RuntimeError("The selection's refresh tokens kept changing while they were locked.")
    return [(access_token_id, is_owned) for _, access_token_id, is_owned in rows]


def refresh_condition(selection: Selection) -> Q:
    """Which refresh tokens go. Every part names ids or columns of the refresh token itself,
    each with an index of its own, so the database combines index scans instead of reading
    the whole table; and the condition stays true of the same rows after the update."""
    condition = Q(token_family__in=sorted(selection.families)) | Q(
        access_token_id__in=sorted(selection.access_token_ids)
    )
    owned = selection.owned_condition()
    return condition | owned if owned is not None else condition


def registration_condition(selection: Selection) -> Q | None:
    condition: Q | None = None
    if selection.registration_client_ids:
        condition = Q(application_id__in=sorted(selection.registration_client_ids))
    if selection.registration_owner_ids:
        clients = Device.objects.filter(
            user_id__in=sorted(selection.registration_owner_ids), application__isnull=False
        ).values("application_id")
        condition = either(condition, Q(application_id__in=clients))
    return condition


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
