"""token_admin's system checks, run the way Django runs them: ``manage.py check``."""

from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.checks import Tags
from django.core.checks.registry import registry
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import models
from django.test import override_settings
from django.test.utils import isolate_apps

from token_admin import checks

REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://x",
        "OPTIONS": {"socket_timeout": 0.5},
    }
}
LOCAL = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def check(*tags: str) -> str:
    """``manage.py check --tag token_admin``'s output; a SystemCheckError on errors."""
    out = StringIO()
    # tests/settings.py lets the events tests reach loopback, a development setting that W009
    # warns of outside DEBUG (tested in test_settings_checks): these checks run without it.
    current = settings.TOKEN_ADMIN
    if isinstance(current, dict):
        current = {name: value for name, value in current.items() if name != "EVENTS_ALLOWED_PRIVATE_HOSTS"}
    with override_settings(TOKEN_ADMIN=current):
        call_command("check", tag=list(tags or [checks.TAG]), stdout=out, stderr=out)
    return out.getvalue()


def check_errors(**overrides) -> str:
    with override_settings(**overrides), pytest.raises(SystemCheckError) as raised:
        check()
    return str(raised.value)


def test_every_check_is_registered_under_its_django_tag_and_token_admins():
    # The database check only under Django's tag: selected by `--tag token_admin` it would read
    # every database on Django 6.1 (which gives tag-selected checks all of them).
    registered = {fn: fn.tags for fn in registry.get_checks() if fn.__module__ == checks.__name__}
    assert registered == {
        checks.check_required_apps: (Tags.compatibility, "token_admin"),
        checks.check_hooks: (Tags.compatibility, "token_admin"),
        checks.check_shared_cache: (Tags.caches, "token_admin"),
        checks.check_cache_timeout: (Tags.caches, "token_admin"),
        checks.check_settings: (Tags.compatibility, "token_admin"),
        checks.check_setting_combinations: (Tags.compatibility, "token_admin"),
        checks.check_event_receivers: (Tags.database,),
        checks.check_user_model: (Tags.models, "token_admin"),
    }


@override_settings(CACHES=REDIS)
def test_a_good_configuration_passes_quietly():
    assert check() == "System check identified no issues (0 silenced).\n"


@override_settings(CACHES=REDIS)
def test_the_checks_run_with_djangos_own_under_their_django_tags():
    assert check(Tags.compatibility, Tags.caches) == "System check identified no issues (0 silenced).\n"


def test_drf_not_installed_is_an_error():
    # Really taken out of INSTALLED_APPS (Django reloads the app registry): token_admin's models
    # do not need DRF, so the check is what tells.
    installed = [app for app in settings.INSTALLED_APPS if app != "rest_framework"]
    output = check_errors(INSTALLED_APPS=installed, CACHES=REDIS)
    assert "?: (token_admin.E002) token_admin needs 'rest_framework' in INSTALLED_APPS." in output
    assert "HINT: Add 'rest_framework' to INSTALLED_APPS." in output


def test_a_hook_that_does_not_import_is_an_error():
    output = check_errors(TOKEN_ADMIN={"ADN_TOKEN_HOOK": "nowhere.hook"}, CACHES=REDIS)
    assert (
        "(token_admin.E003) TOKEN_ADMIN['ADN_TOKEN_HOOK'] does not import: No module named 'nowhere'"
        in output
    )
    assert "HINT: Give the dotted path of a callable, or None." in output


@override_settings(CACHES=REDIS)
def test_hooks_that_import_pass():
    with override_settings(TOKEN_ADMIN={"ADN_USER_HOOK": "tests.test_checks.check"}):
        assert check() == "System check identified no issues (0 silenced).\n"


@pytest.mark.parametrize(
    ("backend", "option"),
    [
        ("django.core.cache.backends.redis.RedisCache", "socket_timeout"),
        ("django_redis.cache.RedisCache", "SOCKET_TIMEOUT"),
        ("django.core.cache.backends.memcached.PyMemcacheCache", "timeout"),
    ],
)
def test_a_shared_cache_without_a_socket_timeout_warns(backend, option):
    without = {"default": {"BACKEND": backend, "LOCATION": "x"}}
    with override_settings(CACHES=without):
        output = check()
    assert (
        f"?: (token_admin.W003) The cache 'default' has no OPTIONS['{option}']: a hung cache server "
        "holds every request that authenticates a token until the operating system gives up."
    ) in output
    assert f"HINT: Set OPTIONS['{option}'] to a fraction of a second, e.g. 0.5." in output
    with override_settings(CACHES={"default": {**without["default"], "OPTIONS": {option: 0.5}}}):
        assert check() == "System check identified no issues (0 silenced).\n"


def test_the_cache_alias_must_exist():
    output = check_errors(TOKEN_ADMIN={"CACHE_ALIAS": "missing"}, CACHES=REDIS)
    assert (
        "(token_admin.E004) TOKEN_ADMIN['CACHE_ALIAS'] names the cache 'missing', which is not in CACHES."
        in (output)
    )


def test_a_local_memory_cache_warns_outside_debug_only():
    with override_settings(CACHES=LOCAL, DEBUG=False):
        output = check()
    assert (
        "?: (token_admin.W001) The cache 'default' (LocMemCache) is not shared between server processes"
        in (output)
    )
    with override_settings(CACHES=LOCAL, DEBUG=True):
        assert check() == "System check identified no issues (0 silenced).\n"


# --- what the user model must offer ----------------------------------------------------------


@isolate_apps("tests")
def composite_key_user():
    class CompositeUser(AbstractBaseUser):
        pk = models.CompositePrimaryKey("tenant", "email")
        tenant = models.IntegerField()
        email = models.EmailField()
        USERNAME_FIELD = "email"

        class Meta:
            app_label = "tests"

    return CompositeUser


@isolate_apps("tests")
def misnamed_login_user():
    class MisnamedUser(AbstractBaseUser):
        email = models.EmailField(unique=True)
        USERNAME_FIELD = "login"  # not a field

        class Meta:
            app_label = "tests"

    return MisnamedUser


@override_settings(CACHES=REDIS)
def test_a_user_model_with_a_composite_key_is_an_error(monkeypatch):
    monkeypatch.setattr(checks, "get_user_model", composite_key_user)

    with pytest.raises(SystemCheckError) as raised:
        check()

    output = str(raised.value)
    assert (
        "tests.CompositeUser: (token_admin.E006) The user model tests.CompositeUser has a primary key "
        "token_admin cannot name in JSON and URLs (CompositePrimaryKey)."
    ) in output
    assert "HINT: Give the user model an integer, UUID or string primary key." in output
    assert "E007" not in output


@override_settings(CACHES=REDIS)
def test_a_username_field_that_is_not_a_field_is_an_error(monkeypatch):
    monkeypatch.setattr(checks, "get_user_model", misnamed_login_user)

    with pytest.raises(SystemCheckError) as raised:
        check()

    output = str(raised.value)
    assert (
        "tests.MisnamedUser: (token_admin.E007) The user model tests.MisnamedUser needs get_username() "
        "and a USERNAME_FIELD that is one of its fields (USERNAME_FIELD is 'login')."
    ) in output
    assert "HINT: Subclass django.contrib.auth.models.AbstractBaseUser and set USERNAME_FIELD." in output
    assert "E006" not in output


@override_settings(CACHES=REDIS)
def test_the_configured_user_model_passes():
    # Django's own under tests.settings; the UUID, e-mail-login model under tests.settings_host.
    assert checks.check_user_model() == []
    assert check() == "System check identified no issues (0 silenced).\n"
