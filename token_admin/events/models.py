"""Receivers of revocation events and the outbox of their deliveries.

Loaded by ``token_admin.models`` (one import line), so they belong to the token_admin app.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from oauth2_provider.settings import oauth2_settings

from token_admin.events import keys, outbound


class Receiver(models.Model):
    """Someone who holds a copy of a session (a resource server, a relying party) and wants
    to hear when it is revoked: a URL, a format and the key its events are signed with."""

    class Format(models.TextChoices):
        WEBHOOK = "webhook", _("Standard Webhooks (JSON, HMAC-SHA256)")
        CAEP = "caep", _("CAEP session-revoked Security Event Token (RFC 8935 push)")
        BACKCHANNEL_LOGOUT = "backchannel_logout", _("OpenID Connect back-channel logout")

    class Algorithm(models.TextChoices):
        ES256 = "ES256", "ES256"
        RS256 = "RS256", "RS256"

    name = models.CharField(_("name"), max_length=200)
    format = models.CharField(_("format"), max_length=20, choices=Format.choices, default=Format.WEBHOOK)
    url = models.URLField(
        _("URL"),
        max_length=500,
        help_text=_("Where events are POSTed; for back-channel logout, the app's backchannel_logout_uri."),
    )
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="token_admin_receivers",
        verbose_name=_("application"),
        help_text=_(
            "Only revocations of this app's sessions (required for back-channel logout, "
            "whose tokens are addressed to the app's client id). Empty: every revocation."
        ),
    )
    audience = models.CharField(
        _("audience"),
        max_length=500,
        blank=True,
        help_text=_("`aud` of Security Event Tokens (default: the URL)."),
    )
    algorithm = models.CharField(
        _("signing algorithm"),
        max_length=5,
        choices=Algorithm.choices,
        default=Algorithm.ES256,
        help_text=_("For signed JWTs (CAEP, back-channel logout); webhooks use HMAC-SHA256."),
    )
    active = models.BooleanField(
        pgettext_lazy("an event receiver: not paused", "active"),
        default=True,
        help_text=_("Paused receivers get no new events."),
    )
    # The webhook secret ("whsec_" + base64) or the JWT signing key (PEM); never shown.
    secret = models.TextField(_("signing secret"), editable=False)
    key_id = models.CharField(_("key id"), max_length=64, editable=False)
    # Webhooks: the secret before the last rotation still signs (a second v1 signature)
    # until this moment, so receivers can switch without dropping events.
    previous_secret = models.TextField(editable=False, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(_("secret rotated"), default=timezone.now, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("event receiver")
        verbose_name_plural = _("event receivers")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.secret:
            self.secret, self.key_id = keys.new_secret(self.format, self.algorithm)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.url and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValidationError({"url": _("Events are POSTed over HTTPS (or HTTP): use an https:// URL.")})
        if self.url and outbound.refused_at_save(self.url):
            raise ValidationError(
                {
                    "url": _(
                        "This address is loopback, private, link-local or otherwise not public: "
                        "deliveries refuse it. For development, list the host in "
                        "TOKEN_ADMIN['EVENTS_ALLOWED_PRIVATE_HOSTS']."
                    )
                }
            )
        if self.format == self.Format.BACKCHANNEL_LOGOUT and self.application_id is None:
            raise ValidationError({"application": _("Back-channel logout is sent to one app's client id.")})

    def rotate_secret(self, *, overlap_seconds: int = 86400) -> None:
        """A new secret or key; a webhook's old secret keeps signing for ``overlap_seconds``."""
        now = timezone.now()
        if self.format == self.Format.WEBHOOK and overlap_seconds > 0:
            self.previous_secret = self.secret
            self.previous_secret_until = now + timedelta(seconds=overlap_seconds)
        else:
            self.previous_secret, self.previous_secret_until = "", None
        self.secret, self.key_id = keys.new_secret(self.format, self.algorithm)
        self.secret_rotated_at = now
        self.save()

    def signing_secrets(self, now: Any) -> list[str]:
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_until and self.previous_secret_until > now:
            secrets.append(self.previous_secret)
        return secrets

    def public_jwk(self) -> dict[str, Any] | None:
        """The public key receivers verify JWTs with (None for webhooks, whose secret is shared)."""
        if self.format == self.Format.WEBHOOK or not self.secret:
            return None
        return keys.public_jwk(self.secret, self.key_id, self.algorithm)


class Delivery(models.Model):
    """One event for one receiver: the transactional outbox row, then its delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("an event delivery", "Pending")
        DELIVERED = "delivered", pgettext_lazy("an event delivery", "Delivered")
        FAILED = "failed", _("Failed (deadline passed)")
        SKIPPED = "skipped", _("Nothing for this receiver")

    # Stable across retries: webhook-id, the SETs' jti (with the session), receivers dedupe by it.
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    receiver = models.ForeignKey(
        Receiver, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("receiver")
    )
    revocation_event = models.ForeignKey(
        "token_admin.RevocationEvent",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("revocation event"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    deadline_at = models.DateTimeField(_("deadline"))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    # Set by the worker that claimed the row; its compare-and-set makes the claim exclusive
    # even where the database has no row locks (SQLite).
    claimed_by = models.UUIDField(null=True, blank=True, editable=False)
    # What the revocation knew and later reads cannot find (lone sessions named by checksum),
    # then the sessions resolved at the first attempt, so every retry sends the same body.
    context = models.JSONField(default=dict, editable=False)

    class Meta:
        verbose_name = _("event delivery")
        verbose_name_plural = _("event deliveries")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="token_admin_delivery_due"),
            models.Index(fields=["receiver", "status", "id"], name="token_admin_delivery_order"),
        ]

    def __str__(self) -> str:
        return f"Event {self.event_id} to {self.receiver_id}"
