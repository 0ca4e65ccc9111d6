"""Scale benchmark: does every page and call cost the same at 20 thousand or 1 million tokens?

    .venv/bin/python bench/scale.py                 # 20,000 and 1,000,000 tokens, 5 rounds
    .venv/bin/python bench/scale.py --json          # the same, as JSON on stdout
    .venv/bin/python bench/scale.py --explain       # also EXPLAIN every query at the large size
    .venv/bin/python bench/scale.py --smoke         # 2,000 and 10,000 tokens, 2 rounds (CI)

Seeds two PostgreSQL databases of its own (``bench_scale_small``, ``bench_scale_large``; kept
with ``--keep-db`` and re-used while their size and seed version match) with
``generate_series``, then times each measure in-process (Django's test client: middleware,
view, queries, rendering; no network) on both, alternating which size goes first, over
``--rounds`` rounds. Each round's value is the median of ``--reps`` calls. It prints, per
measure, the median time at each size and the min/median/max over rounds of large/small.
Target: every median ratio at most 1.3. Scripts, not tests: nothing in the test suite times.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.scale_settings"

ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = os.environ.get("BENCH_SCALE_DB_PREFIX", "bench_scale")
TARGET = 1.3
# A sequential scan of one of these at the large size fails --explain.
TOKEN_TABLES = re.compile(
    r"Seq Scan on (oauth2_provider_(?:accesstoken|refreshtoken|grant|idtoken)"
    r"|token_admin_(?:session|device))\b"
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(statement)


def use_database(name: str) -> None:
    """Point the default connection at another database (reconnects on the next query)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections

    connection = connections["default"]
    if connection.settings_dict["NAME"] != name:
        connection.close()
        connection.settings_dict["NAME"] = name
        ContentType.objects.clear_cache()


def prepare(size: int, depth: int, name: str, keep: bool) -> Any:
    """A migrated, seeded database of ``size`` tokens; re-used with ``keep`` if it matches."""
    from django.core.management import call_command
    from django.db import connection

    from bench import scale_seed

    if keep:
        try:
            use_database(name)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT seeded FROM bench_scale_meta WHERE version = %s", (scale_seed.VERSION,)
                )
                row = cursor.fetchone()
            if row is not None and (json.loads(row[0])["size"], json.loads(row[0])["depth"]) == (size, depth):
                log(f"{name}: re-using the seeded database (migrating it to the code's schema)")
                call_command("migrate", verbosity=0)
                return scale_seed.Cast(**json.loads(row[0]))
        except Exception:  # noqa: BLE001  (missing database or table: seed it afresh)
            pass
    use_database("postgres")
    connection.close()
    admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin_sql(f"CREATE DATABASE {name}")
    use_database(name)
    call_command("migrate", verbosity=0)
    log(f"{name}: seeding {size:,} tokens")
    cast = scale_seed.seed(size, depth)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_scale_meta (version int, seeded text)")
        cursor.execute(
            "INSERT INTO bench_scale_meta VALUES (%s, %s)", (scale_seed.VERSION, json.dumps(cast.as_json()))
        )
    log(f"{name}: seeded {cast.tokens:,} access tokens in {cast.seconds:.0f} s")
    return cast


# --- the measures ------------------------------------------------------------------------


def revoke_one_users_tokens(user_id: int) -> int:
    """Revoke every token of one user (1,000 here) through the revocation service.

    The one call of this bench into ``token_admin.revocation``: port it here when the
    service's API changes.
    """
    from django.contrib.auth import get_user_model

    from token_admin.revocation import Actor, Selection, Surface, revoke

    user = get_user_model().objects.get(pk=user_id)
    result = revoke(Selection.users([user]), surface=Surface.COMMAND, actor=Actor.command("bench"))
    return result.access_tokens


@dataclass
class Measure:
    key: str
    name: str
    call: Callable[[Any, Any], None]  # (client, cast): one timed call, raises on a wrong answer
    before: Callable[[Any], None] | None = None  # untimed, before each call (re-seeding)


