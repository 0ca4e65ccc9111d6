"""Deleting a user or an app revokes its tokens first, through the revocation service.

Without this, Django's cascade would delete the tokens with no audit event and no
``tokens_revoked`` signal. The admin revokes with the staff user as actor before it deletes
(then these receivers find nothing left and write nothing); every other path (the shell, a
project's own views, ``QuerySet.delete()``) is caught here, with a system actor.

Raw SQL deletes are the one path no Django signal can see (SECURITY.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_delete
from oauth2_provider.models import get_application_model

from token_admin.revocation import Actor, Selection, Surface, revoke


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    revoke(
        Selection.users([instance.pk]),
        surface=Surface.DELETION,
        actor=Actor.system(f"deletion of user {instance.get_username()}"),
        reason="User deleted",
        audit_empty=False,
    )


def application_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    revoke(
        Selection.applications([instance]),
        surface=Surface.DELETION,
        actor=Actor.system(f"deletion of app {instance.name} ({instance.client_id})"),
        reason="Application deleted",
        audit_empty=False,
    )


def connect() -> None:
    pre_delete.connect(user_deleted, sender=get_user_model(), dispatch_uid="token_admin_user_deleted")
    pre_delete.connect(
        application_deleted, sender=get_application_model(), dispatch_uid="token_admin_application_deleted"
    )
