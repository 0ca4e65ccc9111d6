"""The end-user API's ``tokens`` entries, built from a listed session and the integrator's hooks.

Plain functions rather than DRF serializers: ``device_name`` is left out rather than null when
there is none, and the activity fields appear only when a setting turns them on.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from token_admin.conf import conf
from token_admin.models import Device, TokenSession
from token_admin.queries import ListedSession, session_device, software_name

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, in integer arithmetic (no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def session_type(session: TokenSession, device: Device | None) -> str:
    """``SESSION_TYPE_HOOK``'s answer, else the device's type, else ``DEFAULT``."""
    hook = conf.SESSION_TYPE_HOOK
    if hook is not None:
        value = hook(session)
        if value:
            return str(value)
    if device is not None:
        return str(device.type)
    return Device.Type.DEFAULT.value


def token_entry(listed: ListedSession) -> dict[str, Any]:
    """One entry of ``tokens``, for a session as ``queries.end_user_sessions`` lists it."""
    session = listed.session
    # The software's name and, apart, the device's (for a registered device they differ).
    entry: dict[str, Any] = {"id": str(session.public_id), "client_name": software_name(session.application)}
    device = session_device(session)
    if device is not None and device.name:
        entry["device_name"] = device.name
    entry["created_at"] = epoch_millis(session.created_at)
    entry["scopes"] = listed.token_scope.split()
    entry["type"] = session_type(session, device)
    entry["refresh_token_issued"] = session.token_family is not None
    entry["expired"] = listed.token_expired
    if conf.END_USER_ACTIVITY_FIELDS:
        # Documented extra fields, off by default so the contract's exact shape holds.
        entry.update(activity_fields(session))
    return entry


def activity_fields(session: TokenSession) -> dict[str, Any]:
    """The session's last use: null until a token of it authenticates or refreshes."""
    used = session.last_used_at
    return {
        "last_used_at": epoch_millis(used) if used is not None else None,
        "last_ip": session.last_ip,
        "user_agent": (
            {"browser": session.browser, "os": session.os, "device": session.device_family}
            if used is not None
            else None
        ),
    }
