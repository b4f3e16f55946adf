"""A real browser at /device: Playwright (sync API) driving Debian's Chromium, never a download.

The browser runs in its own thread (Playwright's sync API would make ORM calls in the test thread
raise ``SynchronousOnlyOperation``) against pytest-django's ``live_server``, while the test thread
plays the terminal: it asks for a code and polls like difyctl. On failure a screenshot is saved
under ``test-artifacts/``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from oauth_device.tests.helpers import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is missing (apt-get install chromium); no browser is ever downloaded",
    ),
]


@pytest.fixture(autouse=True)
def _fast_polling(settings: Any) -> None:
    settings.DEVICE_POLL_INTERVAL_SECONDS = 1


class BrowserRun:
    """Runs ``script(page)`` in a fresh headless Chromium on its own thread."""

    def __init__(self, name: str, script: Callable[[Any], Any]) -> None:
        self.name = name
        self.script = script
        self.result: Any = None
        self.error: BaseException | None = None
        self.screenshot: Path | None = None
        self.thread = threading.Thread(target=self._run, name=f"browser-{name}", daemon=True)

    def start(self) -> BrowserRun:
        self.thread.start()
        return self

    def done(self) -> bool:
        return not self.thread.is_alive()

    def join(self, timeout: float = 90) -> Any:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"browser thread {self.name} did not finish in {timeout} s")
        if self.error is not None:
            hint = f" (screenshot: {self.screenshot})" if self.screenshot else ""
            raise AssertionError(f"browser script failed{hint}: {self.error!r}") from self.error
        return self.result

    def _run(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = browser.new_page()
                    page.set_default_timeout(TIMEOUT_MS)
                    try:
                        self.result = self.script(page)
                    except BaseException:
                        self._save_screenshot(page)
                        raise
                finally:
                    browser.close()
        except BaseException as exc:
            self.error = exc

    def _save_screenshot(self, page: Any) -> None:
        try:
            ARTIFACTS.mkdir(exist_ok=True)
            path = ARTIFACTS / f"{self.name}-{int(time.time())}.png"
            page.screenshot(path=str(path), full_page=True)
            self.screenshot = path
        except Exception:  # the page may be gone; the original failure matters more
            self.screenshot = None


def request_code(http: httpx.Client, label: str) -> dict[str, Any]:
    response = http.post(
        "/openapi/v1/oauth/device/code", json={"client_id": "difyctl", "device_label": label}
    )
    assert response.status_code == 200, response.text
    return response.json()


def poll_like_difyctl(
    http: httpx.Client, code: dict[str, Any], browser: BrowserRun, *, deadline: float = 60
) -> dict[str, Any]:
    """Poll at ``interval`` (doubling on slow_down) until a token or a final error."""
    interval = code["interval"]
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        body = http.post(
            "/openapi/v1/oauth/device/token",
            json={"client_id": "difyctl", "device_code": code["device_code"]},
        ).json()
        if body.get("error") == "slow_down":
            interval = min(interval * 2, 60)
        elif body.get("error") != "authorization_pending":
            return body
        if browser.done() and browser.error is not None:
            browser.join()  # raises with the browser's failure
        time.sleep(interval)
    raise AssertionError("no answer from the token endpoint before the deadline")


def wait_for_path(page: Any, path: str) -> None:
    """Wait for ``path`` itself: a glob like ``**/device`` also matches ``?next=/device``."""
    page.wait_for_url(lambda url: urlsplit(url).path == path)
    page.wait_for_load_state()


def log_in(page: Any, email: str) -> None:
    wait_for_path(page, "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def stylesheet_probe(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => ({
            sheets: [...document.styleSheets].map(s => s.href),
            background: getComputedStyle(document.body).backgroundColor,
            cardWidth: getComputedStyle(document.querySelector('main.card')).maxWidth,
        })"""
    )


