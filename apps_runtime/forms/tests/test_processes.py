"""Across processes (PostgreSQL + Redis): a run pauses in one daphne process, that process goes
away, the form is submitted through a second one (whose executor runs the resume), and a third
reader (this test process) follows the run's events to the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from apps_runtime.forms.tests import graphs
from apps_runtime.runs.tests.helpers import events_path, sse_call
from tests.servers import Server, servers

pytestmark = [pytest.mark.shared_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pair() -> Iterator[list[Server]]:
    with servers(2, TESTING="false", DEBUG="false") as started:
        yield started


def _stream_until_pause(url: str, token: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "POST", url, headers=headers, json={"inputs": {"subject": "two servers"}}, timeout=30
    ) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    return events


def test_pause_on_one_process_submit_through_another_follow_from_a_third(
    pair: list[Server], acme: Any, alice: Any, token_for: Any
) -> None:
    first, second = pair
    app = graphs.review_app(acme)
    token = token_for(alice)
    paused = _stream_until_pause(f"{first.base}/openapi/v1/apps/{app.id}/run", token)
    assert [e["event"] for e in paused][-2:] == ["human_input_required", "workflow_paused"]
    required = paused[-2]
    first.stop()  # the process that paused the run is gone; nothing of the run lives in it

    form_url = f"{second.base}/openapi/v1/apps/{app.id}/form/human_input/"
    headers = {"Authorization": f"Bearer {token}"}
    read = httpx.get(form_url + required["data"]["form_token"], headers=headers, timeout=10)
    assert read.status_code == 200 and read.json()["resolved_default_values"]["note"]
    submitted = httpx.post(
        form_url + required["data"]["form_token"],
        headers=headers,
        json={"action": "approve", "inputs": {"note": "across processes"}},
        timeout=10,
    )
    assert submitted.status_code == 200 and submitted.json() == {}

    followed = sse_call(
        "GET", events_path(app, required["workflow_run_id"]), token=token, timeout=30
    )
    names = followed.names
    assert names[0] == "workflow_started" and names[1] == "human_input_form_filled"
    assert names[-1] == "workflow_finished"
    assert followed.events[-1]["data"]["outputs"] == {
        "decision": "approve",
        "note": "across processes",
        "branch": "two servers",
    }
    assert {e["task_id"] for e in followed.events} == {required["task_id"]}
