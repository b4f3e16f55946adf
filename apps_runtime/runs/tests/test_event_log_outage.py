"""The event log's Redis going away (issue 16 §8b, decisions 16-faults): a new run and a re-attach
answer 503 with Retry-After before any stream; a run in flight goes on and its row records the
outcome; a stream open when the log went away ends, with the run's terminal events when the run
has ended; a re-attach after the log is back always ends with a terminal event.

Redis here is a private ``redis-server`` of the test (never the shared one).
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from apps_runtime import events
from apps_runtime.demo import demo_app_path
from apps_runtime.runs import services
from apps_runtime.runs.host import RunHost
from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.helpers import (
    assert_error,
    events_path,
    run_path,
    running_run,
    sse_call,
)
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.runs.tests.test_run_e2e import import_app
from tests.servers import closed_port_url

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"inputs": {"x": "hi", "num": "2", "enum_var": "B"}}


@pytest.fixture
def redis_server(private_redis, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    settings.SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = 7
    return private_redis


def _use_log(settings, url):
    settings.REDIS_URL = url
    events.event_log_reset()


def _assert_unavailable(response):
    payload = assert_error(response, 503, code="service_unavailable")
    assert response.headers["retry-after"] == "7"
    assert payload["retry_after"] == 7
    return payload


def test_runs_and_reattaches_while_the_event_log_is_down(
    acme, alice, token_for, redis_server, settings
):
    app = import_app(acme, alice, demo_app_path("echo_workflow.yml"))
    token = token_for(alice)
    done = sse_call("POST", run_path(app), token=token, body=BODY)
    assert done.names[-1] == "workflow_finished"
    task = done.events[0]["task_id"]

    # A running run with part of its log written.
    run = running_run(app, alice)
    host = RunHost(run)
    host.publish({"event": "workflow_started", "data": {}})
    settings.SSE_IDLE_SECONDS = 30

    async def live_then_outage():
        stream = await LiveStream("GET", events_path(app, run.workflow_run_id), token=token).start()
        await stream.read_until(lambda ev: len(ev) >= 1)
        # The log becomes unreachable for new connections: the run goes on and finishes.
        await _in_thread(_finish_with_log_down, settings, run, host)
        redis_server.stop()  # ... and for the open stream too
        events_seen = await stream.read_to_end(timeout=10)
        return events_seen

    seen = async_to_sync(live_then_outage)()
    assert [e["event"] for e in seen] == ["workflow_started", "workflow_finished"]
    assert seen[-1]["data"]["status"] == "succeeded"
    assert seen[-1]["data"]["outputs"] == {"answer": 42}

    runs_before = Run.objects.count()
    _assert_unavailable(sse_call("POST", run_path(app), token=token, body=BODY))
    assert Run.objects.count() == runs_before  # no run recorded for a refused start
    _assert_unavailable(sse_call("GET", events_path(app, task), token=token))
    _assert_unavailable(sse_call("GET", events_path(app, run.workflow_run_id), token=token))

    # Redis is back (empty, as after a restart without persistence): every re-attach ends.
    redis_server.start()
    _use_log(settings, redis_server.url)
    for ref in (task, run.workflow_run_id):
        again = sse_call("GET", events_path(app, ref), token=token)
        assert again.status == 200 and again.names[-1] == "workflow_finished"
    assert sse_call("POST", run_path(app), token=token, body=BODY).names[-1] == "workflow_finished"


def test_a_log_missing_its_terminal_events_still_ends_a_reattach(
    acme, alice, token_for, redis_server, settings
):
    """The log kept the run's first events but was unreachable when the run ended."""
    app = import_app(acme, alice, demo_app_path("echo_workflow.yml"))
    token = token_for(alice)
    run = running_run(app, alice)
    RunHost(run).publish({"event": "workflow_started", "data": {}})
    RunHost(run).publish({"event": "node_started", "data": {}})
    _finish_with_log_down(settings, run, RunHost(run), back=redis_server.url)
    response = sse_call("GET", events_path(app, run.workflow_run_id), token=token)
    assert response.names == ["workflow_started", "node_started", "workflow_finished"]
    assert response.events[-1]["data"]["status"] == "succeeded"


def _finish_with_log_down(settings, run, host, back=None):
    """The job's side while the log is unreachable: events and the end are not written, the run
    is neither failed nor stuck."""
    _use_log(settings, closed_port_url())
    assert RunHost(run).publish({"event": "node_started", "data": {}}) == ""
    services.run_finish(run.id, status=Run.Status.SUCCEEDED, outputs={"answer": 42})
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED
    if back is not None:
        _use_log(settings, back)


async def _in_thread(func, *args):
    from asgiref.sync import sync_to_async

    return await sync_to_async(func)(*args)
