"""The README's screenshots, taken from the real demo in headless Chromium.

    .venv/bin/python scripts/screenshots.py          # writes docs/screenshots/*.png

Re-run it when the pages change. It seeds a throwaway SQLite demo database, starts the
example project's server on a free port, and walks the newcomer's path: the landing page,
the confirmation page of alice's session, the audit event it writes. Needs the `test` extra
(Selenium), Debian's chromium and chromium-driver, and pngquant to keep each file small
(apt-get install pngquant); without pngquant the PNGs are kept as Chromium writes them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots"
WINDOW = (1200, 760)
MAX_BYTES = 200_000


def free_port() -> int:
    """8000, the port the README names, unless it is taken."""
    for port in (8000, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise SystemExit("no free port")


def manage(env: dict[str, str], *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=REPO, env=env, **kwargs)  # type: ignore[call-overload]


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if server.poll() is not None:
            raise SystemExit("the demo server stopped; see its output above")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the demo server did not answer at {url}")


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"):
        options.add_argument(flag)
    options.add_argument("--window-size={},{}".format(*WINDOW))
    options.add_argument("--force-device-scale-factor=1")
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def save(driver: webdriver.Chrome, name: str) -> Path:
    """The whole page (up to 1400 px high), optimised."""
    path = OUT / f"{name}.png"
    height = min(driver.execute_script("return document.documentElement.scrollHeight"), 1400)
    metrics = {"width": WINDOW[0], "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    if shutil.which("pngquant"):
        # 64 colours: flat admin pages stay crisp; --skip-if-larger keeps the original otherwise.
        subprocess.run(
            ["pngquant", "--force", "--skip-if-larger", "--strip", "--output", str(path), "64", str(path)],
            check=False,
        )
    size = path.stat().st_size
    print(f"{path.relative_to(REPO)}: {size // 1024} KB")
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is over {MAX_BYTES // 1000} KB: install pngquant or shrink WINDOW")
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/demo.sqlite3", "DJANGO_DEBUG": "1"}
        env.pop("REDIS_URL", None)
        for args in (("migrate", "-v", "0"), ("seed_demo", "-v", "0", "--base-url", base)):
            if manage(env, *args).wait() != 0:
                raise SystemExit(f"manage.py {args[0]} failed")
        server = manage(
            env,
            "runserver",
            "--noreload",
            f"127.0.0.1:{port}",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        driver = browser()
        try:
            wait_until_up(base + "/", server)
            wait = WebDriverWait(driver, 10)

            def find(css: str):  # type: ignore[no-untyped-def]
                return wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))

            def submit(element) -> None:  # type: ignore[no-untyped-def]
                page = find("html")
                element.click()
                wait.until(expected_conditions.staleness_of(page))

            driver.get(base + "/")
            find("#start-browser-flow")
            save(driver, "landing")

            # Alice's own view of her sessions (the self-service pages), before staff revoke one.
            driver.get(base + "/accounts/login/?next=/account/sessions/")
            find("#id_username").send_keys("alice")
            find("#id_password").send_keys("alice")
            submit(find("button[type=submit]"))
            find(".card.session")
            save(driver, "account_sessions")
            driver.delete_all_cookies()

            driver.get(base + "/admin/login/")
            find("#id_username").send_keys("admin")
            find("#id_password").send_keys("admin")
            submit(find("input[type=submit]"))
            # The admin's navigation sidebar closed: the pictures show the page itself.
            driver.execute_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
            driver.get(base + "/admin/token_admin/tokensession/?app=Demo%20Stream&q=alice")
            submit(find("#result_list tbody tr th a"))
            submit(find("#revoke-button"))
            find("textarea[name=reason]").send_keys("Alice reported her laptop stolen")
            save(driver, "confirmation")

            submit(find("input[type=submit][value='Yes, revoke']"))
            submit(find(".messagelist .success a"))
            save(driver, "audit_event")
        finally:
            driver.quit()
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
