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
- has connect/read/write/pool timeouts and a cap on the response body size;
- has a total deadline for the whole call, redirects and body included (``deadline``, never more
  than ``OUTBOUND_DEADLINE_SECONDS``), and ends within ``OUTBOUND_STOP_POLL_MS`` of its run being
  stopped (``should_stop``): see :mod:`apps_runtime.engine.callwatch`.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import os
import select
import socket
import ssl
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpcore
import httpx
from django.conf import settings
from httpcore._backends.sync import SyncStream

from apps_runtime.engine.callwatch import CallDeadlineExceeded, CallWatch

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# getaddrinfo has no timeout of its own; it runs on this small pool so a slow resolver cannot
# hold a run past its connect timeout.
_resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")
# The longest a wait that cannot be interrupted (a DNS answer, a TCP connect) goes unchecked.
_SLICE = 0.2


class OutboundError(Exception):
    """The request could not be made or completed; the message is safe to show to the app user."""


class OutboundRefused(OutboundError):
    """The target is not allowed (scheme, or an address that is not public)."""


class OutboundTooLarge(OutboundError):
    """The response body passed the size cap."""


class OutboundDeadline(OutboundError):
    """The call did not complete within its total deadline."""


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


def resolve(
    host: str, port: int, timeout: float | None, watch: CallWatch | None = None
) -> list[IPAddress]:
    """Every address ``host`` resolves to (literal addresses in any spelling included)."""
    future = _resolver_pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    ends = None if timeout is None else time.monotonic() + timeout
    try:
        while True:  # in slices, so a stop or the call's deadline is noticed while waiting
            if watch is not None:
                watch.check()
            left = None if ends is None else ends - time.monotonic()
            if left is not None and left <= 0:
                raise FutureTimeout
            try:
                infos = future.result(timeout=_SLICE if left is None else min(_SLICE, left))
                break
            except FutureTimeout:
                continue
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


def vetted_addresses(
    host: str, port: int, timeout: float | None, watch: CallWatch | None = None
) -> list[str]:
    """The addresses to connect to for ``host``; refuses when any of them is not public."""
    addresses = resolve(host, port, timeout, watch)
    for address in addresses:
        if not address_is_public(address):
            raise OutboundRefused(
                f"Requests to {host} are not allowed: it resolves to a private or reserved "
                "address (an operator can permit the host with HTTP_NODE_ALLOWED_HOSTS)"
            )
    return [str(address) for address in addresses]


class _WatchedBackend(httpcore.SyncBackend):
    """Connects only to addresses vetted in this very call (``vet``), so the check and the
    connection see the same DNS answer, and registers every socket with the call's watch."""

    def __init__(self, allowed_hosts: list[str], watch: CallWatch, *, vet: bool = True) -> None:
        self._allowed_hosts = allowed_hosts
        self._watch = watch
        self._vet = vet

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        watch = self._watch
        if self._vet and not host_is_allowed(host, self._allowed_hosts):
            addresses = vetted_addresses(host, port, watch.cap(timeout), watch)
        else:
            addresses = [str(a) for a in resolve(host, port, watch.cap(timeout), watch)]
        last_error: Exception | None = None
        for address in addresses:
            try:
                sock = _connect(address, port, watch.cap(timeout), watch)
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            for option in socket_options or ():
                sock.setsockopt(*option)
            return SyncStream(sock)
        assert last_error is not None
        raise last_error


def _connect(address: str, port: int, timeout: float | None, watch: CallWatch) -> socket.socket:
    """A TCP connection to ``address``, connected in slices so a stop or the deadline applies
    while the handshake waits."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        watch.add(sock)
        sock.setblocking(False)
        error = sock.connect_ex((address, port))
        ends = None if timeout is None else time.monotonic() + timeout
        while error in (errno.EINPROGRESS, errno.EAGAIN):
            watch.check()
            left = None if ends is None else ends - time.monotonic()
            if left is not None and left <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {address} timed out")
            wait = _SLICE if left is None else min(_SLICE, left)
            _, writable, _ = select.select([], [sock], [], wait)
            if writable:
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                break
        watch.check()
        if error:
            raise httpcore.ConnectError(f"connecting to {address} failed: {os.strerror(error)}")
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    except BaseException:
        sock.close()
        raise


@functools.cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process and mode: building one loads the CA bundle, about 50-100 ms
    of CPU that every model call paid twice (issue 21's profile). A context is safe to share
    between connections and threads; its settings are never changed after this."""
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class _WatchedTransport(httpx.HTTPTransport):
    def __init__(
        self, *, verify: bool, allowed_hosts: list[str], watch: CallWatch, vet: bool = True
    ) -> None:
        super().__init__(verify=_ssl_context(verify), trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(verify),
            max_connections=4,
            max_keepalive_connections=0,
            network_backend=_WatchedBackend(allowed_hosts, watch, vet=vet),
        )


