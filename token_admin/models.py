"""token_admin's own tables, kept beside django-oauth-toolkit's (never swapped in for them)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from oauth2_provider.settings import oauth2_settings


class AppProfile(models.Model):
    """What token_admin knows about a DOT Application beyond DOT's own fields."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="token_admin_profile",
        verbose_name=_("application"),
    )
    link = models.URLField(_("link"), blank=True, help_text=_("The app's web page (App.net style `link`)."))
    end_user_api = models.BooleanField(
        _("API client of the end-user API"),
        default=False,
        help_text=_("May call the end-user token API with HTTP Basic client credentials."),
    )
    allow_app_token = models.BooleanField(
        _("may obtain an app token"),
        default=False,
        help_text=_("May use client_credentials for an app token even if its grant type is another."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("app profile")
        verbose_name_plural = _("app profiles")

    def __str__(self) -> str:
        return f"Profile of {self.application}"


class Device(models.Model):
    """A user's named device ("my iPad"), bound to a dynamically registered client or to sessions."""

    class Type(models.TextChoices):
        DEFAULT = "DEFAULT", pgettext_lazy("a device type", "Default")
        FINGER_PRINT = "FINGER_PRINT", _("Fingerprint")
        CUSTOM_AUTHENTICATOR = "CUSTOM_AUTHENTICATOR", _("Custom authenticator")
        IMPLICIT_AUTHENTICATION = "IMPLICIT_AUTHENTICATION", _("Implicit authentication")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="token_admin_devices",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=200)
    # A client registered through DOT's dynamic client registration for this one device:
    # every session of that client is a session of this device.
    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="token_admin_device",
        verbose_name=_("registered client"),
    )
    type = models.CharField(_("type"), max_length=32, choices=Type.choices, default=Type.DEFAULT)
    # RFC 7591 ``software_id`` of the registered client's software: names the app where its
    # registration gave no ``client_name`` (the device's own name is ``name``).
    software_id = models.CharField(_("software id"), max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")

    def __str__(self) -> str:
        return self.name


class TokenSession(models.Model):
    """One signed-in session, with a public id that never changes while it lives.

    A session is a DOT refresh-token family (``RefreshToken.token_family`` survives each
    rotation), or a lone access token that came without a refresh token. Rows are written
    by the receivers in ``token_admin.receivers`` when DOT saves a token. There is no
    foreign key to DOT's token tables, so revoking tokens never has to touch this table
    and the id stays meaningful in the audit trail after DOT deletes the tokens.
    """

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    token_family = models.UUIDField(_("refresh-token family"), null=True, blank=True, unique=True)
    # sha256 of a lone access token, as DOT's token_checksum; never the token itself.
    access_token_checksum = models.CharField(
        _("access-token checksum"), max_length=64, null=True, blank=True, unique=True
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="token_admin_sessions",
        verbose_name=_("user"),
        db_index=False,  # (user, id) in Meta
    )
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="token_admin_sessions",
        verbose_name=_("application"),
        db_index=False,  # (application, id) in Meta
    )
    device = models.ForeignKey(
        Device,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
        verbose_name=_("device"),
        db_index=False,  # (device, id) in Meta
    )
    created_at = models.DateTimeField(_("began"), default=timezone.now)
    # Activity, written by ``token_admin.activity`` at most once per session per
    # ``ACTIVITY_WINDOW_SECONDS`` when one of its tokens authenticates.
    # Indexed with created_at and id (Meta): "unused since T" is last_used_at < T, or NULL and
    # created_at < T, both ranges of that one index.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_ip = models.GenericIPAddressField(_("last IP"), null=True, blank=True)
    # The last user agent, parsed (never stored raw: it adds nothing a person reads).
    # db_default: rows inserted by raw SQL (fixtures, bulk loads) get "" too.
    browser = models.CharField(_("browser"), max_length=100, blank=True, default="", db_default="")
    os = models.CharField(_("operating system"), max_length=100, blank=True, default="", db_default="")
    device_family = models.CharField(
        _("device family"), max_length=100, blank=True, default="", db_default=""
    )

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        # Named: the auto name hashes the table name, which changed with the rename.
        indexes = [
            models.Index(fields=["user", "created_at"], name="token_admin_user_id_001061_idx"),
            models.Index(fields=["last_used_at", "created_at", "id"], name="token_admin_last_used_idx"),
            # A user's, an app's or a device's sessions in id order, as the staff API pages
            # them: a range of one index at any size, where the foreign key's own index would
            # sort every session of that user, app or device (or walk the primary key).
            models.Index(fields=["user", "id"], name="token_admin_session_user_id"),
            models.Index(fields=["application", "id"], name="token_admin_session_app_id"),
            models.Index(fields=["device", "id"], name="token_admin_session_device_id"),
        ]

    def __str__(self) -> str:
        return f"Session {self.public_id}"


