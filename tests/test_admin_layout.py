"""The admin in a real browser at 1280 by 800: every change list of the demo data fits the screen
without sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.audit import Actor
from accounts.models import Account
from oauth_device.tests.test_browser import CHROMIUM, BrowserRun

pytestmark = [pytest.mark.browser]

WIDTH = 1280
CHANGELISTS = [
    "/admin/accounts/account/",
    "/admin/accounts/accesstoken/",
    "/admin/accounts/auditevent/",
    "/admin/workspaces/workspace/",
    "/admin/oauth_device/devicegrant/",
    "/admin/apps_runtime/app/",
    "/admin/apps_runtime/tag/",
    "/admin/apps_runtime/workflowversion/",
    "/admin/apps_runtime/providerconfig/",
    "/admin/apps_runtime/run/",
    "/admin/apps_runtime/nodeexecution/",
    "/admin/apps_runtime/conversation/",
    "/admin/apps_runtime/message/",
    "/admin/apps_runtime/humaninputform/",
]


@pytest.fixture
def demo_admin(transactional_db: Any, token_for: Any) -> str:
    from apps_runtime.demo import demo_seed
    from oauth_device.services import device_grant_create

    demo_seed()
    demo = Account.objects.get(email="demo@example.com")
    token_for(demo, label="a rather long device label on somebody's laptop")
    device_grant_create(
        client_id="difyctl", device_label="terminal on a build machine", ip="203.0.113.7"
    )
    Account.objects.create_superuser("root@example.com", "pw-123456789", name="Root")
    assert Actor  # the demo data above wrote audit records through the services
    return "pw-123456789"


@pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="no Chromium")
def test_every_change_list_fits_1280_pixels(live_server, demo_admin):
    def script(page: Any) -> dict[str, int]:  # path -> pixels hidden to the right
        page.set_viewport_size({"width": WIDTH, "height": 800})
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "root@example.com")
        page.fill("#id_password", demo_admin)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        widths = {}
        for path in CHANGELISTS:
            page.goto(f"{live_server.url}{path}")
            # Django wraps the table in a box that scrolls sideways on its own, so the page never
            # overflows: measure the table against the box that shows it.
            widths[path] = int(
                page.evaluate(
                    "(() => { const box = document.querySelector('#changelist .results');"
                    " return box ? box.scrollWidth - box.clientWidth : 0; })()"
                )
            )
        return widths

    widths = BrowserRun("admin-layout", script).start().join()
    too_wide = {path: overflow for path, overflow in widths.items() if overflow > 0}
    assert too_wide == {}
