"""The project's own user admin, with a revoke-all action (``UserTokensAdminMixin``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
from django.contrib import admin
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import (
    get_access_token_model,
)

from token_admin.admin.actions import RevocationAdminMixin, RevokeAction
from token_admin.admin.utils import SURFACE, changelist_url, joined_links, safe
from token_admin.models import TokenSession
from token_admin.revocation import Actor, Selection, revoke

if TYPE_CHECKING:
    pass


class UserTokensAdminMixin(RevocationAdminMixin):
    """Adds "revoke all tokens" and a link to the user's tokens to any user admin.

    It only adds (through ``get_actions`` and ``get_list_display``), so a project's own
    ``actions`` and ``list_display`` stay as they are.
    """

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 asks for the actions of one place (the list or the change form) and
        # deprecates overrides without the parameter; 5.2 has no such parameter.
        where = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **where)  # type: ignore[misc]
        if self.actions is not None and self.has_revoke_tokens_permission(request):  # type: ignore[attr-defined]
            # Django's own description of the action: a tuple on 5.2, an Action on 6.1; None
            # where the action is not offered (only on the list).
            action = self.get_action(UserTokensAdminMixin.revoke_all_user_tokens, **where)  # type: ignore[attr-defined]
            if action is not None:
                actions["revoke_all_user_tokens"] = action
        return actions

    def get_list_display(self, request: HttpRequest) -> Sequence[Any]:
        return (*super().get_list_display(request), "oauth_tokens")  # type: ignore[misc]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_queryset(request, type(obj)._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # Revoked first, audited with the staff user, then deleted (see ApplicationAdmin).
        with transaction.atomic(using=router.db_for_write(queryset.model)):
            revoke(
                Selection.users(queryset.values_list("pk", flat=True)),
                surface=SURFACE,
                actor=Actor.staff(request.user),
                reason=str(_("User deleted in the admin")),
                audit_empty=False,
            )
            super().delete_queryset(request, queryset)  # type: ignore[misc]

    @admin.display(description=_("OAuth tokens"))
    def oauth_tokens(self, obj: Any) -> str:
        return joined_links(
            [
                (safe(lambda: changelist_url(get_access_token_model(), user=obj.pk)), _("tokens")),
                (safe(lambda: changelist_url(TokenSession, user=obj.pk)), _("sessions")),
            ]
        )

    @admin.action(description=_("Revoke all tokens of selected users"))
    def revoke_all_user_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_all_user_tokens",
                title=_("Revoke all tokens of users"),
                select=lambda qs, user, across: Selection.users(qs.values_list("pk", flat=True)),
            ),
        )