def _get(path: str, status: int = 200, **headers: str) -> Callable[[Any, Any], None]:
    def call(client: Any, cast: Any) -> None:
        response = client.get(path.format(cast=cast), **{k: v.format(cast=cast) for k, v in headers.items()})
        if response.status_code != status:
            raise RuntimeError(f"GET {path.format(cast=cast)} answered {response.status_code}")

    return call


def _basic(cast: Any) -> str:
    return "Basic " + base64.b64encode(f"{cast.api_client_id}:{cast.api_client_secret}".encode()).decode()


def _end_user(client: Any, cast: Any) -> None:
    response = client.get(f"/oauth/api/v1/users/{cast.end_user_id}/tokens", HTTP_AUTHORIZATION=_basic(cast))
    if response.status_code != 200 or len(response.json()["tokens"]) != 50:
        raise RuntimeError(f"end-user list answered {response.status_code}")


def _se(count: int) -> Callable[[Any, Any], None]:
    def call(client: Any, cast: Any) -> None:
        response = client.get(f"/2.2/access-tokens/{';'.join(cast.user_tokens[:count])}")
        if response.status_code != 200 or len(response.json()["items"]) != count:
            raise RuntimeError(f"SE read answered {response.status_code}")

    return call


def _revoke(client: Any, cast: Any) -> None:
    revoked = revoke_one_users_tokens(cast.revoked_user_id)
    if revoked != 1_000:
        raise RuntimeError(f"revoked {revoked} access tokens, expected 1,000")


def _restore(cast: Any) -> None:
    from bench.scale_seed import restore_revoked_user

    restore_revoked_user(cast.revoked_user_id)


# Statement counts of the leaked-token intake, per size: the same at every size (and call).
LEAK_STATEMENTS: dict[str, set[int]] = {}


