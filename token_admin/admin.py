"""Django admin for token_admin: see and revoke tokens, sessions, devices; read the audit trail.

Every revoking action goes through ``token_admin.revocation`` (set-based, audited) after a
confirmation page that shows what will be revoked and a typed reason. Revoking needs the
``token_admin.revoke_tokens`` permission on top of the model's view permission.

Registration: DOT's stock ``AccessTokenAdmin``, ``RefreshTokenAdmin`` and ``ApplicationAdmin``
are replaced by the subclasses below (DOT's revoke actions loop one token at a time and write
no audit event). A project that configured its own DOT admin class keeps it; it can subclass
the classes here instead. The project's user admin is wrapped with ``UserTokensAdminMixin``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast
from uuid import UUID

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
import oauth2_provider.admin as dot_admin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from . import queries
from .conf import conf
from .models import AppProfile, Device, RevocationEvent, Session
from .revocation import Actor, Revocation, Selection, revoke

if TYPE_CHECKING:
    from django.db.models import Field
    from django_stubs_ext import StrOrPromise

REVOKE_PERMISSION = "token_admin.revoke_tokens"
SURFACE = RevocationEvent.Surface.ADMIN
# How many of the selected objects the confirmation page names; the rest are counted.
CONFIRMATION_SAMPLE = 20

# Facet counts (Django 5's ``?_facets``) run one COUNT per filter choice: never on big tables.
_NO_FACETS: Any = getattr(admin, "ShowFacets", None) and admin.ShowFacets.NEVER


def mask_checksum(checksum: str | None) -> str:
    """``…a1b2``: the end of DOT's token checksum, present even when DOT keeps no cleartext."""
    return f"…{checksum[-4:]}" if checksum else "…"


def _mask_html(token: Any) -> str:
    """The masked token on one line (the admin's columns would break it after the ellipsis)."""
    if token is None:
        return ""
    return format_html('<span style="white-space: nowrap">{}</span>', mask_checksum(token.token_checksum))


def _changelist_url(model: type[Model], **params: Any) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _change_url(obj: Model) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _links(pairs: Iterable[tuple[str, Any]]) -> str:
    """Links joined by " · "; a link whose admin page is not registered is left out."""
    return format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for url, label in pairs if url))


def _safe(url: Callable[[], str]) -> str:
    try:
        return url()
    except NoReverseMatch:
        return ""


def _session_conditions(sessions: QuerySet[Session]) -> tuple[Q, Q]:
    """Conditions on access tokens (lone ones) and refresh tokens (families) of these sessions."""
    lone = sessions.filter(access_token_checksum__isnull=False).values("access_token_checksum")
    families = sessions.filter(token_family__isnull=False).values("token_family")
    return Q(token_checksum__in=lone), Q(token_family__in=families)


# --- list filters that never list every row of a big table -------------------------------


class InputFilter(admin.SimpleListFilter):
    """A filter with a text box: nothing is listed, the staff user types the value."""

    template = "admin/token_admin/input_filter.html"
    placeholder: StrOrPromise = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        value = self.value()
        return [(value, self.describe(value))] if value else []

    def describe(self, value: str) -> StrOrPromise:
        return value

    def has_output(self) -> bool:
        return True

    # Its own template's keys, not those of Django's filter choices.
    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        value = self.value()
        yield {
            "parameter": self.parameter_name,
            "value": value or "",
            "display": self.lookup_choices[0][1] if value else "",
            "placeholder": self.placeholder,
            "all_query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "other_params": sorted(
                (name, param) for name, param in changelist.params.items() if name != self.parameter_name
            ),
        }


class ApplicationFilter(InputFilter):
    """Tokens of one app, by client id or exact name (links from an app use the client id)."""

    title = _("application")
    parameter_name = "app"
    placeholder = _("client id or name")

    def _condition(self, value: str, prefix: str = "") -> Q:
        return Q(**{f"{prefix}client_id": value}) | Q(**{f"{prefix}name__iexact": value})

    def describe(self, value: str) -> StrOrPromise:
        names = list(queries.applications().filter(self._condition(value)).values_list("name", flat=True)[:3])
        return ", ".join(names) or _("no such application")

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        return queryset.filter(self._condition(value, "application__")) if value else None


