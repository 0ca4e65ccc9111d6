"""Keep ``Session`` rows in step with the tokens DOT saves.

A session begins with the first token a client gets: a lone access token becomes a
session of its own; when DOT then saves the refresh token that goes with it, that session
is turned into the refresh-token family's session, so its public id stays the same for
every rotation after.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from .models import Device, Session


def access_token_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw or instance.application_id is None:
        return
    # A token minted by a refresh belongs to the family's session, created with the family.
    if instance.source_refresh_token_id is not None:
        return
    # DOT's dynamic client registration tokens are never shown as sessions.
    if instance.scope == oauth2_settings.DCR_REGISTRATION_SCOPE:
        return
    Session.objects.bulk_create(
        [
            Session(
                access_token_checksum=instance.token_checksum,
                user_id=instance.user_id,
                application_id=instance.application_id,
                created_at=instance.created,
            )
        ],
        ignore_conflicts=True,
    )


def refresh_token_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw or instance.token_family is None:
        return
    access_token = instance.access_token if instance.access_token_id else None
    if access_token is not None and access_token.source_refresh_token_id is None:
        # The first refresh token of a family: its access token's session becomes the family's.
        turned = Session.objects.filter(
            access_token_checksum=access_token.token_checksum, token_family__isnull=True
        ).update(token_family=instance.token_family, access_token_checksum=None)
        if turned:
            return
    Session.objects.bulk_create(
        [
            Session(
                token_family=instance.token_family,
                user_id=instance.user_id,
                application_id=instance.application_id,
                created_at=instance.created,
            )
        ],
        ignore_conflicts=True,
    )


def application_registered(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """Give a client that a signed-in user registered through DOT's DCR endpoint its Device.

    DOT's ``POST /o/register/`` saves the Application with ``registration_source="dcr"`` and
    the registering user; the registration's ``client_name`` becomes ``Application.name``,
    which names the device. Without a user or a name there is no device to record.
    """
    if not created or raw or instance.user_id is None or not instance.name:
        return
    if getattr(instance, "registration_source", None) != "dcr":
        return
    name_length = Device._meta.get_field("name").max_length or len(instance.name)
    Device.objects.create(user_id=instance.user_id, name=instance.name[:name_length], application=instance)


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
