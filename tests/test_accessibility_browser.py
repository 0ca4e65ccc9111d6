"""WCAG 2.2 A/AA on every page the project draws, checked by axe-core in a real headless Chromium.

Each page is checked at 1366×768 and 390×844, the account pages in dark mode too
(``prefers-color-scheme: dark``). A violation in the project's own markup fails the test; one in
Django admin's or DRF's markup is listed (``tests/axe.py`` tells them apart). Run with ``-s`` to
see the per-page table. Then what axe cannot see: the keyboard tasks (sign out of a session;
revoke from the admin) with Tab and Enter alone, the focus ring's contrast, the help text read
with its field, the success message announced, no sideways scrolling on a phone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.axe import STRUCTURE_RULES, Result, run_axe, table
from tests.concurrency import dot_accepts
from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.test_admin_browser import Page, _replaced, chromium
from token_admin.events.models import Delivery, Receiver
from token_admin.models import NotBefore, RevocationEvent, TokenSession
from token_admin.not_before import set_not_before
from token_admin.revocation import Actor, Selection, revoke

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("example_project"),
]

SIZES = {"1366": (1366, 768), "390": (390, 844)}

# What token_admin draws inside Django admin's pages: its input filter, its revoke button, and
# the columns and read-only fields its admin code renders as HTML (Django gives each cell and
# form row the class ``field-<name>``).
ADMIN_OWN = ", ".join(
    (
        "details:has(> form.token-admin-input-filter)",
        "form.revoke-button",
        *(
            f".field-{name}"
            for name in (
                "masked_token",
                "token_links",
                "began_and_last_use",
                "summary_with_links",
                "what",
                "lift",
                "signing_key",
            )
        ),
    )
)
# Pages whose breadcrumbs come from token_admin's templates (change_form_revoke.html) ...
WITH_BREADCRUMBS = f"{ADMIN_OWN}, .breadcrumbs"
# ... and the action pages, drawn by them entirely but for the admin's header and sidebar.
ACTION_PAGE = f"{ADMIN_OWN}, .breadcrumbs, #content"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    browser = chromium(tmp_path_factory.mktemp("chromium-a11y"), SIZES["1366"])
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def results() -> Iterator[list[Result]]:
    """Every page's findings, printed as one table at the end of the module (``-s``)."""
    found: list[Result] = []
    yield found
    print(f"\naxe-core on every page (violations by impact: own, framework)\n{table(found)}")
    for result in found:
        for finding in result.findings:
            print(f"  {'own' if finding.own else 'framework'}, {result.label}: {finding}")


def dark(driver: Any, on: bool) -> None:
    features = [{"name": "prefers-color-scheme", "value": "dark" if on else "light"}]
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": features})


def check(
    page: Page,
    results: list[Result],
    label: str,
    own: str | None = "html",
    *,
    dark_too: bool = False,
    structure: bool = False,
    visit: Callable[[], None] | None = None,
) -> list[str]:
    """Open (``visit``) and check the page at each size (and in dark mode); the own violations."""
    failures = []
    modes = [False, True] if dark_too else [False]
    for size, window in SIZES.items():
        for dark_mode in modes:
            page.driver.set_window_size(*window)
            dark(page.driver, dark_mode)
            if visit is not None:
                visit()
            if own is not None:  # the regions are on the page: the split is not vacuous
                present = page.driver.execute_script("return !!document.querySelector(arguments[0])", own)
                assert present, f"{label}: none of {own!r} is on the page"
            result = run_axe(page.driver, f"{label} ({size}{', dark' if dark_mode else ''})", own)
            results.append(result)
            failures += [f"{result.label}: {finding}" for finding in result.own]
            if structure:  # landmarks and headings: the same at any size or colour scheme
                structure = False
                failures += [
                    f"{label}: {finding}" for finding in run_axe(page.driver, label, own, STRUCTURE_RULES).own
                ]
    dark(page.driver, False)
    page.driver.set_window_size(*SIZES["1366"])
    return failures


