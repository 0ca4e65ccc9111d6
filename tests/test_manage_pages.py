"""Cursor pages of the staff resource API with a filter no index serves (``live``, a date range,
a type): each page looks at a bounded window of rows, so it may hold fewer results than its
size, even none, while ``next`` is set. Walking ``next`` (or ``previous``) still yields every
match exactly once, in order. And a crafted cursor is a 404, never a 500.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.helpers import translated
from tests.test_manage_api import AUTH_QUERIES, VIEW_PERMISSIONS, get, grant
from token_admin.api.manage.pagination import StaffCursorPagination
from token_admin.models import TokenSession

pytestmark = pytest.mark.django_db

# Oldest first: L = live, E = ended (a lone access token that expired).
PATTERN = "LLLLELEELLLLLE"
WINDOW = 3


@pytest.fixture
def reader(db):
    return grant(UserFactory(is_staff=True), *VIEW_PERMISSIONS)


@pytest.fixture
def small_window(monkeypatch):
    monkeypatch.setattr(StaffCursorPagination, "window_size", WINDOW)


@pytest.fixture
def sessions(db):
    """{"L": [public ids], "E": [public ids]}, oldest first, sessions laid out as PATTERN."""
    app = ApplicationFactory()
    for kind in PATTERN:
        if kind == "L":
            issue_session(UserFactory(), app)
        else:
            issue_session(UserFactory(), app, refresh=False, expires_in=timedelta(hours=-1))
    ordered = [str(sid) for sid in TokenSession.objects.order_by("pk").values_list("public_id", flat=True)]
    return {kind: [sid for sid, k in zip(ordered, PATTERN, strict=True) if k == kind] for kind in "LE"}


def walk(client, first, link):
    """Every page from ``first`` on, following ``link`` ("next" or "previous")."""
    pages = [first]
    while pages[-1][link] is not None:
        response = client.get(pages[-1][link], HTTP_ACCEPT="application/json")
        assert response.status_code == 200, response.content
        pages.append(response.json())
        assert len(pages) < 50, "the walk does not end"
    return pages


def ids(page):
    return [row["id"] for row in page["results"]]


@pytest.mark.parametrize(("live", "kind"), [("false", "E"), ("true", "L")])
@pytest.mark.parametrize("ordering", ["-id", "id"])
def test_next_then_previous_walk_every_match_once_in_order(
    client, reader, small_window, sessions, live, kind, ordering
):
    client.force_login(reader)
    expected = sessions[kind] if ordering == "id" else sessions[kind][::-1]

    first = get(client, f"sessions?live={live}&page_size=2&ordering={ordering}").json()
    forward = walk(client, first, "next")
    back = walk(client, forward[-1], "previous")

    assert [sid for page in forward for sid in ids(page)] == expected
    # Walking back visits the pages last to first; read in list order they are the list again.
    assert [sid for page in reversed(back) for sid in ids(page)] == expected
    assert all(len(ids(page)) <= 2 for page in forward + back)
    assert first["previous"] is None and forward[-1]["next"] is None


def test_a_page_looks_at_no_more_than_the_window(client, reader, small_window, sessions):
    """The newest three sessions hold one ended one; oldest first, the first three none: that
    page is empty, yet it says there is more."""
    client.force_login(reader)

    newest = get(client, "sessions?live=false&page_size=2").json()
    oldest = get(client, "sessions?live=false&page_size=2&ordering=id").json()

    assert ids(newest) == [sessions["E"][-1]]
    assert newest["next"] is not None
    assert (oldest["results"], oldest["previous"]) == ([], None)
    assert oldest["next"] is not None
    onward = client.get(oldest["next"], HTTP_ACCEPT="application/json").json()
    assert ids(onward) == [sessions["E"][0]]


def test_date_ranges_and_types_are_windowed_too(client, reader, small_window, sessions):
    client.force_login(reader)
    long_ago = "2000-01-01T00:00:00Z"

    for path in (f"sessions?created_before={long_ago}", f"access-tokens?created_before={long_ago}"):
        first = get(client, f"{path}&page_size=2").json()
        pages = walk(client, first, "next")
        assert [page["results"] for page in pages] == [[]] * len(pages)
        # 14 rows, 3 a page: five pages, each a bounded look, none a full scan.
        assert len(pages) == 5, path


def test_a_windowed_page_costs_one_more_query_whatever_the_table(
    client, reader, sessions, django_assert_num_queries
):
    client.force_login(reader)
    with django_assert_num_queries(AUTH_QUERIES + 2):
        response = get(client, "sessions?live=false&page_size=2")
    assert ids(response.json()) == sessions["E"][::-1][:2]


def test_filters_still_apply_to_a_detail(client, reader, sessions):
    client.force_login(reader)
    live, ended = sessions["L"][0], sessions["E"][0]

    assert get(client, f"sessions/{live}?live=true").status_code == 200
    assert get(client, f"sessions/{live}?live=false").json() == {
        "detail": "No TokenSession matches the given query."
    }
    assert get(client, f"sessions/{ended}?live=false").status_code == 200


def cursor(**tokens):
    return base64.b64encode(urlencode(tokens).encode()).decode()


@pytest.mark.parametrize(
    "tokens",
    [
        {"p": "abc"},
        {"p": "1e3"},
        {"p": "-5"},
        {"p": str(2**63)},
        {"p": "' OR 1=1 --"},
        {"r": "1", "p": "x"},
        {"o": "1", "p": "½"},
    ],
    ids=str,
)
@pytest.mark.parametrize("query", ["", "live=true&", "created_after=2020-01-01T00:00:00Z&"])
def test_a_crafted_cursor_position_is_a_404_not_a_500(client, reader, sessions, tokens, query):
    client.force_login(reader)
    response = get(client, f"sessions?{query}cursor={cursor(**tokens)}")
    assert (response.status_code, response.json()) == (404, {"detail": translated("Invalid cursor")})
