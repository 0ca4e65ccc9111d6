"""DOT's access- and refresh-token admins, replaced: read-only, audited revoke actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
import oauth2_provider.admin as dot_admin
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractRefreshToken,
    get_application_model,
    get_refresh_token_model,
)

from token_admin import queries
from token_admin.admin.actions import RevocationAdminMixin, RevokeAction, RevokeButtonMixin
from token_admin.admin.filters import (
    ApplicationFilter,
    RefreshTokenFilter,
    SessionFilter,
    StatusFilter,
    TokenDeviceFilter,
    UserFilter,
    session_token_ids,
)
from token_admin.admin.mixins import (
    BigTableAdminMixin,
    DeleteOnlyByCascadeMixin,
    PastedTokenSearchMixin,
    SecretFieldsAdminMixin,
)
from token_admin.admin.search import OwnerSearchMixin, as_uuid
from token_admin.admin.utils import (
    NO_FACETS,
    change_url,
    changelist_url,
    host_fields,
    joined_links,
    mask_checksum,
    mask_html,
    not_on_own_pages,
    owner_and_app,
    safe,
)
from token_admin.models import Device, RevocationEvent, TokenSession
from token_admin.revocation import Selection

if TYPE_CHECKING:
    pass


class AccessTokenAdmin(
    RevokeButtonMixin,
    PastedTokenSearchMixin,
    SecretFieldsAdminMixin,  # before BigTableAdminMixin: it wraps the changelist that one picks
    OwnerSearchMixin,
    BigTableAdminMixin,
    RevocationAdminMixin,
    dot_admin.AccessTokenAdmin,
):
    """DOT's access-token admin made read-only, fast on big tables, with audited revoke actions."""

    # Narrow enough for a 1366-px screen beside the filters; the scope is on the change page.
    list_display = ("masked_token", "user", "application", "expires", "is_active", "has_refresh")
    list_display_links = ("masked_token",)
    list_select_related = ("user", "application")
    list_filter = (
        ApplicationFilter,
        StatusFilter,
        RefreshTokenFilter,
        TokenDeviceFilter,
        UserFilter,
        SessionFilter,
    )
    # By user and app, found first (OwnerSearchMixin); a pasted full token finds its row by
    # checksum (PastedTokenSearchMixin), a session's public id its tokens.
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    # Each by an index (a relation by its own column); no index orders by expiry.
    sortable_by = ("user", "application")
    show_full_result_count = False
    show_facets = NO_FACETS
    raw_id_fields = ("user", "application", "source_refresh_token", "id_token")
    fields = ("masked_token", "user", "application", "scope", "expires", "created", "updated", "related")
    readonly_fields = fields
    actions = ("revoke_selected_tokens", "deauthorize_selected_tokens")
    revoke_button_action = "revoke_selected_tokens"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A swapped model's own fields too (shown read-only: this admin changes nothing).
        return (*self.fields, *host_fields(self.model, AbstractAccessToken))

    def page_subtitle(self, obj: Any) -> str:
        return _("Access token %(token)s · %(who)s") % {
            "token": mask_checksum(obj.token_checksum),
            "who": owner_and_app(obj),
        }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # DOT's registration tokens manage a client, not a session: left out, as on every surface.
        return super().get_queryset(request).filter(queries.not_registration())

    def exact_condition(self, term: str) -> Q | None:
        public_id = as_uuid(term)
        if public_id is None:
            return None
        return Q(pk__in=session_token_ids(TokenSession.objects.filter(public_id=public_id)))

    def page_loaded(self, objects: list[Any]) -> None:
        bound = set(
            get_refresh_token_model()
            .objects.filter(access_token__in=[obj.pk for obj in objects])
            .values_list("access_token_id", flat=True)
        )
        for obj in objects:
            obj.bound_refresh_token = obj.pk in bound

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Editing a token would bypass the audit trail: revoking is the only write here.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # As in DOT's admin, no Delete here: deleting an access token alone would leave its
        # refresh token able to mint another (revoke it instead). Deleting its user or app
        # still cascades to it, after revoking (ApplicationAdmin, UserTokensAdminMixin).
        return not_on_own_pages(self, request) and admin.ModelAdmin.has_delete_permission(self, request, obj)

    @admin.display(description=_("token"))
    def masked_token(self, obj: Any) -> str:
        return mask_html(obj)

    @admin.display(
        description=pgettext_lazy("a token: not expired", "active"), boolean=True, ordering="expires"
    )
    def is_active(self, obj: Any) -> bool:
        return obj.expires > timezone.now()

    @admin.display(description=_("refresh token"), boolean=True)
    def has_refresh(self, obj: Any) -> bool:
        # Set for the page's rows by page_loaded; one query otherwise (e.g. a custom template).
        if not hasattr(obj, "bound_refresh_token"):
            self.page_loaded([obj])
        return bool(obj.bound_refresh_token)

    @admin.display(description=_("see also"))
    def related(self, obj: Any) -> str:
        session = queries.session_of_token(obj)
        device = session.device if session is not None else None
        if device is None and obj.application_id and obj.user_id:
            device = Device.objects.filter(application_id=obj.application_id, user_id=obj.user_id).first()
        links: list[tuple[str, Any]] = []
        if session is not None:
            links.append((safe(lambda: change_url(session)), _("its session")))
            audit_url = safe(lambda: changelist_url(RevocationEvent, about=session.public_id))
            links.append((audit_url, _("audit events of the session")))
        if device is not None:
            links.append((safe(lambda: change_url(device)), _("device: %(name)s") % {"name": device.name}))
        return joined_links(links) or "-"

    def describe_for_confirmation(self, obj: Any) -> str:
        owner = obj.user.get_username() if obj.user_id else _("app token")
        app = obj.application.name if obj.application_id else "-"
        return f"{mask_checksum(obj.token_checksum)} · {owner} · {app}"

    @admin.action(
        description=_("Revoke selected access tokens (with their sessions)"), permissions=["revoke_tokens"]
    )
    def revoke_selected_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_selected_tokens",
                title=_("Revoke access tokens"),
                select=lambda qs, user, across: Selection.tokens(qs),
            ),
        )

    @admin.action(
        description=_("De-authorize the apps of selected tokens for their users"),
        permissions=["revoke_tokens"],
    )
    def deauthorize_selected_tokens(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        def pair_ids(qs: QuerySet[Any]) -> list[tuple[Any, Any]]:
            return list(
                qs.filter(user__isnull=False).order_by().values_list("user_id", "application_id").distinct()
            )

        def select(qs: QuerySet[Any], user: Any, across: bool) -> Selection:
            ids = pair_ids(qs)
            users = get_user_model()._default_manager.in_bulk({user_id for user_id, _ in ids})
            apps = get_application_model().objects.in_bulk({app_id for _, app_id in ids})
            pairs = Selection.user_apps([(users[user_id], apps[app_id]) for user_id, app_id in ids])
            # App tokens have no user to de-authorize: they are revoked themselves.
            app_tokens = list(qs.filter(user__isnull=True).values_list("pk", flat=True))
            return pairs | Selection.tokens(app_tokens) if app_tokens else pairs

        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="deauthorize_selected_tokens",
                title=_("De-authorize apps for users"),
                select=select,
            ),
        )