def opener(page: Page, path: str, ready: str = "body") -> Callable[[], None]:
    def visit() -> None:
        page.open(path)
        page.find(ready)

    return visit


def seed(live_server: Any) -> None:
    """The demo's data (staff, alice with 15 sessions of Demo Stream, apps, devices), plus one of
    everything else the admin lists: an audit event, a watermark, a receiver and its delivery."""
    call_command("seed_demo", tokens=40, base_url=live_server.url, stdout=StringIO(), verbosity=0)
    bobs = TokenSession.objects.filter(user__username="bob").first()
    done = revoke(
        Selection.sessions([bobs.public_id]),
        surface=RevocationEvent.Surface.ADMIN,
        actor=Actor.staff(bobs.user),
        reason="Phone reported stolen",
    )
    receiver = Receiver.objects.create(name="Resource server", url="https://rs.example/events")
    Receiver.objects.create(name="CAEP", url="https://rs.example/caep", format=Receiver.Format.CAEP)
    Delivery.objects.create(receiver=receiver, revocation_event=done.event, deadline_at=done.event.created_at)
    carol = TokenSession.objects.filter(user__username="carol").first().user
    set_not_before("user", carol, set_by="staff admin", reason="Left the company")


def sign_in(page: Page, username: str, next_path: str) -> None:
    page.driver.delete_all_cookies()
    page.open(f"/accounts/login/?next={next_path}")
    page.find("#id_username").send_keys(username)
    page.find("#id_password").send_keys(username)  # the demo users' passwords are their names
    page.submit(page.find("button[type=submit]"))


def test_the_account_pages_have_no_violations_at_either_size_light_or_dark(driver, live_server, results):
    seed(live_server)
    page = Page(driver, live_server.url)
    alice_session = TokenSession.objects.filter(user__username="alice").order_by("pk").first()
    stream = alice_session.application
    sign_in(page, "alice", "/account/sessions/")
    failures = []
    for label, path in (
        ("account: sessions", "/account/sessions/"),
        ("account: sign out of a session?", f"/account/sessions/{alice_session.public_id}/sign-out/"),
        ("account: sign out of all apps?", "/account/sessions/sign-out-all/"),
        ("account: apps", "/account/apps/"),
        ("account: remove an app?", f"/account/apps/{stream.client_id}/remove/"),
        ("account: no such session", "/account/sessions/no-such-session/sign-out/"),
    ):
        failures += check(page, results, label, dark_too=True, structure=True, visit=opener(page, path, "h1"))

    # A page with its success message: sign out of one session, then check the page it lands on.
    page.open(f"/account/sessions/{alice_session.public_id}/sign-out/")
    page.submit(page.find("button[name=confirm]"))
    page.wait.until(lambda _: page.find(".messages").text == "Signed out of Demo Stream.")
    failures += check(page, results, "account: sessions, with a message", dark_too=True, structure=True)
    assert failures == []


def test_the_demo_pages_have_no_violations_and_do_not_scroll_sideways(driver, live_server, results, settings):
    settings.DEBUG = True  # the landing page shows its logins and ready commands only then
    seed(live_server)
    page = Page(driver, live_server.url)
    driver.delete_all_cookies()
    failures = []
    for label, path in (
        ("demo: landing", "/"),
        ("demo: sign-in", "/accounts/login/?next=/account/"),
        ("demo: callback without a code", "/callback?error=access_denied"),
    ):
        failures += check(page, results, label, structure=True, visit=opener(page, path, "h1"))
    assert failures == []

    # WCAG 1.4.10: at 390 and at 320 CSS pixels (as 1280 px zoomed to 400%), no sideways scrolling.
    for width in (390, 320):
        driver.set_window_size(width, 844)
        page.open("/")
        page.find("h1")
        widths = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"the landing page is {widths[0]} px wide at {width} px"
    driver.set_window_size(*SIZES["1366"])


