"""Who may call the staff resource API and the "me" API.

Two ways in: a browser session (``SessionAuthentication``, the browsable API) or a DOT bearer
token (``BearerAuthentication``). A bearer token must carry the scope the view asks for; a
session is not scoped, so only Django permissions decide for it. Staff permissions are the
admin's: the model's view permission to read, ``token_admin.revoke_tokens`` (on top of it) to
revoke.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import get_access_token_model
from rest_framework.exceptions import ParseError
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from token_admin.api.manage.scopes import ME_SCOPE, READ_SCOPE, REVOKE_SCOPE, SCOPES

__all__ = ["ME_SCOPE", "READ_SCOPE", "REVOKE_SCOPE", "SCOPES"]

REVOKE_PERMISSION = "token_admin.revoke_tokens"


class BearerAuthentication(OAuth2Authentication):
    """DOT's bearer-token authentication (its validator checks expiry and not-before
    watermarks and records activity); its own class so the schema can name its scopes."""

    www_authenticate_realm = "token_admin"

    def authenticate(self, request: Request) -> Any:
        # oauthlib refuses a query string with bad percent-encoding (``?x=%ZZ``), and DOT turns
        # that into a SuspiciousOperation: Django's HTML 400 page, on every request, signed in
        # or not. DRF's JSON 400 instead.
        try:
            return super().authenticate(request)
        except SuspiciousOperation:
            raise ParseError(_("The query string is not valid percent-encoding.")) from None


def bearer_token(request: Request) -> Any | None:
    """The DOT access token the request authenticated with, or None for a session."""
    return request.auth if isinstance(request.auth, get_access_token_model()) else None


class HasScope(BasePermission):
    """A bearer token needs ``view.required_scope(request)``; a session needs no scope."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = bearer_token(request)
        if token is None:
            return True
        scope = view.required_scope(request)
        self.message = _("The token lacks the scope %(scope)s.") % {"scope": scope}
        return bool(token.allow_scopes([scope]))


class IsSignedIn(BasePermission):
    """A person: a signed-in user, or the owner of a user token (an app token has none)."""

    message = gettext_lazy("Only a user's session or a user's token may call this API.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user is not None and user.is_authenticated and user.is_active)


class IsStaff(IsSignedIn):
    """An active staff user, as for the admin site."""

    message = gettext_lazy("Only staff users may call this API.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and bool(request.user.is_staff)


def view_permission(model: Any) -> str:
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


class StaffModelPermission(BasePermission):
    """Read: the view permission of the view's model. Write (a revoke): ``revoke_tokens``, and
    the model's view permission when the revoke names one of its rows (as in the admin)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        model = getattr(view, "permission_model", None)
        needed = [view_permission(model)] if model is not None else []
        if request.method not in SAFE_METHODS:
            needed.append(REVOKE_PERMISSION)
        missing = [perm for perm in needed if not request.user.has_perm(perm)]
        if missing:
            self.message = _("This needs the permission %(permission)s.") % {"permission": missing[0]}
        return not missing


STAFF_PERMISSIONS = (IsStaff, HasScope, StaffModelPermission)
ME_PERMISSIONS = (IsSignedIn, HasScope)
