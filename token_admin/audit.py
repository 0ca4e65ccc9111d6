"""A revocation event as a sentence people read: "alice's 3 sessions in Acc App revoked by
staff bob: stolen laptop".

The sentence comes from what the event recorded when it was written (``selection["affected"]``,
see ``revocation.affected.whose_tokens``, and the actor's label), so it stays true after the users and
apps are gone. It is a list of parts, each plain text or naming a user or an app by id, so
a surface can link the parts whose object still exists (the admin does) and no surface
builds its own wording. Never a token value: the event holds none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import ngettext

from token_admin.models import RevocationEvent

ActorType = RevocationEvent.ActorType

# Actors whose label reads on its own after "revoked by" ("alice's token in Acc App",
# "password change of alice", "deletion of app Stream (…)", "revoke_tokens by root").
_PREFIX = {
    ActorType.STAFF: "staff ",
    ActorType.USER: "the user ",
    ActorType.API_CLIENT: "API client ",
    ActorType.OAUTH_CLIENT: "OAuth client ",
}


@dataclass(frozen=True)
class Part:
    """Text of the sentence; ``kind`` "user" or "app" with ``pk`` when it names one."""

    text: str
    kind: str = ""
    pk: Any = None


def sentence(event: RevocationEvent) -> list[Part]:
    """The event as a sentence, in parts (``"".join(part.text for part in parts)`` is the text)."""
    parts = _subject(event)
    parts.append(Part(" revoked by "))
    parts.append(Part(_PREFIX.get(event.actor_type, "")))  # type: ignore[call-overload]
    if event.actor_type == ActorType.STAFF or event.actor_type == ActorType.USER:
        parts.append(Part(event.actor_label, "user", event.actor_user_id))
    elif event.actor_type in (ActorType.API_CLIENT, ActorType.OAUTH_CLIENT):
        parts.append(Part(event.actor_label, "app", event.actor_application_id))
    else:
        parts.append(Part(event.actor_label))
    if event.reason:
        parts.append(Part(f": {event.reason}"))
    return [part for part in parts if part.text]


def text(event: RevocationEvent) -> str:
    return "".join(part.text for part in sentence(event))


def _subject(event: RevocationEvent) -> list[Part]:
    affected = event.selection.get("affected") if isinstance(event.selection, dict) else None
    if not isinstance(affected, dict):
        # An event from before "affected" was recorded: its counts are all there is.
        return [Part(_counts(event).capitalize())]
    sessions = int(affected.get("sessions") or 0)
    users, apps = affected.get("users") or [], affected.get("apps") or []
    users_total, apps_total = int(affected.get("users_total") or 0), int(affected.get("apps_total") or 0)
    if not sessions:
        return [Part(_counts(event).capitalize())]
    what = ngettext("%(count)d session", "%(count)d sessions", sessions) % {"count": sessions}
    parts: list[Part] = []
    if users_total == 1 and users:
        parts += [Part(str(users[0]["username"]), "user", users[0]["id"]), Part(f"'s {what}")]
    elif users_total > 1:
        parts.append(Part(f"{what} of {users_total} users"))
    else:
        parts.append(Part(what[0].upper() + what[1:]))
    if apps_total == 1 and apps:
        parts += [Part(" in "), Part(str(apps[0]["name"]), "app", apps[0]["id"])]
    elif apps_total > 1:
        parts.append(Part(f" in {apps_total} apps"))
    return parts


def _counts(event: RevocationEvent) -> str:
    counts = [
        (event.access_tokens_revoked, "%(count)d access token", "%(count)d access tokens"),
        (event.refresh_tokens_revoked, "%(count)d refresh token", "%(count)d refresh tokens"),
        (event.grants_revoked, "%(count)d grant", "%(count)d grants"),
    ]
    said = [ngettext(one, many, count) % {"count": count} for count, one, many in counts if count]
    return ", ".join(said) if said else "nothing"
