"""System checks, registered from ``TokenAdminConfig.ready()``.

Each is registered under Django's tag for what it looks at and under ``TAG``, so that
``manage.py check --tag token_admin`` runs token_admin's alone. There is no check that
``oauth2_provider`` is installed: token_admin's models point at DOT's, so without it Django
stops while importing the models, before any check runs (the id E001 is retired for that).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db.models import CharField, IntegerField, TextField, UUIDField

from token_admin import ids
from token_admin.conf import HOOK_SETTINGS, conf

TAG = "token_admin"


def check_required_apps(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """DRF must be an installed app (its templates and settings), not only importable."""
    if apps.is_installed("rest_framework"):
        return []
    return [
        checks.Error(
            "token_admin needs 'rest_framework' in INSTALLED_APPS.",
            hint="Add 'rest_framework' to INSTALLED_APPS.",
            id="token_admin.E002",
        )
    ]


def check_hooks(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name in HOOK_SETTINGS:
        try:
            conf.hook(name)
        except ImportError as exc:
            errors.append(
                checks.Error(
                    f"TOKEN_ADMIN['{name}'] does not import: {exc}",
                    hint="Give the dotted path of a callable, or None.",
                    id="token_admin.E003",
                )
            )
    return errors


def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    caches = getattr(settings, "CACHES", {})
    alias = conf.CACHE_ALIAS
    if alias not in caches:
        return [
            checks.Error(
                f"TOKEN_ADMIN['CACHE_ALIAS'] names the cache '{alias}', which is not in CACHES.",
                hint="Point CACHE_ALIAS at a configured cache.",
                id="token_admin.E004",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    if backend.endswith(("LocMemCache", "DummyCache")) and not settings.DEBUG:
        return [
            checks.Warning(
                f"The cache '{alias}' ({backend.rsplit('.', 1)[-1]}) is not shared between server "
                "processes: quotas and rate limits are counted per process.",
                hint="Use Redis (django.core.cache.backends.redis.RedisCache) or another shared cache.",
                id="token_admin.W001",
            )
        ]
    return []


# The option of each cache backend that bounds a wait on its server; without it a hung server
# (or a partition that drops packets) holds every request until the operating system gives up.
SOCKET_TIMEOUT_OPTIONS = {
    "django.core.cache.backends.redis.RedisCache": "socket_timeout",
    "django_redis.cache.RedisCache": "SOCKET_TIMEOUT",
    "django.core.cache.backends.memcached.PyMemcacheCache": "timeout",
}


def check_cache_timeout(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The shared cache must give up on a hung server: every check that calls it then fails open
    or degrades to the database, and a revocation never waits on it."""
    cache = getattr(settings, "CACHES", {}).get(conf.CACHE_ALIAS, {})
    option = SOCKET_TIMEOUT_OPTIONS.get(cache.get("BACKEND", ""))
    if option is None or cache.get("OPTIONS", {}).get(option) is not None:
        return []
    return [
        checks.Warning(
            f"The cache '{conf.CACHE_ALIAS}' has no OPTIONS['{option}']: a hung cache server holds "
            "every request that authenticates a token until the operating system gives up.",
            hint=f"Set OPTIONS['{option}'] to a fraction of a second, e.g. 0.5.",
            id="token_admin.W003",
        )
    ]


def check_session_policies(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """UNUSED_SESSION_DAYS and MAX_SESSIONS_PER_USER_APP: None, or a whole number of at least 1."""
    errors: list[checks.CheckMessage] = []
    values: dict[str, int | None] = {}
    for name in ("UNUSED_SESSION_DAYS", "MAX_SESSIONS_PER_USER_APP"):
        try:
            value = values[name] = getattr(conf, name)
        except (TypeError, ValueError):
            value = values[name] = 0
        if value is not None and value < 1:
            errors.append(
                checks.Error(
                    f"TOKEN_ADMIN['{name}'] must be None or a whole number of at least 1.",
                    hint="Leave it out (the policy is off) or give e.g. 365 days / 10 sessions.",
                    id="token_admin.E005",
                )
            )
    if values["UNUSED_SESSION_DAYS"] and not conf.ACTIVITY_TRACKING:
        errors.append(
            checks.Warning(
                "TOKEN_ADMIN['UNUSED_SESSION_DAYS'] is set but ACTIVITY_TRACKING is off: no session "
                "has a last use, so `revoke_tokens --unused` refuses to run.",
                hint="Turn ACTIVITY_TRACKING on, or leave UNUSED_SESSION_DAYS out.",
                id="token_admin.W002",
            )
        )
    return errors


def check_user_model(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """What token_admin needs of ``AUTH_USER_MODEL``: a primary key that ``token_admin.ids`` can
    write into JSON and read back (an integer, a UUID or a string: not a composite key), and
    ``get_username()`` over a ``USERNAME_FIELD`` that is a field of the model (audit labels,
    ``revoke_tokens --user``, the admin's and the events' username lookups). ``is_active`` is
    optional: without the field no deactivation is ever seen."""
    user_model = get_user_model()
    label = user_model._meta.label
    errors: list[checks.CheckMessage] = []
    pk = ids.concrete_field(user_model._meta.pk)
    if not isinstance(pk, (IntegerField, UUIDField, CharField, TextField)):
        errors.append(
            checks.Error(
                f"The user model {label} has a primary key token_admin cannot name in JSON and URLs "
                f"({type(user_model._meta.pk).__name__}).",
                hint="Give the user model an integer, UUID or string primary key.",
                obj=user_model,
                id="token_admin.E006",
            )
        )
    username_field = getattr(user_model, "USERNAME_FIELD", None)
    try:
        user_model._meta.get_field(username_field or "")
        has_username_field = True
    except FieldDoesNotExist:
        has_username_field = False
    if not callable(getattr(user_model, "get_username", None)) or not has_username_field:
        errors.append(
            checks.Error(
                f"The user model {label} needs get_username() and a USERNAME_FIELD that is one of "
                f"its fields (USERNAME_FIELD is {username_field!r}).",
                hint="Subclass django.contrib.auth.models.AbstractBaseUser and set USERNAME_FIELD.",
                obj=user_model,
                id="token_admin.E007",
            )
        )
    return errors


REGISTERED = (
    (check_required_apps, checks.Tags.compatibility),
    (check_hooks, checks.Tags.compatibility),
    (check_shared_cache, checks.Tags.caches),
    (check_cache_timeout, checks.Tags.caches),
    (check_session_policies, checks.Tags.compatibility),
    (check_user_model, checks.Tags.models),
)


def register() -> None:
    for check, tag in REGISTERED:
        checks.register(check, tag, TAG)
