"""Authenticated ``GET /stream/0/token`` throughput with not-before watermarks on and off.

``.venv/bin/python bench/not_before.py [--rounds 7] [--requests 2000]``

"On": ``NOT_BEFORE_ENABLED`` with a global, a user and an app watermark set (earlier than
the token, so it is accepted): each request reads the three watermarks in DOT's one query
(three indexed subqueries). "Off": ``NOT_BEFORE_ENABLED`` False, DOT's query alone. Both run
in this process through Django's test client against the same database (``DATABASE_URL`` as
the tests use it, in-memory SQLite by default), in alternated rounds; the figure is the ratio
on/off of requests per second per round, with its min, median and max; the target
is a median >= 0.95.
"""

from __future__ import annotations

from datetime import timedelta

try:
    from bench.inprocess import alternate, parse, parser, setup_django, summary
except ImportError:  # run as a script: bench/ is on sys.path, the repository is not
    from inprocess import alternate, parse, parser, setup_django, summary


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--requests", type=int, default=2000, help="requests per side per round")
    args = parse(arguments)
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils import timezone

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

    def get() -> None:
        client.get("/stream/0/token", **header)

    def switch(enabled: bool) -> None:
        token_admin_settings["NOT_BEFORE_ENABLED"] = enabled
        assert client.get("/stream/0/token", **header).status_code == 200

    from token_admin import watermarks

    # The "on" side really reads the three watermarks (the latest of them applies).
    assert watermarks.applicable(user.pk, app.pk) is not None
    for enabled in (True, False):  # warm-up: imports, caches, connection
        switch(enabled)
        for _ in range(100):
            get()
    blocks = 10
    rates = alternate(
        {"on": (lambda: switch(True), get), "off": (lambda: switch(False), get)},
        rounds=args.rounds,
        blocks=blocks,
        per_block=max(1, args.requests // blocks),
    )
    ratios = [on / off for on, off in zip(rates["on"], rates["off"], strict=True)]

    print(
        f"GET /stream/0/token, {connection.vendor}, {args.requests} requests x {args.rounds} rounds per side"
    )
    print(f"  watermarks on : {summary(rates['on'], 'req/s')}")
    print(f"  watermarks off: {summary(rates['off'], 'req/s')}")
    print(f"  ratio on/off  : {summary(ratios, '')}  (target >= 0.95)")


if __name__ == "__main__":
    main()
