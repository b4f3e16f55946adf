"""Across processes (PostgreSQL + Redis): a run pauses in one daphne process, that process goes
away, the form is submitted through a second one (whose executor runs the resume), and a third
reader (this test process) follows the run's events to the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps_runtime.forms.tests import graphs
from apps_runtime.runs.tests.helpers import events_path, sse_call
from tests.servers import free_port

pytestmark = [pytest.mark.shared_services, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
ASGI_APP = "config.asgi:application"


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), ASGI_APP],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.process.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/openapi/v1/_health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"daphne on {self.port} did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def servers(settings: Any) -> Iterator[list[Server]]:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/"
            f"{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "EVENT_LOG_KEY_PREFIX": settings.EVENT_LOG_KEY_PREFIX,
        "RATE_LIMIT_KEY_PREFIX": settings.RATE_LIMIT_KEY_PREFIX,
        "SECRET_KEY": "processes-test-secret-key",
        "DEBUG": "false",
        "TESTING": "false",
    }
    started = [Server(env), Server(env)]
    try:
        for server in started:
            server.wait_ready()
        yield started
    finally:
        for server in started:
            server.stop()


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
    servers: list[Server], acme: Any, alice: Any, token_for: Any
) -> None:
    first, second = servers
    app = graphs.review_app(acme)
    token = token_for(alice)
    paused = _stream_until_pause(f"{first.url}/openapi/v1/apps/{app.id}/run", token)
    assert [e["event"] for e in paused][-2:] == ["human_input_required", "workflow_paused"]
    required = paused[-2]
    first.stop()  # the process that paused the run is gone; nothing of the run lives in it

    form_url = f"{second.url}/openapi/v1/apps/{app.id}/form/human_input/"
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
