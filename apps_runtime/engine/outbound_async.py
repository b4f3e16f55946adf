"""The outbound rules of ``outbound.py`` for async clients built on ``httpx2`` (the HTTP library
of the MCP SDK): the same address vetting (``vetted_addresses`` / ``HTTP_NODE_ALLOWED_HOSTS``),
connections pinned to the vetted address, and a cap on the bytes one connection may receive.
Only the I/O library differs; the policy is ``outbound``'s own functions."""

from __future__ import annotations

import ssl
import typing
from typing import Any

import anyio
import httpcore2
import httpx2
from django.conf import settings

from apps_runtime.engine.outbound import OutboundTooLarge, host_is_allowed, vetted_addresses


class _CappedStream(httpcore2.AsyncNetworkStream):
    def __init__(self, inner: httpcore2.AsyncNetworkStream, budget: list[int], cap: int) -> None:
        self._inner = inner
        self._budget = budget  # shared with the TLS stream built on top of this one
        self._cap = cap

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._inner.read(max_bytes, timeout)
        self._budget[0] += len(data)
        if self._budget[0] > self._cap:
            raise OutboundTooLarge(f"Response is larger than {self._cap} bytes")
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        inner = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _CappedStream(inner, self._budget, self._cap)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedAsyncBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, allowed_hosts: list[str], cap: int) -> None:
        self._allowed_hosts = allowed_hosts
        self._cap = cap
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        if host_is_allowed(host, self._allowed_hosts):
            targets = [host]
        else:
            targets = await anyio.to_thread.run_sync(vetted_addresses, host, port, timeout)
        last_error: Exception | None = None
        for address in targets:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore2.ConnectError as exc:
                last_error = exc
                continue
            return _CappedStream(stream, [0], self._cap)
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("Unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedAsyncTransport(httpx2.AsyncHTTPTransport):
    """An ``httpx2`` transport under the outbound rules; each connection may receive at most
    ``max_bytes`` (``OUTBOUND_MAX_RESPONSE_BYTES`` by default)."""

    def __init__(self, *, verify: bool = True, max_bytes: int | None = None) -> None:
        super().__init__(verify=verify, trust_env=False)
        cap = settings.OUTBOUND_MAX_RESPONSE_BYTES if max_bytes is None else max_bytes
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(verify=verify, trust_env=False),
            max_connections=4,
            max_keepalive_connections=0,
            network_backend=_PinnedAsyncBackend(list(settings.HTTP_NODE_ALLOWED_HOSTS), cap),
        )
