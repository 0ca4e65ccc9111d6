"""Cache servers that fail: ``override_settings(CACHES=UNREACHABLE_CACHES)``, or ``hung_caches()``.

Django's Redis backend pointed at a port nothing listens on (every call raises
``redis.exceptions.ConnectionError``: connection refused, as when the server crashed), or at
a socket that accepts connections and never answers (a hung server, or a partition that
drops packets: each call raises ``redis.exceptions.TimeoutError`` after the socket timeout).
No retries, so each call fails after one attempt. (``tests/cacheserver.py`` stops, cuts and
hangs a real server.)
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from redis.backoff import NoBackoff
from redis.retry import Retry


def _caches(port: int) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.3, "retry": Retry(NoBackoff(), 0)},
        }
    }


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


UNREACHABLE_CACHES = _caches(_closed_port())


@contextlib.contextmanager
def hung_caches() -> Iterator[dict[str, Any]]:
    """CACHES whose server takes connections (the kernel completes them) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield _caches(int(listener.getsockname()[1]))
