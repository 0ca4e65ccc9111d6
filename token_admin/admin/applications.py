"""DOT's application admin, replaced, and the app profile's admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
import oauth2_provider.admin as dot_admin
from django.contrib import admin
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import (
    get_access_token_model,
)

from token_admin.admin.actions import RevocationAdminMixin, RevokeAction, RevokeButtonMixin
from token_admin.admin.mixins import BigTableAdminMixin, SecretFieldsAdminMixin
from token_admin.admin.utils import NO_FACETS, SURFACE, changelist_url, joined_links, safe
from token_admin.models import AppProfile, TokenSession
from token_admin.revocation import Actor, Selection, revoke

if TYPE_CHECKING:
    pass


class AppProfileInline(admin.StackedInline):
    model = AppProfile
    can_delete = False
    max_num = 1
    fields = ("link", "end_user_api", "allow_app_token")


def _token_links(application: Any) -> str:
    return joined_links(
        [
            (
                safe(lambda: changelist_url(get_access_token_model(), app=application.client_id)),
                _("tokens"),
            ),
            (safe(lambda: changelist_url(TokenSession, app=application.client_id)), _("sessions")),
        ]
    )


class ApplicationAdmin(
    RevokeButtonMixin,
    SecretFieldsAdminMixin,
    BigTableAdminMixin,
    RevocationAdminMixin,
    dot_admin.ApplicationAdmin,
):
    """DOT's application admin with token_admin's profile inline, token links and de-authorize."""

    inlines = (AppProfileInline,)
    # DOT's columns less the primary key and the registration source (on the change page).
    list_display = ("name", "user", "client_type", "authorization_grant_type", "token_links")
    list_select_related = ("user",)
    show_full_result_count = False
    show_facets = NO_FACETS
    readonly_fields = (*dot_admin.ApplicationAdmin.readonly_fields, "token_links")
    actions = ("deauthorize_applications",)
    revoke_button_action = "deauthorize_applications"

    @admin.display(description=_("tokens"))
    def token_links(self, obj: Any) -> str:
        return _token_links(obj) if obj is not None and obj.pk else "-"

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_queryset(request, self.model._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # Revoked first, audited with the staff user, then deleted: a cascade alone would
        # take the tokens with no audit event and no signal.
        with transaction.atomic(using=router.db_for_write(self.model)):
            revoke(
                Selection.applications(queryset.select_related(None).only("pk", "client_id")),
                surface=SURFACE,
                actor=Actor.staff(request.user),
                reason=str(_("Application deleted in the admin")),
                audit_empty=False,
            )
            super().delete_queryset(request, queryset)

    @admin.action(
        description=_("De-authorize selected apps (all users or one)"), permissions=["revoke_tokens"]
    )
    def deauthorize_applications(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="deauthorize_applications",
                title=_("De-authorize apps"),
                select=lambda qs, user, across: Selection.applications(
                    qs.select_related(None).only("pk", "client_id"), user=user
                ),
                choose_user=True,
            ),
        )


class AppProfileAdmin(BigTableAdminMixin, admin.ModelAdmin):
    # Narrow enough for a 1366-px screen beside the filters; link and dates are on the change page.
    list_display = ("application", "end_user_api", "allow_app_token")
    list_select_related = ("application",)
    list_filter = ("end_user_api", "allow_app_token")
    search_fields = ("application__name", "application__client_id")
    raw_id_fields = ("application",)
    show_full_result_count = False
