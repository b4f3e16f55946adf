"""Stream slots (``SSE_MAX_STREAMS_PER_TOKEN``) are given back on every exit path (issue 16 §2):
a client that reads to the end and hangs up at once, one that hangs up before, at or after the
first frame, one cancelled while the run is being prepared, a server-side idle timeout; and a slot
whose holder vanished frees itself within its lease, however often a refused client retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from apps_runtime.demo import demo_app_path
from apps_runtime.events import event_log
from apps_runtime.runs.streams import stream_slot_acquire, streams_open
from apps_runtime.runs.tests.helpers import events_path, run_path, running_run, sse_call
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.runs.tests.test_run_e2e import import_app

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 200


@pytest.fixture
def echo_workflow(acme, alice):
    return import_app(acme, alice, demo_app_path("echo_workflow.yml"))


@pytest.fixture
def limits(settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    settings.RUN_STARTS_PER_MINUTE = 0
    settings.SSE_MAX_STREAMS_PER_TOKEN = 2
    settings.SSE_IDLE_SECONDS = 0.02
    return settings


def _token_id(alice):
    from accounts.models import AccessToken

    return str(AccessToken.objects.filter(account=alice).latest("created_at").id)


def _hanging_run(app, alice):
    """A running run whose log never ends (its stream can only end by a timeout or a hang-up)."""
    run = running_run(app, alice)
    event_log().append(str(run.id), {"event": "workflow_started", "task_id": str(run.id)})
    return run


def test_sequential_runs_and_reattaches_never_run_out_of_slots(
    echo_workflow, alice, token_for, limits
):
    token = token_for(alice)
    token_id = _token_id(alice)
    hanging = _hanging_run(echo_workflow, alice)
    body = {"inputs": {"x": "hi", "num": "3", "enum_var": "A"}}
    finished: list[str] = []

    async def run_stream(**kwargs):
        return await LiveStream("POST", run_path(echo_workflow), token=token, body=body).start()

    async def attach(task):
        return await LiveStream("GET", events_path(echo_workflow, task), token=token).start()

    async def read_to_end_then_hang_up(stream):
        events = await stream.read_to_end()
        await stream.leave()  # the disconnect right after the final frame
        return events

    async def one(index: int) -> None:
        phase = index % 10
        if phase == 0:  # a whole run, then the client hangs up at once
            stream = await run_stream()
            assert stream.status == 200, (index, stream.raw)
            events = await read_to_end_then_hang_up(stream)
            assert events[-1]["event"] == "workflow_finished"
            finished.append(events[-1]["workflow_run_id"])
        elif phase == 1:  # hang up before the first frame
            stream = await run_stream()
            assert stream.status == 200, (index, stream.raw)
            await stream.leave()
        elif phase == 2:  # hang up after the first event
            stream = await run_stream()
            assert stream.status == 200, (index, stream.raw)
            await stream.read_until(lambda events: len(events) >= 1)
            await stream.leave()
        elif phase == 3:  # cancelled while the run is being prepared (server-side cancel)
            stream = LiveStream("POST", run_path(echo_workflow), token=token, body=body)
            await stream.communicator.send_input(
                {"type": "http.request", "body": stream.communicator.body}
            )
            try:
                await stream.communicator.wait(timeout=0.001)
            except Exception:
                pass
        elif phase in (4, 8, 9) and finished:  # re-attach to a finished run, read it all, hang up
            stream = await attach(finished[-1])
            assert stream.status == 200, (index, stream.raw)
            events = await read_to_end_then_hang_up(stream)
            assert events[-1]["event"] == "workflow_finished"
        elif phase == 5 and finished:  # re-attach and hang up mid-body
            stream = await attach(finished[-1])
            assert stream.status == 200, (index, stream.raw)
            await stream.read_until(lambda events: len(events) >= 1)
            await stream.leave()
        elif phase == 6:  # re-attach to a silent run: the server's idle timeout ends it
            stream = await attach(hanging.workflow_run_id)
            assert stream.status == 200, (index, stream.raw)
            await read_to_end_then_hang_up(stream)
        else:  # the client times out waiting on a silent run and goes away
            stream = await attach(hanging.workflow_run_id)
            assert stream.status == 200, (index, stream.raw)
            # The wait times out (the test communicator then cancels the application, as a
            # server does with a request whose client is gone) or the idle timeout ends it.
            with contextlib.suppress(AssertionError, TimeoutError):
                await stream.read_until(lambda events: len(events) >= 2, timeout=0.01)
            if not stream.communicator.future.done():
                await stream.leave()

    async def scenario() -> None:
        for index in range(ROUNDS):
            await one(index)
            # A release may still be on its way (the cap is 2): at most one may be pending.
            deadline = time.monotonic() + 2
            while await sync_to_async(streams_open)(token_id) > 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        deadline = time.monotonic() + 2
        while await sync_to_async(streams_open)(token_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async_to_sync(scenario)()
    assert streams_open(token_id) == 0
    from apps_runtime.runs.executor import get_executor

    get_executor().wait_idle(10)
    assert sse_call("POST", run_path(echo_workflow), token=token, body=body).status == 200


def test_a_vanished_holders_slot_frees_itself_and_refusals_do_not_extend_it(
    echo_workflow, alice, token_for, limits
):
    limits.SSE_SLOT_LEASE_SECONDS = 1
    token = token_for(alice)
    token_id = _token_id(alice)
    for _ in range(2):  # two streams of a process that died without giving them back
        stream_slot_acquire(token_id)
    body = {"inputs": {"x": "hi", "num": "3", "enum_var": "A"}}
    started = time.monotonic()
    refused = 0
    while time.monotonic() - started < 0.8:  # retry all the while
        response = sse_call("POST", run_path(echo_workflow), token=token, body=body)
        assert response.status == 429, response.body
        refused += 1
    assert refused >= 2
    time.sleep(max(0.0, started + 1.1 - time.monotonic()))
    response = sse_call("POST", run_path(echo_workflow), token=token, body=body)
    assert response.status == 200, response.body
    assert response.names[-1] == "workflow_finished"
