"""The self-service pages in a real headless Chromium, on a desktop window and a phone-sized one:
signed in as a user, reached by keyboard, each action confirmed, screenshots that show a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from selenium.webdriver.common.keys import Keys

from tests.concurrency import dot_accepts
from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.test_admin_browser import Page, _replaced, browser  # noqa: F401  (browser: the Chromium fixture)
from token_admin.models import RevocationEvent, TokenSession

# The account pages need a sign-in page for people who are not staff: the example project's.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("example_project"),
]

PHONE = (390, 844)


def sign_in(page: Page, username: str, next_path: str) -> None:
    page.driver.delete_all_cookies()
    page.open(f"/accounts/login/?next={next_path}")
    page.find("#id_username").send_keys(username)
    page.find("#id_password").send_keys("password")
    page.submit(page.find("button[type=submit]"))


def screenshot(page: Page, path: Path) -> Image.Image:
    """Save the viewport as PNG and check it shows a page: the viewport's size, not one flat colour."""
    assert page.driver.save_screenshot(str(path))
    assert path.stat().st_size > 0
    width, height, ratio = page.driver.execute_script(
        "return [window.innerWidth, window.innerHeight, window.devicePixelRatio]"
    )
    image = Image.open(path)
    assert image.format == "PNG"
    assert image.size == (round(width * ratio), round(height * ratio))
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, buttons and cards, not a blank page
    # The page's background is not the only thing on it: no colour covers 98% of the pixels.
    assert max(count for count, _ in colours) < 0.98 * image.size[0] * image.size[1]
    return image


def assert_no_token_in_html(page: Page, tokens: list[Any]) -> None:
    html = page.driver.page_source
    for token in tokens:
        assert token.raw_token not in html and token.token_checksum not in html


def tab_to(page: Page, label_start: str, presses: int = 25) -> Any:
    """Press Tab until the focused element's text starts with ``label_start``; return it."""
    body = page.find("body")
    for _ in range(presses):
        body.send_keys(Keys.TAB)
        focused = page.driver.switch_to.active_element
        if focused.text.startswith(label_start):
            return focused
        body = focused
    raise AssertionError(f"no focusable element labelled {label_start!r} within {presses} Tab presses")


def test_a_user_signs_out_a_session_by_keyboard_and_removes_an_app_on_a_phone(
    browser,  # noqa: F811
    live_server,
    tmp_path: Path,
):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    acc, notes = ApplicationFactory(name="Acc App"), ApplicationFactory(name="Notes")
    acc_access, acc_refresh = issue_session(alice, acc, scope="basic stream")
    notes_access, notes_refresh = issue_session(alice, notes, scope="files")
    bob_access, bob_refresh = issue_session(bob, acc)
    TokenSession.objects.filter(user=alice).update(
        last_ip="203.0.113.9", browser="Firefox 128", os="Ubuntu", device_family="Other"
    )
    tokens = [acc_access, acc_refresh, notes_access, notes_refresh, bob_access, bob_refresh]
    page = Page(browser, live_server.url)
    browser.set_window_size(1280, 1000)
    sign_in(page, "alice", "/account/sessions/")

    # Where you're signed in: both of alice's sessions, none of bob's, no token anywhere.
    assert page.find("h1").text == "Where you’re signed in"
    assert [card.find_element("css selector", "h2").text for card in page.find_all(".card.session")] == [
        "Notes",
        "Acc App",
    ]
    assert "203.0.113.9" in page.find("main").text
    assert_no_token_in_html(page, tokens)
    screenshot(page, tmp_path / "account_sessions.png")

    # Keyboard only: Tab to the Acc App session's button, Enter opens the confirmation.
    button = tab_to(page, "Sign out")
    assert button.tag_name == "button"
    button = tab_to(page, "Sign out")  # the second session's: Acc App
    assert button.get_attribute("textContent").strip() == "Sign out of Acc App"
    confirmation = page.find("html")
    button.send_keys(Keys.ENTER)
    page.wait.until(_replaced(confirmation))
    assert page.find("h1").text == "Sign out of Acc App?"
    assert dot_accepts(acc_access.raw_token)  # the confirmation changed nothing
    screenshot(page, tmp_path / "account_confirm.png")
    page.submit(page.find("button[name=confirm]"))

    # The message goes into the live region once the page has loaded (so that it is announced).
    page.wait.until(lambda _: page.find(".messages").text == "Signed out of Acc App.")
    assert not dot_accepts(acc_access.raw_token)
    assert dot_accepts(notes_access.raw_token) and dot_accepts(bob_access.raw_token)

    # Connected apps on a phone: no sideways scrolling, full-width buttons.
    browser.set_window_size(*PHONE)
    page.open("/account/apps/")
    assert page.find("h1").text == "Connected apps"
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    remove = page.find(".card.app button")
    assert remove.get_attribute("textContent").strip() == "Remove access for Notes"
    card_width = page.find(".card.app").size["width"]
    assert remove.size["width"] > 0.8 * card_width
    assert_no_token_in_html(page, tokens)
    phone_shot = screenshot(page, tmp_path / "account_apps_phone.png")
    assert phone_shot.size[0] < phone_shot.size[1]  # portrait, as a phone
    page.submit(remove)
    assert page.find("h1").text == "Remove access for Notes?"
    page.submit(page.find("button[name=confirm]"))

    page.wait.until(lambda _: page.find(".messages").text == "Notes no longer has access to your account.")
    assert page.find(".empty").text == "No app has access to your account."
    assert not dot_accepts(notes_access.raw_token)
    assert dot_accepts(bob_access.raw_token)
    events = list(RevocationEvent.objects.order_by("created_at", "pk"))
    assert [(event.surface, event.actor_user_id) for event in events] == [
        ("account", alice.pk),
        ("account", alice.pk),
    ]
    browser.set_window_size(1280, 1000)
