"""The SSE endpoints: ``POST /apps/{id}/run`` (``:run``) and ``GET /apps/{id}/tasks/{t}/events``.

Before the stream, one short synchronous step (authentication, the app, the body, the run row, the
job submission) runs through ``sync_to_async`` and releases its database connection; the
stream then only reads the run's event log asynchronously (decisions §6), so an open stream holds
no database connection and no thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings

from apps_runtime.events.base import EventLogUnavailable, entry_id_key
from apps_runtime.runs import prestream, wire
from apps_runtime.runs.streams import StreamSlot, stream_slot_release, stream_slot_renew
from config.api.sse import PING_FRAME, SSEConsumer, data_frame, header

logger = logging.getLogger("difyapi.sse")


@dataclass
class StreamPlan:
    """What a stream sends: frames first (a snapshot or a synthesised end), then the log of
    ``task_id`` after ``after`` until a terminal event (or nothing more when ``live`` is off)."""

    task_id: str
    mode: str
    token_key: str
    slot: StreamSlot | None = None
    after: str | None = None
    prelude: list[bytes] = field(default_factory=list)
    live: bool = True
    idle_seconds: float | None = None
    continue_on_pause: bool = False
    ping_first: bool = False


async def plan_frames(plan: StreamPlan) -> AsyncIterator[bytes]:
    from apps_runtime.events import event_log

    log = event_log()
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + settings.SSE_MAX_SECONDS
    last_output = last_event = started
    if plan.ping_first:
        yield PING_FRAME
    for frame in plan.prelude:
        yield frame
    if not plan.live:
        return
    after = plan.after
    while True:
        now = loop.time()
        if now >= deadline:
            return
        wait = min(settings.SSE_PING_SECONDS - (now - last_output), deadline - now)
        if plan.idle_seconds is not None:
            wait = min(wait, plan.idle_seconds - (now - last_event))
        try:
            entries = await log.wait(plan.task_id, after, max(wait, 0.01))
        except EventLogUnavailable as exc:
            # The log went away under the stream (decisions 16-faults): end it, with the run's
            # terminal events from its row when it has ended; the client re-attaches later.
            logger.warning("event log unavailable, ending stream of %s: %s", plan.task_id, exc)
            for frame in await _terminal_frames(plan.task_id, after):
                yield frame
            return
        now = loop.time()
        if entries:
            for entry_id, event in entries:
                yield data_frame(entry_id, event)
                after = entry_id
                if wire.ends_stream(plan.mode, event, continue_on_pause=plan.continue_on_pause):
                    return
            last_output = last_event = now
            continue
        if plan.idle_seconds is not None and now - last_event >= plan.idle_seconds:
            for frame in await _terminal_frames(plan.task_id, after):
                yield frame
            return
        if now - last_output >= settings.SSE_PING_SECONDS:
            yield PING_FRAME
            last_output = now


async def _terminal_frames(task_id: str, after: str | None) -> list[bytes]:
    frames: list[bytes] = await sync_to_async(
        prestream.terminal_frames_if_finished, thread_sensitive=False
    )(task_id, after)
    return frames


class _PlannedStream(SSEConsumer):
    plan: StreamPlan | None = None

    async def close_stream(self) -> None:
        if self.plan is not None:
            await sync_to_async(stream_slot_release, thread_sensitive=False)(self.plan.slot)

    def renew_seconds(self) -> float | None:
        return settings.SSE_SLOT_LEASE_SECONDS / 3

    async def renew_stream(self) -> None:
        if self.plan is not None:
            await sync_to_async(stream_slot_renew, thread_sensitive=False)(self.plan.slot)

    def route(self, name: str) -> str:
        return str(self.scope["url_route"]["kwargs"].get(name, ""))

    def client_ip(self) -> str:
        client = self.scope.get("client") or ("", 0)
        return str(client[0] or "")


class RunConsumer(_PlannedStream):
    """``POST /openapi/v1/apps/{app_id}/run``: start a run and stream it live."""

    allowed_methods = ("POST",)

    async def prepare(self, body: bytes) -> AsyncIterator[bytes]:
        self.plan = await sync_to_async(prestream.start_run)(
            authorization=header(self.scope, "authorization"),
            app_ref=self.route("app_id"),
            body=body,
            ip=self.client_ip(),
        )
        return plan_frames(self.plan)


class EventsConsumer(_PlannedStream):
    """``GET /openapi/v1/apps/{app_id}/tasks/{task_id}/events``: re-attach to a run."""

    async def prepare(self, body: bytes) -> AsyncIterator[bytes]:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        last_event_id = header(self.scope, "last-event-id")
        if last_event_id is not None and entry_id_key(last_event_id.strip()) == (-1, -1):
            last_event_id = None  # not an id this server issued: attach as without one
        self.plan = await sync_to_async(prestream.attach_run)(
            authorization=header(self.scope, "authorization"),
            app_ref=self.route("app_id"),
            task_ref=self.route("task_id"),
            last_event_id=last_event_id.strip() if last_event_id else None,
            include_state_snapshot=_flag(query, "include_state_snapshot"),
            continue_on_pause=_flag(query, "continue_on_pause"),
        )
        return plan_frames(self.plan)


def _flag(query: dict[str, list[str]], name: str) -> bool:
    """Only the literal ``true`` (any case) is true (contract §5.16)."""
    values = query.get(name) or [""]
    return values[0].strip().lower() == "true"
