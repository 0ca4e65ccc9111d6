"""A cache server that is down: ``override_settings(CACHES=UNREACHABLE_CACHES)``.

Django's Redis backend pointed at a port nothing listens on: every cache call raises
``redis.exceptions.ConnectionError`` (connection refused) after redis-py's retries, as when
the server crashed. (``tests/cacheserver.py`` stops, cuts and hangs a real one.)
"""

from __future__ import annotations

import socket


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


UNREACHABLE_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}
