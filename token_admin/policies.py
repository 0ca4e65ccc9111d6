"""Revocation policies on account events: a password change, a deactivation.

Identity platforms revoke a user's sessions when the password changes or the account is
disabled; DOT does neither. With ``TOKEN_ADMIN["REVOKE_ON_ACCOUNT_EVENTS"]`` (both by
default) a saved user whose password was set with ``set_password()`` (the admin's password
form, ``changepassword``, Django's password forms, any code), or whose ``is_active`` went
from True to False, has every token revoked through the service, audited with the
``policy`` surface and actor. Django's own hash upgrade on sign-in is not a change.

Each event also records when the user's credentials changed (``token_admin.credentials``),
under the user's row lock and in the revocation's transaction: a sign-in whose password was
checked (or whose code was issued) before the event mints nothing after it.

``QuerySet.update(is_active=False)`` sends no signal: no revocation is written, but an
inactive user's tokens are refused at every use and refresh all the same (the check reads
``is_active`` with the token). Revoke with ``revoke_tokens --user`` to end them for good.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import router, transaction
from django.db.models.signals import post_init, post_save
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from token_admin import credentials, ids
from token_admin.conf import conf
from token_admin.revocation import Actor, Selection, Surface, revoke

# Set on each user instance when it is loaded or saved: whether it was active then.
WAS_ACTIVE = "_token_admin_was_active"


def user_initialized(sender: Any, instance: Any, **kwargs: Any) -> None:
    # A deferred ``is_active`` is unknown: no deactivation is seen for that instance.
    instance.__dict__[WAS_ACTIVE] = instance.__dict__.get("is_active")


def user_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    was_active = instance.__dict__.get(WAS_ACTIVE)
    instance.__dict__[WAS_ACTIVE] = instance.__dict__.get("is_active")
    if created or raw:
        return
    events = conf.REVOKE_ON_ACCOUNT_EVENTS
    # Django keeps the new raw password in ``_password`` from set_password() until save()
    # has run (it clears it for its own hash upgrades on sign-in).
    password_changed = "password_change" in events and getattr(instance, "_password", None) is not None
    deactivated = "deactivation" in events and was_active is True and instance.is_active is False
    if deactivated:
        revoke_account(instance, "deactivation")
    elif password_changed:
        revoke_account(instance, "password change", keep_client_ids=conf.PASSWORD_CHANGE_KEEPS_APPS)


def revoke_account(user: Any, event: str, *, keep_client_ids: frozenset[str] = frozenset()) -> None:
    """Revoke the user's tokens in every app but those kept, for ``event``, and record when
    the user's credentials changed, in one transaction under the user's row lock."""
    with transaction.atomic(using=router.db_for_write(get_access_token_model())):
        credentials.lock_user(user)
        credentials.record_change(user, event, timezone.now())
        _revoke_account(user, event, keep_client_ids)


def _revoke_account(user: Any, event: str, keep_client_ids: frozenset[str]) -> None:
    selection = Selection.users([user.pk])
    if keep_client_ids:
        kept = set(
            get_application_model()
            .objects.filter(client_id__in=sorted(keep_client_ids))
            .values_list("pk", flat=True)
        )
        apps: set[Any] = set()
        for model in (get_access_token_model(), get_refresh_token_model(), get_grant_model()):
            apps |= set(
                model.objects.filter(user_id=user.pk).values_list("application_id", flat=True).distinct()
            )
        selection = Selection(
            pairs=frozenset((user.pk, app_id) for app_id in apps - kept if app_id is not None),
            registration_owner_ids=frozenset([user.pk]),
            described={
                "kind": "users",
                "user_ids": [ids.to_json(user.pk)],
                "kept_client_ids": sorted(keep_client_ids),
            },
        )
    revoke(
        selection,
        surface=Surface.POLICY,
        actor=Actor.policy(f"{event} of {user.get_username()}"),
        reason=f"Account event: {event}",
        audit_empty=False,
    )


def connect() -> None:
    user_model = get_user_model()
    post_init.connect(user_initialized, sender=user_model, dispatch_uid="token_admin_user_initialized")
    post_save.connect(user_saved, sender=user_model, dispatch_uid="token_admin_user_saved")
