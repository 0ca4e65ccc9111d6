"""The admin of token_admin's sessions (refresh-token families or lone tokens)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
import oauth2_provider.admin as dot_admin
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from oauth2_provider.models import (
    get_access_token_model,
)

from token_admin import queries
from token_admin.admin.actions import RevocationAdminMixin, RevokeAction, RevokeButtonMixin
from token_admin.admin.filters import (
    ApplicationFilter,
    LiveSessionFilter,
    SessionDeviceFilter,
    UnusedFilter,
    UserFilter,
)
from token_admin.admin.mixins import BigTableAdminMixin, DeleteOnlyByCascadeMixin
from token_admin.admin.search import OwnerSearchMixin, as_uuid
from token_admin.admin.utils import (
    NO_FACETS,
    change_url,
    changelist_url,
    joined_links,
    safe,
)
from token_admin.models import RevocationEvent, TokenSession
from token_admin.revocation import Selection

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class TokenSessionAdmin(
    DeleteOnlyByCascadeMixin,
    RevokeButtonMixin,
    OwnerSearchMixin,
    BigTableAdminMixin,
    RevocationAdminMixin,
    admin.ModelAdmin,
):
    """Signed-in sessions (refresh-token families), read-only, with a revoke action."""

    list_display = ("public_id", "user", "application", "device", "created_at", "is_live")
    list_select_related = ("user", "application", "device")
    list_filter = (ApplicationFilter, LiveSessionFilter, SessionDeviceFilter, UserFilter, UnusedFilter)
    # By user and app, found first (OwnerSearchMixin); a public id finds its session.
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    # Each by an index (a relation by its own column, "began" by id: the order sessions begin).
    sortable_by = ("public_id", "user", "application", "device", "began_and_last_use")
    show_full_result_count = False
    show_facets = NO_FACETS
    fields = ("public_id", "user", "application", "device", "created_at", "token_family", "related")
    readonly_fields = fields
    actions = ("revoke_selected_sessions",)
    revoke_button_action = "revoke_selected_sessions"

    def page_subtitle(self, obj: TokenSession) -> str:
        owner = obj.user.get_username() if obj.user_id and obj.user else _("app")
        return _("Session of %(owner)s on %(app)s") % {"owner": owner, "app": obj.application}

    def describe_for_confirmation(self, obj: TokenSession) -> str:
        began = timezone.localtime(obj.created_at)
        return _("%(session)s, began %(began)s") % {
            "session": self.page_subtitle(obj),
            "began": f"{began:%Y-%m-%d %H:%M}",
        }

    # Activity (token_admin.activity), added to the fields above. On the list it shares the
    # "began" column (began, then last use and browser / OS below): the list still fits 1366 px.
    activity_fields = ("last_used_at", "last_ip", "browser_os")

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        columns = super().get_list_display(request)
        return tuple("began_and_last_use" if column == "created_at" else column for column in columns)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        return (*super().get_fields(request, obj), *self.activity_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        return (*super().get_readonly_fields(request, obj), *self.activity_fields)

    @admin.display(description=_("browser / OS"))
    def browser_os(self, obj: TokenSession) -> str:
        said = [part for part in (obj.browser, obj.os, obj.device_family) if part]
        return " / ".join(said) or "-"

    def exact_condition(self, term: str) -> Q | None:
        public_id = as_uuid(term)
        return Q(public_id=public_id) | Q(token_family=public_id) if public_id is not None else None

    # Sorted by id: sessions get their ids in the order they begin (one index).
    @admin.display(description=_("began / last used"), ordering="pk")
    def began_and_last_use(self, obj: TokenSession) -> str:
        began = f"{timezone.localtime(obj.created_at):%Y-%m-%d %H:%M}"
        if obj.last_used_at is None:
            return format_html("{}<br><small>{}</small>", began, pgettext_lazy("a session", "never used"))
        used = f"{timezone.localtime(obj.last_used_at):%Y-%m-%d %H:%M}"
        # One short line each, no wider than the date (the device family is on the session's page).
        browser_os = " / ".join(part for part in (obj.browser, obj.os) if part) or "-"
        return format_html("{}<br><small>{}<br>{}</small>", began, used, browser_os)

    def page_loaded(self, objects: list[Any]) -> None:
        # The one definition of a live session: a session whose tokens all predate a not-before
        # watermark, or whose refresh token is past its expiry, shows as ended. Two queries, and
        # one cache round trip for the watermarks of the page's (user, app) pairs.
        live = queries.live_session_flags(objects)
        for obj in objects:
            obj.live = live[obj.pk]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions are recorded when DOT issues tokens

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # No Delete (DeleteOnlyByCascadeMixin): deleting the row would revoke nothing; "Revoke
    # selected sessions" is the way a session ends.

    @admin.display(description=pgettext_lazy("a session: live", "signed in"), boolean=True)
    def is_live(self, obj: TokenSession) -> bool:
        # Set for the page's rows by page_loaded; two queries otherwise.
        if not hasattr(obj, "live"):
            self.page_loaded([obj])
        return bool(obj.live)  # type: ignore[attr-defined]

    @admin.display(description=_("see also"))
    def related(self, obj: TokenSession) -> str:
        links: list[tuple[str, StrOrPromise]] = [
            (
                safe(lambda: changelist_url(get_access_token_model(), session=obj.public_id)),
                _("access tokens"),
            ),
            (safe(lambda: changelist_url(RevocationEvent, about=obj.public_id)), _("audit events")),
        ]
        device = obj.device  # (None without a query when the session has no device)
        if device is not None:
            links.append((safe(lambda: change_url(device)), _("device: %(name)s") % {"name": device}))
        return joined_links(links)

    @admin.action(description=_("Revoke selected sessions"), permissions=["revoke_tokens"])
    def revoke_selected_sessions(
        self, request: HttpRequest, queryset: QuerySet[TokenSession]
    ) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_selected_sessions",
                title=_("Revoke sessions"),
                select=lambda qs, user, across: Selection.sessions(qs),
            ),
        )
