"""The SSE stream itself, fed through the run's event log (the only way events reach a stream):
framing, pings, terminal events per mode, Last-Event-ID, idle and maximum duration, and a client
leaving (its stream slot is released at once; the run is untouched)."""

from __future__ import annotations

import threading
import time

import pytest
from asgiref.sync import async_to_sync

from apps_runtime.events import event_log
from apps_runtime.models import AppMode
from apps_runtime.runs.models import Run
from apps_runtime.runs.streams import streams_open
from apps_runtime.runs.tests.helpers import events_path, running_run, sse_call
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.runs.wire import ends_stream
from apps_runtime.tests.factories import make_workflow_app


@pytest.fixture
def app(acme):
    return make_workflow_app(acme)


@pytest.fixture
def run(app, alice):
    return running_run(app, alice, started_at=None)


@pytest.fixture
def token(alice, token_for):
    return token_for(alice)


def _append(run, *names, status="succeeded"):
    log = event_log()
    ids = []
    for name in names:
        event = {"event": name, "task_id": str(run.id), "workflow_run_id": str(run.workflow_run_id)}
        if name == "workflow_finished":
            event["data"] = {"status": status}
        ids.append(log.append(str(run.id), event))
    return ids


def test_a_stream_pings_first_then_frames_every_event_with_its_log_id(app, run, token):
    ids = _append(run, "workflow_started", "node_started", "node_finished", "workflow_finished")
    response = sse_call("GET", events_path(app, run.workflow_run_id), token=token)
    assert response.status == 200
    assert response.body.startswith(b"event: ping\n\n")
    data = [f for f in response.frames if "data" in f]
    assert [f["id"] for f in data] == ids
    assert response.names == [
        "workflow_started",
        "node_started",
        "node_finished",
        "workflow_finished",
    ]
    for line in response.body.decode().split("\n\n"):
        if line.startswith("id:"):
            assert line.split("\n")[1].startswith("data: {")


def test_live_events_arrive_after_attaching_and_the_terminal_event_ends_the_stream(
    app, run, token, settings
):
    settings.SSE_PING_SECONDS = 1
    _append(run, "workflow_started")

    def later():
        time.sleep(0.3)
        _append(run, "node_started")
        time.sleep(1.4)  # long enough for a ping in between
        _append(run, "workflow_finished", status="failed")
        _append(run, "error")
        _append(run, "node_started")  # after the end: never delivered

    threading.Thread(target=later, daemon=True).start()
    response = sse_call("GET", events_path(app, run.workflow_run_id), token=token, timeout=10)
    assert response.names == ["workflow_started", "node_started", "workflow_finished", "error"]
    pings = [f for f in response.frames if f.get("event") == "ping" and "data" not in f]
    assert len(pings) >= 2  # the first one, and one during the silence


def test_last_event_id_is_exactly_once_and_malformed_ids_are_ignored(app, run, token):
    ids = _append(run, *["node_started"] * 30, "workflow_finished")
    for k in (0, 7, 29):
        response = sse_call(
            "GET",
            events_path(app, run.workflow_run_id),
            token=token,
            headers={"Last-Event-ID": ids[k]},
        )
        assert [f["id"] for f in response.frames if "data" in f] == ids[k + 1 :]
    junk = sse_call(
        "GET", events_path(app, run.workflow_run_id), token=token, headers={"Last-Event-ID": "x"}
    )
    assert [f["id"] for f in junk.frames if "data" in f] == ids


def test_reattach_starts_at_the_current_segment(app, run, token):
    _append(run, "workflow_started", "node_started", "human_input_required", "workflow_paused")
    second = _append(run, "workflow_started", "node_finished", "workflow_finished")
    response = sse_call("GET", events_path(app, run.workflow_run_id), token=token)
    assert [f["id"] for f in response.frames if "data" in f] == second


def test_a_paused_segment_replays_its_pause_and_closes_unless_asked_to_continue(
    app, run, token, settings
):
    settings.SSE_IDLE_SECONDS = 1
    Run.objects.filter(pk=run.pk).update(status=Run.Status.PAUSED)
    _append(run, "workflow_started", "node_started", "human_input_required", "workflow_paused")
    response = sse_call("GET", events_path(app, run.workflow_run_id), token=token)
    assert response.names == [
        "workflow_started",
        "node_started",
        "human_input_required",
        "workflow_paused",
    ]
    started = time.monotonic()
    response = sse_call(
        "GET", events_path(app, run.workflow_run_id) + "?continue_on_pause=true", token=token
    )
    assert response.names[-1] == "workflow_paused"
    assert time.monotonic() - started >= 0.9  # it stayed open until idle


def test_an_idle_stream_closes_after_sse_idle_seconds(app, run, token, settings):
    settings.SSE_IDLE_SECONDS = 1
    started = time.monotonic()
    response = sse_call("GET", events_path(app, run.workflow_run_id), token=token, timeout=5)
    assert response.status == 200 and response.names == []
    assert 0.9 <= time.monotonic() - started < 4


def test_a_stream_never_outlives_sse_max_seconds(app, run, token, settings):
    settings.SSE_MAX_SECONDS = 1
    settings.SSE_PING_SECONDS = 1
    stop = threading.Event()

    def chatter():
        while not stop.wait(0.2):
            _append(run, "node_started")

    threading.Thread(target=chatter, daemon=True).start()
    try:
        started = time.monotonic()
        response = sse_call("GET", events_path(app, run.workflow_run_id), token=token, timeout=5)
    finally:
        stop.set()
    assert response.names and set(response.names) == {"node_started"}
    assert time.monotonic() - started < 3


def test_a_client_leaving_releases_its_stream_slot_within_a_second(app, run, token, alice):
    from accounts.models import AccessToken

    token_id = str(AccessToken.objects.filter(account=alice).latest("created_at").id)
    _append(run, "workflow_started")

    async def scenario():
        stream = await LiveStream("GET", events_path(app, run.workflow_run_id), token=token).start()
        await stream.read_until(lambda ev: len(ev) >= 1)
        assert streams_open(token_id) == 1
        await stream.leave()

    async_to_sync(scenario)()
    deadline = time.monotonic() + 1
    while streams_open(token_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert streams_open(token_id) == 0
    assert Run.objects.get(pk=run.pk).status == "running"


@pytest.mark.parametrize(
    ("mode", "event", "ends"),
    [
        (AppMode.WORKFLOW, {"event": "workflow_finished", "data": {"status": "succeeded"}}, True),
        (AppMode.WORKFLOW, {"event": "workflow_finished", "data": {"status": "stopped"}}, True),
        (AppMode.WORKFLOW, {"event": "workflow_finished", "data": {"status": "failed"}}, False),
        (
            AppMode.ADVANCED_CHAT,
            {"event": "workflow_finished", "data": {"status": "succeeded"}},
            False,
        ),
        (AppMode.ADVANCED_CHAT, {"event": "message_end"}, True),
        (AppMode.CHAT, {"event": "message_end"}, True),
        (AppMode.CHAT, {"event": "message"}, False),
        (AppMode.COMPLETION, {"event": "error"}, True),
        (AppMode.WORKFLOW, {"event": "workflow_paused"}, True),
    ],
)
def test_terminal_sequences_per_mode(mode, event, ends):
    assert ends_stream(mode, event) is ends
