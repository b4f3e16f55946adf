"""Two daphne processes sharing PostgreSQL and Redis (decisions §6, §7; security 25): a run
started on one is re-attached and stopped through the other, and when the running process is
killed the other's re-attached stream ends ``failed`` within RUN_STALE_SECONDS +
HOUSEKEEPING_SECONDS (both shrunk here)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.test_run_e2e import _advanced_chat_with_llm
from tests.servers import Server, servers

pytestmark = [pytest.mark.shared_services, pytest.mark.django_db(transaction=True)]

STALE_SECONDS = 3
HOUSEKEEPING_SECONDS = 1


@pytest.fixture
def pair(llm_server: Any) -> Iterator[list[Server]]:
    with servers(
        2,
        TESTING="false",  # housekeeping runs, as in production
        OPENAI_BASE_URL=llm_server.url,
        OPENAI_API_KEY="sk-test",
        OPENAPI_RATE_LIMIT_PER_TOKEN="0",
        RUN_HEARTBEAT_SECONDS="1",
        RUN_STALE_SECONDS=str(STALE_SECONDS),
        HOUSEKEEPING_SECONDS=str(HOUSEKEEPING_SECONDS),
        DB_POOL_MAX="4",
    ) as started:
        yield started


class Reader:
    """SSE frames of one streamed response, read on demand into ``events``."""

    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.aiter_text()
        self.buffer = ""
        self.events: list[dict[str, Any]] = []

    async def until(self, done: Any) -> list[dict[str, Any]]:
        while not done(self.events):
            try:
                self.buffer += await self.chunks.__anext__()
            except StopAsyncIteration:
                return self.events
            while "\n\n" in self.buffer:
                block, self.buffer = self.buffer.split("\n\n", 1)
                lines = block.split("\n")
                entry_id = next((p[4:] for p in lines if p.startswith("id: ")), None)
                for line in lines:
                    if line.startswith("data: "):
                        self.events.append({**json.loads(line[6:]), "_id": entry_id})
        return self.events


def _has(name: str):
    return lambda events: any(e["event"] == name for e in events)


def test_run_on_one_process_reattach_and_stop_through_the_other(
    pair, acme, alice, token_for, llm_server
):
    first, second = pair
    app = _advanced_chat_with_llm(acme)
    token = token_for(alice)
    headers = {"Authorization": f"Bearer {token}"}
    llm_server.stall("thinking ")

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            async with client.stream(
                "POST",
                f"{first.base}/openapi/v1/apps/{app.id}/run",
                headers=headers,
                json={"inputs": {}, "query": "hello"},
            ) as response:
                assert response.status_code == 200
                live = Reader(response)
                await live.until(_has("message"))
                run_id = live.events[0]["workflow_run_id"]
                task_id = live.events[0]["task_id"]
                async with client.stream(
                    "GET",
                    f"{second.base}/openapi/v1/apps/{app.id}/tasks/{run_id}/events",
                    headers={**headers, "Last-Event-ID": live.events[-1]["_id"]},
                ) as other:
                    assert other.status_code == 200
                    attached = Reader(other)
                    reader = asyncio.ensure_future(attached.until(_has("message_end")))
                    stop = await client.post(
                        f"{second.base}/openapi/v1/apps/{app.id}/tasks/{task_id}:stop",
                        headers=headers,
                    )
                    assert (
                        stop.json()["result"] == "success" and stop.json()["status"] == "stopping"
                    )
                    await asyncio.wait_for(live.until(_has("message_end")), 15)
                    await asyncio.wait_for(reader, 15)
            return live.events, attached.events

    live, attached = asyncio.run(scenario())
    for events in (live, attached):
        names = [e["event"] for e in events]
        assert names[-2:] == ["workflow_finished", "message_end"], names
        assert events[-2]["data"]["status"] == "stopped"
        assert events[-1]["metadata"]["stopped"] is True
    # Attached after the last event it had seen: nothing twice, the same ending.
    assert [e["_id"] for e in attached] == [e["_id"] for e in live][-len(attached) :]
    assert llm_server.client_gone.wait(5)


def test_killing_the_running_process_fails_the_run_on_the_others_stream(
    pair, acme, alice, token_for, llm_server
):
    first, second = pair
    app = _advanced_chat_with_llm(acme)
    token = token_for(alice)
    headers = {"Authorization": f"Bearer {token}"}
    llm_server.stall("halfway ")

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            async with client.stream(
                "POST",
                f"{first.base}/openapi/v1/apps/{app.id}/run",
                headers=headers,
                json={"inputs": {}, "query": "hello"},
            ) as response:
                live = Reader(response)
                await live.until(_has("message"))
            run_id = live.events[0]["workflow_run_id"]
            async with client.stream(
                "GET",
                f"{second.base}/openapi/v1/apps/{app.id}/tasks/{run_id}/events",
                headers=headers,
            ) as other:
                attached = Reader(other)
                await attached.until(_has("message"))
                os.kill(first.process.pid, signal.SIGKILL)
                killed_at = time.monotonic()
                await asyncio.wait_for(attached.until(_has("error")), 30)
                return attached.events, time.monotonic() - killed_at

    attached, took = asyncio.run(scenario())
    names = [e["event"] for e in attached]
    assert names[-2:] == ["workflow_finished", "error"], names
    assert attached[-2]["data"]["status"] == "failed"
    # Heartbeat age (up to STALE) + one housekeeping period, plus slack for the round itself.
    assert took <= STALE_SECONDS + HOUSEKEEPING_SECONDS + 3, took
    assert Run.objects.get().status == "failed"
