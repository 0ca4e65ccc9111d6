"""The revoking actions' confirmation flow: a page that counts the selection (a dry run),
then the confirming post revokes that very selection through ``token_admin.revocation``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
from django import forms
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from token_admin.admin.utils import CONFIRMATION_SAMPLE, REVOKE_PERMISSION, SURFACE, change_url, safe
from token_admin.conf import conf
from token_admin.revocation import Actor, Revocation, Selection, revoke

if TYPE_CHECKING:
    from django.db.models import Field
    from django_stubs_ext import StrOrPromise


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
# Well under Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), which the confirming post must pass:
# about 100,000 selected sessions. Beyond it, revoke by user or app, or with the command.
SELECTION_MAX_BYTES = 1_500_000


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
    """Confirmation page, permission check and success message shared by the revoking actions.

    ``revoke_confirmation_template`` names the confirmation page's template (as Django's
    ``delete_selected_confirmation_template``); ``None`` uses token_admin's.
    """

    revoke_confirmation_template: ClassVar[str | None] = None

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
        if len(signed) > SELECTION_MAX_BYTES:
            self.message_user(  # type: ignore[attr-defined]
                request,
                _(
                    "Too many selected to confirm on one page. Revoke by user or app (the de-authorize "
                    "actions), or with the revoke_tokens command."
                ),
                messages.ERROR,
            )
            return None
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
        template = self.revoke_confirmation_template or "admin/token_admin/revoke_confirmation.html"
        return TemplateResponse(request, template, context)


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
    url = safe(lambda: change_url(event))
    if not url:
        return f"{text}."
    return format_html('{}. <a href="{}">Audit event {}</a>.', text, url, event.pk)


# --- access and refresh tokens (DOT's models, swappable) --------------------------------
