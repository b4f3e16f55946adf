"""One caller's runs executing at once are capped (``RUN_MAX_ACTIVE_PER_SUBJECT``), so a caller
whose runs wait on a slow server never holds every run slot: others keep running (issue 16)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from apps_runtime.demo import demo_app_path
from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.helpers import assert_error, run_path, running_run, sse_call
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.runs.tests.test_run_e2e import import_app

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"inputs": {"x": "hi", "num": "3", "enum_var": "A"}}


@pytest.fixture
def echo_workflow(acme, alice):
    return import_app(acme, alice, demo_app_path("echo_workflow.yml"))


def _run_to_end(app, token):
    async def go():
        stream = await LiveStream("POST", run_path(app), token=token, body=BODY).start()
        assert stream.status == 200, stream.raw
        return await stream.read_to_end()

    return async_to_sync(go)()


def test_a_callers_running_runs_are_capped_and_others_still_run(
    echo_workflow, alice, bob, token_for, settings
):
    settings.RUN_MAX_ACTIVE_PER_SUBJECT = 3
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    alice_token, bob_token = token_for(alice), token_for(bob)
    held = [running_run(echo_workflow, alice) for _ in range(3)]
    running_run(echo_workflow, alice, status=Run.Status.PAUSED)  # a paused run holds no slot

    refused = sse_call("POST", run_path(echo_workflow), token=alice_token, body=BODY)
    payload = assert_error(refused, 429, code="too_many_requests")
    assert "3 of your runs are still running (at most 3 at once)" in payload["hint"]
    assert refused.headers["retry-after"]
    assert Run.objects.filter(account=alice).count() == 4  # nothing was started

    # Another caller is not held back by alice's runs.
    events = _run_to_end(echo_workflow, bob_token)
    assert events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["status"] == "succeeded"

    # Once one of alice's runs ends, she can start again.
    Run.objects.filter(pk=held[0].pk).update(status=Run.Status.SUCCEEDED)
    events = _run_to_end(echo_workflow, alice_token)
    assert events[-1]["data"]["status"] == "succeeded"


def test_zero_turns_the_cap_off(echo_workflow, alice, token_for, settings):
    settings.RUN_MAX_ACTIVE_PER_SUBJECT = 0
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    for _ in range(3):
        running_run(echo_workflow, alice)
    events = _run_to_end(echo_workflow, token_for(alice))
    assert events[-1]["data"]["status"] == "succeeded"
