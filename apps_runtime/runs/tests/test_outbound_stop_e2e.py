"""A stop reaches an http-request node waiting on a server that drips one byte at a time
(issue 16 item 4): the run ends ``stopped`` within a second, through the real run host."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from apps_runtime.models import WorkflowVersion
from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.helpers import run_path
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.tests.factories import make_workflow_app
from tests.drip import dripping_server

pytestmark = pytest.mark.django_db(transaction=True)


def _http_workflow(workspace, url: str):
    app = make_workflow_app(workspace)
    version = WorkflowVersion.objects.get(app=app)
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
        {
            "id": "http",
            "data": {
                "type": "http-request",
                "title": "Slow",
                "method": "get",
                "url": url,
                "authorization": {"type": "no-auth"},
                "headers": "",
                "params": "",
                "body": {"type": "none", "data": []},
                "timeout": {"connect": 5, "read": 30, "write": 30},
            },
        },
        {"id": "end", "data": {"type": "end", "title": "End", "outputs": []}},
    ]
    edges = [
        {
            "id": f"e{i}",
            "source": s,
            "target": t,
            "sourceHandle": "source",
            "targetHandle": "target",
        }
        for i, (s, t) in enumerate([("start", "http"), ("http", "end")])
    ]
    version.graph = {"nodes": nodes, "edges": edges}
    version.save()
    return app


def test_a_stop_ends_a_dripping_http_request_run_within_a_second(
    acme, alice, token_for, api, settings
):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    token = token_for(alice)
    with dripping_server(every=0.3, lasts=15) as drip:
        app = _http_workflow(acme, drip.base + "/slow")

        async def scenario():
            stream = await LiveStream(
                "POST",
                run_path(app),
                token=token,
                body={"inputs": {}, "response_mode": "streaming"},
            ).start()
            events = await stream.read_until(
                lambda ev: any(
                    e["event"] == "node_started" and e["data"]["node_id"] == "http" for e in ev
                )
            )
            await sync_to_async(lambda: time.sleep(0.3))()  # the node is now waiting on the drip
            task_id = events[0]["task_id"]
            stopped_at = time.monotonic()
            stop = await sync_to_async(
                lambda: api(token).post(f"/openapi/v1/apps/{app.id}/tasks/{task_id}/stop")
            )()
            assert stop.status_code == 200
            rest = await stream.read_to_end(timeout=10)
            return rest, time.monotonic() - stopped_at

        events, took = async_to_sync(scenario)()
    finished = [e for e in events if e["event"] == "workflow_finished"]
    assert finished and finished[0]["data"]["status"] == "stopped"
    assert took < 1.0, took
    assert Run.objects.get().status == "stopped"