def test_the_admin_pages_have_no_violations_of_the_projects_own(driver, live_server, results):
    seed(live_server)
    page = Page(driver, live_server.url)
    failures = check(page, results, "admin: login (Django's)", None, visit=opener(page, "/admin/login/"))
    page.log_in("admin", "admin")
    session = TokenSession.objects.filter(user__username="alice").order_by("pk").first()
    event = RevocationEvent.objects.order_by("pk").first()  # bob's revoke (then carol's watermark)
    watermark = NotBefore.objects.get(user__username="carol")
    receiver = Receiver.objects.get(name="Resource server")
    delivery = Delivery.objects.order_by("pk").first()

    def admin_url(model: Any, view: str, *args: Any) -> str:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)

    AccessToken, RefreshToken = get_access_token_model(), get_refresh_token_model()
    Application = get_application_model()
    token = AccessToken.objects.filter(user__username="alice").order_by("pk").first()
    refresh = RefreshToken.objects.filter(user__username="alice").order_by("pk").first()
    stream = Application.objects.get(name="Demo Stream")
    # None: Django's markup only (the project chose the columns, all plain text).
    pages = [
        ("admin: index (Django's)", reverse("admin:index"), None),
        ("admin: access tokens", admin_url(AccessToken, "changelist"), ADMIN_OWN),
        (
            "admin: access tokens, filtered by app",
            admin_url(AccessToken, "changelist") + "?app=Demo+Stream",
            ADMIN_OWN,
        ),
        ("admin: access token", admin_url(AccessToken, "change", token.pk), WITH_BREADCRUMBS),
        ("admin: refresh tokens", admin_url(RefreshToken, "changelist"), ADMIN_OWN),
        ("admin: refresh token", admin_url(RefreshToken, "change", refresh.pk), WITH_BREADCRUMBS),
        ("admin: sessions", admin_url(TokenSession, "changelist"), ADMIN_OWN),
        ("admin: session", admin_url(TokenSession, "change", session.pk), WITH_BREADCRUMBS),
        ("admin: applications", admin_url(Application, "changelist"), ADMIN_OWN),
        ("admin: application", admin_url(Application, "change", stream.pk), WITH_BREADCRUMBS),
        ("admin: audit events", admin_url(RevocationEvent, "changelist"), None),
        ("admin: audit event", admin_url(RevocationEvent, "change", event.pk), ADMIN_OWN),
        ("admin: watermarks", admin_url(NotBefore, "changelist"), ADMIN_OWN),
        ("admin: set a watermark", admin_url(NotBefore, "add"), ACTION_PAGE),
        (
            "admin: lift a watermark",
            reverse("admin:token_admin_notbefore_lift", args=[watermark.pk]),
            ACTION_PAGE,
        ),
        ("admin: receivers", admin_url(Receiver, "changelist"), None),
        ("admin: receiver", admin_url(Receiver, "change", receiver.pk), ADMIN_OWN),
        ("admin: deliveries", admin_url(Delivery, "changelist"), None),
        ("admin: delivery", admin_url(Delivery, "change", delivery.pk), None),
    ]
    for label, path, own in pages:
        failures += check(page, results, label, own, visit=opener(page, path, "#content"))

    # The revoke confirmation, reached from the session's page; then the watermark form's count.
    def confirmation() -> None:
        page.open(admin_url(TokenSession, "change", session.pk))
        page.submit(page.find("#revoke-button"))
        page.find("textarea[name=reason]")

    failures += check(page, results, "admin: revoke confirmation", ACTION_PAGE, visit=confirmation)

    def counted_watermark() -> None:
        page.open(admin_url(NotBefore, "add"))
        Select(page.find("select[name=scope]")).select_by_value("global")
        page.find("textarea[name=reason]").send_keys("Key rotation")
        page.submit(page.find(".submit-row input[type=submit]"))
        page.find("#not-before-preview")

    failures += check(page, results, "admin: set a watermark, counted", ACTION_PAGE, visit=counted_watermark)

    # The success message after a revoke, with its link to the audit event.
    confirmation()
    page.find("textarea[name=reason]").send_keys("Phone lost")
    page.submit(page.find("input[type=submit][value='Yes, revoke']"))
    page.find(".messagelist .success")
    failures += check(page, results, "admin: sessions, after a revoke", ADMIN_OWN)
    assert failures == []


