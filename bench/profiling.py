"""Profile endpoints in-process (cProfile, the standard library): where a missed target's time goes.

``.venv/bin/python bench/profiling.py [--scale 0.2] [--requests 300] [se20 se1 end_user token ...]``

Seeds its own database (``BENCH_DB_NAME``, default ``bench_token_admin_profile``), times each
endpoint through Django's test client with and without the profiler, splits the time
between SQL and Python, shows ``EXPLAIN ANALYZE`` of its queries and the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB_NAME", "bench_token_admin_profile")
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"


SERVICE_CALLS = ("revoke_app", "revoke_900", "admin_page")


def explain_service_call(name: str, seeded: object, scale: float) -> None:
    """Run a revocation once with its queries captured, then replay them under EXPLAIN ANALYZE.

    The replay runs the same statements in the same order inside a transaction that is rolled
    back, so each plan sees the rows the statements before it left.
    """
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from oauth2_provider.models import get_access_token_model

    from bench import seed
    from token_admin.revocation import Actor, Selection, Surface, revoke

    if name == "admin_page":
        explain_admin_page(seeded)
        return
    if name == "revoke_app":
        count = max(1_000, int(100_000 * scale))
        application = seed.seed_app_tokens(seeded, kind="bulk", name="Bulk app", count=count)

        def call() -> object:
            return revoke(
                Selection.applications([application]), surface=Surface.COMMAND, actor=Actor.command("profile")
            )

    else:
        application = seed.seed_app_tokens(seeded, kind="adm", name="Admin app", count=900)
        ids = list(
            get_access_token_model().objects.filter(application=application).values_list("pk", flat=True)
        )

        def call() -> object:
            return revoke(Selection.tokens(ids), surface=Surface.ADMIN, actor=Actor.command("profile"))

    seed.analyze()
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        try:
            with transaction.atomic():
                result = call()
                elapsed = time.perf_counter() - start
                raise _Rollback
        except _Rollback:
            pass
    print(f"\n=== {name}: {elapsed * 1000:.0f} ms before commit, {str(result)[:300]}")
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            for query in captured.captured_queries:
                sql = query["sql"]
                if not sql.startswith(("SELECT", "UPDATE", "DELETE", "INSERT", "WITH")):
                    continue
                print(f"    [{float(query['time']) * 1000:.0f} ms] SQL: {sql[:900]}")
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                for (line,) in cursor.fetchall():
                    print(f"        {line}")
        finally:
            cursor.execute("ROLLBACK")


def explain_admin_page(seeded: object) -> None:
    """token_admin's confirmation page for 900 selected tokens: its queries, timed and explained."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from oauth2_provider.models import get_access_token_model

    from bench import seed

    application = seed.seed_app_tokens(seeded, kind="adp", name="Admin page app", count=900)
    ids = [
        str(pk)
        for pk in get_access_token_model()
        .objects.filter(application=application)
        .values_list("pk", flat=True)
    ]
    client = Client()
    client.force_login(seeded.admin_user)  # type: ignore[attr-defined]
    data = {"action": "revoke_selected_tokens", "_selected_action": ids, "index": "0"}
    client.post("/admin/oauth2_provider/accesstoken/", data)  # warm-up
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/admin/oauth2_provider/accesstoken/", data)
    elapsed = time.perf_counter() - start
    print(f"\n=== admin_page: HTTP {response.status_code} in {elapsed * 1000:.0f} ms")
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            print(f"    [{float(query['time']) * 1000:.0f} ms] SQL: {sql[:900]}")
            if sql.startswith("SELECT"):
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                for (line,) in cursor.fetchall():
                    print(f"        {line}")


class _Rollback(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("endpoints", nargs="*", default=["se20", "se1", "end_user", "token", "floor"])
    args = parser.parse_args(argv)

    from bench import run

    run.create_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from bench import measures, seed

        call_command("migrate", verbosity=0)
        run.flush_redis()
        seeded = seed.seed_base(args.scale)
        measures.end_user(seeded)
        pool = [
            seeded.stream_token(k) for k in measures.valid_stream_indexes(seeded, measures.SE_POOL_AT, 400)
        ]
        single = seeded.stream_token(measures.valid_stream_indexes(seeded, measures.SINGLE_AT, 1)[0])
        credentials = dict(measures.basic(seeded.api_client.client_id, seeded.api_client_secret))
        calls = {
            "se20": [(f"/2.2/access-tokens/{';'.join(pool[i : i + 20])}", {}) for i in range(0, 400, 20)],
            "se1": [(f"/2.2/access-tokens/{token}", {}) for token in pool[::20]],
            "end_user": [
                (
                    f"/oauth/api/v1/users/{seeded.extra['end_user_id']}/tokens",
                    {"HTTP_AUTHORIZATION": credentials["Authorization"]},
                )
            ],
            "token": [("/stream/0/token", {"HTTP_AUTHORIZATION": f"Bearer {single}"})],
            "floor": [("/bench/floor/token", {"HTTP_AUTHORIZATION": f"Bearer {single}"})],
        }
        client = Client()
        for name in args.endpoints:
            if name in SERVICE_CALLS:
                explain_service_call(name, seeded, args.scale)
                continue
            sequence = calls[name]
            for index in range(20):  # warm-up: caches, the secret check, connection
                path, headers = sequence[index % len(sequence)]
                assert client.get(path, **headers).status_code == 200, path
            start = time.perf_counter()
            sql_seconds = 0.0
            queries = 0
            for index in range(args.requests):
                path, headers = sequence[index % len(sequence)]
                with CaptureQueriesContext(connection) as captured:
                    client.get(path, **headers)
                sql_seconds += sum(float(query["time"]) for query in captured.captured_queries)
                queries += len(captured.captured_queries)
            wall = (time.perf_counter() - start) / args.requests * 1000
            profiler = cProfile.Profile()
            profiler.enable()
            for index in range(args.requests):
                path, headers = sequence[index % len(sequence)]
                client.get(path, **headers)
            profiler.disable()
            print(f"\n=== {name}: {sequence[0][0][:90]}")
            print(
                f"    {wall:.2f} ms per request (test client), of which SQL "
                f"{sql_seconds / args.requests * 1000:.2f} ms in {queries / args.requests:.1f} queries"
            )
            with CaptureQueriesContext(connection) as captured:
                client.get(*sequence[0][:1], **sequence[0][1])
            with connection.cursor() as cursor:
                for query in captured.captured_queries:
                    print(f"    SQL: {query['sql'][:600]}")
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                    for (line,) in cursor.fetchall():
                        print(f"        {line}")
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(args.top)
            print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            print("    token_admin's own functions, by cumulative time:")
            stats.sort_stats("cumulative").print_stats("token_admin/", args.top)
            print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
        return 0
    finally:
        run.drop_database()


if __name__ == "__main__":
    sys.exit(main())
