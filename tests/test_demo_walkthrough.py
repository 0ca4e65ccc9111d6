"""The demo's first hour: the walkthrough ``seed_demo`` prints runs as printed, and its pages.

The walkthrough's shell commands run in bash with curl against the live server, as a
newcomer pastes them; step 4 (revoking in the admin) goes through the admin's own forms.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from token_admin.models import RevocationEvent, TokenSession

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("example_project")]

needs_shell = pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl") and shutil.which("python3")),
    reason="the walkthrough runs in bash with curl and python3",
)


def seed(base_url: str = "http://127.0.0.1:8000") -> str:
    out = StringIO()
    call_command("seed_demo", tokens=3, base_url=base_url, stdout=out)
    return out.getvalue()


def steps(printed: str) -> dict[int, list[str]]:
    """The numbered steps: their indented lines (commands and notes), by number."""
    found: dict[int, list[str]] = {}
    number = 0
    for line in printed.splitlines():
        heading = re.match(r"^(\d+)\. ", line)
        if heading:
            number = int(heading.group(1))
            found[number] = []
        elif number and line.startswith("   "):
            found[number].append(line[3:])
    return found


def bash(script: str, cwd: Path) -> str:
    done = subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def json_documents(text: str) -> list[dict]:
    """The pretty-printed JSON documents in a run's output, in order."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        document, at = decoder.raw_decode(text, start)
        found.append(document)
    return found


@needs_shell
@pytest.mark.django_db(transaction=True)
def test_the_printed_walkthrough_runs_as_printed_against_the_live_server(live_server, tmp_path):
    printed = seed(live_server.url)
    walk = steps(printed)
    assert sorted(walk) == [1, 2, 3, 4, 5]
    state = tmp_path / "state.sh"

    # Steps 1 to 3 in one shell: its variables carry the token from step to step.
    out = bash("\n".join([*walk[1], *walk[2], *walk[3], f"declare -p TOKEN REFRESH > {state}"]), tmp_path)
    issued, adn, se, end_user, refreshed = json_documents(out)
    assert issued["scope"] == "basic stream" and issued["token_type"] == "Bearer"
    assert adn["meta"] == {"code": 200}
    assert adn["data"]["user"]["username"] == "alice" and adn["data"]["client_id"] == "demo-script"
    assert [item["access_token"] for item in se["items"]] == [issued["access_token"]]
    assert "Demo Script" in [entry["client_name"] for entry in end_user["tokens"]]
    assert refreshed["access_token"] != issued["access_token"]
    assert "    " in out  # pretty-printed, not one long line

    # Step 4: the note names the admin page; revoke the session at its top there.
    url = re.search(r"Open (http\S+) \(log in as (\w+) / (\w+)\)", walk[4][0])
    path = url.group(1).removeprefix(live_server.url)
    admin = Client()
    assert admin.login(username=url.group(2), password=url.group(3))
    listing = admin.get(path)
    assert listing.status_code == 200
    session = TokenSession.objects.filter(user__username="alice", application__client_id="demo-script").get()
    top = re.search(
        r'<tr>.*?href="/admin/token_admin/tokensession/(\d+)/change/', listing.content.decode(), re.S
    )
    assert int(top.group(1)) == session.pk
    page = admin.get(f"/admin/token_admin/tokensession/{session.pk}/change/").content.decode()
    button = re.search(r'<form method="post" action="([^"]+)" class="revoke-button">(.*?)</form>', page, re.S)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', button.group(2)))
    confirmation = admin.post(button.group(1), fields).content.decode()
    signed = re.search(r'name="selection" value="([^"]+)"', confirmation).group(1)
    done = admin.post(
        button.group(1),
        {**fields, "post": "yes", "selection": signed, "reason": "Walkthrough"},
        follow=True,
    )
    assert "Revoked 1 access token and 1 refresh token." in done.content.decode()

    # Step 5: both the access token and the refresh token are refused.
    out = bash("\n".join([f"source {state}", *walk[5]]), tmp_path)
    refused, no_refresh = json_documents(out)
    assert refused["meta"]["code"] == 401
    assert no_refresh == {"error": "invalid_grant"}
    event = RevocationEvent.objects.get()
    assert (event.surface, event.reason, event.actor_label) == ("admin", "Walkthrough", "admin")


@override_settings(DEBUG=True)
def test_the_landing_page_shows_the_links_logins_and_walkthrough_while_debug_is_on():
    seed()
    page = Client().get("/")
    assert page.status_code == 200
    html = page.content.decode()
    for link in ('href="/admin/"', 'href="/api/docs/"', 'href="/demo/authorize"'):
        assert link in html
    assert "<code>admin</code> / <code>admin</code>" in html
    assert "<code>alice</code> / <code>alice</code>" in html
    assert html.count("<li><strong>") == 5
    assert "-d username=alice -d password=alice" in html


@override_settings(DEBUG=False)
def test_the_landing_page_hides_every_credential_while_debug_is_off():
    seed()
    html = Client().get("/").content.decode()
    assert 'href="/admin/"' in html and 'href="/demo/authorize"' in html
    for secret in ("<code>admin</code>", "<code>alice</code>", "password=alice", "demo-portal-secret"):
        assert secret not in html
    assert "shown only while <code>DEBUG</code> is on" in html


def test_the_landing_page_before_seeding_says_how_to_seed():
    html = Client().get("/").content.decode()
    assert "No demo data yet: run <code>python manage.py seed_demo</code>" in html


def test_the_callback_refuses_a_code_this_browser_did_not_ask_for():
    browser = Client()
    browser.get("/demo/authorize")
    response = browser.get("/callback", {"code": "abc", "state": "not-the-one-sent"})
    assert response.status_code == 400
    assert "its <code>state</code> does not match" in response.content.decode()
    assert "curl" not in response.content.decode()


def test_the_callback_explains_a_refusal():
    response = Client().get("/callback", {"error": "access_denied"})
    assert response.status_code == 400
    assert "The app was not authorized: <code>access_denied</code>" in response.content.decode()


def test_the_authorize_button_starts_pkce_with_the_web_client_and_the_callback_shows_the_verifier():
    browser = Client()
    redirect = browser.get("/demo/authorize")
    assert redirect.status_code == 302
    query = dict(re.findall(r"[?&](\w+)=([^&]*)", redirect["Location"]))
    assert redirect["Location"].startswith("/o/authorize/?")
    assert (query["client_id"], query["code_challenge_method"]) == ("demo-web", "S256")
    assert query["redirect_uri"] == "http%3A%2F%2Ftestserver%2Fcallback"
    verifier = browser.session["example_project_pkce"]["verifier"]
    page = browser.get(
        "/callback", {"code": "the-code", "state": browser.session["example_project_pkce"]["state"]}
    )
    assert page.status_code == 200
    exchange = re.search(r'<pre id="exchange">(.*?)</pre>', page.content.decode()).group(1)
    assert exchange == (
        "curl -s http://testserver/o/token/ -d grant_type=authorization_code -d client_id=demo-web"
        f" -d code=the-code -d redirect_uri=http://testserver/callback -d code_verifier={verifier}"
        " | python3 -m json.tool"
    )


def test_demo_users_sign_in_on_their_own_page_not_the_admins():
    seed()
    browser = Client()
    page = browser.get("/accounts/login/?next=/o/authorize/")
    assert page.status_code == 200
    signed_in = browser.post("/accounts/login/", {"username": "alice", "password": "alice", "next": "/"})
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/")
    assert "Signed in as <strong>alice</strong>" in browser.get("/").content.decode()
