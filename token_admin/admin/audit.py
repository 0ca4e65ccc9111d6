"""The audit trail's admin: readable, never added to, changed or deleted."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import (
    get_application_model,
)

from token_admin import audit
from token_admin.admin.filters import AboutFilter
from token_admin.admin.mixins import BigTableAdminMixin
from token_admin.admin.utils import NO_FACETS, safe
from token_admin.models import RevocationEvent

if TYPE_CHECKING:
    pass


class RevocationEventAdmin(BigTableAdminMixin, admin.ModelAdmin):
    """The audit trail: readable, never added to, changed or deleted from the admin."""

    # The event as a sentence (who lost what, who revoked it, why), then its counts: fits
    # 1366 px; all of it on the event's page.
    list_display = ("created_at", "summary", "surface", "revoked_counts")
    list_filter = ("surface", "actor_type", AboutFilter)
    search_fields = ("actor_label", "reason")
    show_full_result_count = False
    show_facets = NO_FACETS
    # Who, why and how many first: what a reader of the trail comes for.
    fields = (
        "created_at",
        "summary_with_links",
        "surface",
        "actor_label",
        "reason",
        "access_tokens_revoked",
        "refresh_tokens_revoked",
        "grants_revoked",
        "what",
        "actor_type",
        "actor_user",
        "actor_application",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("revoked"))
    def revoked_counts(self, obj: RevocationEvent) -> str:
        text = _("%(access)d access, %(refresh)d refresh") % {
            "access": obj.access_tokens_revoked,
            "refresh": obj.refresh_tokens_revoked,
        }
        if obj.grants_revoked:
            text += _(", %(grants)d codes") % {"grants": obj.grants_revoked}
        return text

    @admin.display(description=_("what happened"))
    def summary(self, obj: RevocationEvent) -> str:
        # Plain text on the list, no query per row for links; a long reason is cut short
        # (all of it on the event's page).
        return Truncator(audit.text(obj)).chars(160)

    @admin.display(description=_("what happened"))
    def summary_with_links(self, obj: RevocationEvent) -> str:
        """The sentence, with links to the users and apps that still exist (a query each)."""
        parts = audit.sentence(obj)
        models = {"user": get_user_model(), "app": get_application_model()}
        existing = {
            kind: {
                str(pk)
                for pk in model._default_manager.filter(
                    pk__in=[part.pk for part in parts if part.kind == kind and part.pk is not None]
                ).values_list("pk", flat=True)
            }
            for kind, model in models.items()
        }
        html = []
        for part in parts:
            url = ""
            if part.kind and str(part.pk) in existing[part.kind]:
                opts = models[part.kind]._meta
                name = f"admin:{opts.app_label}_{opts.model_name}_change"
                url = safe(lambda: reverse(name, args=[part.pk]))  # noqa: B023 (called at once)
            # Underlined: in a sentence, a link told apart by its colour only fails WCAG 1.4.1.
            link = '<a href="{}" style="text-decoration: underline">{}</a>'
            html.append(format_html(link, url, part.text) if url else escape(part.text))
        return mark_safe("".join(html))  # every part is escaped above

    @admin.display(description=_("selection"))
    def what(self, obj: RevocationEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.selection, indent=2, sort_keys=True))
