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
import html
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
    after: Callable[[Any], None] | None = None  # untimed, after each call (checks what it did)


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


# Access tokens the admin revokes as a selection: 900 of the revoked user's 1,000, by id.
REVOKE_SELECTED = 900
_SELECTED: dict[int, list[str]] = {}


def _selected_ids(cast: Any) -> list[str]:
    """The selection's ids (the snapshot restores the same ids: read once per size)."""
    from oauth2_provider.models import get_access_token_model

    if cast.size not in _SELECTED:
        rows = get_access_token_model().objects.filter(user_id=cast.revoked_user_id).order_by("pk")
        _SELECTED[cast.size] = [str(pk) for pk in rows.values_list("pk", flat=True)[:REVOKE_SELECTED]]
    return _SELECTED[cast.size]


def _form_post(client: Any, url: str, data: dict[str, Any]) -> Any:
    """POST a form as a browser sends the changelist's (urlencoded; the test client's default,
    multipart, takes longer to parse 900 ids than the rest of the request)."""
    from urllib.parse import urlencode

    return client.post(url, urlencode(data, doseq=True), content_type="application/x-www-form-urlencoded")


def _admin_revoke(client: Any, cast: Any) -> None:
    """token_admin's action: the confirmation page (a dry run), then the confirmed POST."""
    ids = _selected_ids(cast)
    url = "/admin/oauth2_provider/accesstoken/"
    page = _form_post(
        client, url, {"action": "revoke_selected_tokens", "_selected_action": ids, "index": "0"}
    )
    signed = re.search(rb'name="selection" value="([^"]*)"', page.content)
    if page.status_code != 200 or signed is None:
        raise RuntimeError(f"the confirmation page answered {page.status_code}")
    data = {
        "action": "revoke_selected_tokens",
        "_selected_action": ids,
        "post": "yes",
        "reason": "bench",
        "selection": html.unescape(signed.group(1).decode()),
    }
    response = _form_post(client, url, data)
    if response.status_code != 302:
        raise RuntimeError(f"the confirmed revocation answered {response.status_code}")


def _dot_revoke(client: Any, cast: Any) -> None:
    """DOT's stock action on the same selection (one token at a time, no confirmation page)."""
    data = {"action": "revoke_tokens", "_selected_action": _selected_ids(cast), "index": "0"}
    response = _form_post(client, "/bench/stock-admin/oauth2_provider/accesstoken/", data)
    if response.status_code != 302:
        raise RuntimeError(f"DOT's stock action answered {response.status_code}")


def _selection_revoked(cast: Any) -> None:
    from oauth2_provider.models import get_access_token_model

    left = get_access_token_model().objects.filter(user_id=cast.revoked_user_id).count()
    if left != 1_000 - REVOKE_SELECTED:
        raise RuntimeError(f"{left} of the revoked user's tokens left, expected {1_000 - REVOKE_SELECTED}")


# --- every admin list x filter x sort x search ----------------------------------------------

_FOUND: dict[tuple[int, str], str] = {}


def _found(cast: Any, what: str) -> str:
    """A value of the seeded data a URL names (an app's client id, a session's public id...),
    read once per size (the first, untimed call of each measure reads it)."""
    from oauth2_provider.models import get_application_model

    from token_admin.models import Device, TokenSession

    key = (cast.size, what)
    if key not in _FOUND:
        if what == "client_id":
            value = get_application_model().objects.get(name=SEARCHED_APP).client_id
        elif what == "old_client_id":
            value = get_application_model().objects.get(name="Old app").client_id
        elif what == "session":
            value = str(TokenSession.objects.filter(user_id=cast.end_user_id).order_by("pk")[0].public_id)
        elif what == "device":
            value = str(Device.objects.order_by("pk").values_list("pk", flat=True)[0])
        else:
            raise KeyError(what)
        _FOUND[key] = value
    return _FOUND[key]


