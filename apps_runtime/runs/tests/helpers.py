"""Calling the SSE endpoints through the real ASGI application (Channels ``HttpCommunicator``).

``sse_call`` runs the request from a synchronous test: thread-sensitive ``sync_to_async`` work
then runs in the test's own thread (and transaction), so pre-stream checks need no
``transactional_db``. Streams that reach a run job do (the job runs in a worker thread).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator

from config.api.sse import parse_frames


@dataclass
class SSEResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    frames: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The data events in order (pings left out)."""
        return [frame["data"] for frame in self.frames if "data" in frame]

    @property
    def names(self) -> list[str]:
        return [event["event"] for event in self.events]


def _headers(token: str | None, extra: dict[str, str] | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    for name, value in (extra or {}).items():
        headers.append((name.lower().encode(), value.encode()))
    return headers


async def _call(
    method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]], timeout: float
) -> SSEResponse:
    from config.asgi import application

    communicator = HttpCommunicator(application, method, path, body=body, headers=headers)
    try:
        response = await communicator.get_response(timeout=timeout)
    finally:
        try:
            await communicator.wait(timeout=1)
        except Exception:  # already finished, or cancelled by wait()
            pass
    result = SSEResponse(
        status=response["status"],
        headers={k.decode().lower(): v.decode() for k, v in response["headers"]},
        body=response["body"],
    )
    if result.headers.get("content-type", "").startswith("text/event-stream"):
        result.frames = parse_frames(result.body)
    return result


def sse_call(
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> SSEResponse:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return async_to_sync(_call)(method, path, data, _headers(token, headers), timeout)


def run_path(app: Any, colon: bool = False) -> str:
    return f"/openapi/v1/apps/{app.id}{':run' if colon else '/run'}"


def events_path(app: Any, task: Any) -> str:
    return f"/openapi/v1/apps/{app.id}/tasks/{task}/events"


def assert_error(
    response: SSEResponse, status: int, *, code: str | None = None, message: str | None = None
) -> dict[str, Any]:
    assert response.status == status, (response.status, response.body[:500])
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert payload["status"] == status
    if code is not None:
        assert payload["code"] == code, payload
    if message is not None:
        assert payload["message"] == message, payload
    return payload


def running_run(app: Any, account: Any, **fields: Any) -> Any:
    """A run row of ``app`` by ``account`` as a job would have started it (no job behind it)."""
    from apps_runtime.runs.models import Run

    return Run.objects.create(
        app=app,
        workspace=app.workspace,
        mode=app.mode,
        subject_type="account",
        subject_email=account.email,
        account=account,
        workflow_run_id=uuid.uuid4() if app.mode in ("workflow", "advanced-chat") else None,
        **fields,
    )
