"""The revoke flow in a real headless Chromium, against the live server.

Debian's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` are used directly, so Selenium
Manager never downloads a browser. Without them the tests are skipped, unless
``TOKEN_ADMIN_REQUIRE_BROWSER=1`` (set by CI) makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from oauth2_provider.models import get_access_token_model
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.concurrency import can_mint, dot_accepts, refresh_request
from tests.factories import ApplicationFactory, UserFactory, issue_session
from token_admin.models import RevocationEvent

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WAIT_SECONDS = 10

AccessToken = get_access_token_model()
TOKENS_PATH = f"/admin/{AccessToken._meta.app_label}/{AccessToken._meta.model_name}/"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def chromium(profile: Path, window: tuple[int, int] = (1280, 1000)) -> Any:
    """Headless Chromium with its own profile directory; skips (or fails, when CI requires the
    browser tests) if Debian's chromium or chromium-driver is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        reason = (
            f"headless browser tests need {' and '.join(missing)} (apt-get install chromium chromium-driver)"
        )
        if os.environ.get("TOKEN_ADMIN_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size={},{}".format(*window))
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def _replaced(element: Any) -> Any:
    """``staleness_of``, also when Chromium answers that the node left the document while the
    next page replaced it ("Node with given id does not belong to the document", a plain
    WebDriverException seen on slow runs)."""

    def gone(driver: Any) -> bool:
        try:
            element.is_enabled()
        except (StaleElementReferenceException, WebDriverException):
            return True
        return False

    return gone


class Page:
    """A few steps of a staff user's visit, each waiting for the page it leads to."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver, self.base_url = driver, base_url
        self.wait = WebDriverWait(driver, WAIT_SECONDS)

    def find(self, css: str) -> Any:
        """The element, waiting for it while the page is still loading."""
        return self.wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))

    def find_all(self, css: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def submit(self, element: Any, enter: bool = False) -> None:
        """Click (or press Enter in) ``element`` and wait until the next page has replaced this one."""
        page = self.find("html")
        if enter:
            element.submit()
        else:
            element.click()
        self.wait.until(_replaced(page))

    def open(self, path: str) -> None:
        self.driver.get(f"{self.base_url}{path}")

    def log_in(self, username: str, password: str = "password") -> None:
        self.driver.delete_all_cookies()
        self.open("/admin/login/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.submit(self.find("input[type=submit]"))
        self.find("#user-tools")  # only a logged-in page has it


def staff_user(*codenames: str) -> Any:
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


VIEW_PERMS = (f"view_{AccessToken._meta.model_name}", "view_tokensession", "view_revocationevent")


def test_staff_filter_select_revoke_with_a_reason_and_see_the_audit_event(
    browser, live_server, tmp_path: Path
):
    revoker = staff_user(*VIEW_PERMS, "revoke_tokens")
    stream, other = ApplicationFactory(name="Stream"), ApplicationFactory(name="Other app")
    chosen = [issue_session(UserFactory(username=name), stream)[0] for name in ("alice", "bob")]
    kept_on_stream, _ = issue_session(UserFactory(username="carol"), stream)
    elsewhere, _ = issue_session(UserFactory(username="dave"), other)
    page = Page(browser, live_server.url)
    page.log_in(revoker.username)

    # Filter by app with the filter's text box.
    page.open(TOKENS_PATH)
    box = page.find("#changelist-filter input[name=app]")
    box.send_keys("stream")
    page.submit(box, enter=True)
    page.driver.save_screenshot(str(tmp_path / "token_changelist.png"))
    rows = page.find_all("#result_list tbody tr")
    assert len(rows) == 3
    assert f"…{elsewhere.token_checksum[-4:]}" not in page.find("#result_list").text

    # Select two tokens and run the revoke action.
    for token in chosen:
        page.find(f"input.action-select[value='{token.pk}']").click()
    Select(page.find("select[name=action]")).select_by_value("revoke_selected_tokens")
    page.submit(page.find("button[name=index]"))

    # The confirmation page counts before anything changes.
    assert page.find("h1").text == "Revoke access tokens"
    assert page.find("#count-access-tokens").text == "2"
    assert page.find("#count-refresh-tokens").text == "2"
    assert "alice" in page.find(".revoke-selection").text and "bob" in page.find(".revoke-selection").text
    assert AccessToken.objects.count() == 4
    page.driver.save_screenshot(str(tmp_path / "revoke_confirmation.png"))

    page.find("textarea[name=reason]").send_keys("Laptop stolen")
    page.submit(page.find("input[type=submit][value='Yes, revoke']"))

    success = page.find(".messagelist .success").text
    assert success.startswith("Revoked 2 access tokens and 2 refresh tokens.")
    assert set(AccessToken.objects.values_list("pk", flat=True)) == {kept_on_stream.pk, elsewhere.pk}

    # The success message links to the audit event, which names the staff user and the reason.
    page.submit(page.find(".messagelist .success a"))
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_user_id, event.reason) == ("admin", revoker.pk, "Laptop stolen")
    content = page.find("#content").text
    assert "Laptop stolen" in content and revoker.username in content and "Django admin" in content


def test_a_view_only_staff_user_sees_tokens_but_no_revoke_action(browser, live_server):
    viewer = staff_user(*VIEW_PERMS)
    token, _ = issue_session(UserFactory(username="alice"), ApplicationFactory(name="Stream"))
    page = Page(browser, live_server.url)
    page.log_in(viewer.username)

    page.open(TOKENS_PATH)

    assert f"…{token.token_checksum[-4:]}" in page.find("#result_list").text
    assert not page.find_all("select[name=action]")
    assert not page.find_all("input.action-select")
    page.open("/admin/token_admin/tokensession/")
    assert page.find_all("#result_list tbody tr") and not page.find_all("select[name=action]")


def test_a_refresh_between_the_confirmation_page_and_the_confirm_still_revokes_the_session(
    browser, live_server
):
    """Staff open the confirmation page for a token, the app refreshes it, staff confirm.

    The page counted the token's session, and that is what the confirm revokes: the pair the
    refresh minted is refused, and the audit event counts it.
    """
    revoker = staff_user(*VIEW_PERMS, "revoke_tokens")
    app = ApplicationFactory(name="Stream")
    token, refresh = issue_session(UserFactory(username="alice"), app)
    page = Page(browser, live_server.url)
    page.log_in(revoker.username)
    page.open(TOKENS_PATH)
    page.find(f"input.action-select[value='{token.pk}']").click()
    Select(page.find("select[name=action]")).select_by_value("revoke_selected_tokens")
    page.submit(page.find("button[name=index]"))
    assert page.find("#count-access-tokens").text == "1"

    minted = refresh_request(app, refresh.raw_token).json()  # the app refreshes meanwhile
    assert dot_accepts(minted["access_token"])
    page.find("textarea[name=reason]").send_keys("Phone lost")
    page.submit(page.find("input[type=submit][value='Yes, revoke']"))

    assert page.find(".messagelist .success").text.startswith("Revoked 1 access token and 1 refresh token.")
    assert not dot_accepts(minted["access_token"])
    assert not can_mint(app, minted["refresh_token"])
    event = RevocationEvent.objects.get()
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)
