"""Authenticated ``GET /stream/0/token`` throughput with not-before watermarks on and off.

``.venv/bin/python bench/not_before.py [--rounds 7] [--requests 2000]``

"On": ``NOT_BEFORE_ENABLED`` with a global, a user and an app watermark set (earlier than
the token, so it is accepted), the cache warm: each request reads the three watermarks from
the cache in one ``get_many`` on top of DOT's one query. "Off": ``NOT_BEFORE_ENABLED`` False,
no cache read. Both run in this process through Django's test client against the same
database (``DATABASE_URL`` as the tests use it, in-memory SQLite by default; ``REDIS_URL``
puts the cache on Redis), in alternated rounds; the figure is the ratio on/off of requests
per second per round, with its min, median and max. The issue asks for a median >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000, help="requests per side per round")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_databases, setup_test_environment
    from django.utils import timezone

    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)

    from tests.factories import ApplicationFactory, UserFactory, issue_session
    from token_admin.not_before import set_not_before
    from token_admin.watermarks import Scope

    user, app = UserFactory(), ApplicationFactory()
    earlier = timezone.now() - timedelta(days=1)
    set_not_before(Scope.GLOBAL, when=earlier, set_by="bench")
    set_not_before(Scope.USER, user, when=earlier, set_by="bench")
    set_not_before(Scope.APP, app, when=earlier, set_by="bench")
    token, _ = issue_session(user, app)
    client = Client()
    header = {"HTTP_AUTHORIZATION": f"Bearer {token.raw_token}"}

    # token_admin reads its settings on use: flipping the one key switches the side, with
    # nothing else (override_settings would send setting_changed each time) in between.
    token_admin_settings = {"NOT_BEFORE_ENABLED": True, "ADN_RATE_LIMIT": 10**9}
    override_settings(TOKEN_ADMIN=token_admin_settings).enable()

    def block(enabled: bool, requests: int) -> float:
        """Seconds for ``requests`` requests on one side."""
        token_admin_settings["NOT_BEFORE_ENABLED"] = enabled
        assert client.get("/stream/0/token", **header).status_code == 200  # warms the cache
        start = time.perf_counter()
        for _ in range(requests):
            client.get("/stream/0/token", **header)
        return time.perf_counter() - start

    from token_admin import watermarks

    # The "on" side really reads the three watermarks (the latest of them applies).
    assert watermarks.applicable(user.pk, app.pk) is not None
    block(True, 100), block(False, 100)  # warm-up: imports, caches, connection
    # Each round alternates the sides in BLOCKS short blocks (the first side alternating
    # too), so a change of load on this shared machine falls on both sides alike.
    blocks = 10
    per_block = max(1, args.requests // blocks)
    on_rates, off_rates, ratios = [], [], []
    for round_ in range(args.rounds):
        seconds = {True: 0.0, False: 0.0}
        for index in range(blocks):
            first = (round_ + index) % 2 == 0
            for enabled in (first, not first):
                seconds[enabled] += block(enabled, per_block)
        on, off = per_block * blocks / seconds[True], per_block * blocks / seconds[False]
        on_rates.append(on)
        off_rates.append(off)
        ratios.append(on / off)

    def row(values: list[float], unit: str) -> str:
        return (
            f"min {min(values):8.2f}  median {statistics.median(values):8.2f}  max {max(values):8.2f} {unit}"
        )

    print(
        f"GET /stream/0/token, {connection.vendor}, {args.requests} requests x {args.rounds} rounds per side"
    )
    print(f"  watermarks on : {row(on_rates, 'req/s')}")
    print(f"  watermarks off: {row(off_rates, 'req/s')}")
    print(f"  ratio on/off  : {row(ratios, '')}  (target >= 0.95)")


if __name__ == "__main__":
    main()
