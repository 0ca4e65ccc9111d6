"""The admin of not-before watermarks: list them, set one (user, app or global), and lift one
(lower or remove it), each through a confirmation page that shows the counts first.

Watermarks are never edited or deleted as rows: setting one only moves it forward, and
lifting is its own page, because it brings back tokens a staff member meant to end (those
not revoked: see ``not_before.lift_not_before``); each is an audit event.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from oauth2_provider.models import get_application_model

from token_admin.conf import conf
from token_admin.models import NotBefore
from token_admin.not_before import lift_not_before, set_not_before
from token_admin.watermarks import EPOCH

Scope = NotBefore.Scope
# The name of its former module, kept: a confirmation page signed before the move stays valid.
SIGNING_SALT = "token_admin.not_before_admin"


class NotBeforeForm(forms.Form):
    scope = forms.ChoiceField(
        label=pgettext_lazy("whom a not-before watermark is for", "For"), choices=Scope.choices
    )
    user = forms.CharField(label=_("User"), required=False, help_text=_("Username (for a user's watermark)."))
    application = forms.CharField(
        label=_("Application"), required=False, help_text=_("client_id (for an app's watermark).")
    )
    not_before = forms.DateTimeField(
        label=_("Not before"),
        required=False,
        help_text=_("Tokens issued before this time become invalid. Empty: now. Never in the future."),
    )
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        scope = data.get("scope")
        data["target"] = None
        if scope == Scope.USER:
            user_model = get_user_model()
            username = (data.get("user") or "").strip()
            user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
            if user is None:
                self.add_error("user", _("No user has this username."))
            data["target"] = user
        elif scope == Scope.APP:
            client_id = (data.get("application") or "").strip()
            application = get_application_model().objects.filter(client_id=client_id).first()
            if application is None:
                self.add_error("application", _("No application has this client_id."))
            data["target"] = application
        when = data.get("not_before")
        if when is not None and when > timezone.now():
            self.add_error("not_before", _("A not-before time cannot be in the future."))
        if conf.REASON_REQUIRED and not (data.get("reason") or "").strip():
            self.add_error("reason", _("A reason is required (recorded in the audit event)."))
        return data


class LiftForm(forms.Form):
    not_before = forms.DateTimeField(
        label=pgettext_lazy("a not-before watermark", "Lower to"),
        required=False,
        help_text=_("Tokens issued from this time on work again. Empty: remove the watermark."),
    )
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, watermark: NotBefore, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watermark = watermark

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        to = data.get("not_before")
        if to is not None and to >= self.watermark.not_before:
            self.add_error("not_before", _("Give a time before the watermark's (setting one raises it)."))
        if conf.REASON_REQUIRED and not (data.get("reason") or "").strip():
            self.add_error("reason", _("A reason is required (recorded in the audit event)."))
        return data


class NotBeforeAdmin(admin.ModelAdmin):
    list_display = ("scope", "target", "not_before", "set_at", "set_by", "reason", "lift")
    list_select_related = ("user", "application")
    list_filter = ("scope",)
    show_full_result_count = False
    readonly_fields = ("key", "scope", "user", "application", "not_before", "set_at", "set_by", "reason")
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> Any:
        # The global row the migration creates at the epoch is no watermark: not listed.
        return super().get_queryset(request).exclude(not_before=EPOCH)

    @admin.display(description=pgettext_lazy("whom a not-before watermark is for", "target"))
    def target(self, obj: NotBefore) -> str:
        if obj.scope == Scope.GLOBAL:
            return str(_("everyone"))
        return str(obj.user if obj.scope == Scope.USER else obj.application)

    @admin.display(description=pgettext_lazy("lower or remove a not-before watermark", "lift"))
    def lift(self, obj: NotBefore) -> str:
        url = reverse(f"{self.admin_site.name}:token_admin_notbefore_lift", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Lower or remove…"))

    def get_urls(self) -> list[Any]:
        lift = path(
            "<path:object_id>/lift/",
            self.admin_site.admin_view(self.lift_view),
            name="token_admin_notbefore_lift",
        )
        return [lift, *super().get_urls()]

    def lift_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        # ASCII digits only: "²".isdigit() is true and int("²") fails (a 500).
        is_id = object_id.isascii() and object_id.isdigit()
        watermark = self.get_queryset(request).filter(pk=object_id).first() if is_id else None
        if watermark is None:
            raise Http404(_("No such watermark."))
        if request.method != "POST":
            return self._render_lift(request, LiftForm(watermark=watermark), watermark, None)
        form = LiftForm(request.POST, watermark=watermark)
        if not form.is_valid():
            return self._render_lift(request, form, watermark, None)
        fields = {name: request.POST.get(name, "") for name in form.fields}
        target = watermark.user if watermark.scope == Scope.USER else watermark.application
        lift_args = {
            "to": form.cleaned_data["not_before"],
            "set_by": f"staff {request.user.get_username()}",
            "reason": form.cleaned_data["reason"].strip(),
        }
        scope_target = (watermark.scope, None if watermark.scope == Scope.GLOBAL else target)
        try:
            if request.POST.get("confirm") != "yes" or _unsign(request.POST.get("previewed", "")) != fields:
                preview = lift_not_before(*scope_target, dry_run=True, **lift_args)
                return self._render_lift(request, form, watermark, preview, fields)
            lift_not_before(*scope_target, **lift_args)
        except ValueError as exc:  # lifted or raised by someone else meanwhile
            form.add_error(None, str(exc))
            return self._render_lift(request, form, watermark, None)
        self.message_user(
            request, _("Watermark lifted: %(watermark)s.") % {"watermark": watermark}, messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:token_admin_notbefore_changelist"))

    def _render_lift(
        self,
        request: HttpRequest,
        form: LiftForm,
        watermark: NotBefore,
        preview: Any,
        fields: dict[str, str] | None = None,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": _("Lower or remove a not-before watermark"),
            "opts": self.model._meta,
            "form": form,
            "watermark": watermark,
            "preview": preview,
            "previewed": signing.dumps(fields, salt=SIGNING_SALT) if fields is not None else "",
            "cancel_url": reverse("admin:token_admin_notbefore_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/token_admin/not_before_lift.html", context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("token_admin.revoke_tokens")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._render(request, NotBeforeForm(initial={"scope": request.GET.get("scope", "")}), None)
        form = NotBeforeForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, None)
        data = form.cleaned_data
        fields = {name: request.POST.get(name, "") for name in form.fields}
        # Set only what the staff member saw counted: a changed field counts again first.
        previewed = _unsign(request.POST.get("previewed", ""))
        setting_args = {
            "when": data["not_before"],
            "set_by": f"staff {request.user.get_username()}",
            "reason": data["reason"].strip(),
        }
        if request.POST.get("confirm") != "yes" or previewed != fields:
            preview = set_not_before(data["scope"], data["target"], dry_run=True, **setting_args)
            return self._render(request, form, preview, fields)
        done = set_not_before(data["scope"], data["target"], **setting_args)
        self.message_user(
            request,
            _("Watermark set: %(watermark)s. Revoked %(access)d access and %(refresh)d refresh tokens.")
            % {
                "watermark": done.watermark,
                "access": done.revocation.access_tokens,
                "refresh": done.revocation.refresh_tokens,
            },
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:token_admin_notbefore_changelist"))

    def _render(
        self, request: HttpRequest, form: NotBeforeForm, preview: Any, fields: dict[str, str] | None = None
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": _("Set a not-before watermark"),
            "opts": self.model._meta,
            "form": form,
            "preview": preview
            and {
                "target": _describe(form.cleaned_data),
                "when": form.cleaned_data["not_before"] or pgettext_lazy("a not-before watermark at", "now"),
                "access_tokens": preview.revocation.access_tokens,
                "refresh_tokens": preview.revocation.refresh_tokens,
                "grants": preview.revocation.grants,
                "tokens_invalidated": preview.tokens_invalidated,
                "tokens_invalidated_estimated": preview.tokens_invalidated_estimated,
            },
            # The fields counted, signed: the confirming post must carry the same ones.
            "previewed": signing.dumps(fields, salt=SIGNING_SALT) if fields is not None else "",
            "cancel_url": reverse("admin:token_admin_notbefore_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/token_admin/not_before_form.html", context)


def _describe(data: dict[str, Any]) -> str:
    if data["scope"] == Scope.GLOBAL:
        return str(_("everyone"))
    return str(data["target"])


def _unsign(value: str) -> Any:
    try:
        return signing.loads(value, salt=SIGNING_SALT)
    except signing.BadSignature:
        return None
