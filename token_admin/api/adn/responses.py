"""The App.net App, User and Token objects, built from DOT's models and the integrator's hooks.

Plain functions rather than DRF serializers: which keys appear depends on the token kind
and on what the hooks supply, and a key nobody supplies is left out, never faked.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from token_admin.conf import conf

# Keys of the Token object that only the ADN_TOKEN_HOOK can supply.
TOKEN_HOOK_KEYS = ("limits", "storage", "invite_link")


def iso_date(value: datetime) -> str:
    """App.net's date format: ISO 8601 in UTC to the second, ``2012-12-31T13:22:55Z``."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def app_object(application: Any) -> dict[str, Any]:
    """``{"client_id", "link", "name"}``; ``link`` is "" for an app without a profile."""
    try:
        link = application.token_admin_profile.link
    except ObjectDoesNotExist:
        link = ""
    return {"client_id": application.client_id, "link": link, "name": application.name}


def user_name(user: Any) -> str:
    """App.net's ``name`` (a full name, may be ""): ``get_full_name()``, else ``get_short_name()``,
    else "" (Django's ``AbstractBaseUser`` has neither; ``ADN_USER_HOOK`` can give one)."""
    for method in ("get_full_name", "get_short_name"):
        get_name = getattr(user, method, None)
        if callable(get_name):
            return str(get_name() or "")
    return ""


def user_object(user: Any) -> dict[str, Any]:
    """The User object: the Django user's fields, then what ``ADN_USER_HOOK`` returns, whose keys
    win (a project whose user model has no full name gives ``name`` this way)."""
    data: dict[str, Any] = {
        "id": str(user.pk),
        "username": user.get_username(),
        "name": user_name(user),
        "type": "human",
    }
    date_joined = getattr(user, "date_joined", None)
    if date_joined is not None:
        data["created_at"] = iso_date(date_joined)
    hook = conf.ADN_USER_HOOK
    if hook is not None:
        data.update(hook(user) or {})
    return data


def token_scopes(token: Any) -> list[str]:
    """The token's scopes; scopes do not apply to app tokens, which always have none."""
    return token.scope.split() if token.user_id is not None else []


def token_object(token: Any) -> dict[str, Any]:
    """The Token object of a DOT access token (user token or app token)."""
    app = app_object(token.application)
    data: dict[str, Any] = {"app": app, "client_id": app["client_id"], "scopes": token_scopes(token)}
    if token.user_id is None:
        return data
    data["user"] = user_object(token.user)
    hook = conf.ADN_TOKEN_HOOK
    if hook is not None:
        supplied = hook(token) or {}
        data.update({key: supplied[key] for key in TOKEN_HOOK_KEYS if supplied.get(key) is not None})
    return data
