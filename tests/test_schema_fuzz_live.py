"""Schema fuzzing against a live daphne process (the in-process run is ``test_schema_fuzz.py``).

A real ASGI server, so the SSE routes, the ASGI body limit and the Channels router answer too. Each
generated request carries a fresh bearer token (revoking one ends nothing), every request has a
timeout and the whole run a wall-clock budget (``LIVE_FUZZ_SECONDS``), so it stays well under a
minute per backend. No answer may be a 5xx, use an undocumented status or content type, or
violate the documented response schema.
"""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from apps_runtime.demo import demo_app_path
from apps_runtime.runs.tests.test_run_e2e import import_app
from config.api.sse import parse_frames
from tests.servers import servers

BUDGET_SECONDS = float(os.environ.get("LIVE_FUZZ_SECONDS", "25"))
EXAMPLES_PER_OPERATION = 6
REQUEST_TIMEOUT = 10


def _header(headers, name: str) -> str:
    value = headers.get(name) or headers.get(name.title()) or ""
    return value[0] if isinstance(value, list) else value


def check_sse(status: int, content_type: str, body: bytes) -> None:
    """An SSE operation's answer (issue 21 §3): an error is the contract's JSON envelope whose
    ``status`` is the HTTP one; a stream's first event (after any ping) is a JSON object naming
    its ``event`` and ``task_id``."""
    if status >= 400:
        assert content_type.startswith("application/json"), (status, content_type)
        payload = json.loads(body)
        assert {"code", "message", "status"} <= set(payload), payload
        assert payload["status"] == status, payload
        return
    assert content_type.startswith("text/event-stream"), (status, content_type)
    frames = [f for f in parse_frames(body) if f.get("data") is not None]
    assert frames, body[:300]
    first = frames[0]["data"]
    assert isinstance(first, dict) and isinstance(first.get("event"), str), first
    assert isinstance(first.get("task_id"), str), first


@schemathesis.check
def sse_answers(ctx, response, case):
    if case.operation.path not in SSE_PATHS:
        return None
    check_sse(response.status_code, _header(response.headers, "content-type"), response.content)
    return None


SSE_PATHS = {
    "/openapi/v1/apps/{app_id}/run",
    "/openapi/v1/apps/{app_id}:run",
    "/openapi/v1/apps/{app_id}/tasks/{task_id}/events",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    sse_answers,
]


@pytest.fixture
def live_daphne(transactional_db):
    """A production-like daphne (TESTING and DEBUG off, rate limits off) on this test's database
    (its rows are committed: transactional_db)."""
    with servers(
        1,
        TESTING="0",
        DEBUG="0",
        OPENAPI_RATE_LIMIT_PER_TOKEN="0",
        OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE="0",
    ) as (server,):
        yield server.base


@pytest.mark.usefixtures("bob")
def test_live_server_conforms_to_its_schema(live_daphne, alice, token_for):
    schema = schemathesis.openapi.from_url(live_daphne + "/openapi/v1/schema")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10
    # The SSE operations first: the budget never runs out before them.
    operations.sort(key=lambda operation: operation.path not in SSE_PATHS)
    assert {operation.path for operation in operations} >= SSE_PATHS
    started = time.monotonic()
    called: dict[str, int] = {}

    for operation in operations:
        if time.monotonic() - started > BUDGET_SECONDS:
            break

        label = operation.label

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            if time.monotonic() - started > BUDGET_SECONDS:
                return
            token = token_for(alice)  # fresh: revoking it ends nothing
            case.call_and_validate(
                base_url=live_daphne,
                headers={"Authorization": f"Bearer {token}"},
                checks=CHECKS,
                timeout=REQUEST_TIMEOUT,
            )
            called[label] = called.get(label, 0) + 1  # fuzz() runs within this iteration

        fuzz()
    # The budget must leave room for a real run: most operations were exercised.
    elapsed = time.monotonic() - started
    print(f"live fuzz: {sum(called.values())} requests, {len(called)}/{len(operations)} operations")
    print(f"live fuzz: {elapsed:.0f} s of a {BUDGET_SECONDS:.0f} s budget")
    assert len(called) >= len(operations) // 2, sorted(called)
    assert {label.split(" ", 1)[1] for label in called} >= SSE_PATHS, sorted(called)


@pytest.mark.usefixtures("bob")
def test_live_sse_streams_start_with_their_first_event(live_daphne, acme, alice, token_for):
    """Generated requests rarely name a real app: one valid run and its re-attach, checked the
    same way as the fuzzed answers."""
    app = import_app(acme, alice, demo_app_path("echo_workflow.yml"))
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    body = {"inputs": {"x": "hi", "num": "2", "enum_var": "B"}}
    with httpx.Client(base_url=live_daphne, headers=headers, timeout=REQUEST_TIMEOUT) as http:
        run = http.post(f"/openapi/v1/apps/{app.id}/run", json=body)
        check_sse(run.status_code, run.headers["content-type"], run.content)
        task = parse_frames(run.content)[-1]["data"]["task_id"]
        again = http.get(f"/openapi/v1/apps/{app.id}/tasks/{task}/events")
        check_sse(again.status_code, again.headers["content-type"], again.content)
        missing = http.get(f"/openapi/v1/apps/{app.id}/tasks/{app.id}/events")
        check_sse(missing.status_code, missing.headers["content-type"], missing.content)
        assert missing.status_code == 404
