"""THE read side: what every surface lists and counts, in one place.

* ``tokens``: the one "not a registration token" condition, tokens by raw value (through DOT's
  ``token_checksum``), their refresh-token family;
* ``live``: the one definition of a live session and of "user has authorized app";
* ``sessions``: the tokens of a set of sessions, and the end-user API's list;
* ``connected``: a session's device, an app's software name, a user's connected apps.

Each returns a queryset with the ``select_related`` its callers render, so no surface runs a
query per row. Writes live in ``token_admin.revocation``.
"""

from __future__ import annotations

from token_admin.queries.connected import ConnectedApp, connected_apps, session_device, software_name
from token_admin.queries.live import (
    access_is_live,
    app_user_ids,
    app_user_tokens,
    authorizing_tokens,
    has_authorized,
    live_access_tokens,
    live_refresh_tokens,
    live_session_flags,
    live_sessions,
    not_before_ok,
    refresh_is_live,
    refresh_usable_after,
)
from token_admin.queries.sessions import (
    ListedSession,
    end_user_sessions,
    session_keys,
    session_of_token,
    session_token_conditions,
    sessions_with_state,
    user_devices,
)
from token_admin.queries.tokens import (
    access_tokens,
    bearer_token,
    checksum,
    is_refused,
    is_registration,
    not_registration,
    registration,
    token_by_raw,
    tokens_by_raw,
    valid_access_tokens,
    with_family,
)

__all__ = [
    "bearer_token",
    "is_refused",
    "ConnectedApp",
    "connected_apps",
    "session_device",
    "software_name",
    "sessions_with_state",
    "user_devices",
    "ListedSession",
    "access_is_live",
    "access_tokens",
    "app_user_ids",
    "app_user_tokens",
    "authorizing_tokens",
    "checksum",
    "end_user_sessions",
    "has_authorized",
    "is_registration",
    "live_access_tokens",
    "live_refresh_tokens",
    "live_session_flags",
    "live_sessions",
    "not_before_ok",
    "not_registration",
    "refresh_is_live",
    "refresh_usable_after",
    "registration",
    "session_keys",
    "session_of_token",
    "session_token_conditions",
    "token_by_raw",
    "tokens_by_raw",
    "valid_access_tokens",
    "with_family",
]
