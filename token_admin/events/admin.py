"""Admin of event receivers (create, rotate the signing secret, pause) and of the delivery log
(status, last error, "retry now"). Self-contained: ``register(site)``, called by
``token_admin.admin.register``.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from token_admin.events import delivery
from token_admin.events.models import Delivery, Receiver

# Never filtered, searched or ordered on: ``?secret__startswith=`` would be an oracle.
SECRET_LOOKUPS = ("secret", "previous_secret", "context", "receiver__secret", "receiver__previous_secret")


# The request whose change page is being built: the admin instance is shared by every thread,
# so it is kept per thread (and per async task), never on the instance.
_current_request: ContextVar[HttpRequest | None] = ContextVar("token_admin_receiver_request", default=None)


def _refuses_secret(lookup: str) -> bool:
    return any(lookup == name or lookup.startswith(name + "__") for name in SECRET_LOOKUPS)


class ReceiverAdmin(admin.ModelAdmin):
    list_display = ("name", "format", "url", "application", "active", "secret_rotated_at")
    list_filter = ("format", "active")
    list_select_related = ("application",)
    search_fields = ("name", "url")
    raw_id_fields = ("application",)
    show_full_result_count = False
    fields = (
        "name",
        "format",
        "url",
        "application",
        "audience",
        "algorithm",
        "active",
        "signing_key",
        "key_id",
        "secret_rotated_at",
        "created_at",
    )
    readonly_fields = ("signing_key", "key_id", "secret_rotated_at", "created_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ("rotate_secret", "pause", "resume")

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        return not _refuses_secret(lookup) and super().lookup_allowed(lookup, value, request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The format and algorithm decide what the secret is: change them by a new receiver.
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields + ("format", "algorithm") if obj is not None else fields

    @admin.display(description=_("signing key"))
    def signing_key(self, obj: Receiver) -> str:
        """Webhooks: the shared secret (to staff who may change the receiver); JWTs: the public JWK."""
        if obj.pk is None:
            return str(_("Made when the receiver is saved."))
        if obj.format == Receiver.Format.WEBHOOK:
            request = _current_request.get()
            if request is not None and self.has_change_permission(request, obj):
                return obj.secret
            return "whsec_…"
        return format_html("<pre>{}</pre>", json.dumps(obj.public_jwk(), indent=2))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        _current_request.set(request)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # A receiver's deliveries go with it (CASCADE): an undelivered event has nowhere left to
        # go, and the record of the revocation is its RevocationEvent. Deliveries have no delete
        # permission of their own (nobody deletes one row of the log), so whoever may delete the
        # receiver may delete them with it.
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Delivery._meta.verbose_name)
        return to_delete, model_count, perms_needed, protected

    @admin.action(
        description=_("Rotate the signing secret (a webhook's old one signs 24 h more)"),
        permissions=["change"],
    )
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Receiver]) -> None:
        for receiver in queryset:
            receiver.rotate_secret()
        self.message_user(
            request, _("Rotated %(n)d signing secrets.") % {"n": len(queryset)}, messages.SUCCESS
        )

    @admin.action(description=_("Pause (no new events; waiting ones wait)"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Receiver]) -> None:
        for receiver in queryset:  # save(): the cached receiver list is cleared
            receiver.active = False
            receiver.save(update_fields=["active"])
        self.message_user(request, _("Paused %(n)d receivers.") % {"n": len(queryset)}, messages.SUCCESS)

    @admin.action(
        description=pgettext_lazy("an event receiver's deliveries", "Resume"), permissions=["change"]
    )
    def resume(self, request: HttpRequest, queryset: QuerySet[Receiver]) -> None:
        for receiver in queryset:
            receiver.active = True
            receiver.save(update_fields=["active"])
        self.message_user(request, _("Resumed %(n)d receivers.") % {"n": len(queryset)}, messages.SUCCESS)


class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event_id",
        "receiver",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "revocation_event",
    )
    list_filter = ("status", "receiver")
    list_select_related = ("receiver", "revocation_event")
    show_full_result_count = False
    readonly_fields = (
        "event_id",
        "receiver",
        "revocation_event",
        "status",
        "created_at",
        "next_attempt_at",
        "deadline_at",
        "attempts",
        "last_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
    )
    fields = readonly_fields
    actions = ("retry_now",)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        return not _refuses_secret(lookup) and super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from revocations only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # prune_tokens deletes old ones

    @admin.action(description=pgettext_lazy("an event delivery", "Retry now"), permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = delivery.retry_now(queryset)
        self.message_user(
            request,
            _("%(n)d events will be sent on the worker's next pass.") % {"n": count},
            messages.SUCCESS,
        )


def register(site: admin.AdminSite) -> None:
    """Register the receiver and delivery admins on ``site`` (unless the project did)."""
    for model, model_admin in ((Receiver, ReceiverAdmin), (Delivery, DeliveryAdmin)):
        if not site.is_registered(model):
            site.register(model, model_admin)