def _admin(path: str, **params: str) -> Callable[[Any, Any], None]:
    """GET an admin changelist; ``{client_id}``, ``{session}``, ``{device}``, ``{cast...}`` in
    a value are filled from the seeded data. A 200 with the changelist's form, or it raises
    (``?e=1``, Django's redirect for a refused filter, is a wrong answer)."""
    from urllib.parse import urlencode

    def call(client: Any, cast: Any) -> None:
        filled = {}
        for name, value in params.items():
            for what in ("client_id", "old_client_id", "session", "device"):
                if "{" + what + "}" in value:
                    value = value.replace("{" + what + "}", _found(cast, what))
            filled[name] = value.format(cast=cast)
        url = f"/admin/{path}/" + (f"?{urlencode(filled)}" if filled else "")
        response = client.get(url)
        if response.status_code != 200 or b'id="changelist"' not in response.content:
            raise RuntimeError(f"GET {url} answered {response.status_code}")

    return call


SEARCHED_APP = "Other app 3"  # one app of ten, about 1/30 of the tokens
AT_PATH = "oauth2_provider/accesstoken"
RT_PATH = "oauth2_provider/refreshtoken"
SESSION_PATH = "token_admin/tokensession"
DEVICE_PATH = "token_admin/device"
ADMIN_MEASURES = [
    # Access tokens: search by user, app name, client id, pasted token; each filter; each sort.
    Measure("admin-at-search-user", "admin access tokens, search a user", _admin(AT_PATH, q="end-user")),
    Measure(
        "admin-at-search-user-dot",
        "admin access tokens, search a user, DOT's stock admin (peer)",
        _get("/bench/stock-admin/oauth2_provider/accesstoken/?q=end-user"),
    ),
    Measure(
        "admin-at-search-app", "admin access tokens, search an app name", _admin(AT_PATH, q=SEARCHED_APP)
    ),
    Measure(
        "admin-at-search-app-dot",
        "admin access tokens, search an app name, DOT's stock admin (peer)",
        _get("/bench/stock-admin/oauth2_provider/accesstoken/?q=Other+app+3"),
    ),
    Measure(
        "admin-at-search-client", "admin access tokens, search a client id", _admin(AT_PATH, q="{client_id}")
    ),
    Measure(
        "admin-at-search-token",
        "admin access tokens, search a pasted token",
        _admin(AT_PATH, q="{cast.user_tokens[0]}"),
    ),
    Measure(
        "admin-at-search-none",
        "admin access tokens, search matching nothing",
        _admin(AT_PATH, q="nobody-here"),
    ),
    Measure("admin-at-app", "admin access tokens of one app", _admin(AT_PATH, app="{client_id}")),
    Measure(
        "admin-at-app-old",
        "admin access tokens of the app whose tokens are old",
        _admin(AT_PATH, app="{old_client_id}"),
    ),
    Measure("admin-at-user", "admin access tokens of one user", _admin(AT_PATH, user="{cast.end_user_id}")),
    Measure("admin-at-session", "admin access tokens of one session", _admin(AT_PATH, session="{session}")),
    Measure("admin-at-device", "admin access tokens of one device", _admin(AT_PATH, device="{device}")),
    Measure("admin-at-active", "admin access tokens, active", _admin(AT_PATH, status="active")),
    Measure("admin-at-expired", "admin access tokens, expired", _admin(AT_PATH, status="expired")),
    Measure(
        "admin-at-refresh-yes", "admin access tokens with a refresh token", _admin(AT_PATH, refresh="yes")
    ),
    Measure(
        "admin-at-refresh-no", "admin access tokens without a refresh token", _admin(AT_PATH, refresh="no")
    ),
    Measure("admin-at-device-none", "admin access tokens on no device", _admin(AT_PATH, device="none")),
    Measure("admin-at-sort-user", "admin access tokens by user", _admin(AT_PATH, o="2")),
    Measure("admin-at-sort-app", "admin access tokens by app", _admin(AT_PATH, o="3")),
    Measure("admin-at-sort-expires", "admin access tokens by expiry", _admin(AT_PATH, o="4")),
    Measure(
        "admin-at-sort-expires-desc", "admin access tokens by expiry, latest first", _admin(AT_PATH, o="-4")
    ),
    Measure(
        "admin-at-app-expired-sort",
        "admin access tokens of one app, expired, by user",
        _admin(AT_PATH, app="{client_id}", status="expired", o="2"),
    ),
    # Refresh tokens.
    Measure(
        "admin-rt-search-app", "admin refresh tokens, search an app name", _admin(RT_PATH, q=SEARCHED_APP)
    ),
    Measure(
        "admin-rt-search-client", "admin refresh tokens, search a client id", _admin(RT_PATH, q="{client_id}")
    ),
    Measure("admin-rt-app", "admin refresh tokens of one app", _admin(RT_PATH, app="{client_id}")),
    Measure(
        "admin-rt-app-old",
        "admin refresh tokens of the app whose tokens are old",
        _admin(RT_PATH, app="{old_client_id}"),
    ),
    Measure("admin-rt-user", "admin refresh tokens of one user", _admin(RT_PATH, user="{cast.end_user_id}")),
    Measure("admin-rt-sort-user", "admin refresh tokens by user", _admin(RT_PATH, o="2")),
    Measure("admin-rt-sort-app", "admin refresh tokens by app", _admin(RT_PATH, o="3")),
    Measure("admin-rt-sort-created", "admin refresh tokens by creation", _admin(RT_PATH, o="4")),
    Measure("admin-rt-sort-revoked", "admin refresh tokens by revocation", _admin(RT_PATH, o="-5")),
    # Sessions.
    Measure("admin-session-search-user", "admin sessions, search a user", _admin(SESSION_PATH, q="end-user")),
    Measure(
        "admin-session-search-app", "admin sessions, search an app name", _admin(SESSION_PATH, q=SEARCHED_APP)
    ),
    Measure("admin-session-app", "admin sessions of one app", _admin(SESSION_PATH, app="{client_id}")),
    Measure(
        "admin-session-app-old",
        "admin sessions of the app whose tokens are old",
        _admin(SESSION_PATH, app="{old_client_id}"),
    ),
    Measure(
        "admin-session-user", "admin sessions of one user", _admin(SESSION_PATH, user="{cast.end_user_id}")
    ),
    Measure("admin-session-live", "admin sessions, signed in", _admin(SESSION_PATH, status="live")),
    Measure("admin-session-ended", "admin sessions, ended", _admin(SESSION_PATH, status="ended")),
    Measure("admin-session-device-none", "admin sessions on no device", _admin(SESSION_PATH, device="none")),
    Measure(
        "admin-session-unused", "admin sessions unused for 30 days", _admin(SESSION_PATH, unused_days="30")
    ),
    Measure("admin-session-sort-began", "admin sessions by start", _admin(SESSION_PATH, o="5")),
    Measure("admin-session-sort-user", "admin sessions by user", _admin(SESSION_PATH, o="2")),
    Measure("admin-session-sort-app", "admin sessions by app", _admin(SESSION_PATH, o="3")),
    # Devices.
    Measure("admin-device-search", "admin devices, search a name", _admin(DEVICE_PATH, q="Phone 7")),
    Measure("admin-device-user", "admin devices of one user", _admin(DEVICE_PATH, user="{cast.end_user_id}")),
    Measure("admin-device-sort-created", "admin devices by creation", _admin(DEVICE_PATH, o="5")),
]


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
    *ADMIN_MEASURES,
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
    Measure(
        "admin-revoke-900",
        "admin revoke 900 selected tokens (confirmation page + confirmed POST)",
        _admin_revoke,
        before=_restore,
        after=_selection_revoked,
    ),
    Measure(
        "admin-revoke-900-dot",
        "admin revoke 900 selected tokens, DOT's stock action (peer)",
        _dot_revoke,
        before=_restore,
        after=_selection_revoked,
    ),
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
        if measure.after is not None:
            measure.after(cast)
        if index:
            samples.append(elapsed)
    return statistics.median(samples)


