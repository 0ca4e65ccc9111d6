"""The benchmark measures. Each returns ``Row``s: a value, its baseline from the same run, a ratio.

A surface whose code is not in the tree is reported as missing, never given a number.
"""

from __future__ import annotations

import html
import importlib.util
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from bench import seed, server
from bench.seed import AT, RT, SESSION, Seeded
from token_admin import queries
from token_admin.revocation import Actor, Selection, Surface, revoke

# Which of the stream app's tokens (index from the oldest) each measure uses. Fixed, so they
# never overlap whatever the scale (the stream app has at least 2,000 tokens). Those that are
# revoked (RESERVED_AT, DOOMED_SESSION_AT) are used last, by the query table, and lie far
# below the deep page.
THROUGHPUT_AT = 10  # 200 tokens
SE_POOL_AT = 250  # 400 tokens
RESERVED_AT = 700  # 100 tokens, revoked by the query table
DOOMED_SESSION_AT = 850  # one session, revoked by the query table
END_USER_AT = 900  # whose user the end-user API lists
SINGLE_AT = 950  # the one token of the latency baselines


@dataclass
class Row:
    key: str
    name: str
    value: str  # what was measured, with its unit
    baseline: str  # the baseline, with its unit
    ratio: float  # the median of the per-round ratios
    target: str  # e.g. ">= 0.90"
    met: bool
    note: str = ""
    ratios: list[float] = field(default_factory=list)  # one per round, sides alternated

    @property
    def spread(self) -> float:
        """Half the range of the per-round ratios, as a fraction of their median."""
        return (max(self.ratios) - min(self.ratios)) / 2 / self.ratio if self.ratios else 0.0

    def rounds_note(self) -> str:
        if not self.ratios:
            return ""
        text = (
            f"ratio per round (sides alternated) min {min(self.ratios):.2f} median {self.ratio:.2f} "
            f"max {max(self.ratios):.2f} over {len(self.ratios)} rounds, spread +/-{self.spread:.0%}"
        )
        if self.spread > MAX_SPREAD:
            text += f"; NOT CONCLUSIVE: the spread is over +/-{MAX_SPREAD:.0%} (run longer: --seconds/--reps)"
        return text


# Above this (half the range of the per-round ratios over their median) a row says it is not
# conclusive rather than pretend to a precision the machine did not give.
MAX_SPREAD = 0.10
MIN_ROUNDS = 5


def ratio_row(
    key: str,
    name: str,
    value: float,
    baseline: float,
    unit: str,
    op: str,
    bound: float,
    note: str = "",
    ratios: list[float] | None = None,
) -> Row:
    ratio = statistics.median(ratios) if ratios else value / baseline
    met = ratio >= bound if op == ">=" else ratio <= bound
    return Row(
        key,
        name,
        f"{value:,.1f} {unit}",
        f"{baseline:,.1f} {unit}",
        ratio,
        f"{op} {bound:g}",
        met,
        note,
        list(ratios or []),
    )


def speedup_row(
    key: str, name: str, ours_ms: float, stock_ms: float, bound: float = 20, ratios: list[float] | None = None
) -> Row:
    """A "times faster" row: the ratio is baseline / value."""
    ratio = statistics.median(ratios) if ratios else stock_ms / ours_ms
    return Row(
        key,
        name,
        f"{ours_ms:,.1f} ms",
        f"{stock_ms:,.1f} ms",
        ratio,
        f">= {bound:g}x",
        ratio >= bound,
        ratios=list(ratios or []),
    )


