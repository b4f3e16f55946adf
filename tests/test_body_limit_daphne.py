"""Oversize bodies on the real daphne server (``make run``): refused before they are read.

Daphne reads a whole body before the application runs; the limit inside its protocol answers 413
as soon as the declared length is known, or as soon as a chunked body passes the limit, and closes
the connection (issue 8 §2, §9).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from tests.servers import Server, servers

API_LIMIT = 4096
DSL_LIMIT = 16384
ADMIN_LIMIT = DSL_LIMIT + 4096
IMPORT_PATH = "/admin/apps_runtime/app/import-dsl/"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    env = {
        "MAX_REQUEST_BODY_BYTES": str(API_LIMIT),
        "MAX_DSL_BYTES": str(DSL_LIMIT),
        "ADMIN_DSL_UPLOAD_MAX_BYTES": str(ADMIN_LIMIT),
        "SQLITE_PATH": str(tmp_path_factory.mktemp("daphne") / "unused.sqlite3"),
        "HOUSEKEEPING_SECONDS": "3600",
    }
    with servers(1, **env) as (running,):
        yield running


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.settimeout(10)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _head(path: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("path", "size", "marker"),
    [
        ("/openapi/v1/oauth/device/code", 50 * 1024 * 1024, b'"code":"request_entity_too_large"'),
        ("/openapi/v1/oauth/device/code", API_LIMIT + 1, b'"status":413'),
        ("/accounts/login/", 3 * API_LIMIT, b"Request body too large"),
        (IMPORT_PATH, 4 * ADMIN_LIMIT, b"the most this page accepts"),
    ],
)
def test_a_declared_oversize_body_is_answered_before_it_is_sent(server, path, size, marker):
    with _connect(server) as sock:
        sock.sendall(_head(path, f"Content-Length: {size}\r\n"))  # headers only, no body
        response = _read_until_closed(sock)  # answered, then closed, without the body
    assert response.startswith(b"HTTP/1.1 413 "), response[:200]
    assert b"connection: close" in response.lower()
    assert marker in response or marker in response.replace(b" ", b"")


def test_a_chunked_body_is_stopped_as_soon_as_it_passes_the_limit(server):
    chunk = b"x" * 1024
    sent = 0
    with _connect(server) as sock:
        sock.sendall(_head("/openapi/v1/oauth/device/code", "Transfer-Encoding: chunked\r\n"))
        sock.setblocking(False)
        response = b""
        for _ in range(16 * API_LIMIT // len(chunk)):
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break  # the server closed the connection
            sent += len(chunk)
            time.sleep(0.02)
            try:
                response += sock.recv(65536)
            except BlockingIOError:
                continue
            if response:
                break
        sock.settimeout(10)
        try:
            response += _read_until_closed(sock)
        except ConnectionResetError:
            pass
    assert response.startswith(b"HTTP/1.1 413 "), response[:200]
    assert sent <= API_LIMIT + 4 * len(chunk), sent  # stopped near the limit, not at the end


def test_a_body_within_its_limit_reaches_the_application(server):
    body = b"{" + b" " * (API_LIMIT - 2) + b"}"
    response = httpx.post(
        server.base + "/openapi/v1/_health",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 405  # the view answered: the body was not refused


@pytest.mark.shared_services
@pytest.mark.django_db(transaction=True)
def test_the_admin_upload_accepts_files_up_to_the_dsl_limit(acme):
    """A DSL file bigger than the API's body limit uploads through the admin (issue 8 §9)."""
    from accounts.models import Account
    from apps_runtime.models import App

    root = Account.objects.create_superuser("root@example.com", "pw-123456789", name="Root")
    browser = Client()
    browser.force_login(root)
    padding = "#" * 1000 + "\n"
    text = "app: {name: Big, mode: chat}\nmodel_config: {}\n" + padding * (3 * API_LIMIT // 1000)
    assert API_LIMIT < len(text) < DSL_LIMIT
    csrf = "c" * 32
    with servers(
        1,
        MAX_REQUEST_BODY_BYTES=str(API_LIMIT),
        MAX_DSL_BYTES=str(DSL_LIMIT),
        ADMIN_DSL_UPLOAD_MAX_BYTES=str(ADMIN_LIMIT),
    ) as (running,):
        cookies = {"sessionid": browser.cookies["sessionid"].value, "csrftoken": csrf}
        with httpx.Client(base_url=running.base, cookies=cookies, timeout=20) as http:
            response = http.post(
                IMPORT_PATH,
                data={"workspace": str(acme.id), "csrfmiddlewaretoken": csrf},
                files={"file": ("big.yml", text.encode(), "application/x-yaml")},
            )
            assert response.status_code == 302, response.text[:500]
            assert App.objects.filter(name="Big").exists()
            oversize = http.post(
                IMPORT_PATH,
                data={"workspace": str(acme.id), "csrfmiddlewaretoken": csrf},
                files={"file": ("huge.yml", b"#" * (2 * ADMIN_LIMIT), "application/x-yaml")},
            )
            assert oversize.status_code == 413
            assert "the most this page accepts" in oversize.text
