"""How token_admin's admins are registered: on the site TOKEN_ADMIN["ADMIN_SITE"] names (or none),
or on any site through ``token_admin.admin.register``; the confirmation page's template."""

from __future__ import annotations

import importlib

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.template.loader import get_template
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

import token_admin.admin
from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.helpers import changelist_url
from token_admin.admin import (
    AccessTokenAdmin,
    ApplicationAdmin,
    NotBeforeAdmin,
    RefreshTokenAdmin,
    SecretFieldsAdminMixin,
    TokenSessionAdmin,
    UserTokensAdminMixin,
    register,
)
from token_admin.conf import conf
from token_admin.models import NotBefore, TokenSession

#: A project's own site, named by dotted path in a test below.
PROJECT_SITE = admin.AdminSite(name="project_admin")


def test_register_puts_every_admin_on_a_project_site_and_wraps_its_user_admin():
    site = admin.AdminSite(name="elsewhere")
    site.register(get_user_model(), UserAdmin)

    register(site)

    assert type(site.get_model_admin(get_access_token_model())) is AccessTokenAdmin
    assert type(site.get_model_admin(get_refresh_token_model())) is RefreshTokenAdmin
    assert type(site.get_model_admin(get_application_model())) is ApplicationAdmin
    # Wrapped in SecretFieldsAdminMixin, as every admin of the site.
    assert isinstance(site.get_model_admin(TokenSession), TokenSessionAdmin)
    assert isinstance(site.get_model_admin(NotBefore), NotBeforeAdmin)
    user_admin = site.get_model_admin(get_user_model())
    assert isinstance(user_admin, UserTokensAdminMixin) and isinstance(user_admin, SecretFieldsAdminMixin)
    # Registering twice changes nothing (a project may call it after autodiscover did).
    before = dict(site._registry)
    register(site)
    assert {model: type(registered) for model, registered in site._registry.items()} == {
        model: type(registered) for model, registered in before.items()
    }


def test_a_project_admin_class_for_a_dot_model_is_kept():
    class OwnApplicationAdmin(admin.ModelAdmin):
        pass

    site = admin.AdminSite(name="own")
    site.register(get_application_model(), OwnApplicationAdmin)

    register(site)

    registered = site.get_model_admin(get_application_model())
    assert isinstance(registered, OwnApplicationAdmin) and isinstance(registered, SecretFieldsAdminMixin)
    assert not isinstance(registered, ApplicationAdmin)


def test_admin_site_setting_names_the_site_or_none(settings):
    assert conf.ADMIN_SITE is admin.site  # the default
    settings.TOKEN_ADMIN = {"ADMIN_SITE": None}
    assert conf.ADMIN_SITE is None
    settings.TOKEN_ADMIN = {"ADMIN_SITE": "tests.test_admin_registration.PROJECT_SITE"}
    assert conf.ADMIN_SITE is PROJECT_SITE


def test_the_admin_module_registers_on_the_configured_site_only(settings):
    settings.TOKEN_ADMIN = {"ADMIN_SITE": "tests.test_admin_registration.PROJECT_SITE"}
    default_before = dict(admin.site._registry)
    try:
        importlib.reload(token_admin.admin)
        assert type(PROJECT_SITE.get_model_admin(get_access_token_model())) is AccessTokenAdmin
        assert admin.site._registry == default_before

        settings.TOKEN_ADMIN = {"ADMIN_SITE": None}
        for model in list(PROJECT_SITE._registry):
            PROJECT_SITE.unregister(model)
        importlib.reload(token_admin.admin)
        assert PROJECT_SITE._registry == {} and admin.site._registry == default_before
    finally:
        settings.TOKEN_ADMIN = {}
        importlib.reload(token_admin.admin)  # registers nothing new on the default site: all there


class OwnConfirmationTokenAdmin(AccessTokenAdmin):
    revoke_confirmation_template = "admin/token_admin/own_revoke_confirmation.html"


@pytest.mark.django_db
def test_revoke_confirmation_template_replaces_the_confirmation_page(rf, monkeypatch):
    revoker = UserFactory(is_staff=True, is_superuser=True)
    token, _ = issue_session(UserFactory(), ApplicationFactory())
    model_admin = OwnConfirmationTokenAdmin(get_access_token_model(), admin.site)
    rendered: list[str] = []
    monkeypatch.setattr(
        "token_admin.admin.actions.TemplateResponse",
        lambda request, template, context: rendered.append(template) or template,
    )
    request = rf.post(changelist_url(get_access_token_model()), {"action": "x"})
    request.user = revoker

    model_admin.revoke_selected_tokens(request, get_access_token_model().objects.filter(pk=token.pk))

    assert rendered == ["admin/token_admin/own_revoke_confirmation.html"]
    assert get_template("admin/token_admin/revoke_confirmation.html")  # the default still exists