class RevocationEventQuerySet(models.QuerySet["RevocationEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Revocation events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Revocation events are append-only.")


class RevocationEvent(models.Model):
    """Append-only audit record of one call to the revocation service.

    It names no token value and has no foreign key to DOT's token tables, so it
    outlives the rows DOT deletes.
    """

    class Surface(models.TextChoices):
        ADMIN = "admin", _("Django admin")
        ADN = "adn", _("App.net-style API")
        STACKEXCHANGE = "stackexchange", _("Stack Exchange-style API")
        END_USER = "end_user", _("End-user token API")
        COMMAND = "command", _("Management command")
        OAUTH = "oauth", _("OAuth endpoints (RFC 7009, authorized tokens)")
        DELETION = "deletion", _("Deletion of a user or app")
        POLICY = "policy", _("Revocation policy")
        LEAK_REPORT = "leak_report", _("Leaked-token report")
        ACCOUNT = "account", _("Self-service account pages")
        MANAGE = "manage", _("Staff resource API")
        ME = "me", _("Self-service API (me)")

    class ActorType(models.TextChoices):
        STAFF = "staff", _("Staff user")
        API_CLIENT = "api_client", _("API client")
        TOKEN = "token", _("The token itself")
        COMMAND = "command", _("Command")
        USER = "user", _("The user")
        OAUTH_CLIENT = "oauth_client", _("OAuth client")
        SYSTEM = "system", _("System")
        POLICY = "policy", _("Policy")
        SCANNER = "scanner", _("Secret scanner")

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True, editable=False)
    surface = models.CharField(_("surface"), max_length=20, choices=Surface.choices, editable=False)
    actor_type = models.CharField(_("actor type"), max_length=20, choices=ActorType.choices, editable=False)
    # A snapshot that survives deletion of the user or app below.
    actor_label = models.CharField(_("actor"), max_length=255, editable=False)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("acting user"),
    )
    actor_application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("acting application"),
    )
    # What was asked for, e.g. {"kind": "user_app", "user_ids": [3], "client_ids": ["abc"]}.
    selection = models.JSONField(_("selection"), default=dict, editable=False)
    access_tokens_revoked = models.PositiveIntegerField(_("access tokens revoked"), default=0, editable=False)
    refresh_tokens_revoked = models.PositiveIntegerField(
        _("refresh tokens revoked"), default=0, editable=False
    )
    grants_revoked = models.PositiveIntegerField(_("grants revoked"), default=0, editable=False)
    reason = models.TextField(_("reason"), blank=True, editable=False)

    objects = RevocationEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("revocation event")
        verbose_name_plural = _("revocation events")
        ordering = ["-created_at", "-id"]
        permissions = [("revoke_tokens", _("Can revoke tokens"))]

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M:%S}"
        return f"{self.get_surface_display()} revocation by {self.actor_label} at {when}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Revocation events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Revocation events are append-only.")


class NotBefore(models.Model):
    """A not-before watermark: every token of its target issued before ``not_before`` is invalid.

    One row per target (global, a user, an app), so setting one is an upsert: O(1) writes
    whatever the number of tokens. ``key`` ("global", "user:<pk>", "app:<pk>") carries the
    uniqueness, as a unique constraint over nullable columns means different things on
    different databases; it is also the cache key's suffix (``token_admin.watermarks``).
    """

    class Scope(models.TextChoices):
        GLOBAL = "global", pgettext_lazy("a not-before watermark for everyone", "Global")
        USER = "user", _("User")
        APP = "app", _("Application")

    key = models.CharField(_("key"), max_length=80, unique=True, editable=False)
    # Not an OAuth scope: whom the watermark is for.
    scope = models.CharField(
        pgettext_lazy("whom a not-before watermark is for", "scope"),
        max_length=10,
        choices=Scope.choices,
        editable=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("user"),
    )
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("application"),
    )
    not_before = models.DateTimeField(_("tokens issued before this are invalid"), editable=False)
    set_at = models.DateTimeField(
        pgettext_lazy("when a watermark was set", "set"), default=timezone.now, editable=False
    )
    set_by = models.CharField(_("set by"), max_length=255, blank=True, editable=False)
    reason = models.TextField(_("reason"), blank=True, editable=False)

    class Meta:
        verbose_name = _("not-before watermark")
        verbose_name_plural = _("not-before watermarks")
        ordering = ["-set_at", "-id"]

    def __str__(self) -> str:
        if self.scope == self.Scope.GLOBAL:
            target = str(_("everyone"))
        elif self.scope == self.Scope.USER:
            target = str(self.user) if self.user_id else self.key
        else:
            target = str(self.application) if self.application_id else self.key
        return f"Not before {self.not_before:%Y-%m-%d %H:%M:%S} for {target}"


class CredentialsChange(models.Model):
    """When a user's credentials last changed (a password change, a deactivation): a grant
    verified before then (a password checked, an authorization code or a device code issued)
    mints no token afterwards (``token_admin.credentials``).

    One row per user, written under the user's row lock in the transaction that revokes the
    user's tokens for the event. The row is not a watermark: tokens issued before it that the
    event kept (``PASSWORD_CHANGE_KEEPS_APPS``) keep working and refreshing.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("user"),
    )
    changed_at = models.DateTimeField(_("credentials changed"))
    event = models.CharField(_("event"), max_length=40)

    class Meta:
        verbose_name = _("credentials change")
        verbose_name_plural = _("credentials changes")

    def __str__(self) -> str:
        return f"Credentials of {self.user_id} changed at {self.changed_at:%Y-%m-%d %H:%M:%S} ({self.event})"


# Receivers and the outbox of revocation events (token_admin.events).
from token_admin.events.models import Delivery, Receiver  # noqa: E402, F401
