"""The emailed form answered in a real browser (issue 10 tests): a run pauses on an email-only
form, the console/locmem email carries the page link, a logged-in member answers it in headless
Chromium, and the re-attached stream shows the run finish with the answer.

Playwright's sync API runs in its own thread (``BrowserRun``) against ``live_server``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from django.core import mail

from apps_runtime.forms.models import HumanInputForm
from apps_runtime.forms.tests import graphs
from apps_runtime.runs.tests.helpers import events_path, run_path, sse_call
from oauth_device.tests.test_browser import CHROMIUM, BrowserRun, log_in, wait_for_path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing"),
]

LINK = re.compile(r"(https?://\S+/forms/[A-Za-z0-9]+)")


@pytest.mark.django_db(transaction=True)
def test_an_emailed_form_is_answered_in_a_browser_and_the_run_finishes(
    live_server: Any, acme: Any, alice: Any, bob: Any, token_for: Any, settings: Any
) -> None:
    settings.FORM_LINK_BASE_URL = live_server.url
    app = graphs.emailed_app(acme)
    token = token_for(alice)
    paused = sse_call("POST", run_path(app), token=token, body={"inputs": {"subject": "Q3 plan"}})
    assert paused.names[-3:] == ["node_started", "human_input_required", "workflow_paused"]
    required = paused.events[-2]["data"]
    assert required["form_token"] is None and required["display_in_ui"] is False
    assert required["approval_channels"] == ["email"]

    to_bob = next(m for m in mail.outbox if m.to == ["bob@example.com"])
    assert to_bob.subject == "Review Q3 plan"
    link = LINK.search(to_bob.body).group(1)

    def script(page: Any) -> str:
        page.goto(link)
        log_in(page, "bob@example.com")
        wait_for_path(page, link.removeprefix(live_server.url))
        page.get_by_role("heading", name="Mailed review").wait_for()
        assert "Please look at Q3 plan" in page.locator("#form-content").inner_text()
        page.get_by_label("Remarks").fill("ship it")
        page.get_by_role("button", name="Accept").click()
        page.get_by_role("heading", name="Answer recorded").wait_for()
        return page.locator("main").inner_text()

    seen = BrowserRun("hitl-email", script).start().join()
    assert "Accept" in seen

    form = HumanInputForm.objects.get(run_id=paused.events[0]["task_id"])
    assert (form.status, form.submitted_by, form.submitted_via) == ("submitted", bob, "page")
    events = sse_call(
        "GET", events_path(app, paused.events[0]["workflow_run_id"]), token=token, timeout=20
    ).events
    assert events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["outputs"] == {"decision": "accept", "remarks": "ship it"}
