"""Failed Basic authentications on the end-user API, before and after the failure throttle and dummy hash.

``.venv/bin/python bench/end_user_auth.py [--rounds 5] [--tries 200] [--iterations 100000] [--base main]``

"Before" is ``token_admin/api/end_user/authentication.py`` as it is at ``--base`` (read with
``git show``, loaded beside the current one); "after" is the working tree's. Both run in this
process on the same SQLite database, through Django's test client, in alternated rounds.

* **Throughput of failed attempts**: wrong secrets for one known client id from one IP.
  Before, each costs a hash check; after, once the client id has used its
  ``END_USER_AUTH_FAILURES_PER_CLIENT`` failures, each is a 429 without one.
* **Timing gap, unknown vs known client id** (wrong secret each time, throttle off so every
  attempt reaches the check): the median over ``--tries`` tries of each, split over the rounds.

Secrets are hashed with PBKDF2-SHA256 at ``--iterations`` (Django 5.2's default is 1,000,000,
about 0.6 s per check here; fewer keep the run short, and the gap scales with the cost). The
figures are ratios and differences measured in the same run, never compared across machines.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
os.environ.pop("DATABASE_URL", None)  # in-memory SQLite: the figures are about hashing, not SQL

MODULE = "token_admin/api/end_user/authentication.py"
HASHER = "bench.end_user_auth.BenchPBKDF2Hasher"


def load_baseline(ref: str) -> Any:
    """The authentication module as it is at ``ref``, importable beside the current one."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:{MODULE}"], check=True, capture_output=True, text=True
    ).stdout
    name = "token_admin.api.end_user._baseline_authentication"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "token_admin.api.end_user"
    sys.modules[name] = module
    exec(compile(source, f"{ref}:{MODULE}", "exec"), module.__dict__)
    return module


def summary(values: list[float], unit: str, scale: float = 1.0) -> str:
    scaled = [value * scale for value in values]
    return f"min {min(scaled):9.2f}  median {statistics.median(scaled):9.2f}  max {max(scaled):9.2f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tries", type=int, default=200, help="tries per client id and version")
    parser.add_argument("--iterations", type=int, default=100_000, help="PBKDF2 iterations")
    parser.add_argument("--throughput-attempts", type=int, default=200)
    parser.add_argument("--base", default="main", help="git ref of the 'before' version")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.test import Client
    from django.test.utils import override_settings, setup_databases, setup_test_environment

    class BenchPBKDF2Hasher(PBKDF2PasswordHasher):
        iterations = args.iterations

    # PASSWORD_HASHERS names it by dotted path: this script is that module, run as __main__.
    globals()["BenchPBKDF2Hasher"] = BenchPBKDF2Hasher
    sys.modules.setdefault("bench.end_user_auth", sys.modules[__name__])
    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)
    overrides = override_settings(
        PASSWORD_HASHERS=[HASHER],
        LOGGING_CONFIG=None,
        TOKEN_ADMIN={**settings.TOKEN_ADMIN},
    )
    overrides.enable()
    import logging

    logging.disable(logging.CRITICAL)  # 401s and 429s would each log a line

    from django.core.cache import caches

    from tests.factories import ApplicationFactory, AppProfileFactory
    from token_admin.api.end_user import authentication as after
    from token_admin.api.end_user import views

    before = load_baseline(args.base)
    application = ApplicationFactory(authorization_grant_type="client-credentials", redirect_uris="")
    AppProfileFactory(application=application, end_user_api=True)
    assert application.client_secret.startswith("pbkdf2_sha256$"), application.client_secret[:20]
    known, unknown = application.client_id, "x" * len(application.client_id)
    client = Client()
    versions = {"before": before.APIClientAuthentication, "after": after.APIClientAuthentication}

    def attempt(client_id: str, ip: str = "10.0.0.1") -> int:
        credentials = base64.b64encode(f"{client_id}:wrong-secret".encode()).decode()
        response = client.get(
            "/oauth/api/v1/users/1/tokens", HTTP_AUTHORIZATION=f"Basic {credentials}", REMOTE_ADDR=ip
        )
        return response.status_code

    def use(version: str, throttle: bool) -> None:
        # The viewsets read it from their base (none of them sets its own).
        views.EndUserViewSet.authentication_classes = [versions[version]]
        limits = (
            {} if throttle else {"END_USER_AUTH_FAILURES_PER_CLIENT": 0, "END_USER_AUTH_FAILURES_PER_IP": 0}
        )
        settings.TOKEN_ADMIN = limits
        caches["default"].clear()

    print(
        f"PBKDF2-SHA256 at {args.iterations:,} iterations; {args.rounds} alternated rounds; base {args.base}",
        flush=True,
    )
    throughput: dict[str, list[float]] = {"before": [], "after": []}
    gaps: dict[str, dict[str, list[float]]] = {v: {"known": [], "unknown": []} for v in versions}
    tries_per_round = max(1, args.tries // args.rounds)
    hashed_attempts = 5  # before: every attempt costs a hash; a few are enough to time it
    for round_number in range(args.rounds):
        for version in ("before", "after") if round_number % 2 == 0 else ("after", "before"):
            # Throughput of a flood of wrong secrets for one client id from one IP.
            use(version, throttle=True)
            if version == "after":
                while attempt(known) != 429:  # use up the client id's failures first
                    pass
                count = args.throughput_attempts
            else:
                count = hashed_attempts
            started = time.perf_counter()
            statuses = {attempt(known) for _ in range(count)}
            throughput[version].append(count / (time.perf_counter() - started))
            assert statuses == ({429} if version == "after" else {401}), statuses
            # Unknown vs known client id, every attempt reaching the check.
            use(version, throttle=False)
            for _ in range(tries_per_round):
                for kind, client_id in (("known", known), ("unknown", unknown)):
                    started = time.perf_counter()
                    assert attempt(client_id) == 401
                    gaps[version][kind].append(time.perf_counter() - started)
        print(f"  round {round_number + 1}/{args.rounds} done", flush=True)

    print("\nFailed attempts per second, one client id from one IP (per round):")
    for version in ("before", "after"):
        print(f"  {version:6}  {summary(throughput[version], 'attempts/s')}")
    ratio = statistics.median(throughput["after"]) / statistics.median(throughput["before"])
    print(f"  after / before at the median: {ratio:,.0f}x (after: answered 429 without a hash check)")

    print(f"\nOne failed attempt, {len(gaps['after']['known'])} tries per client id (ms):")
    for version in ("before", "after"):
        for kind in ("known", "unknown"):
            print(f"  {version:6} {kind:7}  {summary(gaps[version][kind], 'ms', 1000)}")
        known_median = statistics.median(gaps[version]["known"])
        unknown_median = statistics.median(gaps[version]["unknown"])
        print(
            f"  {version:6} gap     median(known) - median(unknown) = "
            f"{(known_median - unknown_median) * 1000:+.2f} ms ({known_median / unknown_median:.2f}x)"
        )
    overrides.disable()


if __name__ == "__main__":
    main()