def watched_transport(watch: CallWatch) -> httpx.HTTPTransport:
    """A transport for a trusted, operator-configured endpoint (a model provider): no address
    vetting, but every socket is under ``watch`` (its deadline and stop)."""
    return _WatchedTransport(verify=True, allowed_hosts=[], watch=watch, vet=False)


def vetted_transport(watch: CallWatch, *, verify: bool = True) -> httpx.HTTPTransport:
    """A transport for a library that sends its own requests (an OpenID provider's token
    endpoint through Authlib): the same address vetting as :func:`fetch` (private addresses only
    for ``HTTP_NODE_ALLOWED_HOSTS``), every socket under ``watch``. It follows no redirects."""
    allowed = list(settings.HTTP_NODE_ALLOWED_HOSTS)
    return _WatchedTransport(verify=verify, allowed_hosts=allowed, watch=watch)


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
    deadline: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> OutboundResponse:
    """Make one request (plus its redirects) under the rules in the module docstring.

    ``deadline``: total seconds for the whole call (``None``: ``OUTBOUND_DEADLINE_SECONDS``, which
    is also the ceiling). ``should_stop`` (thread-safe; asked from a watcher thread) ends a
    waiting call within ``OUTBOUND_STOP_POLL_MS``.

    Raises ``OutboundRefused`` for a forbidden target, ``OutboundTooLarge`` past ``max_bytes``,
    ``OutboundDeadline`` past the deadline, ``OutboundError`` for every other transport failure
    (timeouts included), ``StopRequested`` when ``should_stop`` said so.
    """
    if timeout is None:
        timeout = httpx.Timeout(
            settings.OUTBOUND_TIMEOUT_SECONDS, connect=settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS
        )
    elif not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout)
    cap = settings.OUTBOUND_MAX_RESPONSE_BYTES if max_bytes is None else max_bytes
    hops = settings.OUTBOUND_MAX_REDIRECTS if max_redirects is None else max_redirects
    ceiling = settings.OUTBOUND_DEADLINE_SECONDS
    total = ceiling if deadline is None else min(deadline, ceiling)
    allowed = list(settings.HTTP_NODE_ALLOWED_HOSTS)
    history: list[str] = []
    method = method.upper()
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise OutboundRefused(f"Invalid URL: {exc}") from None
    request_headers = httpx.Headers(headers or {})
    body: dict[str, Any] = {"content": content, "data": data, "files": files}
    watch = CallWatch(total, should_stop)
    try:
        with watch:
            transport = _WatchedTransport(verify=verify, allowed_hosts=allowed, watch=watch)
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
                        watch.check()
                        raise OutboundError(f"Request to {current.host} timed out") from None
                    except httpx.HTTPError as exc:
                        watch.check()
                        raise OutboundError(f"Request to {current.host} failed: {exc}") from None
                    try:
                        location = response.headers.get("location")
                        if (
                            follow_redirects
                            and response.status_code in REDIRECT_STATUSES
                            and location
                        ):
                            history.append(str(current))
                            try:
                                target = httpx.URL(urljoin(str(current), location))
                            except (httpx.InvalidURL, ValueError) as exc:
                                raise OutboundError(f"Invalid redirect location: {exc}") from None
                            if target.host != current.host or target.scheme != current.scheme:
                                # Credentials meant for one origin never travel to another.
                                request_headers = _without(
                                    request_headers, ("authorization", "cookie")
                                )
                            new_method = _redirect_method(response.status_code, method)
                            if new_method != method:
                                body = {"content": None, "data": None, "files": None}
                                request_headers = _without(
                                    request_headers, ("content-type", "content-length")
                                )
                            method = new_method
                            params = None  # the Location carries its own query
                            current = target
                            continue
                        content_bytes = _read_capped(response, cap, watch)
                        return OutboundResponse(
                            status_code=response.status_code,
                            headers=response.headers,
                            content=content_bytes,
                            url=str(current),
                            history=history,
                        )
                    finally:
                        response.close()
    except CallDeadlineExceeded as exc:
        raise OutboundDeadline(f"Request to {current.host} {exc}") from None
    raise OutboundError(f"Too many redirects (more than {hops})")


def _without(headers: httpx.Headers, names: tuple[str, ...]) -> httpx.Headers:
    return httpx.Headers([(k, v) for k, v in headers.multi_items() if k.lower() not in names])


def _read_capped(response: httpx.Response, cap: int, watch: CallWatch) -> bytes:
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
        watch.check()
        raise OutboundError("Reading the response timed out") from None
    except httpx.HTTPError as exc:
        watch.check()
        raise OutboundError(f"Reading the response failed: {exc}") from None
    # A socket shut down by the watch reads as the end of a body without a length.
    watch.check()
    return b"".join(chunks)
