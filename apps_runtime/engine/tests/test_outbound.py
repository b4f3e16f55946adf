"""Outbound HTTP refuses non-public targets however they are spelt, after every redirect, unless
the operator's allow-list permits the host (security.md 26)."""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any

import httpx
import pytest

from apps_runtime.engine import outbound
from apps_runtime.engine.host import StopRequested
from apps_runtime.engine.outbound import (
    OutboundDeadline,
    OutboundError,
    OutboundRefused,
    OutboundTooLarge,
    fetch,
)
from apps_runtime.engine.tests.httpserver import LocalServer, Reply
from tests.drip import dripping_server


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",  # hex
        "0177.0.0.1",  # octal
        "127.1",  # short form
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::]",
        "0.0.0.0",
    ],
)
def test_loopback_in_any_spelling_is_refused(http_server: LocalServer, host: str) -> None:
    with pytest.raises(OutboundRefused):
        fetch("GET", f"http://{host}:{http_server.port}/")
    assert http_server.requests == []


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 wrapping 169.254.169.254
    ],
)
def test_non_public_addresses_are_not_public(address: str) -> None:
    assert not outbound.address_is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address: str) -> None:
    assert outbound.address_is_public(ipaddress.ip_address(address))


def test_a_host_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(OutboundRefused):
        fetch("GET", "http://mixed.example.test/")


def test_the_connection_goes_to_the_vetted_address(
    monkeypatch: pytest.MonkeyPatch, http_server: LocalServer, settings: Any
) -> None:
    """The resolver is asked once per connection; a second, different answer is never used."""
    answers = iter(["127.0.0.1", "10.9.9.9"])
    calls: list[str] = []

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            literal = str(ipaddress.ip_address(host))  # socket.create_connection of an IP
        except ValueError:
            calls.append(host)
            literal = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (literal, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    # Treat 127.0.0.1 as public for this test only, so the vetted address is reachable.
    real = outbound.address_is_public
    monkeypatch.setattr(outbound, "address_is_public", lambda a: str(a) == "127.0.0.1" or real(a))
    response = fetch("GET", f"http://rebind.example.test:{http_server.port}/x")
    assert response.status_code == 200
    assert calls == ["rebind.example.test"]
    assert http_server.requests[0].headers["host"] == f"rebind.example.test:{http_server.port}"


def test_redirect_to_the_metadata_address_is_refused(
    http_server: LocalServer, settings: Any
) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route(
        "/go", Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    with pytest.raises(OutboundRefused):
        fetch("GET", f"{http_server.base}/go")


def test_redirect_from_an_allowed_host_to_a_loopback_name_is_refused(
    http_server: LocalServer, settings: Any
) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route(
        "/go", Reply(307, headers={"Location": f"http://localhost:{http_server.port}/secret"})
    )
    with pytest.raises(OutboundRefused):
        fetch("GET", f"{http_server.base}/go")
    assert [r.path for r in http_server.requests] == ["/go"]


def test_allow_listed_host_is_reached(http_server: LocalServer, settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route("/hello", Reply(200, b"hi there", {"Content-Type": "text/plain"}))
    response = fetch("GET", f"{http_server.base}/hello")
    assert response.status_code == 200
    assert response.text == "hi there"


def test_redirects_are_followed_within_allowed_hosts(
    http_server: LocalServer, settings: Any
) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route("/a", Reply(303, headers={"Location": "/b"}))
    http_server.route("/b", Reply(200, b"landed"))
    response = fetch("POST", f"{http_server.base}/a", content=b"payload")
    assert response.text == "landed"
    assert [(r.method, r.path) for r in http_server.requests] == [("POST", "/a"), ("GET", "/b")]


def test_too_many_redirects(http_server: LocalServer, settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_MAX_REDIRECTS = 2
    http_server.route("/loop", Reply(302, headers={"Location": "/loop"}))
    with pytest.raises(OutboundError, match="redirects"):
        fetch("GET", f"{http_server.base}/loop")
    assert len(http_server.requests) == 3


def test_credentials_do_not_follow_a_redirect_to_another_host(
    http_server: LocalServer, settings: Any
) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    http_server.route(
        "/a", Reply(302, headers={"Location": f"http://localhost:{http_server.port}/b"})
    )
    fetch("GET", f"{http_server.base}/a", headers={"Authorization": "Bearer s3cret"})
    assert http_server.requests[0].headers.get("authorization") == "Bearer s3cret"
    assert "authorization" not in http_server.requests[1].headers


def test_response_size_cap(http_server: LocalServer, settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route("/big", Reply(200, b"x" * 5000))
    with pytest.raises(OutboundTooLarge):
        fetch("GET", f"{http_server.base}/big", max_bytes=1000)
    assert fetch("GET", f"{http_server.base}/big", max_bytes=5000).content == b"x" * 5000


def test_read_timeout_is_an_outbound_error(http_server: LocalServer, settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route("/slow", Reply(200, b"late", delay=2))
    with pytest.raises(OutboundError, match="timed out"):
        fetch("GET", f"{http_server.base}/slow", timeout=httpx.Timeout(0.2))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/", "http://"]
)
def test_only_http_urls(url: str) -> None:
    with pytest.raises(OutboundRefused):
        fetch("GET", url)


def test_unresolvable_host_is_an_outbound_error() -> None:
    with pytest.raises(OutboundError):
        fetch("GET", "http://no-such-host.invalid/")


# --- total deadline and stop (docs/decisions/16-budgets.md) ------------------------------------


@pytest.mark.parametrize("drip_head", [False, True], ids=["body", "headers"])
def test_a_dripping_server_is_cut_at_the_deadline(settings: Any, drip_head: bool) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_DEADLINE_SECONDS = 0.5
    with dripping_server(drip_head=drip_head, every=0.1) as drip:
        started = time.monotonic()
        with pytest.raises(OutboundDeadline, match=r"within 0\.5 seconds"):
            fetch("GET", drip.base + "/slow", timeout=5)
        took = time.monotonic() - started
    assert 0.45 <= took < 1.1


def test_a_callers_deadline_is_capped_by_the_setting(settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_DEADLINE_SECONDS = 0.6
    with dripping_server(every=0.1) as drip:
        started = time.monotonic()
        with pytest.raises(OutboundDeadline):
            fetch("GET", drip.base, deadline=30)
        assert time.monotonic() - started < 1.2
        started = time.monotonic()
        with pytest.raises(OutboundDeadline):
            fetch("GET", drip.base, deadline=0.3)
        assert time.monotonic() - started < 0.55


def test_a_stop_ends_a_waiting_call_within_a_second(settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    stop_at = time.monotonic() + 0.3
    with dripping_server(every=0.3) as drip:
        with pytest.raises(StopRequested):
            fetch("GET", drip.base, should_stop=lambda: time.monotonic() >= stop_at)
        assert time.monotonic() - stop_at < 1.0


def test_a_stop_before_the_call_sends_nothing(http_server: LocalServer, settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    with pytest.raises(StopRequested):
        fetch("GET", http_server.base, should_stop=lambda: True)
    assert http_server.requests == []


def test_a_fast_call_is_unaffected_by_the_watch(http_server: LocalServer, settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route("/body", Reply(200, b"y" * 300_000))
    response = fetch("GET", http_server.base + "/body", deadline=5, should_stop=lambda: False)
    assert response.content == b"y" * 300_000