def explain(measure: Measure, client: Any, cast: Any, analyze: bool = False) -> list[dict[str, Any]]:
    """Each statement of one call, with its plan (EXPLAIN, not run again; with ``analyze``,
    each read is run again by EXPLAIN ANALYZE) and any token-table seq scan."""
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
        read = re.match(r"\s*(SELECT|WITH)\b", sql, re.IGNORECASE) is not None
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}" if analyze and read else f"EXPLAIN {sql}")
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


@dataclass(frozen=True)
class Peer:
    """token_admin's measure against DOT's stock one on the same data, round by round.

    ``cost``: ours / stock at the large size, at most ``target``. ``speedup``: stock / ours,
    at least ``target``, at each size.
    """

    ours: str
    stock: str
    name: str
    kind: str
    target: float


PEERS = [
    Peer("admin-at", "admin-at-dot", "admin access-token list: token_admin / DOT stock", "cost", 1.0),
    Peer(
        "admin-at-search-user",
        "admin-at-search-user-dot",
        "admin access tokens, search a user: token_admin / DOT stock",
        "cost",
        1.0,
    ),
    Peer(
        "admin-at-search-app",
        "admin-at-search-app-dot",
        "admin access tokens, search an app name: token_admin / DOT stock",
        "cost",
        1.0,
    ),
    Peer(
        "admin-revoke-900",
        "admin-revoke-900-dot",
        "admin revoke 900 selected: DOT stock / token_admin (speed-up)",
        "speedup",
        20.0,
    ),
]
PEER_KEYS = {key for peer in PEERS for key in (peer.ours, peer.stock)}


