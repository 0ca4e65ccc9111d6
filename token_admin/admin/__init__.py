"""Django admin for token_admin: see and revoke tokens, sessions, devices; read the audit trail.

This module only registers; the admin classes live in one module per model family
(``tokens``, ``applications``, ``sessions``, ``devices``, ``audit``, ``users``, ``not_before``),
with the list filters in ``filters``, the revoking actions' confirmation flow in ``actions``
and the secret-field and big-table mixins in ``mixins``.

Every revoking action goes through ``token_admin.revocation`` (set-based, audited) after a
confirmation page that shows what will be revoked and a typed reason. Revoking needs the
``token_admin.revoke_tokens`` permission on top of the model's view permission.

Registration: on the site ``TOKEN_ADMIN["ADMIN_SITE"]`` names (Django's default site unless
set), when Django's admin autodiscovers this module; with ``None``, nothing is registered and a
project calls ``register(site)`` itself. DOT's stock ``AccessTokenAdmin``, ``RefreshTokenAdmin``
and ``ApplicationAdmin`` are replaced by the subclasses here (DOT's revoke actions loop one token
at a time and write no audit event); its ``IDTokenAdmin`` and ``GrantAdmin`` lose Delete on their
own pages (deleting an ID token deletes its access token, unaudited). A project that configured
its own DOT admin class keeps it; it can subclass the classes here instead. The project's user
admin is wrapped with ``UserTokensAdminMixin``.
"""

from __future__ import annotations

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
import oauth2_provider.admin as dot_admin
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from token_admin.admin.actions import RevocationAdminMixin
from token_admin.admin.applications import ApplicationAdmin, AppProfileAdmin
from token_admin.admin.audit import RevocationEventAdmin
from token_admin.admin.devices import DeviceAdmin
from token_admin.admin.mixins import SecretFieldsAdminMixin, protect_secret_fields
from token_admin.admin.not_before import NotBeforeAdmin
from token_admin.admin.sessions import TokenSessionAdmin
from token_admin.admin.tokens import AccessTokenAdmin, GrantAdmin, IDTokenAdmin, RefreshTokenAdmin
from token_admin.admin.users import UserTokensAdminMixin
from token_admin.conf import conf
from token_admin.events.admin import register as register_events
from token_admin.models import AppProfile, Device, NotBefore, RevocationEvent, TokenSession

__all__ = [
    "AccessTokenAdmin",
    "AppProfileAdmin",
    "ApplicationAdmin",
    "DeviceAdmin",
    "GrantAdmin",
    "IDTokenAdmin",
    "NotBeforeAdmin",
    "RefreshTokenAdmin",
    "RevocationAdminMixin",
    "RevocationEventAdmin",
    "SecretFieldsAdminMixin",
    "TokenSessionAdmin",
    "UserTokensAdminMixin",
    "protect_secret_fields",
    "register",
]


def register(site: admin.AdminSite) -> None:
    """Register token_admin's admins on ``site``: DOT's three stock admins replaced, the user
    admin wrapped, and every admin on the site given the secret-field protection.

    Call it after the site's own registrations (a user admin registered later is not wrapped;
    ``TokenAdminConfig.ready()`` protects admins registered later on the configured site).
    """
    _replace_dot_admin(site, get_access_token_model(), dot_admin.AccessTokenAdmin, AccessTokenAdmin)
    _replace_dot_admin(site, get_refresh_token_model(), dot_admin.RefreshTokenAdmin, RefreshTokenAdmin)
    _replace_dot_admin(site, get_application_model(), dot_admin.ApplicationAdmin, ApplicationAdmin)
    # Kept as DOT has them, less Delete on their own pages (a deleted row revokes, unaudited).
    _replace_dot_admin(site, get_id_token_model(), dot_admin.IDTokenAdmin, IDTokenAdmin)
    _replace_dot_admin(site, get_grant_model(), dot_admin.GrantAdmin, GrantAdmin)
    for model, model_admin in (
        (AppProfile, AppProfileAdmin),
        (TokenSession, TokenSessionAdmin),
        (Device, DeviceAdmin),
        (RevocationEvent, RevocationEventAdmin),
        (NotBefore, NotBeforeAdmin),
    ):
        if not site.is_registered(model):
            site.register(model, model_admin)
    register_events(site)
    _add_to_user_admin(site)
    protect_secret_fields(site)


def _registered(site: admin.AdminSite, model: type[Model]) -> admin.ModelAdmin | None:
    if not site.is_registered(model):
        return None
    get_model_admin = getattr(site, "get_model_admin", None)
    if get_model_admin is not None:
        return get_model_admin(model)
    # Django 4.2 has no public way to read a registered admin (get_model_admin is 5.0's); DOT
    # registered its stock admins there, and replacing them needs to know whether they are.
    return site._registry[model]


def _replace_dot_admin(
    site: admin.AdminSite, model: type[Model], stock: type[admin.ModelAdmin], ours: type[admin.ModelAdmin]
) -> None:
    """Register ``ours`` in place of DOT's stock admin; a project's own admin class is kept."""
    registered = _registered(site, model)
    if registered is not None:
        if type(registered) is not stock:
            return
        site.unregister(model)
    site.register(model, ours)


def _add_to_user_admin(site: admin.AdminSite) -> None:
    """Wrap the registered user admin (the project's own or Django's) in ``UserTokensAdminMixin``."""
    user_model = get_user_model()
    registered = _registered(site, user_model)
    if registered is None or isinstance(registered, UserTokensAdminMixin):
        return
    wrapped = type(
        type(registered).__name__,
        (UserTokensAdminMixin, type(registered)),
        {"__module__": type(registered).__module__, "__doc__": type(registered).__doc__},
    )
    site.unregister(user_model)
    site.register(user_model, wrapped)


if conf.ADMIN_SITE is not None:
    register(conf.ADMIN_SITE)
