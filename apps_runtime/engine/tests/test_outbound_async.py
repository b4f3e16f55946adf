"""The outbound rules for httpx2 clients (the MCP SDK's): private addresses refused at connect
time unless allowed, and a byte cap per connection."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from apps_runtime.engine.outbound import OutboundRefused, OutboundTooLarge
from apps_runtime.engine.outbound_async import PinnedAsyncTransport
from apps_runtime.engine.tests.httpserver import Reply


def get(url: str, **transport: object) -> httpx2.Response:
    async def main() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=PinnedAsyncTransport(**transport)) as client:
            return await client.get(url)

    return anyio.run(main)


def test_a_private_address_is_refused_when_connecting(http_server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = []
    with pytest.raises(OutboundRefused, match="private or reserved address"):
        get(http_server.base + "/x")
    assert http_server.requests == []
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    assert get(http_server.base + "/x").status_code == 200


def test_a_connection_stops_reading_past_its_cap(http_server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route("/big", Reply(200, b"z" * 200_000))
    with pytest.raises(OutboundTooLarge, match="larger than 50000 bytes"):
        get(http_server.base + "/big", max_bytes=50_000)
