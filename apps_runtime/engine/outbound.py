"""Outbound HTTP to URLs that come from app definitions or requests (security.md 26).

Used by the http-request node, DSL import from a URL and remote files. Every request:

- may only use ``http``/``https``;
- resolves the host itself and refuses it when ANY resolved address is private, loopback,
  link-local, multicast, reserved, unspecified or otherwise not globally routable (IPv4-mapped
  and other IPv6 embeddings of IPv4 are unwrapped first) — unless the host is in
  ``settings.HTTP_NODE_ALLOWED_HOSTS``. Because the check runs on the resolver's answer, every
  spelling of an address (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``)
  is judged by what it really points at;
- connects to exactly the address that was vetted (the check lives in the connection layer), so a
  second DNS answer cannot swap in another target (DNS rebinding);
- follows redirects by hand, up to ``OUTBOUND_MAX_REDIRECTS``, and every hop goes through the
  same check;
- has connect/read/write/pool timeouts and a cap on the response body size.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpcore
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# getaddrinfo has no timeout of its own; it runs on this small pool so a slow resolver cannot
# hold a run past its connect timeout.
_resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")


class OutboundError(Exception):
    """The request could not be made or completed; the message is safe to show to the app user."""


class OutboundRefused(OutboundError):
    """The target is not allowed (scheme, or an address that is not public)."""


class OutboundTooLarge(OutboundError):
    """The response body passed the size cap."""


@dataclass
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str
    history: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        charset = _charset(self.headers.get("content-type", "")) or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip().strip('"')
    return None


def address_is_public(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses (IPv4 embedded in IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address in ipaddress.IPv6Network("::/96"):
            # IPv4-compatible (deprecated) form ::a.b.c.d
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not address_is_public(embedded):
            return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def host_is_allowed(host: str, allowed: Iterable[str] | None = None) -> bool:
    """Whether ``host`` (as written in the URL) is on the operator's allow-list."""
    entries = settings.HTTP_NODE_ALLOWED_HOSTS if allowed is None else allowed
    wanted = _normalise_host(host)
    return any(_normalise_host(entry) == wanted for entry in entries if entry.strip())


def resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    """Every address ``host`` resolves to (literal addresses in any spelling included)."""
    future = _resolver_pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise OutboundError(f"Resolving {host} timed out") from None
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise OutboundError(f"Cannot resolve host {host}: {exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        address = ipaddress.ip_address(text)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundError(f"Cannot resolve host {host}")
    return addresses


def vetted_addresses(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses to connect to for ``host``; refuses when any of them is not public."""
    addresses = resolve(host, port, timeout)
    for address in addresses:
        if not address_is_public(address):
            raise OutboundRefused(
                f"Requests to {host} are not allowed: it resolves to a private or reserved "
                "address (an operator can permit the host with HTTP_NODE_ALLOWED_HOSTS)"
            )
    return [str(address) for address in addresses]


class _PinnedBackend(httpcore.SyncBackend):
    """Connects only to addresses vetted in this very call, so the check and the connection see
    the same DNS answer."""

    def __init__(self, allowed_hosts: list[str]) -> None:
        self._allowed_hosts = allowed_hosts

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if host_is_allowed(host, self._allowed_hosts):
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        last_error: Exception | None = None
        for address in vetted_addresses(host, port, timeout):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, *, verify: bool, allowed_hosts: list[str]) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=4,
            max_keepalive_connections=0,
            network_backend=_PinnedBackend(allowed_hosts),
        )


def _check_scheme(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https") or not url.host:
        raise OutboundRefused("URL must start with http:// or https:// and name a host")


def _redirect_method(status: int, method: str) -> str:
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def fetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
    params: list[tuple[str, str | int | float | bool | None]] | None = None,
    content: bytes | str | None = None,
    data: Mapping[str, Any] | list[tuple[str, str]] | None = None,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    timeout: httpx.Timeout | float | None = None,
    max_bytes: int | None = None,
    verify: bool = True,
    follow_redirects: bool = True,
    max_redirects: int | None = None,
) -> OutboundResponse:
    """Make one request (plus its redirects) under the rules in the module docstring.

    Raises ``OutboundRefused`` for a forbidden target, ``OutboundTooLarge`` past ``max_bytes``,
    ``OutboundError`` for every transport failure (timeouts included).
    """
    if timeout is None:
        timeout = httpx.Timeout(
            settings.OUTBOUND_TIMEOUT_SECONDS, connect=settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS
        )
    elif not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout)
    cap = settings.OUTBOUND_MAX_RESPONSE_BYTES if max_bytes is None else max_bytes
    hops = settings.OUTBOUND_MAX_REDIRECTS if max_redirects is None else max_redirects
    allowed = list(settings.HTTP_NODE_ALLOWED_HOSTS)
    transport = _PinnedTransport(verify=verify, allowed_hosts=allowed)
    history: list[str] = []
    method = method.upper()
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise OutboundRefused(f"Invalid URL: {exc}") from None
    request_headers = httpx.Headers(headers or {})
    body: dict[str, Any] = {"content": content, "data": data, "files": files}
    with httpx.Client(transport=transport, timeout=timeout, trust_env=False) as client:
        for _hop in range(hops + 1):
            _check_scheme(current)
            try:
                request = client.build_request(
                    method, current, headers=request_headers, params=params, **body
                )
                response = client.send(request, stream=True, follow_redirects=False)
            except OutboundError:
                raise
            except httpx.TimeoutException:
                raise OutboundError(f"Request to {current.host} timed out") from None
            except httpx.HTTPError as exc:
                raise OutboundError(f"Request to {current.host} failed: {exc}") from None
            try:
                location = response.headers.get("location")
                if follow_redirects and response.status_code in REDIRECT_STATUSES and location:
                    history.append(str(current))
                    try:
                        target = httpx.URL(urljoin(str(current), location))
                    except (httpx.InvalidURL, ValueError) as exc:
                        raise OutboundError(f"Invalid redirect location: {exc}") from None
                    if target.host != current.host or target.scheme != current.scheme:
                        # Credentials meant for one origin never travel to another.
                        request_headers = httpx.Headers(
                            [
                                (k, v)
                                for k, v in request_headers.multi_items()
                                if k.lower() not in ("authorization", "cookie")
                            ]
                        )
                    new_method = _redirect_method(response.status_code, method)
                    if new_method != method:
                        body = {"content": None, "data": None, "files": None}
                        request_headers = httpx.Headers(
                            [
                                (k, v)
                                for k, v in request_headers.multi_items()
                                if k.lower() not in ("content-type", "content-length")
                            ]
                        )
                    method = new_method
                    params = None  # the Location carries its own query
                    current = target
                    continue
                content_bytes = _read_capped(response, cap)
                return OutboundResponse(
                    status_code=response.status_code,
                    headers=response.headers,
                    content=content_bytes,
                    url=str(current),
                    history=history,
                )
            finally:
                response.close()
    raise OutboundError(f"Too many redirects (more than {hops})")


def _read_capped(response: httpx.Response, cap: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise OutboundTooLarge(f"Response is larger than {cap} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise OutboundTooLarge(f"Response is larger than {cap} bytes")
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise OutboundError("Reading the response timed out") from None
    except httpx.HTTPError as exc:
        raise OutboundError(f"Reading the response failed: {exc}") from None
    return b"".join(chunks)
