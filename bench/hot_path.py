"""The hot path against stock DOT: ``make bench-hot`` or ``.venv/bin/python bench/hot_path.py``.

Two gunicorn servers on 127.0.0.1, on the same PostgreSQL database and the same tokens:

* side A, **stock DOT** (``bench/hot_stock_settings.py``): DOT and DRF only;
* side B, **token_admin** installed as the README's quick start says
  (``bench/hot_token_admin_settings.py``): ``TokenAdminOAuth2Validator``, activity tracking,
  the App.net rate limit and not-before watermarks on (a global, an app and a per-user
  watermark set, earlier than the tokens), the cache on Redis.

Each view is loaded with wrk on A, then on B (then B, A in the next round: alternated), the
tokens taken in turn; the ratio B/A of requests/s per round, min/median/max, is the figure,
against the target >= 0.9. The views: the host project's DRF view with DOT's
``OAuth2Authentication``, DOT's plain ``ProtectedResourceView``, and ``GET /stream/0/token``
(token_admin's on B; on A a stock DRF view with ``OAuth2Authentication`` answering the same
JSON, checked byte for byte before the run).

``--profile`` instead runs each view in-process on each side (Django's test client) and prints
per request: the SQL statements, the cache round trips (commands sent to Redis), the time, and
where B's time goes (cProfile).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
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

from bench import server  # noqa: E402

ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.setdefault("BENCH_HOT_DB", "bench_hot_path")
REDIS_URL = os.environ.setdefault("BENCH_HOT_REDIS_URL", "redis://127.0.0.1:6379/11")
SIDES = {"stock": "bench.hot_stock_settings", "token_admin": "bench.hot_token_admin_settings"}
VIEWS = [
    ("host DRF view, OAuth2Authentication", "/host/api"),
    ("host DOT ProtectedResourceView", "/host/protected"),
    ("GET /stream/0/token (A: stock DRF view, same JSON)", "/stream/0/token"),
]
TARGET = 0.9


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raw_token(kind: str, n: int) -> str:
    return f"hot{kind}" + hashlib.sha256(f"{kind}{n}".encode()).hexdigest()[:32]


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


# --- the database: created, migrated by side B's settings, seeded ----------------------------


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(statement)


def setup_django(side: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = SIDES[side]
    import django

    django.setup()


def seed(users: int) -> list[str]:
    """Create the database, migrate (side B's apps: DOT's tables and token_admin's), seed
    ``users`` users, each with one access token and its refresh token (so one session), and
    the watermarks; return the raw access tokens."""
    import redis

    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    admin_sql(f"CREATE DATABASE {DB_NAME}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    setup_django("token_admin")
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

    from token_admin.not_before import set_not_before
    from token_admin.watermarks import Scope

    call_command("migrate", verbosity=0)
    Application = get_application_model()
    application = Application.objects.create(
        name="Hot path app",
        client_id="hot-path-app",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://client.example/callback",
    )
    earlier = timezone.now() - datetime.timedelta(days=1)
    set_not_before(Scope.GLOBAL, when=earlier, set_by="bench")
    set_not_before(Scope.APP, application, when=earlier, set_by="bench")
    expires = timezone.now() + datetime.timedelta(days=1)
    tokens = []
    for n in range(users):
        user = get_user_model().objects.create_user(
            f"user{n}", first_name="Hot", last_name=f"Path {n}", password=None
        )
        set_not_before(Scope.USER, user, when=earlier, set_by="bench")
        raw = raw_token("at", n)
        access = get_access_token_model().objects.create(
            user=user, application=application, token=raw, expires=expires, scope="basic stream"
        )
        get_refresh_token_model().objects.create(
            user=user, application=application, token=raw_token("rt", n), access_token=access
        )
        tokens.append(raw)
    return tokens


def sessions_used() -> tuple[int, int]:
    """(sessions, sessions with a last use): activity tracking really wrote on side B."""
    from token_admin.models import TokenSession

    return TokenSession.objects.count(), TokenSession.objects.filter(last_used_at__isnull=False).count()


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


# --- the run ----------------------------------------------------------------------------------


def check_answers(servers: dict[str, server.Server], token: str) -> dict[str, Any]:
    """Each view answers 200 on both sides; ``/stream/0/token`` with the same body."""
    bodies: dict[str, dict[str, bytes]] = {}
    for side, running in servers.items():
        bodies[side] = {}
        for _, path in VIEWS:
            status, body = server.request(running.port, "GET", path, {"Authorization": f"Bearer {token}"})
            if status != 200:
                raise RuntimeError(f"{side} {path} answered {status}: {body[:300]!r}")
            bodies[side][path] = body
    stock, ours = bodies["stock"]["/stream/0/token"], bodies["token_admin"]["/stream/0/token"]
    if stock != ours:
        raise RuntimeError(f"/stream/0/token differs:\n  A {stock!r}\n  B {ours!r}")
    return {path: len(bodies["stock"][path]) for _, path in VIEWS}


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_start = loadavg()
    log(f"load average {load_start}; seeding {args.users} users into {DB_NAME}")
    started = time.monotonic()
    tokens = seed(args.users)
    log(f"seeded in {time.monotonic() - started:.1f} s")
    results: dict[str, Any] = {
        "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        "machine": f"{os.cpu_count()} cores",
        "load_start": load_start,
        "config": {
            "rounds": args.rounds,
            "seconds": args.seconds,
            "threads": args.threads,
            "connections": args.connections,
            "workers": args.workers,
            "tokens": len(tokens),
            "load_generator": "wrk" if server.have_wrk() else "python",
            "token_admin_overrides": json.loads(os.environ.get("BENCH_HOT_TOKEN_ADMIN", "{}")),
        },
        "views": [],
    }
    rates: dict[str, dict[str, list[float]]] = {path: {"stock": [], "token_admin": []} for _, path in VIEWS}
    loads: list[float] = []
    try:
        with (
            server.gunicorn(args.workers, settings=SIDES["stock"], probe="/host/api") as stock,
            server.gunicorn(args.workers, settings=SIDES["token_admin"], probe="/host/api") as ours,
        ):
            servers = {"stock": stock, "token_admin": ours}
            log(f"both servers up after {time.monotonic() - started:.1f} s")
            results["body_bytes"] = check_answers(servers, tokens[0])
            load = server.wrk if server.have_wrk() else server.python_load
            options: dict[str, Any] = {"seconds": args.seconds, "connections": args.connections}
            if server.have_wrk():
                options["threads"] = args.threads
            for side in servers:  # warm-up: every worker imports, connects, fills its caches
                for _, path in VIEWS:
                    if args.warmup:
                        load(servers[side], path, tokens, **{**options, "seconds": args.warmup})
            for round_number in range(args.rounds):
                order = ["stock", "token_admin"] if round_number % 2 == 0 else ["token_admin", "stock"]
                for _, path in VIEWS:
                    for side in order:
                        result = load(servers[side], path, tokens, **options)
                        if result.errors:
                            raise RuntimeError(f"{side} {path}: {result.errors} errors")
                        rates[path][side].append(result.requests_per_second)
                loads.append(loadavg())
                log(
                    f"round {round_number + 1}/{args.rounds} (load {loads[-1]}): "
                    + "; ".join(
                        f"{path} {rates[path]['token_admin'][-1] / rates[path]['stock'][-1]:.2f}"
                        for _, path in VIEWS
                    )
                )
        results["sessions"], results["sessions_used"] = sessions_used()
    finally:
        if not args.keep_db:
            drop_database()
    results["load_rounds"] = loads
    results["load_end"] = loadavg()
    for name, path in VIEWS:
        stock_rates, our_rates = rates[path]["stock"], rates[path]["token_admin"]
        ratios = [b / a for a, b in zip(stock_rates, our_rates, strict=True)]
        median = statistics.median(ratios)
        results["views"].append(
            {
                "name": name,
                "path": path,
                "stock_rps": [round(r, 1) for r in stock_rates],
                "token_admin_rps": [round(r, 1) for r in our_rates],
                "ratios": [round(r, 3) for r in ratios],
                "ratio_min": round(min(ratios), 3),
                "ratio_median": round(median, 3),
                "ratio_max": round(max(ratios), 3),
                "met": median >= TARGET,
            }
        )
    return results


def table(results: dict[str, Any]) -> str:
    """The README's table, from the results (``--table FILE`` prints it from a JSON file)."""
    config = results["config"]
    lines = [
        f"{results['date']}, {results['machine']}, load average {results['load_start']} at the start, "
        f"{results['load_end']} at the end (per round: {', '.join(map(str, results['load_rounds']))}); "
        f"{config['load_generator']} -t{config['threads']} -c{config['connections']} "
        f"{config['seconds']} s x {config['rounds']} rounds per side, gunicorn {config['workers']} sync "
        f"workers per side, {config['tokens']} tokens in turn"
        + (
            f"; side B with TOKEN_ADMIN overrides {config['token_admin_overrides']}"
            if config.get("token_admin_overrides")
            else ""
        )
        + ".",
        "",
        "| view | stock DOT req/s (median) | token_admin req/s (median) | B/A: min | median | max "
        f"| target ≥ {TARGET} |",
        "|---|---|---|---|---|---|---|",
    ]
    for view in results["views"]:
        verdict = "met" if view["met"] else "**missed**"
        lines.append(
            f"| {view['name']} | {statistics.median(view['stock_rps']):.0f} "
            f"| {statistics.median(view['token_admin_rps']):.0f} | {view['ratio_min']:.2f} "
            f"| {view['ratio_median']:.2f} | {view['ratio_max']:.2f} | {verdict} |"
        )
    return "\n".join(lines)


# --- the profile --------------------------------------------------------------------------------


def profile_side(side: str, users: int, requests: int) -> None:
    """In-process, Django's test client: per view, statements, Redis commands and time per
    request, and (side B) the functions the time goes to."""
    import cProfile
    import io
    import pstats

    setup_django(side)
    import redis
    from django.db import connection
    from django.test import Client

    tokens = [raw_token("at", n) for n in range(users)]
    client = Client()
    spent = {"sql": 0.0, "redis": 0.0}
    sent: list[Any] = []
    queries: list[str] = []
    send = redis.connection.Connection.send_packed_command
    read = redis.connection.Connection.read_response

    def counted_send(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(command)
        start = time.perf_counter()
        try:
            return send(self, command, *args, **kwargs)
        finally:
            spent["redis"] += time.perf_counter() - start

    def timed_read(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return read(self, *args, **kwargs)
        finally:
            spent["redis"] += time.perf_counter() - start

    redis.connection.Connection.send_packed_command = counted_send  # type: ignore[method-assign]
    redis.connection.Connection.read_response = timed_read  # type: ignore[method-assign]

    def record(execute: Any, sql: str, *rest: Any) -> Any:
        # Not CaptureQueriesContext: each request's request_started signal resets its log.
        queries.append(sql)
        start = time.perf_counter()
        try:
            return execute(sql, *rest)
        finally:
            spent["sql"] += time.perf_counter() - start

    def get(path: str, n: int) -> None:
        bearer = f"Bearer {tokens[n % len(tokens)]}"
        response = client.get(path, HTTP_AUTHORIZATION=bearer, HTTP_HOST="127.0.0.1")
        assert response.status_code == 200, response.content

    for _, path in VIEWS:
        for n in range(3 * len(tokens)):  # warm: imports, the connection, each token's first use
            get(path, n)
        sent.clear()
        queries.clear()
        spent.update(sql=0.0, redis=0.0)
        with connection.execute_wrapper(record):
            start, cpu = time.perf_counter(), time.process_time()
            for n in range(requests):
                get(path, n)
            total, cpu = time.perf_counter() - start, time.process_time() - cpu
        per = {name: value / requests * 1e6 for name, value in {**spent, "total": total, "cpu": cpu}.items()}
        print(
            f"{side:12} {path:16} {len(queries) / requests:.2f} SQL statements, {len(sent) / requests:.2f} "
            f"Redis round trips; per request {per['total']:.0f} µs: SQL {per['sql']:.0f}, "
            f"Redis {per['redis']:.0f}, the rest (Python) {per['total'] - per['sql'] - per['redis']:.0f}; "
            f"this process's CPU {per['cpu']:.0f} µs"
        )
        if side == "token_admin":
            profiler = cProfile.Profile()
            profiler.enable()
            for n in range(requests):
                get(path, n)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(r"token_admin/(?!.*test)", 12)
            body = out.getvalue().split("ncalls", 1)[-1]
            print("    token_admin's functions, by cumulative time (whole run):\n    ncalls" + body.rstrip())


def profile(args: argparse.Namespace) -> None:
    log(f"load average {loadavg()}; seeding {args.users} users into {DB_NAME}")
    seed(args.users)
    try:
        for side in SIDES:
            subprocess.run(
                [sys.executable, __file__, "--profile-side", side, "--users", str(args.users)],
                check=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
    finally:
        if not args.keep_db:
            drop_database()
    log(f"load average {loadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per side per view per round")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load per side per view first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per side")
    parser.add_argument("--users", type=int, default=50, help="users, one token each, used in turn")
    parser.add_argument("--json", metavar="FILE", help="write the results to FILE")
    parser.add_argument("--table", metavar="FILE", help="print the README table of a results FILE only")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile in-process instead of loading")
    parser.add_argument("--requests", type=int, default=500, help="--profile: requests per view")
    parser.add_argument("--profile-side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(Path(args.table).read_text())))
        return
    if args.profile_side:
        profile_side(args.profile_side, args.users, args.requests)
        return
    if args.profile:
        profile(args)
        return
    results = run(args)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    missed = [view["name"] for view in results["views"] if not view["met"]]
    if missed:
        print(f"missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