@pytest.mark.django_db(transaction=True)
def test_approve_in_a_real_browser(live_server: Any, alice: Any) -> None:
    http = httpx.Client(base_url=live_server.url, timeout=10)
    code = request_code(http, "difyctl on browser-test")
    assert code["verification_uri"] == f"{live_server.url}/device"
    css_statuses: list[int] = []

    def script(page: Any) -> dict[str, Any]:
        page.on(
            "response",
            lambda r: css_statuses.append(r.status) if r.url.endswith("/css/site.css") else None,
        )
        page.goto(f"{code['verification_uri']}?user_code={code['user_code']}")
        log_in(page, "alice@example.com")
        wait_for_path(page, "/device")
        code_input = page.get_by_label("Code")
        assert code_input.input_value() == code["user_code"]
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("heading", name="Confirm device login").wait_for()
        confirm_text = page.locator("main").inner_text()
        page.get_by_role("button", name="Approve").click()
        page.get_by_role("heading", name="Device approved").wait_for()
        return {
            "confirm": confirm_text,
            "result": page.locator("main").inner_text(),
            "style": stylesheet_probe(page),
        }

    browser = BrowserRun("approve", script).start()
    login = poll_like_difyctl(http, code, browser)
    seen = browser.join()

    assert login.get("token", "").startswith("dfoa_"), login
    assert login["account"]["email"] == "alice@example.com"
    assert "difyctl on browser-test" in seen["confirm"]
    assert "127.0.0.1" in seen["confirm"]
    assert "Only approve a login you started yourself" in seen["confirm"]
    assert "return to your terminal" in seen["result"]
    # The stylesheet loaded and applies.
    assert css_statuses and all(status in (200, 304) for status in css_statuses), css_statuses
    assert seen["style"]["background"] == "rgb(244, 246, 250)"
    assert seen["style"]["cardWidth"] == "512px"  # 32rem
    account = http.get("/openapi/v1/account", headers={"Authorization": f"Bearer {login['token']}"})
    assert account.status_code == 200
    assert http.post(
        "/openapi/v1/oauth/device/token",
        json={"client_id": "difyctl", "device_code": code["device_code"]},
    ).json() == {"error": "expired_token"}


@pytest.mark.django_db(transaction=True)
def test_deny_in_a_real_browser(live_server: Any, alice: Any) -> None:
    http = httpx.Client(base_url=live_server.url, timeout=10)
    code = request_code(http, "suspicious device")

    def script(page: Any) -> str:
        page.goto(f"{code['verification_uri']}?user_code={code['user_code'].lower()}")
        log_in(page, "alice@example.com")
        wait_for_path(page, "/device")
        assert page.get_by_label("Code").input_value() == code["user_code"]
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Deny").click()
        page.get_by_role("heading", name="Device login denied").wait_for()
        return str(page.locator("main").inner_text())

    browser = BrowserRun("deny", script).start()
    outcome = poll_like_difyctl(http, code, browser)
    result = browser.join()
    assert outcome == {"error": "access_denied"}
    assert "not given access" in result
    assert http.post(
        "/openapi/v1/oauth/device/token",
        json={"client_id": "difyctl", "device_code": code["device_code"]},
    ).json() == {"error": "expired_token"}


@pytest.mark.django_db(transaction=True)
def test_keyboard_only(live_server: Any, alice: Any) -> None:
    http = httpx.Client(base_url=live_server.url, timeout=10)
    code = request_code(http, "keyboard laptop")
    typed_code = code["user_code"].lower().replace("-", " ")

    def active(page: Any) -> dict[str, str]:
        return page.evaluate(
            """() => ({id: document.activeElement.id || '',
                       tag: document.activeElement.tagName,
                       text: (document.activeElement.textContent || '').trim(),
                       outline: getComputedStyle(document.activeElement).outlineStyle})"""
        )

    def tab_to(page: Any, element_id: str, limit: int = 20) -> dict[str, str]:
        for _ in range(limit):
            state = active(page)
            if state["id"] == element_id:
                return state
            page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached #{element_id}; focus is on {active(page)}")

    def script(page: Any) -> dict[str, Any]:
        page.goto(code["verification_uri"])
        wait_for_path(page, "/accounts/login/")
        tab_to(page, "id_username")
        page.keyboard.type("alice@example.com")
        page.keyboard.press("Tab")
        assert active(page)["id"] == "id_password"
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        wait_for_path(page, "/device")
        tab_to(page, "id_user_code")
        page.keyboard.type(typed_code)
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Confirm device login").wait_for()
        deny = tab_to(page, "deny")  # Deny comes after Approve: Tab past it, then Shift+Tab back
        page.keyboard.press("Shift+Tab")
        approve = active(page)
        assert approve["id"] == "approve", approve
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Device approved").wait_for()
        return {"approve": approve, "deny": deny}

    browser = BrowserRun("keyboard", script).start()
    login = poll_like_difyctl(http, code, browser)
    focus = browser.join()
    assert login.get("token", "").startswith("dfoa_"), login
    # Keyboard focus is visible.
    assert focus["approve"]["outline"] == "solid"
    assert focus["deny"]["outline"] == "solid"