def _leaked(client: Any, cast: Any) -> None:
    """POST credentials/revoke with the revoked user's 1,000 access-token values."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.scale_seed import REVOKED_USER_TOKENS
    from bench.seed import raw_token
    from token_admin.models import RevocationEvent

    body = json.dumps({"credentials": [raw_token("rv", n) for n in range(REVOKED_USER_TOKENS)]})
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/credentials/revoke", body, content_type="application/json", HTTP_X_SCANNER_KEY="bench-scanner"
        )
    if response.status_code != 202:
        raise RuntimeError(f"leaked-token intake answered {response.status_code}")
    LEAK_STATEMENTS.setdefault(f"{cast.size:,} tokens", set()).add(len(captured))
    if RevocationEvent.objects.order_by("-pk").values_list("access_tokens_revoked", flat=True)[0] != 1_000:
        raise RuntimeError("the leaked-token intake did not revoke the 1,000 tokens")


def _global_dry_run(client: Any, cast: Any) -> None:
    """The dry run of a global not-before watermark (the admin's preview, the command's --dry-run)."""
    from token_admin.not_before import set_not_before

    done = set_not_before("global", None, set_by="bench", dry_run=True)
    if not done.tokens_invalidated:
        raise RuntimeError("the global dry run counted no tokens")


APP = "HTTP_AUTHORIZATION"
LONG_AGO = "2000-01-01T00:00:00Z"
MEASURES = [
    Measure("admin-at", "admin access-token list", _get("/admin/oauth2_provider/accesstoken/")),
    Measure(
        "admin-at-dot",
        "admin access-token list, DOT's stock admin (peer)",
        _get("/bench/stock-admin/oauth2_provider/accesstoken/"),
    ),
    Measure("admin-rt", "admin refresh-token list", _get("/admin/oauth2_provider/refreshtoken/")),
    Measure("admin-session", "admin session list", _get("/admin/token_admin/tokensession/")),
    Measure("admin-device", "admin device list", _get("/admin/token_admin/device/")),
    # Admin filters that no index serves: the page walks the table until a page matches.
    Measure(
        "admin-at-device-any",
        "admin access tokens on any device (none are)",
        _get("/admin/oauth2_provider/accesstoken/?device=any"),
    ),
    Measure(
        "admin-session-device-any",
        "admin sessions on any device (none are)",
        _get("/admin/token_admin/tokensession/?device=any"),
    ),
    Measure(
        "admin-rt-search",
        "admin refresh tokens, search a user",
        _get("/admin/oauth2_provider/refreshtoken/?q=end-user"),
    ),
    Measure("admin-app", "admin application list", _get("/admin/oauth2_provider/application/")),
    Measure("end-user", "end-user list: 50 live sessions + history of N/500", _end_user),
    Measure(
        "adn-first",
        "ADN apps/me/tokens, first page (stream app)",
        _get("/stream/0/apps/me/tokens", **{APP: "Bearer {cast.stream_app_token}"}),
    ),
    Measure(
        "adn-deep",
        "ADN apps/me/tokens, a page deep down (stream app)",
        _get(
            "/stream/0/apps/me/tokens?before_id={cast.deep_before_id}",
            **{APP: "Bearer {cast.stream_app_token}"},
        ),
    ),
    Measure(
        "adn-old",
        "ADN apps/me/tokens, first page (app whose tokens are old)",
        _get("/stream/0/apps/me/tokens", **{APP: "Bearer {cast.old_app_token}"}),
    ),
    Measure(
        "adn-user-ids",
        "ADN apps/me/tokens/user_ids (200 users)",
        _get("/stream/0/apps/me/tokens/user_ids", **{APP: "Bearer {cast.old_app_token}"}),
    ),
    Measure("se-1", "SE GET access-tokens/{1}", _se(1)),
    Measure("se-20", "SE GET access-tokens/{20}", _se(20)),
    Measure(
        "adn-token",
        "ADN GET /stream/0/token",
        _get("/stream/0/token", **{APP: "Bearer {cast.user_tokens[0]}"}),
    ),
    Measure("revoke-user", "revoke one user's 1,000 tokens", _revoke, before=_restore),
    Measure("leaked-1000", "leaked-token intake: POST 1,000 token values", _leaked, before=_restore),
    Measure("global-dry-run", "global not-before watermark, dry run", _global_dry_run),
    # The staff resource API (token_admin.api.manage), as the signed-in superuser: first pages.
    Measure("manage-sessions", "staff API sessions, first page", _get("/api/token-admin/sessions")),
    Measure(
        "manage-sessions-live",
        "staff API sessions, live only",
        _get("/api/token-admin/sessions?live=true"),
    ),
    Measure(
        "manage-sessions-user",
        "staff API sessions of the end-user-list user",
        _get("/api/token-admin/sessions?user={cast.end_user_id}"),
    ),
    # Filters no index serves in id order (live, date ranges): each page looks at a bounded window.
    Measure(
        "manage-sessions-ended-oldest",
        "staff API sessions, ended, oldest first (past every live one)",
        _get("/api/token-admin/sessions?live=false&ordering=id"),
    ),
    Measure(
        "manage-sessions-none",
        "staff API sessions begun before 2000 (none)",
        _get(f"/api/token-admin/sessions?created_before={LONG_AGO}"),
    ),
    Measure("manage-tokens", "staff API access tokens, first page", _get("/api/token-admin/access-tokens")),
    Measure(
        "manage-tokens-none",
        "staff API access tokens issued before 2000 (none)",
        _get(f"/api/token-admin/access-tokens?created_before={LONG_AGO}"),
    ),
    Measure("manage-apps", "staff API applications, first page", _get("/api/token-admin/applications")),
    Measure("manage-devices", "staff API devices, first page", _get("/api/token-admin/devices")),
    Measure(
        "manage-events", "staff API revocation events, first page", _get("/api/token-admin/revocation-events")
    ),
]


@dataclass
class Result:
    measure: Measure
    small: list[float] = field(default_factory=list)  # ms, one median per round
    large: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [large / small for small, large in zip(self.small, self.large, strict=True)]


def time_calls(measure: Measure, client: Any, cast: Any, reps: int) -> float:
    """Median ms of ``reps`` calls after one untimed warm-up call."""
    samples = []
    for index in range(reps + 1):
        if measure.before is not None:
            measure.before(cast)
        start = time.perf_counter()
        measure.call(client, cast)
        elapsed = (time.perf_counter() - start) * 1000
        if index:
            samples.append(elapsed)
    return statistics.median(samples)


def explain(measure: Measure, client: Any, cast: Any) -> list[dict[str, Any]]:
    """Each statement of one call, with its plan (EXPLAIN, not run again) and any token-table seq scan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if measure.before is not None:
        measure.before(cast)
    with CaptureQueriesContext(connection) as captured:
        measure.call(client, cast)
    found = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if not re.match(r"\s*(SELECT|WITH|UPDATE|DELETE)\b", sql, re.IGNORECASE):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            plan = [row[0] for row in cursor.fetchall()]
        scans = sorted({match.group(1) for line in plan for match in [TOKEN_TABLES.search(line)] if match})
        found.append({"sql": sql, "plan": plan, "seq_scans": scans})
    return found


