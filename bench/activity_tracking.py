"""Throughput of an authenticated ``GET /stream/0/token`` with session activity tracking on and off.

``.venv/bin/python bench/activity_tracking.py [--rounds 7] [--requests 2000] [--block 100]``

One user token, requested through Django's test client in this process (in-memory SQLite,
the tests' local-memory cache): tracking off (``ACTIVITY_TRACKING`` False) and on (the
default window, so after the first request of a round every request is within it: one
``cache.add`` and no write), alternated in blocks of ``--block`` requests within each round
so that the shared machine's changing load falls on both sides alike. Each round starts
with a cleared cache and a session last used longer ago than the window, so it pays one
UPDATE, as a token's first use in a window does. Prints requests per second (min / median / max over the
rounds), the on / off ratio at the median (the target is >= 0.95), and the statements per
request on each side. Ratios measured in the same run, never compared across machines.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

try:
    from bench.inprocess import alternate, parse, parser, setup_django, summary
except ImportError:  # run as a script: bench/ is on sys.path, the repository is not
    from inprocess import alternate, parse, parser, setup_django, summary


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--requests", type=int, default=2000, help="requests per round and side")
    arguments.add_argument("--block", type=int, default=100, help="requests per side before switching")
    args = parse(arguments)
    # In-memory SQLite and the local-memory cache: the figure is about the hot path.
    setup_django(unset=("DATABASE_URL", "REDIS_URL"))
    from django.conf import settings
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tests.factories import ApplicationFactory, UserFactory, issue_session
    from token_admin.models import TokenSession

    access, _ = issue_session(UserFactory(), ApplicationFactory())
    client = Client()
    headers = {
        "HTTP_AUTHORIZATION": f"Bearer {access.raw_token}",
        "HTTP_USER_AGENT": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "REMOTE_ADDR": "203.0.113.7",
    }
    original = dict(getattr(settings, "TOKEN_ADMIN", {}))

    def use(tracking: bool) -> None:
        settings.TOKEN_ADMIN = {**original, "ACTIVITY_TRACKING": tracking}
        caches["default"].clear()
        TokenSession.objects.update(last_used_at=timezone.now() - timedelta(days=1))

    def get() -> None:
        response = client.get("/stream/0/token", **headers)
        assert response.status_code == 200, response.content

    statements: dict[str, list[int]] = {}
    for side, tracking in (("off", False), ("on", True)):
        use(tracking)
        counts = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as captured:
                get()
            counts.append(len(captured))
        statements[side] = counts
    for _ in range(200):  # warm up both paths (imports, the user-agent parser's rules)
        get()

    blocks = max(1, args.requests // args.block)
    print(
        f"{args.rounds} rounds of {blocks * args.block} requests per side, "
        f"alternated in blocks of {args.block}",
        flush=True,
    )

    def tracking(on: bool) -> None:
        settings.TOKEN_ADMIN = {**original, "ACTIVITY_TRACKING": on}

    rates = alternate(
        {"off": (lambda: tracking(False), get), "on": (lambda: tracking(True), get)},
        rounds=args.rounds,
        blocks=blocks,
        per_block=args.block,
        before_round=lambda: use(True),  # each round starts a window: its first tracked request writes
        progress=True,
    )

    print("\nGET /stream/0/token, one user token:")
    for side in ("off", "on"):
        print(f"  tracking {side:3}  {summary(rates[side], 'req/s', width='8.0f')}")
    ratio = statistics.median(rates["on"]) / statistics.median(rates["off"])
    print(f"  on / off at the median: {ratio:.3f} (target >= 0.95)")
    # The hot path's own cost, without the rest of the request around it: token_used within
    # the window (settings read, one cache.add that finds the key).
    from token_admin import activity

    settings.TOKEN_ADMIN = {**original, "ACTIVITY_TRACKING": True}
    activity.token_used(access, headers)
    calls = 20_000
    started = time.perf_counter()
    for _ in range(calls):
        activity.token_used(access, headers)
    per_call = (time.perf_counter() - started) / calls
    share = per_call * statistics.median(rates["off"])
    print(f"  token_used within the window: {per_call * 1e6:.1f} us per request ({share:.1%} of one)")
    print(
        "Statements per request, first three of a window: "
        f"off {statements['off']}, on {statements['on']} (the first one with tracking on writes)"
    )
    settings.TOKEN_ADMIN = original


if __name__ == "__main__":
    main()