def peer_rows(results: list[Result]) -> list[dict[str, Any]]:
    by_key = {result.measure.key: result for result in results}
    rows = []
    for peer in PEERS:
        if peer.ours not in by_key or peer.stock not in by_key:
            continue
        ours, stock = by_key[peer.ours], by_key[peer.stock]
        sizes = ["large"] if peer.kind == "cost" else ["small", "large"]
        for size in sizes:
            mine, theirs = getattr(ours, size), getattr(stock, size)
            if peer.kind == "cost":
                ratios = [o / s for o, s in zip(mine, theirs, strict=True)]
                met = statistics.median(ratios) <= peer.target
                target = f"<= {peer.target:g}"
            else:
                ratios = [s / o for o, s in zip(mine, theirs, strict=True)]
                met = statistics.median(ratios) >= peer.target
                target = f">= {peer.target:g}"
            rows.append(
                {
                    "measure": f"{peer.name}, {size} size",
                    "ours_ms": round(statistics.median(mine), 2),
                    "stock_ms": round(statistics.median(theirs), 2),
                    "ratio_min": round(min(ratios), 3),
                    "ratio_median": round(statistics.median(ratios), 3),
                    "ratio_max": round(max(ratios), 3),
                    "target": target,
                    "met": met,
                }
            )
    return rows


def print_table(header: list[str], rows: list[dict[str, Any]], peers: list[dict[str, Any]]) -> None:
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
        result = "(peer)" if row["key"].endswith("-dot") else "met" if row["met"] else "MISSED"
        print(
            f"{row['measure']:<{width}}  {row['small_ms']:>9.1f}  {row['large_ms']:>9.1f}  "
            f"{row['ratio_min']:>6.2f}  {row['ratio_median']:>6.2f}  {row['ratio_max']:>6.2f}  "
            f"{row['target']:>7}  {result}"
        )
    print()
    for peer in peers:
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
    parser.add_argument(
        "--analyze", action="store_true", help="with --explain: EXPLAIN (ANALYZE, BUFFERS) each read"
    )
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
    # A peer's measures run together: --only names either of them.
    wanted = set(args.only)
    for peer in PEERS:
        if wanted & {peer.ours, peer.stock}:
            wanted |= {peer.ours, peer.stock}
    measures = [m for m in MEASURES if not args.only or m.key in wanted]

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
                plans[measure.key] = explain(measure, clients["large"], casts["large"], args.analyze)
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
        peers = peer_rows(results)
        seq_scans = {key: sorted({t for s in found for t in s["seq_scans"]}) for key, found in plans.items()}
        seq_scans = {key: tables for key, tables in seq_scans.items() if tables}
        if args.json:
            document: dict[str, Any] = {"environment": header, "measures": rows, "peers": peers}
            if args.explain:
                document["explain"] = plans
                document["seq_scans"] = seq_scans
            print(json.dumps(document, indent=2, default=str))
        else:
            print_table(header, rows, peers)
            if args.explain:
                print_explain(plans)
                print()
                print(
                    "seq scans over token tables at the large size: "
                    + (", ".join(f"{k} ({', '.join(v)})" for k, v in seq_scans.items()) or "none")
                )
        missed = [row for row in rows if not row["met"] and not row["key"].endswith("-dot")]
        failed = bool(seq_scans) or (args.strict and (missed or not all(peer["met"] for peer in peers)))
        return 1 if failed else 0
    finally:
        connections.close_all()
        if not args.keep_db:
            for name in names.values():
                admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
