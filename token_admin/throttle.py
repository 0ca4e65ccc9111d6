"""Failed API-client authentications, throttled per client id and per IP in Django's cache.

A wrong secret costs a full password-hash check (PBKDF2: a large fraction of a second of CPU).
Once a client id or an IP has failed ``END_USER_AUTH_FAILURES_PER_CLIENT`` or
``END_USER_AUTH_FAILURES_PER_IP`` times in the current window of
``END_USER_AUTH_FAILURE_PERIOD`` seconds, further attempts are refused with a 429 *before*
any hash is computed: refusing a guesser costs two cache reads. Only failures count, so a
client that authenticates correctly is never slowed down by its own traffic. Unknown client
ids are counted exactly like known ones (they take the same path, see ``authentication``).

While the cache cannot be reached, failures are counted per IP in this server process only
(``ratelimit.LOCAL_COUNTERS``): a guesser at one address is still slowed down (up to the limit
per process), and refusing every client instead would stop the API and its revocations with
the cache. Per client id they are not counted then: the real client's remembered success is
out with the cache too, so a guesser who filled the client id's count would lock it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from token_admin import ratelimit
from token_admin.conf import conf

SCOPE_CLIENT = "end_user_auth_client"
SCOPE_IP = "end_user_auth_ip"


@dataclass(frozen=True)
class FailedAuthThrottle:
    """The failure counters of one attempt: its client id and its IP."""

    client_id: str
    ip: str

    def _limits(self) -> list[tuple[str, str, int, bool]]:
        """(scope, identity, limit, counted locally while the cache is out) of each count."""
        return [
            (SCOPE_CLIENT, self.client_id, conf.END_USER_AUTH_FAILURES_PER_CLIENT, False),
            (SCOPE_IP, self.ip, conf.END_USER_AUTH_FAILURES_PER_IP, True),
        ]

    def retry_after(self) -> int | None:
        """Seconds to wait if the client id or the IP has used up its failures, else None."""
        period = conf.END_USER_AUTH_FAILURE_PERIOD
        windows = [
            ratelimit.peek(scope, identity, limit=limit, period=period, local=local)
            for scope, identity, limit, local in self._limits()
            if limit > 0
        ]
        waits = [window.reset_in for window in windows if window.used >= window.limit]
        return max(waits) if waits else None

    def record_failure(self) -> None:
        """Count one failed attempt against the client id and the IP."""
        period = conf.END_USER_AUTH_FAILURE_PERIOD
        for scope, identity, limit, local in self._limits():
            if limit > 0:
                ratelimit.hit(scope, identity, limit=limit, period=period, local=local)
