"""The admin at any table size: revoking a selection, search, sorting and filters read by index.

The plan tests run on PostgreSQL only (``DATABASE_URL=postgres://...``), with sequential scans
(and hash and merge joins) disabled: PostgreSQL then still plans one, or walks a whole index,
only where no index can serve a statement, so a few thousand rows show what
``bench/scale.py --explain`` shows at a million.
The other tests (any database) check what staff see: which rows a search finds, which
columns sort, what a filter that looks at the newest rows only says.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from tests.factories import AccessTokenFactory, ApplicationFactory, DeviceFactory, UserFactory, issue_session
from tests.helpers import translated
from tests.test_admin import TOKENS_URL, bulk_tokens, counts_on_page, messages_of, post_action, staff, url
from token_admin.admin import search
from token_admin.admin.mixins import PageChangeList
from token_admin.models import TokenSession

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Application = get_application_model()

pytestmark = pytest.mark.django_db
# The filler rows are inserted by the bench's SQL, which names DOT's own tables.
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql" or AccessToken._meta.db_table != "oauth2_provider_accesstoken",
    reason="EXPLAIN of PostgreSQL, on DOT's own token tables",
)


@pytest.fixture
def revoker(client):
    """A superuser (every list, the revoke permission), logged in."""
    user = staff(superuser=True)
    client.force_login(user)
    return user


TOKEN_TABLES = {
    AccessToken._meta.db_table,
    RefreshToken._meta.db_table,
    TokenSession._meta.db_table,
}
SESSIONS_URL = "admin:token_admin_tokensession_changelist"
FILLER = 5_000
REFRESH_URL = f"admin:{RefreshToken._meta.app_label}_{RefreshToken._meta.model_name}_changelist"


def whole_table_reads(plan: dict[str, Any], limited: bool = False) -> list[str]:
    """Scans of a token table that read all of it: a sequential scan, or an index walked
    from end to end with no condition and no LIMIT above it to stop it (a sort, hash or
    aggregate between them reads all its input first)."""
    found = []
    kind, table = plan.get("Node Type", ""), plan.get("Relation Name")
    if kind in ("Sort", "Hash", "Aggregate", "Materialize"):
        limited = False
    limited = limited or kind == "Limit"
    if table in TOKEN_TABLES:
        if kind == "Seq Scan":
            found.append(f"Seq Scan on {table}")
        elif kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in plan and not limited:
            found.append(f"{kind} of all of {plan.get('Index Name')}")
    for child in plan.get("Plans", []):
        found += whole_table_reads(child, limited)
    return found


def assert_read_by_index(captured: CaptureQueriesContext) -> None:
    """Every read and write statement captured, planned with sequential scans, hash joins and
    merge joins off (on a few rows they are cheapest, and the last two walk whole indexes):
    what is left is a whole-table read only where no index can serve the statement."""
    checked = 0
    settings = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin")
    with connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(f"SET LOCAL {setting} = off")
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE", "DELETE")):
                continue
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            reads = whole_table_reads(plan[0]["Plan"])
            if reads:
                cursor.execute(f"EXPLAIN {sql}")
                text = "\n".join(row[0] for row in cursor.fetchall())
                raise AssertionError(f"{reads}\n{sql}\n{text}")
            checked += 1
        for setting in settings:
            cursor.execute(f"SET LOCAL {setting} = on")
    assert checked


def some_tokens(filler: int = 0) -> dict[str, Any]:
    """Two users, two apps, sessions with refresh tokens, lone tokens, a device; after
    ``filler`` older token pairs with sessions of another user and app (PostgreSQL only), so
    that the planner sees tables where reading all of one costs more than any index."""
    if filler:
        from bench.seed import seed_tokens

        app, user = ApplicationFactory(name="Filler"), UserFactory(username="filler")
        seed_tokens(kind="fill", first=0, count=filler, app_sql=str(app.pk), user_sql=str(user.pk))
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob-the-builder")
    stream, other = ApplicationFactory(name="Stream app"), ApplicationFactory(name="Other app")
    pairs = [issue_session(user, app) for user in (alice, bob) for app in (stream, other) for _ in range(3)]
    lone = [issue_session(alice, stream, refresh=False)[0] for _ in range(2)]
    device = DeviceFactory(user=alice, application=other)
    if connection.vendor == "postgresql":  # fresh statistics for the plans (MariaDB has no bare ANALYZE)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {
        "alice": alice,
        "bob": bob,
        "stream": stream,
        "other": other,
        "pairs": pairs,
        "lone": lone,
        "device": device,
    }


def rows_of(response: Any) -> set[int]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


# --- plans (PostgreSQL) ---------------------------------------------------------------------


@postgresql_only
def test_revoking_a_selection_reads_and_writes_by_index_only(client, revoker):
    seeded = some_tokens(filler=FILLER)
    ids = [access.pk for access, _ in seeded["pairs"][:5]] + [token.pk for token in seeded["lone"]]
    with CaptureQueriesContext(connection) as page:
        confirm = post_action(client, url(TOKENS_URL), "revoke_selected_tokens", ids)
    assert counts_on_page(confirm) == (7, 5)
    assert_read_by_index(page)
    with CaptureQueriesContext(connection) as confirmed:
        done = post_action(client, url(TOKENS_URL), "revoke_selected_tokens", ids, post="yes", reason="r")
    assert messages_of(done)[0].startswith("Revoked 7 access tokens and 5 refresh tokens")
    assert_read_by_index(confirmed)


@postgresql_only
@pytest.mark.parametrize(
    ("name", "params"),
    [
        (TOKENS_URL, {"q": "alice"}),
        (TOKENS_URL, {"q": "Stream"}),
        (TOKENS_URL, {"q": "alice other"}),
        (TOKENS_URL, {"q": "nobody"}),
        (TOKENS_URL, {"q": "{client_id}"}),
        (TOKENS_URL, {"q": "{session}"}),
        (TOKENS_URL, {"session": "{session}"}),
        (TOKENS_URL, {"device": "{device}"}),
        (TOKENS_URL, {"app": "Other app"}),
        (TOKENS_URL, {"user": "{alice}"}),
        (TOKENS_URL, {"o": "2"}),
        (TOKENS_URL, {"o": "-3"}),
        (TOKENS_URL, {"refresh": "no"}),
        (TOKENS_URL, {"device": "any"}),
        (TOKENS_URL, {"status": "expired", "o": "2"}),
        (REFRESH_URL, {"q": "bob"}),
        (REFRESH_URL, {"o": "4"}),
        (SESSIONS_URL, {"q": "alice"}),
        (SESSIONS_URL, {"q": "{session}"}),
        (SESSIONS_URL, {"status": "ended"}),
        (SESSIONS_URL, {"device": "none"}),
        (SESSIONS_URL, {"unused_days": "30"}),
        (SESSIONS_URL, {"o": "5"}),
        (SESSIONS_URL, {"o": "4"}),
    ],
)
def test_every_admin_list_search_sort_and_filter_reads_by_index(client, revoker, name, params, monkeypatch):
    # A window smaller than the table, as at any size past it.
    monkeypatch.setattr(PageChangeList, "window_size", FILLER // 5)
    seeded = some_tokens(filler=FILLER)
    session = TokenSession.objects.filter(user=seeded["alice"]).order_by("pk")[0]
    values = {
        "client_id": seeded["stream"].client_id,
        "session": str(session.public_id),
        "device": str(seeded["device"].pk),
        "alice": str(seeded["alice"].pk),
    }
    filled = {key: value.format(**values) for key, value in params.items()}
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url(name), filled)
    assert response.status_code == 200
    assert_read_by_index(captured)


# --- what staff see (any database) ----------------------------------------------------------


def test_search_finds_the_rows_of_matching_users_and_apps_every_term_matching_one(client, revoker):
    seeded = some_tokens()
    alice, stream, other = seeded["alice"], seeded["stream"], seeded["other"]
    alices = set(AccessToken.objects.filter(user=alice).values_list("pk", flat=True))
    streams = set(AccessToken.objects.filter(application=stream).values_list("pk", flat=True))

    assert rows_of(client.get(url(TOKENS_URL), {"q": "ALIC"})) == alices
    assert rows_of(client.get(url(TOKENS_URL), {"q": "stream"})) == streams
    # Each term matches the user or the app, as in Django's own search.
    assert rows_of(client.get(url(TOKENS_URL), {"q": "alice stream"})) == alices & streams
    assert rows_of(client.get(url(TOKENS_URL), {"q": stream.client_id})) == streams
    assert rows_of(client.get(url(TOKENS_URL), {"q": "nobody"})) == set()
    other_rt = set(RefreshToken.objects.filter(application=other).values_list("pk", flat=True))
    assert rows_of(client.get(url(REFRESH_URL), {"q": '"Other app"'})) == other_rt


def test_a_public_id_finds_its_session_and_the_session_s_tokens(client, revoker):
    seeded = some_tokens()
    access, refresh = seeded["pairs"][4]
    session = TokenSession.objects.get(token_family=refresh.token_family)

    sessions = client.get(url(SESSIONS_URL), {"q": str(session.public_id)})
    assert rows_of(sessions) == {session.pk}
    tokens = client.get(url(TOKENS_URL), {"q": str(session.public_id)})
    assert rows_of(tokens) == {access.pk}
    refresh_rows = client.get(url(REFRESH_URL), {"q": str(session.public_id)})
    assert rows_of(refresh_rows) == {refresh.pk}


def test_a_term_matching_too_many_users_says_so_and_lists_the_first_ones(client, revoker, monkeypatch):
    monkeypatch.setattr(search, "MATCH_LIMIT", 2)
    app = ApplicationFactory(name="App")
    users = [UserFactory(username=f"member-{n}") for n in range(4)]
    tokens = [AccessTokenFactory(user=user, application=app) for user in users]

    response = client.get(url(TOKENS_URL), {"q": "member"})
    shown = rows_of(response)  # the first two users by primary key (a UUID key: any two)
    assert len(shown) == 2
    assert shown < {token.pk for token in tokens}
    assert messages_of(response) == [
        translated(
            "More than %(limit)d users match “%(term)s”: the list shows the rows of the first "
            "%(limit)d. Type more of the name."
        )
        % {"limit": 2, "term": "member"}
    ]
    # An exact username comes first, whatever the limit.
    assert rows_of(client.get(url(TOKENS_URL), {"q": "member-3"})) == {tokens[3].pk}


def test_only_indexed_columns_sort_and_an_unsortable_one_is_ignored(client, revoker):
    app = ApplicationFactory()
    first = AccessTokenFactory(user=UserFactory(), application=app)
    second = AccessTokenFactory(user=UserFactory(), application=app)
    # The newest expires last: sorted by expiry it would come last.
    AccessToken.objects.filter(pk=second.pk).update(expires=second.expires.replace(year=2100))

    newest_first = [second.pk, first.pk]
    for o in ("4", "-4", "5"):  # expiry, expiry descending, active: not offered
        response = client.get(url(TOKENS_URL), {"o": o})
        assert [obj.pk for obj in response.context["cl"].result_list] == newest_first
    page = client.get(url(TOKENS_URL)).content.decode()
    assert 'class="sortable column-user' in page
    assert 'class="sortable column-expires' not in page
    by_user = client.get(url(TOKENS_URL), {"o": "2"})
    assert [obj.pk for obj in by_user.context["cl"].result_list] == sorted(
        newest_first, key=lambda pk: AccessToken.objects.get(pk=pk).user_id
    )


def test_a_filter_no_index_serves_looks_at_the_newest_rows_and_says_so(client, revoker, monkeypatch):
    monkeypatch.setattr(PageChangeList, "window_size", 3)
    user, app = UserFactory(), ApplicationFactory()
    ids = sorted(bulk_tokens(5, user, app, refresh=False))

    response = client.get(url(TOKENS_URL), {"refresh": "no"})
    assert rows_of(response) == set(ids[-3:])
    assert messages_of(response) == [
        translated(
            "This filter looks at the newest %(size)s rows of the list only: choose a user or an "
            "application, or search, to look further back."
        )
        % {"size": "3"}
    ]
    # Within the window of what the other filters leave: here the whole list fits.
    monkeypatch.setattr(PageChangeList, "window_size", 10)
    response = client.get(url(TOKENS_URL), {"refresh": "no"})
    assert rows_of(response) == set(ids)
    assert messages_of(response) == []
