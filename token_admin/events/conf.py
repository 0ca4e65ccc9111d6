"""Settings of the events package, read on use from ``settings.TOKEN_ADMIN`` (``EVENTS_*``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    "EVENTS_ISSUER": "",
    "EVENTS_TIMEOUT_SECONDS": 10.0,
    "EVENTS_RETRY_BASE_SECONDS": 5.0,
    "EVENTS_RETRY_MAX_SECONDS": 3600.0,
    "EVENTS_DEADLINE_SECONDS": 3 * 86400,
    "EVENTS_LEASE_SECONDS": 300,
    "EVENTS_BATCH_SIZE": 50,
    "EVENTS_RETENTION_SECONDS": 7 * 86400,
    "EVENTS_WEBHOOK_MAX_SESSIONS": 1000,
    "EVENTS_ON_COMMIT": None,
}


class EventSettings:
    def _get(self, name: str) -> Any:
        return getattr(settings, "TOKEN_ADMIN", {}).get(name, DEFAULTS[name])

    @property
    def ISSUER(self) -> str:
        """``iss`` of Security Event Tokens and logout tokens (your OpenID issuer URL)."""
        return str(self._get("EVENTS_ISSUER"))

    @property
    def TIMEOUT_SECONDS(self) -> float:
        """Connect and read timeout of one HTTP delivery."""
        return float(self._get("EVENTS_TIMEOUT_SECONDS"))

    @property
    def RETRY_BASE_SECONDS(self) -> float:
        """First retry after about this long; each later one waits twice as long (with jitter)."""
        return float(self._get("EVENTS_RETRY_BASE_SECONDS"))

    @property
    def RETRY_MAX_SECONDS(self) -> float:
        """Longest wait between two attempts."""
        return float(self._get("EVENTS_RETRY_MAX_SECONDS"))

    @property
    def DEADLINE_SECONDS(self) -> float:
        """An event not delivered this long after its revocation is marked failed."""
        return float(self._get("EVENTS_DEADLINE_SECONDS"))

    @property
    def LEASE_SECONDS(self) -> float:
        """A claimed row is another worker's again after this long (a worker that died)."""
        return float(self._get("EVENTS_LEASE_SECONDS"))

    @property
    def BATCH_SIZE(self) -> int:
        """Rows one worker claims at a time (at most one per receiver, to keep their order)."""
        return max(1, int(self._get("EVENTS_BATCH_SIZE")))

    @property
    def RETENTION_SECONDS(self) -> float:
        """``prune_tokens`` deletes delivered (and failed) rows older than this."""
        return float(self._get("EVENTS_RETENTION_SECONDS"))

    @property
    def WEBHOOK_MAX_SESSIONS(self) -> int:
        """Most session ids one webhook body lists (``sessions_total`` counts them all)."""
        return int(self._get("EVENTS_WEBHOOK_MAX_SESSIONS"))

    @property
    def ON_COMMIT(self) -> Callable[[], Any] | None:
        """Called (a dotted path or a callable) after a revocation that wrote outbox rows
        commits, e.g. ``"token_admin.events.tasks.enqueue"`` to wake a Celery worker at once.
        An error it raises is logged, never seen by the revoking request."""
        value = self._get("EVENTS_ON_COMMIT")
        if value is None or callable(value):
            return value
        return import_string(value)


events_conf = EventSettings()
