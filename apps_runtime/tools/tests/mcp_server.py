"""A real MCP server for the tests (the SDK's own ``MCPServer``), run as a subprocess:
``python mcp_server.py PORT`` serves streamable HTTP at ``/mcp`` and SSE at ``/sse``."""

from __future__ import annotations

import sys
import time

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("test-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


@server.tool()
def nap(seconds: float) -> str:
    """Sleep, then answer (a server that hangs)."""
    time.sleep(seconds)
    return "awake"


@server.tool()
def fail() -> str:
    """Always fails."""
    raise ValueError("the tool broke")


def main() -> None:
    port = int(sys.argv[1])
    app = server.streamable_http_app(host="127.0.0.1")
    app.router.routes.extend(server.sse_app(host="127.0.0.1").routes)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
