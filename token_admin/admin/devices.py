"""The admin of devices (a device belongs to one user)."""

from __future__ import annotations

from typing import TYPE_CHECKING

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
import oauth2_provider.admin as dot_admin
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import (
    get_access_token_model,
)

from token_admin.admin.actions import RevocationAdminMixin, RevokeAction, RevokeButtonMixin
from token_admin.admin.filters import UserFilter
from token_admin.admin.mixins import BigTableAdminMixin, DeleteOnlyByCascadeMixin
from token_admin.admin.utils import NO_FACETS, changelist_url, joined_links, safe
from token_admin.models import Device, RevocationEvent, TokenSession
from token_admin.revocation import Selection

if TYPE_CHECKING:
    pass


class DeviceAdmin(
    DeleteOnlyByCascadeMixin, RevokeButtonMixin, BigTableAdminMixin, RevocationAdminMixin, admin.ModelAdmin
):
    list_display = ("name", "user", "type", "application", "created_at", "token_links")
    list_select_related = ("user", "application")
    list_filter = ("type", UserFilter)
    search_fields = ("name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = NO_FACETS
    raw_id_fields = ("user", "application")
    readonly_fields = ("public_id", "created_at", "token_links")
    actions = ("revoke_selected_devices",)
    revoke_button_action = "revoke_selected_devices"

    # No Delete (DeleteOnlyByCascadeMixin): deleting the row would leave its sessions and
    # registered client working; "Revoke selected devices" is the way a device is signed out.

    @admin.display(description=_("see also"))
    def token_links(self, obj: Device) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return joined_links(
            [
                (safe(lambda: changelist_url(TokenSession, device=obj.pk)), _("sessions")),
                (safe(lambda: changelist_url(get_access_token_model(), device=obj.pk)), _("tokens")),
                (safe(lambda: changelist_url(RevocationEvent, about=obj.public_id)), _("audit events")),
            ]
        )

    @admin.action(description=_("Revoke selected devices"), permissions=["revoke_tokens"])
    def revoke_selected_devices(
        self, request: HttpRequest, queryset: QuerySet[Device]
    ) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_selected_devices",
                title=_("Revoke devices"),
                select=lambda qs, user, across: Selection.devices(qs),
            ),
        )
