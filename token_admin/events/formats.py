"""The three wire formats. Each turns a claimed ``Delivery`` into HTTP requests.

* Standard Webhooks: one POST, a JSON body, ``webhook-id``/``-timestamp``/``-signature``
  (v1, HMAC-SHA256, signed by the ``standardwebhooks`` library);
* CAEP ``session-revoked``: one Security Event Token per session (RFC 8417, subject = the
  session's public id), pushed as ``application/secevent+jwt`` (RFC 8935);
* OIDC back-channel logout: one logout token per session of a user, form-posted as
  ``logout_token`` to the app's ``backchannel_logout_uri``.

A body names sessions by public id, users by id and username, apps by client id and name:
never a token value or checksum.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from django.contrib.auth import get_user_model
from django.db.models import Q
from oauth2_provider.models import get_refresh_token_model
from standardwebhooks.webhooks import Webhook

from token_admin import ids
from token_admin.events.conf import events_conf
from token_admin.events.models import Delivery, Receiver
from token_admin.models import TokenSession

WEBHOOK_TYPE = "token_admin.session.revoked"
CAEP_SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout"

# Why, in words a receiver can act on (the free-text reason stays in the audit trail).
REASON_CATEGORY = {
    "admin": "administrative",
    "command": "administrative",
    "policy": "account_change",
    "leak_report": "credential_leak",
    "deletion": "account_or_app_deleted",
    "end_user": "user_request",
}
# CAEP's initiating_entity: "admin", "user", "policy" or "system".
INITIATING_ENTITY = {
    "staff": "admin",
    "command": "admin",
    "user": "user",
    "token": "user",
    "api_client": "user",
    "oauth_client": "user",
    "policy": "policy",
    "scanner": "system",
    "system": "system",
}


@dataclass(frozen=True)
class Request:
    body: bytes
    headers: dict[str, str]


def reason_category(event: Any) -> str:
    if event.actor_type == "user":
        return "user_request"
    return REASON_CATEGORY.get(event.surface, "client_request")


def resolve_sessions(delivery: Delivery) -> list[list[Any]]:
    """The sessions this delivery's revocation ended, as [public id, user id, username,
    client id, app name], once: kept in the row so every retry sends the same body.

    A session with a refresh token is one whose family was revoked at the revocation's
    instant (the service stamps them with the event's time); a lone access token's session
    is found by the checksum the outbox row kept.
    """
    if "sessions" in delivery.context:
        return list(delivery.context["sessions"])
    event = delivery.revocation_event
    families = (
        get_refresh_token_model()
        .objects.filter(revoked=event.created_at, token_family__isnull=False)
        .values("token_family")
    )
    condition = Q(token_family__in=families)
    if delivery.context.get("lone"):
        condition |= Q(access_token_checksum__in=delivery.context["lone"])
    sessions = TokenSession.objects.filter(condition)
    if delivery.receiver.application_id is not None:
        sessions = sessions.filter(application_id=delivery.receiver.application_id)
    username = f"user__{get_user_model().USERNAME_FIELD}"
    rows = [
        [str(public_id), ids.to_json(user_id), name, client_id, app_name]
        for public_id, user_id, name, client_id, app_name in sessions.order_by("pk").values_list(
            "public_id", "user_id", username, "application__client_id", "application__name"
        )
    ]
    delivery.context = {"sessions": rows}
    Delivery.objects.filter(pk=delivery.pk).update(context=delivery.context)
    return rows


def build(delivery: Delivery, now: datetime) -> list[Request]:
    """The requests that deliver ``delivery`` (none when it has nothing for its receiver)."""
    sessions = resolve_sessions(delivery)
    receiver = delivery.receiver
    if receiver.format == Receiver.Format.WEBHOOK:
        return [webhook(delivery, sessions, now)]
    if receiver.format == Receiver.Format.CAEP:
        return [security_event_token(delivery, session, now) for session in sessions]
    return [logout_token(delivery, session, now) for session in sessions if session[1] is not None]


def webhook_body(delivery: Delivery, sessions: list[list[Any]]) -> dict[str, Any]:
    event = delivery.revocation_event
    affected = event.selection.get("affected", {})
    users = {row[1]: row[2] for row in sessions if row[1] is not None}
    apps = {row[3]: row[4] for row in sessions}
    if delivery.receiver.application_id is None:
        counts = {
            "sessions": affected.get("sessions", len(sessions)),
            "access_tokens": event.access_tokens_revoked,
            "refresh_tokens": event.refresh_tokens_revoked,
            "grants": event.grants_revoked,
        }
    else:
        # An app's receiver hears of its own app only.
        mine = [
            app for app in affected.get("apps", []) if str(app["id"]) == str(delivery.receiver.application_id)
        ]
        counts = {
            "sessions": len(sessions),
            "access_tokens": mine[0]["access_tokens"] if mine else 0,
            "refresh_tokens": mine[0]["refresh_tokens"] if mine else 0,
        }
    limit = events_conf.WEBHOOK_MAX_SESSIONS
    return {
        "type": WEBHOOK_TYPE,
        "timestamp": _iso(event.created_at),
        "data": {
            "revocation_id": event.pk,
            "revoked_at": _iso(event.created_at),
            "reason_category": reason_category(event),
            "initiated_by": INITIATING_ENTITY.get(event.actor_type, "system"),
            "sessions": [{"id": row[0], "user_id": row[1], "client_id": row[3]} for row in sessions[:limit]],
            "sessions_total": len(sessions),
            "users": [{"id": pk, "username": name} for pk, name in sorted(users.items(), key=str)],
            "apps": [{"client_id": client_id, "name": name} for client_id, name in sorted(apps.items())],
            "counts": counts,
        },
    }


def webhook(delivery: Delivery, sessions: list[list[Any]], now: datetime) -> Request:
    body = json.dumps(webhook_body(delivery, sessions), separators=(",", ":"))
    msg_id = f"msg_{delivery.event_id.hex}"
    # During a rotation both secrets sign: a receiver that knows either one accepts it.
    signatures = [
        Webhook(secret).sign(msg_id, now, body) for secret in delivery.receiver.signing_secrets(now)
    ]
    return Request(
        body.encode(),
        {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": " ".join(signatures),
        },
    )


def security_event_token(delivery: Delivery, session: list[Any], now: datetime) -> Request:
    event = delivery.revocation_event
    receiver = delivery.receiver
    claims = {
        "iss": events_conf.ISSUER,
        "jti": str(uuid.uuid5(delivery.event_id, session[0])),
        "iat": int(now.timestamp()),
        "aud": receiver.audience or receiver.url,
        "sub_id": {"format": "opaque", "id": session[0]},
        "events": {
            CAEP_SESSION_REVOKED: {
                "event_timestamp": int(event.created_at.timestamp()),
                "initiating_entity": INITIATING_ENTITY.get(event.actor_type, "system"),
                "reason_admin": {"en": reason_category(event)},
            }
        },
    }
    token = jwt.encode(
        claims,
        receiver.secret,
        algorithm=receiver.algorithm,
        headers={"typ": "secevent+jwt", "kid": receiver.key_id},
    )
    return Request(token.encode(), {"Content-Type": "application/secevent+jwt", "Accept": "application/json"})


def logout_token(delivery: Delivery, session: list[Any], now: datetime) -> Request:
    receiver = delivery.receiver
    claims = {
        "iss": events_conf.ISSUER,
        "aud": session[3],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=2)).timestamp()),
        "jti": str(uuid.uuid5(delivery.event_id, "backchannel:" + session[0])),
        # DOT's OpenID Connect ``sub`` is the user's primary key.
        "sub": str(session[1]),
        "sid": session[0],
        "events": {BACKCHANNEL_LOGOUT: {}},
    }
    token = jwt.encode(
        claims,
        receiver.secret,
        algorithm=receiver.algorithm,
        headers={"typ": "logout+jwt", "kid": receiver.key_id},
    )
    return Request(
        urlencode({"logout_token": token}).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