def test_the_browsable_staff_api_is_listed(driver, live_server, results):
    """DRF draws these pages: its findings are listed, none is the project's."""
    seed(live_server)
    page = Page(driver, live_server.url)
    page.log_in("admin", "admin")
    for label, path in (
        ("staff API: root (DRF's)", "/api/token-admin/"),
        ("staff API: sessions (DRF's)", "/api/token-admin/sessions"),
    ):
        assert check(page, results, label, None, visit=opener(page, path, ".response-info")) == []
    assert any(result.label.startswith("staff API: root") for result in results)


# --- what axe does not check -----------------------------------------------------------------


def press(driver: Any, *keys: str) -> None:
    ActionChains(driver).send_keys(*keys).perform()


def tab_to(driver: Any, name: str, presses: int = 40) -> Any:
    """Press Tab until the focused element's accessible name is ``name`` (in any case: Chromium's
    names follow CSS text-transform, as the admin's uppercase buttons); return it."""
    for _ in range(presses):
        press(driver, Keys.TAB)
        focused = driver.switch_to.active_element
        if focused.accessible_name.casefold() == name.casefold():
            return focused
    raise AssertionError(f"nothing named {name!r} within {presses} Tab presses")


def enter(page: Page) -> None:
    """Press Enter on the focused element and wait for the next page."""
    html = page.find("html")
    press(page.driver, Keys.ENTER)
    page.wait.until(_replaced(html))


WATCH_LIVE_REGION = """
window.liveRegionChanges = [];
new MutationObserver((records) => records.forEach((record) => {
  const region = record.target.closest && record.target.closest('[role=status]');
  if (region && record.addedNodes.length) {
    window.liveRegionChanges.push(
      {loading: document.readyState === 'loading', text: region.textContent.trim()});
  }
})).observe(document, {childList: true, subtree: true});
"""


def test_a_user_signs_out_of_a_session_with_tab_and_enter_alone_and_hears_the_message(driver, live_server):
    alice = UserFactory(username="alice")
    acc, notes = ApplicationFactory(name="Acc App"), ApplicationFactory(name="Notes")
    acc_access, _ = issue_session(alice, acc)
    notes_access, _ = issue_session(alice, notes)
    TokenSession.objects.filter(application=acc).update(last_ip="203.0.113.9", browser="Firefox", os="Ubuntu")
    page = Page(driver, live_server.url)
    page.driver.delete_all_cookies()
    page.open("/accounts/login/?next=/account/sessions/")
    page.find("#id_username").send_keys("alice")
    page.find("#id_password").send_keys("password", Keys.ENTER)
    page.find("h1")
    assert page.find("h1").text == "Where you’re signed in"

    # No messages yet: the live region is there, empty, for the next page's message.
    assert page.find("[role=status]").get_attribute("textContent").strip() == ""
    button = tab_to(driver, "Sign out of Acc App")
    # Each button is described by its session's details (when, IP, browser).
    description = driver.execute_cdp_cmd(
        "Runtime.evaluate",
        {"expression": "document.activeElement.getAttribute('aria-describedby')", "returnByValue": True},
    )["result"]["value"]
    details = page.find(f"#{description}").text
    assert "203.0.113.9" in details and "Firefox" in details
    assert button.tag_name == "button"
    enter(page)
    assert page.find("h1").text == "Sign out of Acc App?"
    tab_to(driver, "Sign out")
    # Each change to the live region, and whether the document was still loading then.
    watch = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_LIVE_REGION})
    enter(page)

    # The message arrives in the live region after the page has loaded, so it is announced.
    status = page.find("[role=status]")
    page.wait.until(lambda _: status.text == "Signed out of Acc App.")
    changes = driver.execute_script("return window.liveRegionChanges")
    driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", watch)
    assert {"loading": False, "text": "Signed out of Acc App."} in changes
    assert not dot_accepts(acc_access.raw_token) and dot_accepts(notes_access.raw_token)