class RefreshTokenAdmin(
    RevokeButtonMixin,
    PastedTokenSearchMixin,
    SecretFieldsAdminMixin,
    OwnerSearchMixin,
    BigTableAdminMixin,
    RevocationAdminMixin,
    dot_admin.RefreshTokenAdmin,
):
    """DOT's refresh-token admin, read-only; its action revokes each token's whole session.

    DOT's own action revokes one token at a time and writes no audit event, so it is replaced.
    """

    list_display = ("masked_token", "user", "application", "created_in_order", "revoked")
    list_display_links = ("masked_token",)
    list_select_related = ("user", "application")
    list_filter = (ApplicationFilter, UserFilter)
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    # Each by an index (the user by its own column, creation by id); no index of DOT's serves
    # the app's tokens in id order or the revocation time.
    sortable_by = ("user", "created_in_order")
    show_full_result_count = False
    show_facets = NO_FACETS
    fields = ("masked_token", "user", "application", "created", "updated", "revoked", "related")
    readonly_fields = fields
    actions = ("revoke_selected_refresh_tokens",)
    revoke_button_action = "revoke_selected_refresh_tokens"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*self.fields, *host_fields(self.model, AbstractRefreshToken))

    def page_subtitle(self, obj: Any) -> str:
        return _("Refresh token %(token)s · %(who)s") % {
            "token": mask_checksum(obj.token_checksum),
            "who": owner_and_app(obj),
        }

    def describe_for_confirmation(self, obj: Any) -> str:
        return f"{mask_checksum(obj.token_checksum)} · {owner_and_app(obj)}"

    def exact_condition(self, term: str) -> Q | None:
        # A session's public id, or a family: the session's refresh tokens (the family index).
        public_id = as_uuid(term)
        if public_id is None:
            return None
        family = TokenSession.objects.filter(public_id=public_id).values_list("token_family", flat=True)
        return Q(token_family__in=[public_id, *(f for f in family if f is not None)])

    @admin.display(description=_("created"), ordering="pk")
    def created_in_order(self, obj: Any) -> Any:
        # Sorted by id: tokens get their ids in the order they are created (one index).
        return obj.created

    @admin.action(
        description=_("Revoke selected refresh tokens (with their sessions)"), permissions=["revoke_tokens"]
    )
    def revoke_selected_refresh_tokens(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        def select(qs: QuerySet[Any], user: Any, across: bool) -> Selection:
            # A refresh token is one step of its family: the whole family (session) goes.
            families = sorted({str(f) for f in qs.values_list("token_family", flat=True) if f is not None})
            return Selection(
                families=frozenset(UUID(family) for family in families),
                described={"kind": "refresh_token_families", "token_families": families},
            )

        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_selected_refresh_tokens", title=_("Revoke refresh tokens"), select=select
            ),
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a live refresh token would revoke nothing of its session, and deleting a
        # revoked one would erase what DOT's reuse protection relies on.
        return not_on_own_pages(self, request) and admin.ModelAdmin.has_delete_permission(self, request, obj)

    @admin.display(description=_("token"))
    def masked_token(self, obj: Any) -> str:
        return mask_html(obj)

    @admin.display(description=_("see also"))
    def related(self, obj: Any) -> str:
        session = (
            TokenSession.objects.filter(token_family=obj.token_family).first() if obj.token_family else None
        )
        if session is None:
            return "-"
        return joined_links([(safe(lambda: change_url(session)), _("its session"))])


class IDTokenAdmin(DeleteOnlyByCascadeMixin, dot_admin.IDTokenAdmin):
    """DOT's ID-token admin with no Delete on its own pages: deleting an ID token deletes the
    access token bound to it (a cascade), which revokes it with no audit event, no
    ``revoke_tokens`` permission, and its refresh token left able to mint another. Deleting its
    user or app still cascades to it, after revoking."""


class GrantAdmin(DeleteOnlyByCascadeMixin, dot_admin.GrantAdmin):
    """DOT's authorization-code admin with no Delete on its own pages: deleting a code revokes
    it with no audit event (revocations count the codes they delete)."""