# --- output --------------------------------------------------------------------------------


def summary(results: list[Result]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        ratios = result.ratios
        median = statistics.median(ratios)
        rows.append(
            {
                "key": result.measure.key,
                "measure": result.measure.name,
                "small_ms": round(statistics.median(result.small), 2),
                "large_ms": round(statistics.median(result.large), 2),
                "ratio_min": round(min(ratios), 3),
                "ratio_median": round(median, 3),
                "ratio_max": round(max(ratios), 3),
                "target": f"<= {TARGET}",
                "met": median <= TARGET,
            }
        )
    return rows


def peer_row(results: list[Result]) -> dict[str, Any]:
    """token_admin's access-token list against DOT's stock one, at the large size, round by round."""
    ours = next(r for r in results if r.measure.key == "admin-at").large
    stock = next(r for r in results if r.measure.key == "admin-at-dot").large
    ratios = [o / s for o, s in zip(ours, stock, strict=True)]
    return {
        "measure": "admin access-token list at the large size: token_admin / DOT stock",
        "ours_ms": round(statistics.median(ours), 2),
        "stock_ms": round(statistics.median(stock), 2),
        "ratio_min": round(min(ratios), 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "target": "<= 1",
        "met": statistics.median(ratios) <= 1,
    }


def print_table(header: list[str], rows: list[dict[str, Any]], peer: dict[str, Any]) -> None:
    print()
    print("django-token-admin scale benchmark: large / small, in-process")
    for line in header:
        print(f"  {line}")
    print()
    width = max(len(row["measure"]) for row in rows)
    print(
        f"{'measure':<{width}}  {'small ms':>9}  {'large ms':>9}  {'min':>6}  {'median':>6}  {'max':>6}  "
        f"{'target':>7}  result"
    )
    print("-" * (width + 66))
    for row in rows:
        result = "(peer)" if row["key"] == "admin-at-dot" else "met" if row["met"] else "MISSED"
        print(
            f"{row['measure']:<{width}}  {row['small_ms']:>9.1f}  {row['large_ms']:>9.1f}  "
            f"{row['ratio_min']:>6.2f}  {row['ratio_median']:>6.2f}  {row['ratio_max']:>6.2f}  "
            f"{row['target']:>7}  {result}"
        )
    print()
    print(
        f"{peer['measure']}: {peer['ours_ms']:.1f} ms vs {peer['stock_ms']:.1f} ms, ratio "
        f"min {peer['ratio_min']:.2f} median {peer['ratio_median']:.2f} max {peer['ratio_max']:.2f} "
        f"(target {peer['target']}): {'met' if peer['met'] else 'MISSED'}"
    )


def print_explain(plans: dict[str, list[dict[str, Any]]]) -> None:
    print()
    print("EXPLAIN of every statement at the large size")
    for key, statements in plans.items():
        print(f"\n## {key}")
        for statement in statements:
            flag = f"  <-- SEQ SCAN on {', '.join(statement['seq_scans'])}" if statement["seq_scans"] else ""
            sql = " ".join(statement["sql"].split())
            print(f"  {sql[:160]}{'...' if len(sql) > 160 else ''}{flag}")
            for line in statement["plan"]:
                print(f"      {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=20_000, help="tokens in the small database")
    parser.add_argument("--large", type=int, default=1_000_000, help="tokens in the large database")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, alternating which size goes first")
    parser.add_argument("--reps", type=int, default=9, help="timed calls per measure, size and round")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout instead of the table")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN each statement at the large size")
    parser.add_argument("--keep-db", action="store_true", help="keep the databases (and re-use them)")
    parser.add_argument("--smoke", action="store_true", help="2,000 and 10,000 tokens, 2 rounds, 1 rep")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--only", action="append", default=[], help="measure keys to run (repeatable)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.small, args.large, args.rounds, args.reps = 2_000, 10_000, 2, 1
    if args.rounds < 1 or args.reps < 1 or args.small < 1_000 or args.large < args.small:
        parser.error("need --rounds >= 1, --reps >= 1, --small >= 1000 and --large >= --small")
    started = time.monotonic()
    names = {"small": f"{PREFIX}_small", "large": f"{PREFIX}_large"}
    sizes = {"small": args.small, "large": args.large}
    measures = [m for m in MEASURES if not args.only or m.key in args.only or m.key.startswith("admin-at")]

    import django

    django.setup()
    from django.db import connections
    from django.test import Client

    from bench import scale_seed
    from bench.run import environment

    try:
        depth = min(scale_seed.DEEP_DEPTH, args.small // 4)
        casts = {
            label: prepare(sizes[label], depth, names[label], args.keep_db) for label in ("small", "large")
        }
        clients = {}
        for label in ("small", "large"):
            use_database(names[label])
            client = Client()
            from django.contrib.auth import get_user_model

            client.force_login(get_user_model().objects.get(pk=casts[label].admin_user_id))
            clients[label] = client
        header = environment()
        results = [Result(measure) for measure in measures]
        for round_number in range(args.rounds):
            order = ["small", "large"] if round_number % 2 == 0 else ["large", "small"]
            log(f"round {round_number + 1} of {args.rounds} ({' then '.join(order)} first for each measure)")
            for result in results:
                for label in order:
                    use_database(names[label])
                    value = time_calls(result.measure, clients[label], casts[label], args.reps)
                    getattr(result, label).append(value)
        plans: dict[str, list[dict[str, Any]]] = {}
        if args.explain:
            use_database(names["large"])
            for measure in measures:
                plans[measure.key] = explain(measure, clients["large"], casts["large"])
        header.append(
            f"data: small {casts['small'].tokens:,} access tokens, large {casts['large'].tokens:,} "
            f"(each with a refresh token and a session, plus a fifth as many ended sessions); "
            f"{args.rounds} rounds x {args.reps} calls, sizes alternated; run took "
            f"{time.monotonic() - started:.0f} s; load average at the end {os.getloadavg()[0]:.2f}"
        )
        if LEAK_STATEMENTS:
            counts = "; ".join(f"{size}: {sorted(found)}" for size, found in LEAK_STATEMENTS.items())
            header.append(f"leaked-token intake statements per call (one value = fixed): {counts}")
        rows = summary(results)
        peer = peer_row(results)
        seq_scans = {key: sorted({t for s in found for t in s["seq_scans"]}) for key, found in plans.items()}
        seq_scans = {key: tables for key, tables in seq_scans.items() if tables}
        if args.json:
            document: dict[str, Any] = {"environment": header, "measures": rows, "peer": peer}
            if args.explain:
                document["explain"] = plans
                document["seq_scans"] = seq_scans
            print(json.dumps(document, indent=2, default=str))
        else:
            print_table(header, rows, peer)
            if args.explain:
                print_explain(plans)
                print()
                print(
                    "seq scans over token tables at the large size: "
                    + (", ".join(f"{k} ({', '.join(v)})" for k, v in seq_scans.items()) or "none")
                )
        missed = [row for row in rows if not row["met"] and row["key"] != "admin-at-dot"]
        failed = bool(seq_scans) or (args.strict and (missed or not peer["met"]))
        return 1 if failed else 0
    finally:
        connections.close_all()
        if not args.keep_db:
            for name in names.values():
                admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
