"""Chunked request bodies on the WSGI server (gunicorn, serve-prod's JSON side; issue 16 item 10).

Django reads ``CONTENT_LENGTH`` bytes of a WSGI body, so a chunked body (no length) used to be read
as empty and acted on as if the client had sent nothing. ``config.body_limit.WSGIChunkedBody``
reads it first, bounded by the route's limit, or answers 411 where the server cannot tell where
it ends. Through a real gunicorn started the way ``tests/servers.py`` starts it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import pytest

from config.body_limit import WSGIChunkedBody
from tests.servers import Server, servers

API_LIMIT = 4096


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, django_db_blocker) -> Iterator[Server]:
    with (
        django_db_blocker.unblock(),
        servers(1, wsgi=True, MAX_REQUEST_BODY_BYTES=str(API_LIMIT)) as (running,),
    ):
        yield running


def chunks(payload: bytes, size: int = 7) -> Iterator[bytes]:
    """A generator body: httpx sends it with ``Transfer-Encoding: chunked`` and no length."""
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def post_chunked(
    server: Server, path: str, payload: bytes, *, method: str = "POST", **headers: str
) -> httpx.Response:
    request_headers = {"Content-Type": "application/json", **headers}
    with httpx.Client(base_url=server.base, timeout=20) as client:
        request = client.build_request(
            method, path, content=chunks(payload), headers=request_headers
        )
        assert request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in request.headers
        return client.send(request)


@pytest.mark.django_db(transaction=True)
def test_chunked_bodies_are_read_on_every_kind_of_route(gunicorn, acme, alice, token_for):
    """One test (one flush of the transactional database): an anonymous JSON route, bearer
    POST and PATCH routes, and a chunked body past the limit."""
    from oauth_device.models import DeviceGrant
    from workspaces.models import Membership

    body = json.dumps({"client_id": "difyctl", "device_label": "chunked laptop"}).encode()
    response = post_chunked(gunicorn, "/openapi/v1/oauth/device/code", body)
    assert response.status_code == 200, response.text
    assert response.json()["device_code"]
    assert DeviceGrant.objects.get().device_label == "chunked laptop"

    auth = {"Authorization": f"Bearer {token_for(alice)}"}
    invite = json.dumps({"email": "chunky@example.com", "role": "editor"}).encode()
    response = post_chunked(gunicorn, f"/openapi/v1/workspaces/{acme.id}/members", invite, **auth)
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "editor"
    member = Membership.with_pending.get(account__email="chunky@example.com")
    assert member.role == "editor"

    role = post_chunked(
        gunicorn,
        f"/openapi/v1/workspaces/{acme.id}/members/{member.account_id}",
        json.dumps({"role": "admin"}).encode(),
        method="PATCH",
        **auth,
    )
    assert role.status_code == 200, role.text
    assert Membership.with_pending.get(pk=member.pk).role == "admin"

    big = json.dumps({"email": "big@example.com", "role": "normal", "pad": "x" * API_LIMIT})
    response = post_chunked(
        gunicorn, f"/openapi/v1/workspaces/{acme.id}/members", big.encode(), **auth
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413
    assert not Membership.with_pending.filter(account__email="big@example.com").exists()


def test_a_server_that_cannot_end_a_chunked_body_gets_411():
    """Without ``wsgi.input_terminated`` the body's end is unknown: 411, never an empty body."""
    called: list[bool] = []

    def app(environ, start_response):
        called.append(True)
        start_response("200 OK", [])
        return [b""]

    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/openapi/v1/oauth/device/code",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b'{"client_id": "difyctl"}'),
    }
    body = b"".join(WSGIChunkedBody(app)(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["411 Length Required"] and not called
    payload = json.loads(body)
    assert payload["status"] == 411 and payload["code"] == "length_required"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/openapi/v1/apps/0b7e6f7e-0000-4000-8000-000000000001/run"),
        ("POST", "/openapi/v1/apps/0b7e6f7e-0000-4000-8000-000000000001:run"),
        ("GET", "/openapi/v1/apps/0b7e6f7e-0000-4000-8000-000000000001/tasks/t1/events"),
    ],
)
def test_a_streaming_route_on_the_wsgi_port_names_the_asgi_server(gunicorn, method, path):
    with httpx.Client(base_url=gunicorn.base, timeout=20) as client:
        response = client.request(method, path)
    assert response.status_code == 404
    body = response.json()
    assert "served by the ASGI server (daphne)" in body["message"]
    assert "to daphne" in body["hint"] and "proxy sample" in body["hint"]