def test_staff_revoke_a_session_from_the_admin_with_tab_and_enter_alone(driver, live_server):
    # A superuser, as in the demo: the test is about the keys, not the permissions.
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    token, _ = issue_session(UserFactory(username="alice"), ApplicationFactory(name="Stream"))
    session = TokenSession.objects.get()
    page = Page(driver, live_server.url)
    page.log_in(staff.username)
    page.open(reverse("admin:token_admin_tokensession_change", args=[session.pk]))
    page.find("#revoke-button")

    # Django admin's skip link first (its sidebar lists every model), then to the button.
    tab_to(driver, "Skip to main content")
    press(driver, Keys.ENTER)
    tab_to(driver, "Revoke…")
    enter(page)
    assert page.find("h1").text == "Revoke sessions"
    reason = tab_to(driver, "Reason (required):")
    assert reason.tag_name == "textarea"
    # The help text is read with the field: aria-describedby names an element that exists.
    helptext = page.find(f"#{reason.get_attribute('aria-describedby')}")
    assert helptext.text == "Recorded in the audit event."
    reason.send_keys("Phone lost")
    tab_to(driver, "Yes, revoke")
    enter(page)

    assert page.find(".messagelist .success").text.startswith("Revoked 1 access token and 1 refresh token.")
    assert not dot_accepts(token.raw_token)
    assert RevocationEvent.objects.get().reason == "Phone lost"


def relative_luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def colour(driver: Any, css: str) -> tuple[float, ...]:
    """A computed CSS colour (``rgb(...)``) as numbers, via a canvas so that any syntax parses."""
    return tuple(
        driver.execute_script(
            "const c = document.createElement('canvas').getContext('2d'); c.fillStyle = arguments[0];"
            "c.fillRect(0, 0, 1, 1); return Array.from(c.getImageData(0, 0, 1, 1).data);",
            css,
        )
    )


def test_the_account_pages_focus_ring_has_3_to_1_contrast_on_both_backgrounds(driver, live_server):
    """WCAG 1.4.11: the ring around a focused button (on a white card) and a focused link (on the
    page's grey) against both backgrounds."""
    alice = UserFactory(username="alice")
    issue_session(alice, ApplicationFactory(name="Acc App"))
    page = Page(driver, live_server.url)
    page.driver.delete_all_cookies()
    page.open("/accounts/login/?next=/account/sessions/")
    page.find("#id_username").send_keys("alice")
    page.find("#id_password").send_keys("password", Keys.ENTER)
    page.find("h1")
    for dark_mode in (False, True):
        dark(driver, dark_mode)
        page.open("/account/sessions/")
        tab_to(driver, "Sign out of Acc App")
        style = driver.execute_script(
            "const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth,"
            " s.outlineColor, getComputedStyle(document.body).backgroundColor,"
            " getComputedStyle(document.activeElement.closest('.card')).backgroundColor]"
        )
        outline_style, width, ring, page_bg, card_bg = style
        assert outline_style == "solid" and float(width.removesuffix("px")) >= 2
        for background in (page_bg, card_bg):
            ratio = contrast(colour(driver, ring), colour(driver, background))
            assert ratio >= 3, f"focus ring {ring} on {background}: {ratio:.2f}:1"
    dark(driver, False)
