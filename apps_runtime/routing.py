"""HTTP routes served by Channels consumers (the SSE endpoints of the run engine)."""

from typing import Any

sse_patterns: list[Any] = []
