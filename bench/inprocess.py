"""What the in-process benchmarks share (activity_tracking, not_before, end_user_auth).

Each runs Django's test client in its own process on the tests' settings and a fresh test
database, alternates the two sides it compares so that the shared machine's changing load
falls on both alike, and prints min / median / max over at least five rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_ROUNDS = 5


def setup_django(*, unset: Sequence[str] = ()) -> None:
    """Django on ``tests.settings`` with its test database created (``unset``: environment
    variables to drop first, e.g. DATABASE_URL for in-memory SQLite)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    for name in unset:
        os.environ.pop(name, None)

    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)


def parser(doc: str, rounds: int = 7) -> argparse.ArgumentParser:
    """An argument parser described by the first line of ``doc``, with ``--rounds``."""
    parsed = argparse.ArgumentParser(description=doc.splitlines()[0])
    parsed.add_argument(
        "--rounds", type=int, default=rounds, help=f"alternated rounds (at least {MIN_ROUNDS})"
    )
    return parsed


def parse(parsed: argparse.ArgumentParser) -> argparse.Namespace:
    args = parsed.parse_args()
    if args.rounds < MIN_ROUNDS:
        parsed.error(f"--rounds must be at least {MIN_ROUNDS}")
    return args


def summary(values: Sequence[float], unit: str, *, scale: float = 1.0, width: str = "8.2f") -> str:
    scaled = [value * scale for value in values]
    low, median, high = min(scaled), statistics.median(scaled), max(scaled)
    return f"min {low:{width}}  median {median:{width}}  max {high:{width}} {unit}".rstrip()


Side = tuple[Callable[[], None], Callable[[], None]]


def alternate(
    sides: dict[str, Side],
    *,
    rounds: int,
    blocks: int,
    per_block: int,
    before_round: Callable[[], None] | None = None,
    progress: bool = False,
) -> dict[str, list[float]]:
    """Calls per second of each side, one figure per round.

    ``sides``: name -> (prepare, call); ``prepare`` runs untimed before each of that side's
    blocks, then ``call`` runs ``per_block`` times on the clock. Within a round the sides take
    turns block by block, and which goes first swaps every block and every round.
    """
    names = list(sides)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        if before_round is not None:
            before_round()
        elapsed = dict.fromkeys(names, 0.0)
        for block in range(blocks):
            shift = (round_number + block) % len(names)
            for name in names[shift:] + names[:shift]:
                prepare, call = sides[name]
                prepare()
                started = time.perf_counter()
                for _ in range(per_block):
                    call()
                elapsed[name] += time.perf_counter() - started
        for name in names:
            rates[name].append(blocks * per_block / elapsed[name])
        if progress:
            print(f"  round {round_number + 1}/{rounds} done", flush=True)
    return rates
