"""A client that never reads (issue 16 §9): the bytes the stream server holds for it are bounded
(``SSE_MAX_BUFFERED_BYTES``); past the bound it is dropped and its stream slot given back.

One real daphne process (the buffering is the server's), a private redis-server as its event log
and cache (so the test can write the long log the server replays), a raw socket that never reads.
"""

from __future__ import annotations

import socket
import time

import pytest
import redis

from apps_runtime import events
from apps_runtime.runs.tests.helpers import events_path, running_run
from apps_runtime.tests.factories import make_workflow_app
from tests.servers import servers

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 700
EVENT_BYTES = 8 * 1024  # about 5.7 MB of log: more than the kernel's socket buffers hold
LIMIT = 256 * 1024


def _slots(client: redis.Redis) -> list[bytes]:
    return list(client.scan_iter(match="*sse-slot*"))


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_client_that_never_reads_is_dropped_and_its_slot_released(
    acme, alice, token_for, private_redis
):
    app = make_workflow_app(acme)
    run = running_run(app, alice)
    log = events.event_log()
    filler = "x" * EVENT_BYTES
    for index in range(EVENTS):
        log.append(str(run.id), {"event": "node_started", "data": {"i": index, "text": filler}})
    token = token_for(alice)
    store = redis.Redis.from_url(private_redis.url)
    with servers(
        1,
        REDIS_URL=private_redis.url,
        SSE_MAX_BUFFERED_BYTES=str(LIMIT),
        OPENAPI_RATE_LIMIT_PER_TOKEN="0",
    ) as (server,):
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(("127.0.0.1", server.port))
        request = (
            f"GET {events_path(app, run.workflow_run_id)} HTTP/1.1\r\nHost: test\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        )
        reader.sendall(request.encode())
        try:
            assert _wait(lambda: bool(_slots(store)), 10), "the stream never started"
            # Never reading: the server gives up on this client and frees its slot.
            assert _wait(lambda: not _slots(store), 10), "the slot is still held"
            reader.settimeout(5)
            received = 0
            try:
                while chunk := reader.recv(1 << 16):
                    received += len(chunk)
            except (ConnectionResetError, TimeoutError):
                pass
        finally:
            reader.close()
            store.close()
        assert received < EVENTS * EVENT_BYTES / 2  # cut off long before the end of the log
        assert any("does not read" in line for line in server.log)
