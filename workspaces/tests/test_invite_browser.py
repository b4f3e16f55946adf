"""The invitation link in a real browser: an invited colleague sets a password on ``/invite/…``,
logs in, and approves a device login that a terminal (this test thread) is polling for."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from oauth_device.tests.test_browser import (
    CHROMIUM,
    BrowserRun,
    poll_like_difyctl,
    request_code,
    wait_for_path,
)

PASSWORD = "colleague-pw-2026"

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


@pytest.mark.django_db(transaction=True)
def test_invited_colleague_sets_a_password_and_logs_in_from_the_terminal(
    live_server: Any, alice: Any, acme: Any, token_for: Any
) -> None:
    http = httpx.Client(base_url=live_server.url, timeout=10)
    invited = http.post(
        f"/openapi/v1/workspaces/{acme.id}/members",
        json={"email": "colleague@example.com", "role": "normal"},
        headers={"Authorization": f"Bearer {token_for(alice)}"},
    )
    assert invited.status_code == 201, invited.text
    invite_url = invited.json()["invite_url"]
    assert invite_url.startswith(f"{live_server.url}/invite/")
    code = request_code(http, "colleague's laptop")

    def script(page: Any) -> dict[str, str]:
        page.goto(invite_url)
        page.get_by_role("heading", name="Join Acme").wait_for()
        invitation = page.locator("main").inner_text()
        page.get_by_label("Your name (optional)").fill("Colleague")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password again").fill(PASSWORD)
        page.get_by_role("button", name="Set password").click()
        page.get_by_role("heading", name="Account activated").wait_for()
        page.get_by_role("link", name="Log in").click()
        wait_for_path(page, "/accounts/login/")
        page.get_by_label("Email").fill("colleague@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        wait_for_path(page, "/device")
        page.get_by_label("Code").fill(code["user_code"])
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Approve").click()
        page.get_by_role("heading", name="Device approved").wait_for()
        page.goto(invite_url)  # the link is used up
        page.get_by_role("heading", name="This invitation link is not valid").wait_for()
        return {"invitation": invitation}

    browser = BrowserRun("invite", script).start()
    login = poll_like_difyctl(http, code, browser)
    seen = browser.join()

    assert "colleague@example.com" in seen["invitation"]
    assert login.get("token", "").startswith("dfoa_"), login
    assert login["account"]["email"] == "colleague@example.com"
    assert [w["id"] for w in login["workspaces"]] == [str(acme.id)]
    headers = {"Authorization": f"Bearer {login['token']}"}
    members = http.get(f"/openapi/v1/workspaces/{acme.id}/members", headers=headers).json()
    me = next(row for row in members["data"] if row["current"])
    assert (me["email"], me["name"], me["status"]) == (
        "colleague@example.com",
        "Colleague",
        "active",
    )
