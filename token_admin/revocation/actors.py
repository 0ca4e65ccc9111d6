"""Who asked for a revocation (``Actor``) and through which surface, as the audit records them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from token_admin.models import RevocationEvent

Surface = RevocationEvent.Surface
ActorType = RevocationEvent.ActorType


@dataclass(frozen=True)
class Actor:
    """Who asked for a revocation, as recorded in the audit event."""

    type: str
    label: str
    user: Any = None
    application: Any = None

    @classmethod
    def staff(cls, user: Any) -> Actor:
        return cls(ActorType.STAFF, user.get_username(), user=user)

    @classmethod
    def signed_in_user(cls, user: Any) -> Actor:
        """A signed-in user revoking their own sessions (DOT's authorized-token pages)."""
        return cls(ActorType.USER, user.get_username(), user=user)

    @classmethod
    def api_client(cls, application: Any) -> Actor:
        """An API client of the end-user API, labelled by its app's name."""
        return cls(ActorType.API_CLIENT, app_label(application), application=application)

    @classmethod
    def oauth_client(cls, application: Any) -> Actor:
        """An OAuth client revoking a token it was issued (RFC 7009)."""
        return cls(
            ActorType.OAUTH_CLIENT, f"{application.name} ({application.client_id})", application=application
        )

    @classmethod
    def token(cls, access_token: Any) -> Actor:
        """The calling token revoking itself; labelled by owner and app, never by value."""
        return cls(
            ActorType.TOKEN,
            token_label(access_token),
            user=access_token.user,
            application=access_token.application,
        )

    @classmethod
    def command(cls, label: str) -> Actor:
        return cls(ActorType.COMMAND, label)

    @classmethod
    def policy(cls, label: str) -> Actor:
        """A revocation policy acting on an account event (e.g. a password change)."""
        return cls(ActorType.POLICY, label)

    @classmethod
    def scanner(cls, label: str) -> Actor:
        """Whoever reported leaked tokens (a secret scanner, by key, or an IP)."""
        return cls(ActorType.SCANNER, label)

    @classmethod
    def system(cls, label: str) -> Actor:
        """No person asked: e.g. a user or app is being deleted."""
        return cls(ActorType.SYSTEM, label)


def app_label(application: Any) -> str:
    """An app as people know it: its name (its client id only when it has none)."""
    return str(application.name or application.client_id)


def token_label(access_token: Any) -> str:
    """A token by owner and app: "alice's token in Acc App", "app token of Acc App"; never its value."""
    app = app_label(access_token.application)
    if access_token.user_id:
        return f"{access_token.user.get_username()}'s token in {app}"
    return f"app token of {app}"
