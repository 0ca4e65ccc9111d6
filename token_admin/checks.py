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
from django.core import checks

from .conf import HOOK_SETTINGS, conf

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


REGISTERED = (
    (check_required_apps, checks.Tags.compatibility),
    (check_hooks, checks.Tags.compatibility),
    (check_shared_cache, checks.Tags.caches),
)


def register() -> None:
    for check, tag in REGISTERED:
        checks.register(check, tag, TAG)