class ChosenObjectFilter(admin.SimpleListFilter):
    """A filter set by a link (``?user=5``): it shows the chosen object only, never a list of all."""

    model: type[Model]
    lookup: str

    def _chosen(self) -> Model | None:
        value = self.value()
        try:
            return self.model._default_manager.filter(pk=int(value)).first() if value else None
        except ValueError:
            return None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        value = self.value()
        if not value:
            return []
        chosen = self._chosen()
        return [(value, str(chosen) if chosen is not None else _("(not found)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return None
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(**{self.lookup: int(value)})


class UserFilter(ChosenObjectFilter):
    title = _("user")
    parameter_name = "user"
    lookup = "user_id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.model = get_user_model()
        super().__init__(*args, **kwargs)


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("active", _("Active")), ("expired", _("Expired"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(expires__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires__lte=now)
        return None


def _bound_refresh_token() -> Exists:
    """Whether an access token has a live refresh token (through the refresh token's forward key)."""
    return Exists(get_refresh_token_model().objects.filter(access_token=OuterRef("pk")))


class RefreshTokenFilter(admin.SimpleListFilter):
    # Django heads a filter "By <title>": a noun, so that it reads as plain words.
    title = _("refresh token")
    parameter_name = "refresh"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("yes", _("With one")), ("no", _("Without"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "yes":
            return queryset.filter(_bound_refresh_token())
        if self.value() == "no":
            return queryset.filter(~_bound_refresh_token())
        return None


class DeviceFilter(admin.SimpleListFilter):
    """On any device, on none, or on the one device a link chose (``?device=<pk>``)."""

    title = _("device")
    parameter_name = "device"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        choices: list[tuple[str, StrOrPromise]] = [("any", _("On a device")), ("none", _("Not on a device"))]
        value = self.value()
        if value and value.isdigit():
            device = Device.objects.filter(pk=int(value)).first()
            choices.append((value, str(device) if device is not None else _("(not found)")))
        return choices

    def devices(self) -> QuerySet[Device] | None:
        value = self.value()
        if value == "any":
            return Device.objects.all()
        if value and value.isdigit():
            return Device.objects.filter(pk=int(value))
        return Device.objects.none() if value and value != "none" else None

    def condition(self, devices: QuerySet[Device]) -> Q:
        raise NotImplementedError

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "none":
            return queryset.exclude(self.condition(Device.objects.all()))
        devices = self.devices()
        return None if devices is None else queryset.filter(self.condition(devices))


class TokenDeviceFilter(DeviceFilter):
    def condition(self, devices: QuerySet[Device]) -> Q:
        lone_tokens, families = _session_conditions(Session.objects.filter(device__in=devices))
        in_family = get_refresh_token_model().objects.filter(families, access_token__isnull=False)
        return (
            lone_tokens
            | Q(pk__in=in_family.values("access_token_id"))
            | Q(application__token_admin_device__in=devices)
        )


class SessionDeviceFilter(DeviceFilter):
    def condition(self, devices: QuerySet[Device]) -> Q:
        return Q(device__in=devices) | Q(application__token_admin_device__in=devices)


class SessionFilter(admin.SimpleListFilter):
    """Access tokens of one session (``?session=<public id>``), set by the session's link."""

    title = _("session")
    parameter_name = "session"

    def _public_id(self) -> UUID | None:
        try:
            return UUID(self.value() or "")
        except ValueError:
            return None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if not self.value():
            return None
        # A value that is not a UUID gives None, which matches no session.
        sessions = Session.objects.filter(public_id=self._public_id())  # type: ignore[misc]
        lone_tokens, families = _session_conditions(sessions)
        in_family = get_refresh_token_model().objects.filter(families, access_token__isnull=False)
        return queryset.filter(lone_tokens | Q(pk__in=in_family.values("access_token_id")))


class LiveSessionFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("live", _("Signed in")), ("ended", _("Ended"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "live":
            return queryset.filter(_session_is_live())
        if self.value() == "ended":
            return queryset.exclude(_session_is_live())
        return None


def _session_is_live() -> Q:
    """A session lives while its family has a live refresh token or its lone token is unexpired."""
    live_family = get_refresh_token_model().objects.filter(
        token_family=OuterRef("token_family"), revoked__isnull=True
    )
    live_lone = queries.valid_access_tokens().filter(token_checksum=OuterRef("access_token_checksum"))
    return Q(Exists(live_family)) | Q(Exists(live_lone))


class AboutFilter(admin.SimpleListFilter):
    """Audit events whose selection names a session or device public id (``?about=<uuid>``)."""

    title = _("session or device")
    parameter_name = "about"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return None
        try:
            # A UUID is matched as text inside the selection JSON: the same on every database.
            return queryset.filter(selection__icontains=str(UUID(value)))
        except ValueError:
            return queryset.none()


# --- the confirmation page and the revoking actions -------------------------------------


class RevokeForm(forms.Form):
    """The confirmation page's form: a reason for the audit trail, and optionally one user."""

    # The admin's stylesheet shows labels of this class in bold.
    required_css_class = "required"

    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Recorded in the audit event."),
    )

    def __init__(self, *args: Any, choose_user: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # TOKEN_ADMIN["REASON_REQUIRED"], read per form: the same policy as revoke_tokens'.
        reason = self.fields["reason"]
        reason.required = conf.REASON_REQUIRED
        reason.label = _("Reason (required)") if reason.required else _("Reason (optional)")
        if choose_user:
            user_model = get_user_model()
            field = cast("Field[Any, Any]", user_model._meta.get_field(user_model.USERNAME_FIELD))
            username = field.verbose_name
            self.fields["user"] = forms.CharField(
                label=_("Only for this user (%(field)s)") % {"field": username},
                required=False,
                help_text=_("Leave empty for every user."),
            )

    def clean_user(self) -> Any:
        username = self.cleaned_data.get("user", "").strip()
        if not username:
            return None
        user_model = get_user_model()
        try:
            return user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise forms.ValidationError(_("There is no user %(name)s."), params={"name": username}) from None


@dataclass(frozen=True)
class RevokeAction:
    """One revoking admin action and the ``Selection`` it revokes.

    ``select(queryset, user, select_across)`` builds the selection when the confirmation
    page is shown; the page counts it with a dry run and carries it, signed, to the
    confirming POST, which revokes that very selection. It is keyed on sessions and owners,
    so a refresh between the two pages cannot empty it.
    """

    name: str
    title: StrOrPromise
    select: Callable[[QuerySet[Any], Any, bool], Selection]
    choose_user: bool = False


# The confirmation page carries the selection it counted, signed for the staff user who saw
# it; a page older than this is counted again instead of being revoked.
SELECTION_MAX_AGE = 60 * 60


def _sign_selection(
    request: HttpRequest, action: RevokeAction, selection: Selection, counted_user: str
) -> str:
    data = {"selection": selection.to_data(), "counted_user": counted_user}
    return signing.dumps(data, salt=_selection_salt(request, action), compress=True)


def _unsign_selection(request: HttpRequest, action: RevokeAction) -> tuple[Selection, str] | None:
    """The selection the confirmation page counted, and the user it was counted for."""
    signed = request.POST.get("selection", "")
    try:
        data = signing.loads(signed, salt=_selection_salt(request, action), max_age=SELECTION_MAX_AGE)
        return Selection.from_data(data["selection"]), str(data["counted_user"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def _selection_salt(request: HttpRequest, action: RevokeAction) -> str:
    return f"token_admin.admin.revoke:{action.name}:{request.user.pk}"


class RevocationAdminMixin:
    """Confirmation page, permission check and success message shared by the revoking actions."""

    def has_revoke_tokens_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVOKE_PERMISSION)

    def describe_for_confirmation(self, obj: Any) -> str:
        """How the confirmation page names one selected object."""
        return str(obj)

    def run_revoke_action(
        self, request: HttpRequest, queryset: QuerySet[Any], action: RevokeAction
    ) -> HttpResponse | None:
        """Show the confirmation page; revoke once it comes back with a reason."""
        # get_actions() hides the action from staff without the permission; this refuses a forged post.
        if not self.has_revoke_tokens_permission(request):
            raise PermissionDenied
        select_across = request.POST.get("select_across") == "1"
        confirmed = request.POST.get("post") == "yes"
        form = RevokeForm(request.POST if confirmed else None, choose_user=action.choose_user)
        user = None
        if confirmed and form.is_valid():
            user = form.cleaned_data.get("user")
            typed = request.POST.get("user", "").strip()
            # Revoke only what the page counted: a user typed after the counting is counted first.
            counted = _unsign_selection(request, action)
            if counted is not None and (not action.choose_user or typed == counted[1]):
                result = revoke(
                    counted[0],
                    surface=SURFACE,
                    actor=Actor.staff(request.user),
                    reason=form.cleaned_data["reason"],
                )
                self.message_user(request, _success_message(result), messages.SUCCESS)  # type: ignore[attr-defined]
                return None
        selection = action.select(queryset, user, select_across)
        counts = revoke(selection, surface=SURFACE, actor=Actor.staff(request.user), dry_run=True)
        counted_user = request.POST.get("user", "").strip() if user is not None else ""
        signed = _sign_selection(request, action, selection, counted_user)
        return self._render_confirmation(request, queryset, action, form, counts, user, counted_user, signed)

    def _render_confirmation(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        action: RevokeAction,
        form: RevokeForm,
        counts: Revocation,
        user: Any,
        counted_user: str,
        signed_selection: str,
    ) -> TemplateResponse:
        opts = self.model._meta  # type: ignore[attr-defined]
        select_across = request.POST.get("select_across") == "1"
        sample = list(queryset[:CONFIRMATION_SAMPLE])
        if select_across:
            # The whole filtered list is the selection; one posted id only marks the form as filled.
            selected_ids = [obj.pk for obj in sample[:1]]
            total = queryset.count()
        else:
            selected_ids = list(queryset.values_list("pk", flat=True))
            total = len(selected_ids)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": action.title,
            "opts": opts,
            "action_name": action.name,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "selected_ids": selected_ids,
            "select_across": select_across,
            "total": total,
            "objects_name": opts.verbose_name if total == 1 else opts.verbose_name_plural,
            "sample": [self.describe_for_confirmation(obj) for obj in sample],
            "more": max(total - len(sample), 0),
            "counts": counts,
            "nothing_to_revoke": not counts.revoked_anything,
            "signed_selection": signed_selection,
            "choose_user": action.choose_user,
            "chosen_user": user,
            "counted_user": counted_user,
            "form": form,
            "cancel_url": request.get_full_path(),
        }
        request.current_app = self.admin_site.name  # type: ignore[attr-defined]
        return TemplateResponse(request, "admin/token_admin/revoke_confirmation.html", context)


class RevokeButtonMixin:
    """A "Revoke…" button on the change page and a title that names the object in plain words.

    The button posts ``revoke_button_action`` for this one object to the changelist, so it
    leads to the very confirmation page (and audit event) the changelist action does.
    """

    change_form_template: ClassVar[Any] = "admin/token_admin/change_form_revoke.html"
    revoke_button_action = ""

    def page_subtitle(self, obj: Any) -> str:
        """The change page's heading (Django's default is ``str(obj)``, e.g. "AccessToken #1")."""
        return str(obj)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None:
            context["subtitle"] = self.page_subtitle(obj)
            actions = self.get_actions(request)  # type: ignore[attr-defined]  # a ModelAdmin
            if self.revoke_button_action in actions:
                context["revoke_action"] = self.revoke_button_action
        return super().render_change_form(request, context, add, change, form_url, obj)  # type: ignore[misc]


def _owner_and_app(obj: Any) -> str:
    owner = obj.user.get_username() if obj.user_id else _("app token")
    app = obj.application.name if obj.application_id else "-"
    return _("%(owner)s on %(app)s") % {"owner": owner, "app": app}


def _success_message(result: Revocation) -> str:
    text = ngettext(
        "Revoked %(access)d access token", "Revoked %(access)d access tokens", result.access_tokens
    ) % {"access": result.access_tokens}
    text += ngettext(
        " and %(refresh)d refresh token", " and %(refresh)d refresh tokens", result.refresh_tokens
    ) % {"refresh": result.refresh_tokens}
    if result.grants:
        text += ngettext(
            ", deleted %(grants)d authorization code",
            ", deleted %(grants)d authorization codes",
            result.grants,
        ) % {"grants": result.grants}
    event = result.event
    assert event is not None  # only a dry run has no event, and it reports nothing here
    url = _safe(lambda: _change_url(event))
    if not url:
        return f"{text}."
    return format_html('{}. <a href="{}">Audit event {}</a>.', text, url, event.pk)


# --- access and refresh tokens (DOT's models, swappable) --------------------------------


class AccessTokenAdmin(RevokeButtonMixin, RevocationAdminMixin, dot_admin.AccessTokenAdmin):
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
    # By user and app only: a token value must never end up in a URL or a log.
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = _NO_FACETS
    raw_id_fields = ("user", "application", "source_refresh_token", "id_token")
    fields = ("masked_token", "user", "application", "scope", "expires", "created", "updated", "related")
    readonly_fields = fields
    actions = ("revoke_selected_tokens", "deauthorize_selected_tokens")
    revoke_button_action = "revoke_selected_tokens"

    def page_subtitle(self, obj: Any) -> str:
        return _("Access token %(token)s · %(who)s") % {
            "token": mask_checksum(obj.token_checksum),
            "who": _owner_and_app(obj),
        }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # DOT's registration tokens manage a client, not a session: left out, as on every surface.
        return (
            super()
            .get_queryset(request)
            .exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
            .annotate(bound_refresh_token=_bound_refresh_token())
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Editing a token would bypass the audit trail: revoking is the only write here.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # As in DOT's admin, no Delete here: deleting an access token alone would leave its
        # refresh token able to mint another (revoke it instead). Deleting its user or app
        # still cascades to it, after revoking (ApplicationAdmin, UserTokensAdminMixin).
        return _not_on_own_pages(self, request) and admin.ModelAdmin.has_delete_permission(self, request, obj)

    @admin.display(description=_("token"))
    def masked_token(self, obj: Any) -> str:
        return _mask_html(obj)

    @admin.display(description=_("active"), boolean=True, ordering="expires")
    def is_active(self, obj: Any) -> bool:
        return obj.expires > timezone.now()

    @admin.display(description=_("refresh token"), boolean=True)
    def has_refresh(self, obj: Any) -> bool:
        return bool(obj.bound_refresh_token)

    @admin.display(description=_("see also"))
    def related(self, obj: Any) -> str:
        session = _session_of(obj)
        device = session.device if session is not None else None
        if device is None and obj.application_id and obj.user_id:
            device = Device.objects.filter(application_id=obj.application_id, user_id=obj.user_id).first()
        links: list[tuple[str, Any]] = []
        if session is not None:
            links.append((_safe(lambda: _change_url(session)), _("its session")))
            audit_url = _safe(lambda: _changelist_url(RevocationEvent, about=session.public_id))
            links.append((audit_url, _("audit events of the session")))
        if device is not None:
            links.append((_safe(lambda: _change_url(device)), _("device: %(name)s") % {"name": device.name}))
        return _links(links) or "-"

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


def _session_of(access_token: Any) -> Session | None:
    """The session of an access token: its refresh-token family's, or its own if it came alone."""
    family = (
        get_refresh_token_model()
        .objects.filter(access_token_id=access_token.pk, token_family__isnull=False)
        .values_list("token_family", flat=True)
        .first()
    )
    condition = Q(access_token_checksum=access_token.token_checksum)
    if family is not None:
        condition |= Q(token_family=family)
    return Session.objects.select_related("device").filter(condition).first()


class RefreshTokenAdmin(RevokeButtonMixin, RevocationAdminMixin, dot_admin.RefreshTokenAdmin):
    """DOT's refresh-token admin, read-only; its action revokes each token's whole session.

    DOT's own action revokes one token at a time and writes no audit event, so it is replaced.
    """

    list_display = ("masked_token", "user", "application", "created", "revoked")
    list_display_links = ("masked_token",)
    list_select_related = ("user", "application")
    list_filter = (ApplicationFilter, UserFilter)
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = _NO_FACETS
    fields = ("masked_token", "user", "application", "created", "updated", "revoked", "related")
    readonly_fields = fields
    actions = ("revoke_selected_refresh_tokens",)
    revoke_button_action = "revoke_selected_refresh_tokens"

    def page_subtitle(self, obj: Any) -> str:
        return _("Refresh token %(token)s · %(who)s") % {
            "token": mask_checksum(obj.token_checksum),
            "who": _owner_and_app(obj),
        }

    def describe_for_confirmation(self, obj: Any) -> str:
        return f"{mask_checksum(obj.token_checksum)} · {_owner_and_app(obj)}"

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
        return _not_on_own_pages(self, request) and admin.ModelAdmin.has_delete_permission(self, request, obj)

    @admin.display(description=_("token"))
    def masked_token(self, obj: Any) -> str:
        return _mask_html(obj)

    @admin.display(description=_("see also"))
    def related(self, obj: Any) -> str:
        session = Session.objects.filter(token_family=obj.token_family).first() if obj.token_family else None
        if session is None:
            return "-"
        return _links([(_safe(lambda: _change_url(session)), _("its session"))])


# --- applications --------------------------------------------------------------------------


class AppProfileInline(admin.StackedInline):
    model = AppProfile
    can_delete = False
    max_num = 1
    fields = ("link", "end_user_api", "allow_app_token")


def _token_links(application: Any) -> str:
    return _links(
        [
            (
                _safe(lambda: _changelist_url(get_access_token_model(), app=application.client_id)),
                _("tokens"),
            ),
            (_safe(lambda: _changelist_url(Session, app=application.client_id)), _("sessions")),
        ]
    )


class ApplicationAdmin(RevokeButtonMixin, RevocationAdminMixin, dot_admin.ApplicationAdmin):
    """DOT's application admin with token_admin's profile inline, token links and de-authorize."""

    inlines = (AppProfileInline,)
    # DOT's columns less the primary key and the registration source (on the change page).
    list_display = ("name", "user", "client_type", "authorization_grant_type", "token_links")
    list_select_related = ("user",)
    show_full_result_count = False
    show_facets = _NO_FACETS
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


@admin.register(AppProfile)
class AppProfileAdmin(admin.ModelAdmin):
    # Narrow enough for a 1366-px screen beside the filters; link and dates are on the change page.
    list_display = ("application", "end_user_api", "allow_app_token")
    list_select_related = ("application",)
    list_filter = ("end_user_api", "allow_app_token")
    search_fields = ("application__name", "application__client_id")
    raw_id_fields = ("application",)
    show_full_result_count = False


# --- token_admin's sessions and devices ---------------------------------------------------


@admin.register(Session)
class SessionAdmin(RevokeButtonMixin, RevocationAdminMixin, admin.ModelAdmin):
    """Signed-in sessions (refresh-token families), read-only, with a revoke action."""

    list_display = ("public_id", "user", "application", "device", "created_at", "is_live")
    list_select_related = ("user", "application", "device")
    list_filter = (ApplicationFilter, LiveSessionFilter, SessionDeviceFilter, UserFilter)
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = _NO_FACETS
    fields = ("public_id", "user", "application", "device", "created_at", "token_family", "related")
    readonly_fields = fields
    actions = ("revoke_selected_sessions",)
    revoke_button_action = "revoke_selected_sessions"

    def page_subtitle(self, obj: Session) -> str:
        owner = obj.user.get_username() if obj.user_id and obj.user else _("app")
        return _("Session of %(owner)s on %(app)s") % {"owner": owner, "app": obj.application}

    def describe_for_confirmation(self, obj: Session) -> str:
        began = timezone.localtime(obj.created_at)
        return _("%(session)s, began %(began)s") % {
            "session": self.page_subtitle(obj),
            "began": f"{began:%Y-%m-%d %H:%M}",
        }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return super().get_queryset(request).annotate(live=_session_is_live())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions are recorded when DOT issues tokens

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting the row would revoke nothing: "Revoke selected sessions" is the way a
        # session ends. (Deleting its user or app still cascades to it, after revoking.)
        return _not_on_own_pages(self, request) and super().has_delete_permission(request, obj)

    @admin.display(description=_("signed in"), boolean=True)
    def is_live(self, obj: Session) -> bool:
        return bool(obj.live)  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description=_("see also"))
    def related(self, obj: Session) -> str:
        links: list[tuple[str, StrOrPromise]] = [
            (
                _safe(lambda: _changelist_url(get_access_token_model(), session=obj.public_id)),
                _("access tokens"),
            ),
            (_safe(lambda: _changelist_url(RevocationEvent, about=obj.public_id)), _("audit events")),
        ]
        device = obj.device  # (None without a query when the session has no device)
        if device is not None:
            links.append((_safe(lambda: _change_url(device)), _("device: %(name)s") % {"name": device}))
        return _links(links)

    @admin.action(description=_("Revoke selected sessions"), permissions=["revoke_tokens"])
    def revoke_selected_sessions(
        self, request: HttpRequest, queryset: QuerySet[Session]
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


@admin.register(Device)
class DeviceAdmin(RevokeButtonMixin, RevocationAdminMixin, admin.ModelAdmin):
    list_display = ("name", "user", "type", "application", "created_at", "token_links")
    list_select_related = ("user", "application")
    list_filter = ("type", UserFilter)
    search_fields = ("name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = _NO_FACETS
    raw_id_fields = ("user", "application")
    readonly_fields = ("public_id", "created_at", "token_links")
    actions = ("revoke_selected_devices",)
    revoke_button_action = "revoke_selected_devices"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting the row would leave its sessions and registered client working:
        # "Revoke selected devices" is the way a device is signed out. (Deleting its user
        # or client still cascades to it, after revoking.)
        return _not_on_own_pages(self, request) and super().has_delete_permission(request, obj)

    @admin.display(description=_("see also"))
    def token_links(self, obj: Device) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return _links(
            [
                (_safe(lambda: _changelist_url(Session, device=obj.pk)), _("sessions")),
                (_safe(lambda: _changelist_url(get_access_token_model(), device=obj.pk)), _("tokens")),
                (_safe(lambda: _changelist_url(RevocationEvent, about=obj.public_id)), _("audit events")),
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


def _not_on_own_pages(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """False on this model admin's own pages (no Delete there); True when the admin asks while
    deleting something else that cascades to these rows (a user, an app)."""
    opts = model_admin.model._meta
    match = getattr(request, "resolver_match", None)
    url_name = getattr(match, "url_name", None) or ""
    return not url_name.startswith(f"{opts.app_label}_{opts.model_name}_")


# --- the audit trail ----------------------------------------------------------------------


@admin.register(RevocationEvent)
class RevocationEventAdmin(admin.ModelAdmin):
    """The audit trail: readable, never added to, changed or deleted from the admin."""

    # Counts in one column and the reason cut short: fits 1366 px; all of it on the event's page.
    list_display = ("created_at", "surface", "actor_label", "revoked_counts", "short_reason")
    list_filter = ("surface", "actor_type", AboutFilter)
    search_fields = ("actor_label", "reason")
    show_full_result_count = False
    show_facets = _NO_FACETS
    # Who, why and how many first: what a reader of the trail comes for.
    fields = (
        "created_at",
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

    @admin.display(description=_("reason"), ordering="reason")
    def short_reason(self, obj: RevocationEvent) -> str:
        return Truncator(obj.reason).chars(60)

    @admin.display(description=_("selection"))
    def what(self, obj: RevocationEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.selection, indent=2, sort_keys=True))


# --- users: the project's own user admin, with one more action ----------------------------


class UserTokensAdminMixin(RevocationAdminMixin):
    """Adds "revoke all tokens" and a link to the user's tokens to any user admin.

    It only adds (through ``get_actions`` and ``get_list_display``), so a project's own
    ``actions`` and ``list_display`` stay as they are.
    """

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        if self.actions is not None and self.has_revoke_tokens_permission(request):  # type: ignore[attr-defined]
            func = UserTokensAdminMixin.revoke_all_user_tokens
            description = func.short_description  # type: ignore[attr-defined]  # set by @admin.action
            actions["revoke_all_user_tokens"] = (func, "revoke_all_user_tokens", description)
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
        return _links(
            [
                (_safe(lambda: _changelist_url(get_access_token_model(), user=obj.pk)), _("tokens")),
                (_safe(lambda: _changelist_url(Session, user=obj.pk)), _("sessions")),
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


# --- registration ---------------------------------------------------------------------------


def _replace_dot_admin(
    model: type[Model], stock: type[admin.ModelAdmin], ours: type[admin.ModelAdmin]
) -> None:
    """Register ``ours`` in place of DOT's stock admin; a project's own admin class is kept."""
    registered = admin.site._registry.get(model)  # public get_model_admin() needs Django 5
    if registered is not None:
        if type(registered) is not stock:
            return
        admin.site.unregister(model)
    admin.site.register(model, ours)


def _add_to_user_admin() -> None:
    """Wrap the registered user admin (the project's own or Django's) in ``UserTokensAdminMixin``."""
    user_model = get_user_model()
    registered = admin.site._registry.get(user_model)
    if registered is None or isinstance(registered, UserTokensAdminMixin):
        return
    wrapped = type(
        type(registered).__name__,
        (UserTokensAdminMixin, type(registered)),
        {"__module__": type(registered).__module__, "__doc__": type(registered).__doc__},
    )
    admin.site.unregister(user_model)
    admin.site.register(user_model, wrapped)


_replace_dot_admin(get_access_token_model(), dot_admin.AccessTokenAdmin, AccessTokenAdmin)
_replace_dot_admin(get_refresh_token_model(), dot_admin.RefreshTokenAdmin, RefreshTokenAdmin)
_replace_dot_admin(get_application_model(), dot_admin.ApplicationAdmin, ApplicationAdmin)
_add_to_user_admin()
