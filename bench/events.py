"""Revocation events: revoke latency with 10 receivers vs none, and delivery throughput.

``.venv/bin/python bench/events.py [--rounds 7] [--revokes 40] [--events 500]``

Latency: ``revoke()`` of one session (a refresh-token pair), timed call by call, with 10
active webhook receivers against none (either way the outbox is one INSERT ... SELECT that
finds the active receivers and writes their rows). Sides alternate call by call within each
round; issuing the session and switching sides are not timed. The figure is the ratio of medians per round
(10 receivers / none) with its min, median and max; the issue asks for <= 1.05.

Throughput: ``--events`` outbox rows to one loopback receiver (a threaded ``http.server``
answering 202), delivered by one worker (``delivery.drain()``, the code ``deliver_events``
runs), in events per second.

The database is ``DATABASE_URL`` as the tests use it (in-memory SQLite by default);
``REDIS_URL`` puts the cache on Redis.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--revokes", type=int, default=40, help="revocations per side per round")
    parser.add_argument("--events", type=int, default=500, help="events delivered for the throughput")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)

    from tests.event_receiver import Receiver as LoopbackReceiver
    from tests.factories import ApplicationFactory, UserFactory, issue_session
    from token_admin.events import delivery
    from token_admin.events.models import Delivery, Receiver
    from token_admin.revocation import Actor, Selection, Surface, revoke

    user, app = UserFactory(), ApplicationFactory()
    receivers = [Receiver(name=f"rs{n}", url=f"http://127.0.0.1:9/{n}") for n in range(10)]
    for receiver in receivers:
        receiver.save()
    actor = Actor.command("bench")

    def switch(with_receivers: bool) -> None:
        Receiver.objects.update(active=with_receivers)

    def one(with_receivers: bool) -> float:
        """Seconds of one revoke() of one session on this side (switching is not timed)."""
        token = issue_session(user, app)[0]
        switch(with_receivers)
        selection = Selection.tokens([token])
        before = Delivery.objects.count()
        start = time.perf_counter()
        revoke(selection, surface=Surface.COMMAND, actor=actor)
        elapsed = time.perf_counter() - start
        assert Delivery.objects.count() - before == (10 if with_receivers else 0)
        return elapsed

    for _ in range(5):  # warm-up
        one(True), one(False)
    ratios, medians = [], {True: [], False: []}
    for round_number in range(args.rounds):
        # Sides alternate call by call (the shared machine's load swings within a round).
        order = (True, False) if round_number % 2 == 0 else (False, True)
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.revokes):
            for flag in order:
                times[flag].append(one(flag))
        result = {flag: statistics.median(times[flag]) for flag in order}
        for flag in order:
            medians[flag].append(result[flag])
        ratios.append(result[True] / result[False])
    print(f"database: {connection.vendor}; cache: {'redis' if os.environ.get('REDIS_URL') else 'locmem'}")
    print(
        f"revoke latency, median per round: none {statistics.median(medians[False]) * 1e3:.2f} ms, "
        f"10 receivers {statistics.median(medians[True]) * 1e3:.2f} ms"
    )
    print(
        f"ratio 10 receivers / none over {args.rounds} rounds: min {min(ratios):.3f}, "
        f"median {statistics.median(ratios):.3f}, max {max(ratios):.3f} (target <= 1.05)"
    )

    # Throughput: one receiver on loopback, one worker.
    Delivery.objects.all().delete()
    Receiver.objects.all().delete()
    server = LoopbackReceiver()
    Receiver.objects.create(name="loopback", url=server.url)
    tokens = [issue_session(user, app)[0] for _ in range(args.events)]
    for token in tokens:
        revoke(Selection.tokens([token]), surface=Surface.COMMAND, actor=actor)
    start = time.perf_counter()
    outcome = delivery.drain()
    elapsed = time.perf_counter() - start
    server.stop()
    assert outcome.delivered == args.events == len(server.processed), (outcome, len(server.processed))
    print(
        f"delivery: {args.events} events in {elapsed:.2f} s by one worker: "
        f"{args.events / elapsed:.0f} events/s"
    )


if __name__ == "__main__":
    main()
