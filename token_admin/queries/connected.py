"""Sessions as people recognise them: the device a session is on, an app's software name,
and the apps a user has connected (the account pages and the end-user API)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from token_admin.models import Device, TokenSession
from token_admin.queries.sessions import ListedSession


def session_device(session: TokenSession) -> Device | None:
    """The device a session is on: the device it was bound to, else the device of its
    dynamically registered client when the session is that device's user's. Another user's
    session on that client is never the device's (a device belongs to one user).

    No query when the session was loaded with ``device`` and ``application__token_admin_device``.
    """
    if session.device is not None:
        return session.device
    device = getattr(session.application, "token_admin_device", None)
    return device if device is not None and device.user_id == session.user_id else None


def software_name(application: Any) -> str:
    """An app as the software is called: its name (for a dynamically registered client, the
    registration's ``client_name``), else its registration's ``software_id``; never the name
    of the device it was registered for. No query when loaded with ``token_admin_device``."""
    if application.name:
        return str(application.name)
    device = getattr(application, "token_admin_device", None)
    return device.software_id if device is not None else ""


@dataclass(frozen=True)
class ConnectedApp:
    """An app the user has authorized, as their live sessions there show it."""

    application: Any
    scopes: tuple[str, ...]
    first_authorized: datetime
    last_used: datetime | None
    sessions: int


def connected_apps(listed: Iterable[ListedSession]) -> list[ConnectedApp]:
    """The apps of a user's live sessions (``end_user_sessions``), by name: the scopes their
    current tokens hold, when the oldest of them began and when one was last used. No query."""
    per_app: dict[Any, list[ListedSession]] = {}
    for item in listed:
        per_app.setdefault(item.session.application_id, []).append(item)
    apps = []
    for items in per_app.values():
        used = [item.session.last_used_at for item in items if item.session.last_used_at is not None]
        apps.append(
            ConnectedApp(
                application=items[0].session.application,
                scopes=tuple(sorted({scope for item in items for scope in item.token_scope.split()})),
                first_authorized=min(item.session.created_at for item in items),
                last_used=max(used) if used else None,
                sessions=len(items),
            )
        )
    return sorted(apps, key=lambda app: (str(app.application.name).casefold(), app.application.pk))