def block_ratios(values: list[float], baselines: list[float], blocks: int = MIN_ROUNDS) -> list[float]:
    """Ratios of block medians: interleaved samples cut into ``blocks`` consecutive rounds."""
    size = max(1, min(len(values), len(baselines)) // blocks)
    return [
        statistics.median(values[start : start + size]) / statistics.median(baselines[start : start + size])
        for start in range(0, size * blocks, size)
        if values[start : start + size] and baselines[start : start + size]
    ]


def surface_present(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def valid_stream_indexes(seeded: Seeded, start: int, count: int) -> list[int]:
    """Indexes of unexpired stream-app tokens from ``start`` (1 in 41 has expired)."""
    found = []
    index = start
    while len(found) < count:
        if seeded.stream_token_valid(index):
            found.append(index)
        index += 1
    return found


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {token}"),)


def basic(client_id: str, secret: str) -> tuple[tuple[str, str], ...]:
    import base64

    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return (("Authorization", f"Basic {encoded}"),)


# --- 1. throughput of GET /stream/0/token against the floor ---------------------------------


def throughput(srv: server.Server, seeded: Seeded, *, seconds: int, reps: int, connections: int) -> list[Row]:
    tokens = [seeded.stream_token(k) for k in valid_stream_indexes(seeded, THROUGHPUT_AT, 200)]
    rates: dict[str, list[float]] = {"floor": [], "adn": []}
    paths = {"floor": "/bench/floor/token", "adn": "/stream/0/token"}
    for rep in range(reps):
        order = ["floor", "adn"] if rep % 2 == 0 else ["adn", "floor"]
        for name in order:
            generate = server.wrk if server.have_wrk() else server.python_load
            result = generate(srv, paths[name], tokens, seconds=seconds, connections=connections)
            if result.errors:
                raise RuntimeError(f"wrk {paths[name]}: {result.errors} errors of {result.requests}")
            rates[name].append(result.requests_per_second)
    adn, floor = statistics.median(rates["adn"]), statistics.median(rates["floor"])
    ratios = [a / f for a, f in zip(rates["adn"], rates["floor"], strict=True)]
    note = (
        f"{'wrk' if server.have_wrk() else 'Python client (no wrk)'} -c{connections} {seconds}s "
        f"x{reps} each, alternated; "
        f"adn {', '.join(f'{r:.0f}' for r in rates['adn'])}; "
        f"floor {', '.join(f'{r:.0f}' for r in rates['floor'])}"
    )
    return [
        ratio_row(
            "1",
            "GET /stream/0/token throughput vs floor view (DRF + OAuth2Authentication, 1 query)",
            adn,
            floor,
            "req/s",
            ">=",
            0.9,
            note,
            ratios,
        )
    ]


# --- 2, 5, 6: latency ratios, interleaved ----------------------------------------------------


def latency_ratios(
    srv: server.Server, seeded: Seeded, *, rounds: int, max_seconds: float
) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    missing: list[str] = []
    stream_token = server.Call(
        "/stream/0/token", bearer(seeded.stream_token(valid_stream_indexes(seeded, SINGLE_AT, 1)[0]))
    )

    if surface_present("token_admin.api.stackexchange.views"):
        pool = [seeded.stream_token(k) for k in valid_stream_indexes(seeded, SE_POOL_AT, 400)]
        twenty = [server.Call(f"/2.2/access-tokens/{';'.join(pool[i : i + 20])}") for i in range(0, 400, 20)]
        one = [server.Call(f"/2.2/access-tokens/{token}") for token in pool[::20]]
        result = server.interleaved_latencies(
            srv, {"20": twenty, "1": one}, rounds=rounds, max_seconds=max_seconds
        )
        rows.append(
            ratio_row(
                "2",
                "SE GET /2.2/access-tokens/{20 tokens} vs {1 token}",
                result["20"].median,
                result["1"].median,
                "ms",
                "<=",
                1.5,
                f"median of {len(result['20'].samples_ms)}; "
                f"p90 {result['20'].p90:.1f} vs {result['1'].p90:.1f} ms",
                block_ratios(result["20"].samples_ms, result["1"].samples_ms),
            )
        )
    else:
        missing.append("2 (Stack Exchange API)")

    if surface_present("token_admin.api.end_user.views"):
        user_id = seeded.extra["end_user_id"]
        credentials = basic(seeded.api_client.client_id, seeded.api_client_secret)
        end_user = server.Call(f"/oauth/api/v1/users/{user_id}/tokens", credentials)
        # The first call pays the PBKDF2 check once and fills the cache; then it is cached.
        server.request(srv.port, "GET", end_user.path, dict(end_user.headers))
        result = server.interleaved_latencies(
            srv, {"end_user": [end_user], "token": [stream_token]}, rounds=rounds, max_seconds=max_seconds
        )
        rows.append(
            ratio_row(
                "5",
                "End-user GET users/{id}/tokens (Basic) vs GET /stream/0/token",
                result["end_user"].median,
                result["token"].median,
                "ms",
                "<=",
                2.0,
                f"median of {len(result['token'].samples_ms)}; user with {seeded.extra['end_user_sessions']} "
                f"sessions; p90 {result['end_user'].p90:.1f} vs {result['token'].p90:.1f} ms",
                block_ratios(result["end_user"].samples_ms, result["token"].samples_ms),
            )
        )
    else:
        missing.append("5 (end-user API)")

    if surface_present("token_admin.api.adn.views"):
        app_token = bearer(seeded.stream_app_token)
        deep_ids = seeded.extra["deep_before_ids"]
        deep = [server.Call(f"/stream/0/apps/me/tokens?before_id={before}", app_token) for before in deep_ids]
        first = [server.Call("/stream/0/apps/me/tokens", app_token)]
        result = server.interleaved_latencies(
            srv, {"deep": deep, "first": first}, rounds=rounds, max_seconds=max_seconds
        )
        rows.append(
            ratio_row(
                "6",
                f"ADN apps/me/tokens page at depth {seeded.extra['deep_depth']:,} vs first page",
                result["deep"].median,
                result["first"].median,
                "ms",
                "<=",
                1.5,
                f"median of {len(result['deep'].samples_ms)}; "
                f"p90 {result['deep'].p90:.1f} vs {result['first'].p90:.1f} ms",
                block_ratios(result["deep"].samples_ms, result["first"].samples_ms),
            )
        )
    else:
        missing.append("6 (App.net API)")
    return rows, missing


# --- 3. admin bulk revoke ------------------------------------------------------------------


@contextmanager
def count_queries() -> Iterator[list[int]]:
    """Count SQL statements with an execute wrapper (cheaper than capturing them)."""
    counter = [0]

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        counter[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counter


def admin_revoke(seeded: Seeded, *, reps: int) -> tuple[list[Row], list[tuple[str, int, int]]]:
    """N selected tokens (900, fewer in a smoke run): DOT's stock action vs token_admin's, by changelist."""
    application = seeded.extra["admin_app"]
    count = seeded.extra["admin_tokens"]
    access_token_model = get_access_token_model()
    client = Client()
    client.force_login(seeded.admin_user)
    stock_url = "/bench/stock-admin/oauth2_provider/accesstoken/"
    ours_url = "/admin/oauth2_provider/accesstoken/"
    times: dict[str, list[float]] = {"stock": [], "ours": [], "ours_with_page": []}
    counts: dict[str, int] = {}

    def selected() -> list[str]:
        ids = access_token_model.objects.filter(application=application).values_list("pk", flat=True)
        return [str(pk) for pk in ids]

    def check_revoked() -> None:
        live = access_token_model.objects.filter(application=application).count()
        live_refresh = get_refresh_token_model().objects.filter(application=application, revoked__isnull=True)
        if live or live_refresh.exists():
            raise RuntimeError(f"admin revoke left {live} access tokens or live refresh tokens")

    for rep in range(reps):
        order = ["stock", "ours"] if rep % 2 == 0 else ["ours", "stock"]
        for name in order:
            seed.restore(application.pk, "adm")
            ids = selected()
            if len(ids) != count:
                raise RuntimeError(f"expected {count} tokens, found {len(ids)}")
            if name == "stock":
                data = {"action": "revoke_tokens", "_selected_action": ids, "index": "0"}
                with count_queries() as counter:
                    start = time.perf_counter()
                    response = client.post(stock_url, data)
                    elapsed = time.perf_counter() - start
                if response.status_code != 302:
                    raise RuntimeError(f"stock admin action answered {response.status_code}")
                times["stock"].append(elapsed)
                counts["stock"] = counter[0]
            else:
                page_data = {"action": "revoke_selected_tokens", "_selected_action": ids, "index": "0"}
                with count_queries() as page_counter:
                    start = time.perf_counter()
                    page = client.post(ours_url, page_data)
                    page_elapsed = time.perf_counter() - start
                if page.status_code != 200 or b'name="post"' not in page.content:
                    raise RuntimeError(f"token_admin confirmation page answered {page.status_code}")
                # The confirmed POST carries the selection its confirmation page signed, as a browser does.
                signed = re.search(rb'name="selection" value="([^"]*)"', page.content)
                if signed is None:
                    raise RuntimeError("the confirmation page carries no signed selection")
                data = {
                    "action": "revoke_selected_tokens",
                    "_selected_action": ids,
                    "post": "yes",
                    "reason": "benchmark",
                    "selection": html.unescape(signed.group(1).decode()),
                }
                with count_queries() as counter:
                    start = time.perf_counter()
                    response = client.post(ours_url, data)
                    elapsed = time.perf_counter() - start
                if response.status_code != 302:
                    raise RuntimeError(f"token_admin action answered {response.status_code}")
                times["ours"].append(elapsed)
                times["ours_with_page"].append(elapsed + page_elapsed)
                counts["ours"] = counter[0]
                counts["ours_page"] = page_counter[0]
            check_revoked()
    stock = statistics.median(times["stock"]) * 1000
    ours = statistics.median(times["ours"]) * 1000
    with_page = statistics.median(times["ours_with_page"]) * 1000
    rounds = list(zip(times["stock"], times["ours"], times["ours_with_page"], strict=True))
    rows = [
        speedup_row(
            "3",
            f"Admin revoke {count:,} selected: token_admin (confirmed POST) vs DOT stock action",
            ours,
            stock,
            ratios=[s / o for s, o, _ in rounds],
        ),
        speedup_row(
            "3b",
            "  same, token_admin incl. its confirmation-page POST",
            with_page,
            stock,
            ratios=[s / p for s, _, p in rounds],
        ),
    ]
    rows[0].note = f"ratio = stock / token_admin (speed-up); median of {reps}, alternated, re-seeded each run"
    query_rows = [
        (f"admin POST revoke {count:,} (DOT stock action)", counts["stock"], 302),
        (
            f"admin POST revoke {count:,} (token_admin, confirmation page)",
            counts["ours_page"],
            200,
        ),
        (f"admin POST revoke {count:,} (token_admin, confirmed)", counts["ours"], 302),
    ]
    return rows, query_rows


# --- 4. revoke_applications on 100,000 tokens against raw SQL --------------------------------


def floor_revoke_application(application_id: int) -> tuple[int, int]:
    """The physical floor: mark the live refresh tokens revoked (unbinding them), delete the tokens."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RT} SET revoked = now(), updated = now(), access_token_id = NULL "
            "WHERE application_id = %s AND revoked IS NULL",
            (application_id,),
        )
        refresh = cursor.rowcount
        cursor.execute(f"DELETE FROM {AT} WHERE application_id = %s", (application_id,))
        access = cursor.rowcount
        cursor.execute("DELETE FROM oauth2_provider_grant WHERE application_id = %s", (application_id,))
    return access, refresh


def revoke_app(seeded: Seeded, *, reps: int) -> tuple[list[Row], list[tuple[str, int, int]]]:
    application = seeded.extra["bulk_app"]
    expected = seeded.extra["bulk_tokens"]
    times: dict[str, list[float]] = {"ours": [], "floor": []}
    counts: dict[str, int] = {}
    for rep in range(reps):
        order = ["ours", "floor"] if rep % 2 == 0 else ["floor", "ours"]
        for name in order:
            seed.restore(application.pk, "bulk")
            with count_queries() as counter:
                start = time.perf_counter()
                if name == "ours":
                    result = revoke(
                        Selection.applications([application]),
                        surface=Surface.COMMAND,
                        actor=Actor.command("bench"),
                    )
                    access, refresh = result.access_tokens, result.refresh_tokens
                else:
                    access, refresh = floor_revoke_application(application.pk)
                elapsed = time.perf_counter() - start
            if (access, refresh) != (expected, expected):
                raise RuntimeError(f"{name} revoked {access} access, {refresh} refresh; expected {expected}")
            times[name].append(elapsed)
            counts[name] = counter[0]
    ours, floor = statistics.median(times["ours"]) * 1000, statistics.median(times["floor"]) * 1000
    note = (
        f"median of {reps}, re-seeded each run; ours {', '.join(f'{t * 1000:,.0f}' for t in times['ours'])}; "
        f"floor {', '.join(f'{t * 1000:,.0f}' for t in times['floor'])} ms"
    )
    rows = [
        ratio_row(
            "4",
            f"revoke_applications, app with {expected:,} tokens+refresh vs raw SQL",
            ours,
            floor,
            "ms",
            "<=",
            3,
            note,
            [o / f for o, f in zip(times["ours"], times["floor"], strict=True)],
        )
    ]
    query_rows = [
        (f"revoke_applications ({expected:,} tokens)", counts["ours"], 0),
        (f"raw SQL floor ({expected:,} tokens)", counts["floor"], 0),
    ]
    return rows, query_rows


# --- 7. queries per request ------------------------------------------------------------------


def query_table(seeded: Seeded) -> tuple[list[tuple[str, int, int]], list[str]]:
    """``(endpoint, queries, status)`` for every endpoint, through the test client in-process."""
    client = Client()
    results: list[tuple[str, int, int]] = []
    missing: list[str] = []
    reserved = iter(seeded.stream_token(k) for k in valid_stream_indexes(seeded, RESERVED_AT, 100))

    def measure(label: str, method: str, path: str, status: int, **extra: Any) -> None:
        # One call first: caches (ContentType, the secret check) are warm, as in a live server.
        with CaptureQueriesContext(connection) as captured:
            response = getattr(client, method)(path, **extra)
        if response.status_code != status:
            raise RuntimeError(f"{label}: {method.upper()} {path} answered {response.status_code}")
        results.append((label, len(captured.captured_queries), response.status_code))

    user_token = seeded.stream_token(valid_stream_indexes(seeded, SINGLE_AT, 1)[0])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {user_token}"}
    app_auth = {"HTTP_AUTHORIZATION": f"Bearer {seeded.stream_app_token}"}
    client.get("/bench/floor/token", **auth)  # warm-up
    measure(
        "floor: GET /bench/floor/token (DRF + OAuth2Authentication)", "get", "/bench/floor/token", 200, **auth
    )

    if surface_present("token_admin.api.adn.views"):
        measure("ADN GET /stream/0/token (user token)", "get", "/stream/0/token", 200, **auth)
        measure("ADN GET /stream/0/token (app token)", "get", "/stream/0/token", 200, **app_auth)
        measure("ADN GET apps/me/tokens (first page)", "get", "/stream/0/apps/me/tokens", 200, **app_auth)
        before = seeded.extra["deep_before_ids"][0]
        measure(
            f"ADN GET apps/me/tokens?before_id= (depth {seeded.extra['deep_depth']:,})",
            "get",
            f"/stream/0/apps/me/tokens?before_id={before}",
            200,
            **app_auth,
        )
        measure(
            "ADN GET apps/me/tokens?count=200", "get", "/stream/0/apps/me/tokens?count=200", 200, **app_auth
        )
        measure(
            "ADN GET apps/me/tokens/user_ids", "get", "/stream/0/apps/me/tokens/user_ids", 200, **app_auth
        )
        doomed = next(reserved)
        measure(
            "ADN DELETE /stream/0/token",
            "delete",
            "/stream/0/token",
            200,
            HTTP_AUTHORIZATION=f"Bearer {doomed}",
        )
    else:
        missing.append("App.net API")

    if surface_present("token_admin.api.stackexchange.views"):
        one = next(reserved)
        twenty = [next(reserved) for _ in range(20)]
        measure("SE GET access-tokens/{1}", "get", f"/2.2/access-tokens/{one}", 200)
        measure("SE GET access-tokens/{20}", "get", f"/2.2/access-tokens/{';'.join(twenty)}", 200)
        measure("SE GET access-tokens/{1}/invalidate", "get", f"/2.2/access-tokens/{one}/invalidate", 200)
        invalidate = [next(reserved) for _ in range(20)]
        measure(
            "SE GET access-tokens/{20}/invalidate",
            "get",
            f"/2.2/access-tokens/{';'.join(invalidate)}/invalidate",
            200,
        )
        deauth = [next(reserved) for _ in range(20)]
        measure(
            "SE GET apps/{20}/de-authenticate", "get", f"/2.2/apps/{';'.join(deauth)}/de-authenticate", 200
        )
    else:
        missing.append("Stack Exchange API")

    if surface_present("token_admin.api.end_user.views"):
        user_id = seeded.extra["end_user_id"]
        credentials = dict(basic(seeded.api_client.client_id, seeded.api_client_secret))
        basic_auth = {"HTTP_AUTHORIZATION": credentials["Authorization"]}
        path = f"/oauth/api/v1/users/{user_id}/tokens"
        client.get(path, **basic_auth)  # the secret check, cached from here on
        measure(
            f"end-user GET users/{{id}}/tokens ({seeded.extra['end_user_sessions']} sessions)",
            "get",
            path,
            200,
            **basic_auth,
        )
        session_id = seeded.extra["end_user_doomed_session"]
        measure(
            "end-user DELETE users/{id}/tokens/{session}",
            "delete",
            f"/oauth/api/v1/users/{seeded.extra['end_user_doomed_user']}/tokens/{session_id}",
            204,
            **basic_auth,
        )
    else:
        missing.append("end-user API")

    if surface_present("token_admin.admin"):
        client.force_login(seeded.admin_user)
        client.get("/admin/oauth2_provider/accesstoken/")  # warm-up
        measure("admin GET access-token changelist", "get", "/admin/oauth2_provider/accesstoken/", 200)
        measure(
            "admin GET access-token changelist (DOT stock admin)",
            "get",
            "/bench/stock-admin/oauth2_provider/accesstoken/",
            200,
        )
    return results, missing


def app_ids() -> dict[str, int]:
    return dict(get_application_model().objects.values_list("name", "pk"))


def deep_page(seeded: Seeded) -> None:
    """Pick ``before_id`` values ``depth`` tokens down the stream app's list (the deep page)."""
    visible = queries.app_user_tokens(seeded.stream_app)
    total = visible.count()
    depth = min(100_000, total - 200)
    before_ids = list(visible.values_list("pk", flat=True)[depth - 1 : depth + 80 : 20])
    seeded.extra["deep_depth"] = depth
    seeded.extra["deep_before_ids"] = before_ids
    seeded.extra["stream_visible"] = total


def end_user(seeded: Seeded) -> None:
    """A typical user (sessions in several apps) for the end-user API, and one to revoke from."""
    from token_admin.models import TokenSession

    token = get_access_token_model().objects.get(
        token_checksum=queries.checksum(seeded.stream_token(valid_stream_indexes(seeded, END_USER_AT, 1)[0]))
    )
    seeded.extra["end_user_id"] = token.user_id
    seeded.extra["end_user_sessions"] = len(list(queries.end_user_sessions(token.user_id)))
    doomed = get_access_token_model().objects.get(
        token_checksum=queries.checksum(
            seeded.stream_token(valid_stream_indexes(seeded, DOOMED_SESSION_AT, 1)[0])
        )
    )
    family = get_refresh_token_model().objects.get(access_token=doomed).token_family
    seeded.extra["end_user_doomed_user"] = doomed.user_id
    seeded.extra["end_user_doomed_session"] = str(TokenSession.objects.get(token_family=family).public_id)


__all__ = ["Row", "SESSION"]
