"""System checks, registered from ``TokenAdminConfig.ready()``.

Each is registered under Django's tag for what it looks at and under ``TAG``, so that
``manage.py check --tag token_admin`` runs token_admin's alone; the one that reads the
database (W005) only under Django's ``database`` tag, so that it runs where Django runs its
database checks: ``migrate`` and ``check --database <alias>`` (a check selected by tag is given
every database on Django 6.1, none before). There is no check that
``oauth2_provider`` is installed: token_admin's models point at DOT's, so without it Django
stops while importing the models, before any check runs (the id E001 is retired for that).
E005 (the session policies' values) is retired too: E009 checks every setting's value against
its declaration in ``token_admin.conf``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db import DatabaseError, connections, router
from django.db.models import CharField, IntegerField, TextField, UUIDField

from token_admin import ids
from token_admin.conf import HOOK_SETTINGS, SETTINGS, conf, events_conf, read

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
    if not _settings_readable():
        return []
    for name in HOOK_SETTINGS:
        if not SETTINGS[name].valid():
            continue  # not a dotted path or a callable: check_settings says so (E009)
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
    if not _settings_readable() or not SETTINGS["CACHE_ALIAS"].valid():
        return []
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
    if not _settings_readable() or not SETTINGS["CACHE_ALIAS"].valid():
        return []
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


def _settings_readable() -> bool:
    # TOKEN_ADMIN that is not a dict is check_settings' E010; the other checks then stay quiet.
    return isinstance(getattr(settings, "TOKEN_ADMIN", {}), Mapping)


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every key of ``TOKEN_ADMIN`` is a declared setting (E008) whose value has the declared
    form (E009); ``TOKEN_ADMIN`` itself is a dict (E010)."""
    given = getattr(settings, "TOKEN_ADMIN", {})
    if not isinstance(given, Mapping):
        return [
            checks.Error(
                f"TOKEN_ADMIN is {type(given).__name__}, not a dict.",
                hint='Write TOKEN_ADMIN = {"SETTING": value, ...}, or leave it out.',
                id="token_admin.E010",
            )
        ]
    messages: list[checks.CheckMessage] = []
    for name in given:
        if name in SETTINGS:
            continue
        close = difflib.get_close_matches(str(name), SETTINGS, n=1)
        messages.append(
            checks.Error(
                f"TOKEN_ADMIN has the key {name!r}, which is not a token_admin setting.",
                hint=f"Did you mean '{close[0]}'?"
                if close
                else "The settings are listed in the README's settings reference.",
                id="token_admin.E008",
            )
        )
    for name, setting in SETTINGS.items():
        if name not in given:
            continue  # the defaults are tested against their forms
        problem = setting.problem()
        if problem is not None:
            messages.append(
                checks.Error(
                    f"TOKEN_ADMIN['{name}'] {problem}.",
                    hint=setting.form.hint(given[name]),
                    id="token_admin.E009",
                )
            )
    return messages


def _valid(*names: str) -> bool:
    return _settings_readable() and all(SETTINGS[name].valid() for name in names)


