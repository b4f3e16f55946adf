"""Faults against a real daphne process (issue 21 §4) that the other fault tests do not cover:

- PostgreSQL connections killed with ``pg_terminate_backend`` while a run streams: the run ends
  with its terminal event or a visible ``error``, its row agrees, and the server serves the next
  run with no restart.
- 120 clients leaving their streams at once: first each stream is shown live (an event appended
  to every run reaches its client; past redis-py's default pool of 100 connections they used to
  end at once), then the server's threads, descriptors, Redis and PostgreSQL connections and
  stream slots come back to what they were (a second round leaves nothing the first did not; a
  leaked stream task would keep its Redis connection and its slot).
- The private Redis (cache, rate limits, event log) stopped while bearer tokens are checked: every
  answer is a 200 (the limits fail open, logged) or a 503 with Retry-After, quickly (no 500, no
  hang), and 200s once it is back.

Covered elsewhere: the event log's Redis stopped while runs stream (``test_event_log_outage``), a
server process killed mid-run (``test_two_processes``, ``test_celery_workers``), a reader that never
reads (``test_slow_reader``). Shared services are never stopped: Redis here is the test's own.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from django.db import connection

from apps_runtime import events
from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.helpers import events_path, running_run
from apps_runtime.runs.tests.test_run_e2e import _advanced_chat_with_llm
from apps_runtime.tests.factories import make_workflow_app
from benchmarks.runs import parse_sse
from tests.concurrency import race
from tests.servers import servers
from tests.test_db_reconnect import _terminate_server_connections

CLIENTS = 120  # more than redis-py's default pool of 100 connections (EVENT_LOG_MAX_CONNECTIONS)
CLOSE_TIMEOUT = 12  # daphne's application_close_timeout (10 s) and a margin

pytestmark = [pytest.mark.shared_services, pytest.mark.django_db(transaction=True)]


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def _run(client: httpx.Client, app: Any, token: str, on_event=None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    buffer = ""
    with client.stream(
        "POST",
        f"/openapi/v1/apps/{app.id}/run",
        json={"inputs": {}, "query": "hi"},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        assert response.status_code == 200, response.read()[:300]
        for chunk in response.iter_text():
            new, buffer = parse_sse(buffer + chunk)
            for event in new:
                events.append(event)
                if on_event is not None:
                    on_event(event)
    return events


def test_killed_database_connections_mid_run_end_it_visibly_and_the_server_recovers(
    acme, alice, token_for, llm_server
):
    app = _advanced_chat_with_llm(acme)
    token = token_for(alice)
    llm_server.answer("", chunks=["slow "] * 15, chunk_delay=0.1, once=True)
    llm_server.answer("Fast reply")
    killed: list[int] = []

    def kill_once(event: dict[str, Any]) -> None:
        if event.get("event") == "message" and not killed:
            killed.append(_terminate_server_connections())

    with servers(
        1,
        OPENAI_BASE_URL=llm_server.url,
        OPENAI_API_KEY="sk-test",
        OPENAPI_RATE_LIMIT_PER_TOKEN="0",
        RUN_STARTS_PER_MINUTE="0",
    ) as (server,):
        with httpx.Client(base_url=server.base, timeout=30) as client:
            events = _run(client, app, token, kill_once)
            assert killed and killed[0] >= 1  # the server held connections, and lost them
            last = events[-1]["event"]
            assert last in ("message_end", "error"), [e["event"] for e in events]
            task = next(e["task_id"] for e in events if e.get("task_id"))
            run = Run.objects.get(pk=task)
            assert run.status == ("succeeded" if last == "message_end" else "failed"), run.status
            # No restart: the next run and a JSON call on the same process succeed.
            again = _run(client, app, token)
            assert again[-1]["event"] == "message_end"
            account = client.get(
                "/openapi/v1/account", headers={"Authorization": f"Bearer {token}"}
            )
            assert account.status_code == 200


def _counts(pid: int, store: redis.Redis) -> dict[str, int]:
    return {
        "threads": len(list(Path(f"/proc/{pid}/task").iterdir())),
        "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())),
        "redis_clients": int(store.info("clients")["connected_clients"]),
        "db_connections": _backends(),
        "slots": len(list(store.scan_iter(match="*sse-slot*"))),
    }


def _settled(pid: int, store: redis.Redis, target: dict[str, int], timeout: float):
    deadline = time.monotonic() + timeout
    counts = _counts(pid, store)
    while time.monotonic() < deadline:
        if all(counts[k] <= target[k] for k in target):
            break
        time.sleep(0.1)
        counts = _counts(pid, store)
    return counts


def test_a_hundred_clients_leaving_at_once_leave_nothing_behind(
    acme, alice, token_for, private_redis
):
    app = make_workflow_app(acme)
    runs = [running_run(app, alice) for _ in range(CLIENTS)]
    tokens = [token_for(alice) for _ in range(CLIENTS // 10)]  # 10 streams a token: the limit
    store = redis.Redis.from_url(private_redis.url)
    log = events.event_log()  # the private Redis, the servers' event log too
    with servers(
        1,
        REDIS_URL=private_redis.url,
        OPENAPI_RATE_LIMIT_PER_TOKEN="0",
        DB_POOL_MAX="4",
        SSE_SLOT_LEASE_SECONDS="30",  # a slot left behind must not expire during the test
    ) as (server,):
        pid = server.process.pid

        def hold_and_drop(check_live: bool) -> None:
            sockets = []
            for index, run in enumerate(runs):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                sock.sendall(
                    f"GET {events_path(app, run.workflow_run_id)} HTTP/1.1\r\nHost: test\r\n"
                    f"Authorization: Bearer {tokens[index // 10]}\r\n\r\n".encode()
                )
                sockets.append(sock)
            received = [b""] * len(sockets)
            for index, sock in enumerate(sockets):
                while b"\r\n\r\n" not in received[index]:
                    received[index] += sock.recv(4096)
                assert received[index].startswith(b"HTTP/1.1 200"), received[index][:200]
            assert len(list(store.scan_iter(match="*sse-slot*"))) == CLIENTS
            if check_live:  # every stream is live: an event appended now reaches each client
                time.sleep(0.5)
                for run in runs:
                    log.append(str(run.id), {"event": "node_started", "data": {"mark": run.id.hex}})
                for run, sock in zip(runs, sockets, strict=True):
                    index = runs.index(run)
                    while run.id.hex.encode() not in received[index]:
                        chunk = sock.recv(65536)
                        assert chunk, f"stream {index} ended before its event: {received[index]!r}"
                        received[index] += chunk
            for sock in sockets:  # all at once, abruptly (RST), as clients that vanish
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

        baseline = _counts(pid, store)
        hold_and_drop(check_live=True)
        # Most streams end at once; now and then one is only ended by daphne's
        # application_close_timeout (10 s), which bounds how long a slot can outlive its client.
        first = _settled(pid, store, {"slots": 0}, CLOSE_TIMEOUT)
        assert first["slots"] == 0, first
        time.sleep(0.3)
        first = _counts(pid, store)
        hold_and_drop(
            check_live=False
        )  # the first round warmed every pool: the second must leave nothing more
        second = _settled(pid, store, {**first, "slots": 0}, CLOSE_TIMEOUT)
        assert second["slots"] == 0, (baseline, first, second)
        for name in ("threads", "fds", "redis_clients", "db_connections"):
            assert second[name] <= first[name], (name, baseline, first, second)
        # Nothing held for the vanished clients: at most the pools' idle connections remain.
        assert second["fds"] <= baseline["fds"] + 12, (baseline, second)
    store.close()


def test_tokens_checked_while_the_redis_stops_answer_200_or_503(alice, token_for, private_redis):
    tokens = [token_for(alice) for _ in range(4)]
    with servers(
        1,
        REDIS_URL=private_redis.url,
        OPENAPI_RATE_LIMIT_PER_TOKEN="60000",  # the limiters read Redis on every call
        OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE="60000",
        SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS="3",
    ) as (server,):
        answers: list[tuple[int, str | None, float]] = []
        after_stop: list[int] = []
        stop_at = time.monotonic() + 0.6

        def caller(index: int) -> None:
            headers = {"Authorization": f"Bearer {tokens[index]}"}
            with httpx.Client(base_url=server.base, timeout=10) as client:
                while time.monotonic() < stop_at + 1.0:
                    started = time.monotonic()
                    response = client.get("/openapi/v1/account", headers=headers)
                    elapsed = time.monotonic() - started
                    answers.append(
                        (response.status_code, response.headers.get("retry-after"), elapsed)
                    )
                    if started > stop_at + 0.2:
                        after_stop.append(response.status_code)

        def stopper(_: int) -> None:
            time.sleep(max(0.0, stop_at - time.monotonic()))
            private_redis.stop()

        assert not race(5, lambda i: stopper(i) if i == 4 else caller(i))
        statuses = {status for status, _, _ in answers}
        assert statuses <= {200, 503}, statuses
        assert after_stop, "no request was made while Redis was down"
        assert all(retry for status, retry, _ in answers if status == 503)
        # The rate limits fail open (decisions 16-faults): tokens are still checked (PostgreSQL)
        # and answered, and the outage is logged instead of a traceback per request.
        if 503 not in after_stop:
            assert any("allowing requests" in line for line in server.log), server.log[-5:]
        assert not any("Traceback" in line for line in server.log)
        assert max(elapsed for _, _, elapsed in answers) < 5  # no request hung
        private_redis.start()
        back = httpx.get(
            server.base + "/openapi/v1/account",
            headers={"Authorization": f"Bearer {tokens[0]}"},
            timeout=10,
        )
        assert back.status_code == 200
