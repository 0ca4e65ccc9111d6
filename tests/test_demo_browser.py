"""The first hour in a real headless Chromium: a laptop-sized admin, and the newcomer's path.

* Every changelist of the admin fits a 1366×768 window: no horizontal scrollbar on the page,
  nor on the results table (Django lets that one scroll inside its own box).
* The newcomer's path, following only what the pages say: sign in as alice, authorize the
  demo app, exchange the code with the curl the callback page shows, call the App.net
  style; then staff revoke alice's session from its admin page, and her token is refused.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.test_admin_browser import Page, chromium
from token_admin.models import RevocationEvent, TokenSession
from token_admin.revocation import Actor, Selection, revoke

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("example_project"),
]

LAPTOP = (1366, 768)


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-laptop"), LAPTOP)
    yield driver
    driver.quit()


def seed(base_url: str) -> None:
    call_command("seed_demo", tokens=40, base_url=base_url, stdout=StringIO())


def base_url(live_server: Any) -> str:
    """The live server on 127.0.0.1, the host the demo's redirect URI names (any port)."""
    return live_server.url.replace("//localhost:", "//127.0.0.1:")


def changelist_paths() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    )


# The widths a page and the results box would scroll by (0 when everything fits).
OVERFLOW_SCRIPT = """
const page = document.documentElement;
const results = document.querySelector('#changelist .results');
return {
  viewport: window.innerWidth,
  page: page.scrollWidth - page.clientWidth,
  results: results ? results.scrollWidth - results.clientWidth : 0,
};
"""


def test_every_changelist_fits_a_1366_pixel_window(laptop, live_server):
    seed(live_server.url)
    bobs = TokenSession.objects.filter(user__username="bob").first()
    # Audit events with every column filled, the longest reason the form takes among them.
    revoke(
        Selection.sessions([bobs.public_id]),
        surface=RevocationEvent.Surface.ADMIN,
        actor=Actor.staff(bobs.user),
        reason="Phone reported stolen by its owner on the support line; " * 16,
    )
    call_command("revoke_tokens", "--user", "carol", "--reason", "Left the company", stdout=StringIO())
    # Sessions with their activity filled, the longest browser and OS names among them.
    TokenSession.objects.update(
        last_used_at=timezone.now(),
        last_ip="2001:db8::1",
        browser="Chrome Mobile WebView",
        os="Windows Phone",
    )
    page = Page(laptop, live_server.url)
    page.log_in("admin", "admin")
    assert laptop.execute_script("return window.innerWidth") == LAPTOP[0]

    overflowing, listed = {}, set()
    for path in changelist_paths():
        page.open(path)
        page.find("#changelist")
        if page.find_all("#result_list tbody tr"):
            listed.add(path.split("/")[-2])
        sizes = laptop.execute_script(OVERFLOW_SCRIPT)
        if sizes["page"] > 0 or sizes["results"] > 0:
            overflowing[path] = sizes
    assert overflowing == {}
    # The lists that matter were measured full (DOT's grants and ID tokens may be empty).
    assert listed >= {
        "accesstoken",
        "refreshtoken",
        "application",
        "tokensession",
        "device",
        "revocationevent",
        "user",
    }


needs_shell = pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl") and shutil.which("python3")),
    reason="the callback's curl runs in bash with curl and python3",
)


def shell(command: str) -> dict[str, Any]:
    """Run a command as shown on a page (pretty-printed JSON out) and read its answer."""
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_shell
def test_a_newcomer_signs_in_as_alice_and_staff_revoke_her_session_in_the_admin(
    laptop, live_server, settings
):
    settings.DEBUG = True  # the demo's pages show its logins only then
    seed(base_url(live_server))
    page = Page(laptop, base_url(live_server))
    laptop.delete_all_cookies()

    # The landing page: its button starts the browser flow; DOT's authorize page sends alice
    # to the demo's sign-in page, whose note names her password.
    page.open("/")
    page.submit(page.find("#start-browser-flow"))
    assert "alice / alice" in page.find(".note").text.replace("\n", " ")
    page.find("#id_username").send_keys("alice")
    page.find("#id_password").send_keys("alice")
    page.submit(page.find("button[type=submit]"))

    # Authorize the demo app; the callback shows the code and the exact curl.
    assert "Demo Web" in page.find("body").text
    page.submit(page.find("input[name=allow]"))
    assert page.find("h1").text == "Back from the authorize page"
    exchange = page.find("#exchange").text
    assert "code_verifier=" in exchange and f"-d code={page.find('#code').text}" in exchange
    answer = shell(exchange)
    assert answer["scope"] == "basic stream"
    call = page.find("#call").text.replace("<access_token>", answer["access_token"])
    me = shell(call)
    assert (me["meta"]["code"], me["data"]["user"]["username"]) == (200, "alice")

    # Staff follow the callback page's link to alice's sessions and revoke the one at the top.
    sessions_link = page.find("#sessions-link").get_attribute("href")
    page.log_in("admin", "admin")
    laptop.get(sessions_link)
    rows = page.find_all("#result_list tbody tr")
    assert len(rows) == 1
    page.submit(page.find("#result_list tbody tr th a"))
    assert page.find("#content h2").text == "Session of alice on Demo Web"
    page.submit(page.find("#revoke-button"))
    assert page.find("h1").text == "Revoke sessions"
    assert page.find("label[for=id_reason]").text == "Reason (required):"
    assert (page.find("#count-access-tokens").text, page.find("#count-refresh-tokens").text) == ("1", "1")
    page.find("textarea[name=reason]").send_keys("Alice's laptop was stolen")
    page.submit(page.find("input[type=submit][value='Yes, revoke']"))
    assert page.find(".messagelist .success").text.startswith("Revoked 1 access token and 1 refresh token.")

    # Her token is refused now, by the same command as before.
    refused = shell(call)
    assert refused == {
        "meta": {
            "code": 401,
            "error_message": "Call requires authentication: Invalid token.",
            "error_slug": "invalid-token",
        }
    }
    event = RevocationEvent.objects.get()
    assert (event.actor_label, event.reason) == ("admin", "Alice's laptop was stolen")
    assert re.fullmatch(r"[\w-]+", event.selection["session_ids"][0])
