"""Each system check: it stays quiet on a good configuration and speaks on a bad one."""

import pytest
from django.test import override_settings

from token_admin import checks


def ids(messages):
    return [message.id for message in messages]


def test_required_apps_are_installed():
    assert checks.check_required_apps() == []


@pytest.mark.parametrize(
    ("missing", "check_id"), [("oauth2_provider", "token_admin.E001"), ("rest_framework", "token_admin.E002")]
)
def test_missing_required_app(missing, check_id, monkeypatch):
    # Taking the app out of INSTALLED_APPS for real would unload the models that need it.
    real_is_installed = checks.apps.is_installed
    monkeypatch.setattr(checks.apps, "is_installed", lambda name: name != missing and real_is_installed(name))
    messages = checks.check_required_apps()
    assert ids(messages) == [check_id]
    assert messages[0].msg == f"token_admin needs '{missing}' in INSTALLED_APPS."


def test_hooks_that_import_pass():
    with override_settings(TOKEN_ADMIN={"ADN_USER_HOOK": "tests.test_checks.ids"}):
        assert checks.check_hooks() == []


def test_hook_that_does_not_import():
    with override_settings(TOKEN_ADMIN={"ADN_TOKEN_HOOK": "nowhere.hook"}):
        messages = checks.check_hooks()
    assert ids(messages) == ["token_admin.E003"]
    assert "ADN_TOKEN_HOOK" in messages[0].msg


def test_cache_alias_must_exist():
    with override_settings(TOKEN_ADMIN={"CACHE_ALIAS": "missing"}):
        assert ids(checks.check_shared_cache()) == ["token_admin.E004"]


def test_local_memory_cache_warns_outside_debug():
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=caches, DEBUG=False):
        assert ids(checks.check_shared_cache()) == ["token_admin.W001"]
    with override_settings(CACHES=caches, DEBUG=True):
        assert checks.check_shared_cache() == []


def test_redis_cache_is_shared():
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}}
    with override_settings(CACHES=caches, DEBUG=False):
        assert checks.check_shared_cache() == []
