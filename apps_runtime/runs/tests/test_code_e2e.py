"""A Dify export with a Python and a JavaScript code node, run end to end through the run endpoint
(SSE) as ``curl -N`` and ``difyctl run app`` call it; a stop during a long code node; a hostile
program that fails and leaves the server answering; and a machine without the sandbox, where the
run, describe and the import warning all say what to install.

These need ``transactional_db``: the job runs in a worker thread with its own connection.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from apps_runtime.dsl import dsl_parse
from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.helpers import assert_error, run_path, sse_call
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.runs.tests.test_run_e2e import import_app
from apps_runtime.sandbox.tests.support import needs_sandbox, shrink_limits

pytestmark = pytest.mark.django_db(transaction=True)

EXPORT = (
    Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "dsl" / "workflow_code_nodes.yml"
)
INSTALL = "apt-get install -y bubblewrap"


def import_export(workspace: Any, author: Any, edit: Any = None) -> Any:
    return import_app(workspace, author, EXPORT, edit)


def python_node(document: dict[str, Any]) -> dict[str, Any]:
    return next(
        n["data"]
        for n in document["workflow"]["graph"]["nodes"]
        if n["data"].get("code_language") == "python3"
    )


@pytest.fixture
def token(alice: Any, token_for: Any, settings: Any) -> str:
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    shrink_limits(settings)
    return token_for(alice)


EXPECTED = {
    "summary": "scores: 3 values, mean 2.1666666666666665",
    "stats": {"min": 1, "max": 3, "range": 2},
    "sorted": ["1", "2.5", "3"],
    "rows": [{"index": 0, "value": 3}, {"index": 1, "value": 1}, {"index": 2, "value": 2.5}],
    "total": 6.5,
    "positive": True,
}


@needs_sandbox
@pytest.mark.parametrize("colon", [False, True])
def test_a_dify_export_with_code_nodes_in_both_languages_runs(
    acme: Any, alice: Any, token: str, api: Any, colon: bool
) -> None:
    app = import_export(acme, alice)
    # difyctl run app: describe (fields=info) for the mode, then the run.
    info = api(token).get(f"/openapi/v1/apps/{app.id}", {"fields": "info"}).json()["info"]
    assert info["mode"] == "workflow" and "unavailable" not in info
    response = sse_call(
        "POST",
        run_path(app, colon=colon),
        token=token,
        body={
            "inputs": {"numbers": "3, 1, 2.5", "label": " scores "},
            "response_mode": "streaming",
        },
    )
    assert response.status == 200, response.body[:300]
    finished = response.events[-1]
    assert finished["event"] == "workflow_finished"
    assert finished["data"]["status"] == "succeeded", finished["data"]
    assert finished["data"]["outputs"] == EXPECTED
    code_nodes = [
        e["data"]
        for e in response.events
        if e["event"] == "node_finished" and e["data"]["node_type"] == "code"
    ]
    assert [n["title"] for n in code_nodes] == ["Parse (Python)", "Summarise (JavaScript)"]
    assert code_nodes[0]["outputs"]["values"] == [3.0, 1.0, 2.5]
    assert Run.objects.get().status == "succeeded"


@needs_sandbox
def test_a_hostile_code_node_fails_with_a_message_and_the_server_answers_next(
    acme: Any, alice: Any, token: str
) -> None:
    def fork_bomb(document: dict[str, Any]) -> None:
        python_node(document)["code"] = (
            "import os\ndef main(numbers, label):\n    while True:\n        os.fork()\n"
        )

    hostile = import_export(acme, alice, fork_bomb)
    response = sse_call("POST", run_path(hostile), token=token, body={"inputs": {"numbers": "1"}})
    finished = next(e["data"] for e in response.events if e["event"] == "workflow_finished")
    assert finished["status"] == "failed"
    assert finished["error"].startswith("the code exceeded the limit of 32 processes/threads")
    good = import_export(acme, alice)
    again = sse_call("POST", run_path(good), token=token, body={"inputs": {"numbers": "2"}})
    assert again.events[-1]["data"]["status"] == "succeeded"


@needs_sandbox
def test_a_stop_during_a_long_code_node_ends_the_run_stopped_within_a_second(
    acme: Any, alice: Any, token: str, api: Any, settings: Any
) -> None:
    settings.SANDBOX_WALL_SECONDS = 30
    settings.SANDBOX_CPU_SECONDS = 30

    def spin(document: dict[str, Any]) -> None:
        python_node(document)["code"] = "def main(numbers, label):\n    while True:\n        pass\n"

    app = import_export(acme, alice, spin)

    async def scenario() -> tuple[list[dict[str, Any]], float]:
        stream = await LiveStream(
            "POST", run_path(app), token=token, body={"inputs": {"numbers": "1"}}
        ).start()
        events = await stream.read_until(
            lambda ev: any(
                e["event"] == "node_started" and e["data"]["node_type"] == "code" for e in ev
            )
        )
        await sync_to_async(time.sleep)(0.3)  # the code is running now
        asked = time.monotonic()
        stop = await sync_to_async(
            lambda: api(token).post(f"/openapi/v1/apps/{app.id}/tasks/{events[0]['task_id']}/stop")
        )()
        assert stop.status_code == 200
        rest = await stream.read_to_end(timeout=10)
        return rest, time.monotonic() - asked

    events, took = async_to_sync(scenario)()
    assert events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["status"] == "stopped"
    assert took < 1.0
    assert Run.objects.get().status == "stopped"


def test_without_the_sandbox_run_describe_and_import_say_what_to_install(
    acme: Any, alice: Any, token: str, api: Any, settings: Any
) -> None:
    settings.SANDBOX_BWRAP = "/nonexistent/bwrap"
    parsed = dsl_parse(EXPORT.read_text(encoding="utf-8"))
    warning = next(w for w in parsed.warnings if "code" in w)
    assert INSTALL in warning and "app_unavailable" in warning
    app = import_export(acme, alice)
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {"numbers": "1"}})
    payload = assert_error(response, 400, code="app_unavailable")
    assert INSTALL in payload["message"] and "code" in payload["message"]
    info = api(token).get(f"/openapi/v1/apps/{app.id}/describe").json()["info"]
    assert info["unavailable"] == payload["message"]
    assert Run.objects.count() == 0
    # Everything else still runs.
    settings.SANDBOX_BWRAP = "/usr/bin/bwrap"
    assert "unavailable" not in api(token).get(f"/openapi/v1/apps/{app.id}").json()["info"]
