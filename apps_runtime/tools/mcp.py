"""``mcp`` providers: the tools of an MCP server, over streamable HTTP (or SSE, for a URL ending
in ``/sse``), through the official ``mcp`` SDK.

Every exchange (list or call) opens a session under the outbound rules (the SDK's HTTP client gets
``outbound_async.PinnedAsyncTransport``: private addresses refused unless allowed, pinned
connections, a byte cap per connection) and runs under one overall deadline; a stop cancels it.
The tool list is cached on the provider and refreshed by saving it or by the admin's action.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx2
from django.conf import settings
from django.utils import timezone

from apps_runtime.engine.outbound import OutboundError
from apps_runtime.tools.models import ToolProvider
from apps_runtime.tools.net import check_url
from apps_runtime.tools.types import ToolError, ToolOutput

T = TypeVar("T")
STOP_POLL_SECONDS = 0.2
MAX_ERROR_CHARS = 300


def _is_sse(url: str) -> bool:
    return httpx2.URL(url).path.rstrip("/").endswith("/sse")


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in error.exceptions:
            found.extend(_leaves(inner))
        return found
    return [error]


def _explain(error: BaseException, url: str) -> ToolError:
    leaves = _leaves(error)
    for leaf in leaves:
        if isinstance(leaf, ToolError):
            return leaf
    for leaf in leaves:
        if isinstance(leaf, OutboundError):
            return ToolError(f"the MCP server at {url}: {leaf}")
    for leaf in leaves:
        cause = leaf.__cause__ or leaf.__context__
        if isinstance(cause, OutboundError):
            return ToolError(f"the MCP server at {url}: {cause}")
    text = "; ".join(f"{type(leaf).__name__}: {leaf}" for leaf in leaves)[:MAX_ERROR_CHARS]
    return ToolError(f"the MCP server at {url} failed: {text}")


def _exchange(
    url: str,
    headers: dict[str, str],
    work: Callable[[Any], Awaitable[T]],
    *,
    deadline: float,
    should_stop: Callable[[], bool] | None = None,
) -> T:
    """Open a session with the server at ``url``, run ``work(session)``, close; all within
    ``deadline`` (a ``time.monotonic()`` instant)."""
    from mcp.client.session import ClientSession
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client

    from apps_runtime.engine.outbound_async import PinnedAsyncTransport

    check_url(url)
    seconds = deadline - time.monotonic()
    if seconds <= 0:
        raise ToolError("the tool call ran out of time")

    def client(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=PinnedAsyncTransport(max_bytes=settings.TOOL_MAX_RESPONSE_BYTES),
            headers=headers,
            timeout=httpx2.Timeout(seconds),
            auth=auth,
            follow_redirects=False,
            trust_env=False,
        )

    outcome: list[T] = []
    stopped = False

    async def session_work() -> None:
        if _is_sse(url):
            transport = sse_client(
                url,
                headers=headers,
                timeout=seconds,
                sse_read_timeout=seconds,
                httpx_client_factory=client,
            )
        else:
            transport = streamable_http_client(url, http_client=client(headers=headers))
        async with transport as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            outcome.append(await work(session))

    async def main() -> None:
        nonlocal stopped
        with anyio.fail_after(seconds):
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    nonlocal stopped
                    while should_stop is not None:
                        await anyio.sleep(STOP_POLL_SECONDS)
                        # The stop check may read the cache: off the event loop.
                        if await anyio.to_thread.run_sync(should_stop):
                            stopped = True
                            group.cancel_scope.cancel()

                async def run() -> None:
                    await session_work()
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                group.start_soon(run)

    try:
        anyio.run(main)
    except TimeoutError:
        raise ToolError(
            f"the MCP server at {url} did not answer within {round(seconds, 1)} s"
        ) from None
    except ToolError:
        raise
    except Exception as exc:  # the SDK raises many kinds; each becomes a message
        raise _explain(exc, url) from None
    if stopped:
        raise ToolError("the run was stopped")
    if not outcome:
        raise ToolError(f"the MCP server at {url} closed the session without an answer")
    return outcome[0]


def provider_headers(provider: ToolProvider) -> dict[str, str]:
    from config.crypto import unseal

    if not provider.credentials:
        return {}
    try:
        value = json.loads(unseal(provider.credentials))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def list_tools(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    async def work(session: Any) -> list[dict[str, Any]]:
        result = await session.list_tools()
        return [
            {
                "name": tool.name,
                "label": getattr(tool, "title", None) or tool.name,
                "description": tool.description or "",
                "parameters": tool.input_schema or {"type": "object", "properties": {}},
            }
            for tool in result.tools
        ]

    deadline = time.monotonic() + settings.TOOL_CALL_DEADLINE_SECONDS
    return _exchange(url, headers, work, deadline=deadline)


def call(
    url: str,
    headers: dict[str, str],
    tool: str,
    arguments: dict[str, Any],
    *,
    deadline: float,
    should_stop: Callable[[], bool] | None = None,
) -> ToolOutput:
    async def work(session: Any) -> Any:
        return await session.call_tool(tool, arguments)

    result = _exchange(url, headers, work, deadline=deadline, should_stop=should_stop)
    texts: list[str] = []
    files: list[Any] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
        elif kind in ("image", "audio"):
            files.append({"type": kind, "mime_type": getattr(block, "mime_type", "")})
        elif kind == "resource_link":
            files.append({"type": "resource_link", "url": str(getattr(block, "uri", ""))})
    text = "\n".join(texts)
    if result.is_error:
        raise ToolError(f"{tool} failed: {text[:MAX_ERROR_CHARS] or 'no details'}")
    output = ToolOutput(text=text, files=files)
    structured = result.structured_content
    if structured is not None:
        output.json = [structured]
        if isinstance(structured, dict):
            output.variables = structured
        if not text:
            output.text = json.dumps(structured, ensure_ascii=False)
    return output


def prepare_mcp(provider: ToolProvider, headers: dict[str, str] | None) -> None:
    """Check the server URL and list its tools (the cache); ``ToolError`` saying why not."""
    if not provider.server_url:
        raise ToolError("an MCP provider needs the server's URL")
    check_url(provider.server_url)
    found = list_tools(
        provider.server_url, provider_headers(provider) if headers is None else headers
    )
    provider.tools = found
    provider.tools_refreshed_at = timezone.now()
