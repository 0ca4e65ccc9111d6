"""Fixed-window counters in Django's cache, shared by every server process using that cache.

Used for the App.net-style rate limit (per token), the Stack Exchange-style quota
(per IP or key) and the end-user API's failed-authentication throttle (``throttle``).
``cache.incr`` and ``cache.add`` are atomic on Redis and memcached, so two processes never
both see the same count.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import caches

from token_admin.conf import conf


@dataclass(frozen=True)
class Window:
    limit: int
    used: int  # requests counted in this window, this one included
    reset_in: int  # whole seconds until the window starts afresh (at least 1)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit


def hit(scope: str, identity: str, *, limit: int, period: int, now: float | None = None) -> Window:
    """Count one request of ``identity`` (e.g. a token checksum or an IP) in ``scope``."""
    now = time.time() if now is None else now
    key, window_start = _key(scope, identity, period, now)
    cache = caches[conf.CACHE_ALIAS]
    # One round trip in the common case: the window's counter exists already.
    try:
        used = cache.incr(key)
    except ValueError:  # the first request of the window (or the counter just expired)
        used = 1 if cache.add(key, 1, timeout=period + 1) else cache.incr(key)
    reset_in = max(1, math.ceil(window_start + period - now))
    return Window(limit=limit, used=used, reset_in=reset_in)


def peek(scope: str, identity: str, *, limit: int, period: int, now: float | None = None) -> Window:
    """The window of ``identity`` in ``scope`` as it stands, without counting a request."""
    now = time.time() if now is None else now
    key, window_start = _key(scope, identity, period, now)
    used = caches[conf.CACHE_ALIAS].get(key) or 0
    return Window(limit=limit, used=used, reset_in=max(1, math.ceil(window_start + period - now)))


def _key(scope: str, identity: str, period: int, now: float) -> tuple[str, int]:
    window_start = int(now // period) * period
    # Hash the identity: keys stay short and safe for every cache backend (any client id works).
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"token_admin:{scope}:{digest}:{window_start}", window_start
