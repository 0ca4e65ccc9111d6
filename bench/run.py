"""Benchmarks of django-token-admin: ``make bench`` or ``.venv/bin/python bench/run.py``.

Creates the PostgreSQL database ``bench_token_admin`` (dropped at the end), seeds it, runs
gunicorn on 127.0.0.1 with wrk and a Python client as load generators, and prints a table of
ratios, each against a baseline measured in the same run. Scripts, not tests: nothing in the
test suite depends on timing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_token_admin")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(statement)


def create_database() -> None:
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    admin_sql(f"CREATE DATABASE {DB_NAME}")


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _cmd(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def environment() -> list[str]:
    import django
    import oauth2_provider
    import redis
    import rest_framework
    from django.db import connection

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    redis_version = redis.Redis.from_url(REDIS_URL).info("server").get("redis_version", "?")
    commit = _cmd(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _cmd(["git", "-C", str(ROOT), "status", "--porcelain", "--", "token_admin"])
    wrk_version = _cmd(["sh", "-c", "wrk -v 2>&1 | head -1"]).split(" [")[0] or "?"
    gunicorn_version = _cmd([str(Path(sys.executable).with_name("gunicorn")), "--version"])
    return [
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {os.cpu_count()} cores, {cpu}, {memory} RAM; load average {os.getloadavg()[0]:.2f}",
        f"python {platform.python_version()}, Django {django.get_version()}, "
        f"DRF {rest_framework.__version__}, DOT {oauth2_provider.__version__}, PostgreSQL {postgres}, "
        f"Redis {redis_version}, {gunicorn_version}, {wrk_version}",
        f"code: git {commit}" + (" + uncommitted changes in token_admin/" if dirty else ""),
    ]


def print_table(
    rows: list, missing: list[str], queries: list[tuple[str, int, int]], header: list[str]
) -> None:
    print()
    print("django-token-admin benchmarks")
    for line in header:
        print(f"  {line}")
    print()
    name_width = max([len(row.name) for row in rows] + [20])
    columns = f"{'value':>14}  {'baseline':>14}  {'ratio':>7}  {'target':>8}  result"
    print(f"{'#':<3} {'measure':<{name_width}}  {columns}")
    print("-" * (name_width + 66))
    for row in rows:
        result = "met" if row.met else "MISSED"
        print(
            f"{row.key:<3} {row.name:<{name_width}}  {row.value:>14}  {row.baseline:>14}  "
            f"{row.ratio:>7.2f}  {row.target:>8}  {result}"
        )
        if row.note:
            print(f"{'':<4}  {row.note}")
        if row.ratios:
            print(f"{'':<4}  {row.rounds_note()}")
    for item in missing:
        print(f"--  {item}: not in the tree, left out")
    print()
    print("7   SQL queries per request (django.test.utils.CaptureQueriesContext, test client in-process)")
    width = max(len(label) for label, _, _ in queries)
    for label, count, status in queries:
        print(f"    {label:<{width}}  {count:>6}  " + (f"HTTP {status}" if status else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="data size factor (1.0: 100,000-token sets)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk run")
    parser.add_argument(
        "--reps", type=int, default=5, help="alternated rounds of the throughput comparison (at least 5)"
    )
    parser.add_argument(
        "--revoke-reps", type=int, default=5, help="runs of each side of measures 3 and 4 (re-seeded each)"
    )
    parser.add_argument(
        "--admin-tokens",
        type=int,
        default=900,
        help="tokens selected in measure 3 (900; fewer for a smoke run)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=400, help="requests per side of a latency ratio (max)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep-db", action="store_true", help="leave bench_token_admin in place afterwards")
    args = parser.parse_args(argv)
    started = time.monotonic()

    create_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from bench import measures, seed, server

        log("migrating")
        call_command("migrate", verbosity=0)
        flush_redis()
        header = environment()

        log(f"seeding (scale {args.scale})")
        seeded = seed.seed_base(args.scale)
        log(f"seeded {seeded.tokens_total:,} tokens in {time.monotonic() - started:.0f} s; the bulk app next")
        bulk = max(1_000, int(100_000 * args.scale))
        seeded.extra["bulk_app"] = seed.seed_app_tokens(
            seeded, kind="bulk", name="Bulk app", count=bulk, sessions=False
        )
        seeded.extra["bulk_tokens"] = bulk
        seeded.extra["admin_tokens"] = args.admin_tokens
        seeded.extra["admin_app"] = seed.seed_app_tokens(
            seeded, kind="adm", name="Admin app", count=args.admin_tokens
        )
        measures.deep_page(seeded)
        measures.end_user(seeded)
        log(f"seeded in {time.monotonic() - started:.0f} s")

        rows: list = []
        missing: list[str] = []
        query_rows: list[tuple[str, int, int]] = []

        log("4. revoke_applications vs raw SQL")
        new_rows, new_queries = measures.revoke_app(seeded, reps=args.revoke_reps)
        rows += new_rows
        query_rows += new_queries

        if measures.surface_present("token_admin.admin"):
            log("3. admin bulk revoke")
            new_rows, new_queries = measures.admin_revoke(seeded, reps=args.revoke_reps)
            rows += new_rows
            query_rows += new_queries
        else:
            missing.append("3 (token_admin admin actions)")

        flush_redis()
        with server.gunicorn(args.workers) as srv:
            if measures.surface_present("token_admin.api.adn.views"):
                log(
                    "1. throughput under gunicorn" + ("" if server.have_wrk() else " (no wrk: Python client)")
                )
                rows += measures.throughput(
                    srv, seeded, seconds=args.seconds, reps=args.reps, connections=args.connections
                )
            else:
                missing.append("1 (App.net API)")
            log("2, 5, 6. latency ratios")
            new_rows, new_missing = measures.latency_ratios(srv, seeded, rounds=args.rounds, max_seconds=60)
            rows += new_rows
            missing += new_missing

        log("7. queries per request")
        table, new_missing = measures.query_table(seeded)
        query_rows = table + query_rows
        missing += [f"7 ({item})" for item in new_missing]

        rows.sort(key=lambda row: (int("".join(c for c in row.key if c.isdigit())), row.key))
        header.append(
            f"data: {seeded.tokens_total + bulk + args.admin_tokens + 1:,} access tokens, "
            f"{seeded.users:,} users "
            f"(scale {args.scale}); "
            f"gunicorn {args.workers} sync workers; run took {time.monotonic() - started:.0f} s; "
            f"load average at the end {os.getloadavg()[0]:.2f}"
        )
        print_table(rows, missing, query_rows, header)
        return 1 if args.strict and not all(row.met for row in rows) else 0
    finally:
        if not args.keep_db:
            drop_database()
        flush_redis()


if __name__ == "__main__":
    sys.exit(main())