def check_setting_combinations(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Settings that are each right but wrong together. Each looks at valid values only: a wrong
    one is E009's."""
    messages: list[checks.CheckMessage] = []
    if (
        _valid("UNUSED_SESSION_DAYS", "ACTIVITY_TRACKING")
        and read("UNUSED_SESSION_DAYS") is not None
        and not read("ACTIVITY_TRACKING")
    ):
        messages.append(
            checks.Warning(
                "TOKEN_ADMIN['UNUSED_SESSION_DAYS'] is set but ACTIVITY_TRACKING is off: no session "
                "has a last use, so `revoke_tokens --unused` refuses to run.",
                hint="Turn ACTIVITY_TRACKING on, or leave UNUSED_SESSION_DAYS out.",
                id="token_admin.W002",
            )
        )
    if (
        _valid("EVENTS_ISSUER", "EVENTS_ON_COMMIT")
        and not read("EVENTS_ISSUER")
        and read("EVENTS_ON_COMMIT") is not None
    ):
        messages.append(
            checks.Warning(
                "TOKEN_ADMIN['EVENTS_ON_COMMIT'] is set (events are in use) but EVENTS_ISSUER is not: "
                'CAEP and back-channel logout receivers get tokens with iss "", which they refuse.',
                hint='Set EVENTS_ISSUER to your OpenID issuer URL, e.g. "https://id.example.com".',
                id="token_admin.W004",
            )
        )
    if _valid("EVENTS_ISSUER"):
        issuer = read("EVENTS_ISSUER")
        provider = getattr(settings, "OAUTH2_PROVIDER", {})
        dot_issuer = provider.get("OIDC_ISS_ENDPOINT", "") if provider.get("OIDC_ENABLED") else ""
        if issuer and dot_issuer and issuer != dot_issuer:
            messages.append(
                checks.Warning(
                    f"TOKEN_ADMIN['EVENTS_ISSUER'] is {issuer!r} but DOT's OIDC issuer "
                    f"(OAUTH2_PROVIDER['OIDC_ISS_ENDPOINT']) is {dot_issuer!r}: relying parties refuse "
                    "logout tokens from an issuer other than the one that signed them in.",
                    hint=f"Set EVENTS_ISSUER to {dot_issuer!r}.",
                    id="token_admin.W008",
                )
            )
    if (
        _valid("LEAKED_TOKENS_REQUIRE_KEY", "LEAKED_TOKENS_SCANNER_KEYS")
        and read("LEAKED_TOKENS_REQUIRE_KEY")
        and not read("LEAKED_TOKENS_SCANNER_KEYS")
    ):
        messages.append(
            checks.Warning(
                "TOKEN_ADMIN['LEAKED_TOKENS_REQUIRE_KEY'] is on but LEAKED_TOKENS_SCANNER_KEYS is "
                "empty: every leaked-token report is refused (401).",
                hint='Register scanner keys ({"key": "scanner name"}), '
                "or turn LEAKED_TOKENS_REQUIRE_KEY off.",
                id="token_admin.W006",
            )
        )
    if (
        _valid("PASSWORD_CHANGE_KEEPS_APPS", "REVOKE_ON_ACCOUNT_EVENTS")
        and read("PASSWORD_CHANGE_KEEPS_APPS")
        and "password_change" not in conf.REVOKE_ON_ACCOUNT_EVENTS
    ):
        messages.append(
            checks.Warning(
                "TOKEN_ADMIN['PASSWORD_CHANGE_KEEPS_APPS'] is set but REVOKE_ON_ACCOUNT_EVENTS has no "
                '"password_change": a password change revokes nothing, so there is nothing to keep.',
                hint='Add "password_change" to REVOKE_ON_ACCOUNT_EVENTS, '
                "or leave PASSWORD_CHANGE_KEEPS_APPS out.",
                id="token_admin.W007",
            )
        )
    if _valid("EVENTS_ALLOWED_PRIVATE_HOSTS") and read("EVENTS_ALLOWED_PRIVATE_HOSTS") and not settings.DEBUG:
        hosts = ", ".join(sorted(events_conf.ALLOWED_PRIVATE_HOSTS))
        messages.append(
            checks.Warning(
                f"TOKEN_ADMIN['EVENTS_ALLOWED_PRIVATE_HOSTS'] lets event receivers reach {hosts} although "
                "DEBUG is off: a receiver URL naming them can make this server POST to its own network.",
                hint="Leave EVENTS_ALLOWED_PRIVATE_HOSTS out in production; give receivers public addresses.",
                id="token_admin.W009",
            )
        )
    return messages


def check_event_receivers(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Active receivers that are sent signed JWTs (CAEP, back-channel logout) need EVENTS_ISSUER.
    Receivers live in the database, so this runs when Django's checks are given databases
    (``migrate``, ``check --database default``)."""
    if not databases or not _valid("EVENTS_ISSUER") or read("EVENTS_ISSUER"):
        return []
    from token_admin.events.models import Receiver

    jwt_formats = [Receiver.Format.CAEP, Receiver.Format.BACKCHANNEL_LOGOUT]
    messages: list[checks.CheckMessage] = []
    for alias in databases:
        if not router.allow_migrate_model(alias, Receiver):
            continue
        connection = connections[alias]
        try:
            if Receiver._meta.db_table not in connection.introspection.table_names():
                continue  # not migrated yet
            count = Receiver.objects.using(alias).filter(active=True, format__in=jwt_formats).count()
        except DatabaseError:
            continue
        if count:
            messages.append(
                checks.Warning(
                    f"{count} active event receiver(s) in the database '{alias}' get Security Event "
                    "Tokens or logout tokens, but TOKEN_ADMIN['EVENTS_ISSUER'] is not set: they are sent "
                    'with iss "", which the receivers refuse.',
                    hint='Set EVENTS_ISSUER to your OpenID issuer URL, e.g. "https://id.example.com".',
                    id="token_admin.W005",
                )
            )
    return messages


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
    (check_settings, checks.Tags.compatibility),
    (check_setting_combinations, checks.Tags.compatibility),
    (check_event_receivers, checks.Tags.database),
    (check_user_model, checks.Tags.models),
)


def register() -> None:
    for check, tag in REGISTERED:
        if tag == checks.Tags.database:
            checks.register(check, tag)
        else:
            checks.register(check, tag, TAG)
