"""Oversize bodies are refused with 413 on the ASGI server, chunked ones included."""

import json

import pytest

from tests.asgi_post import asgi_post


def _call(path: str, chunks: list[bytes]) -> tuple[int, dict[str, str], bytes]:
    response = asgi_post(
        path,
        [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        chunks,
    )
    return response.status, response.headers, response.body


@pytest.mark.django_db(transaction=True)
def test_chunked_body_over_the_limit_is_413(settings):
    settings.MAX_REQUEST_BODY_BYTES = 4096
    status, headers, body = _call("/openapi/v1/oauth/device/code", [b"x" * 3000] * 3)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "code": "request_entity_too_large",
        "message": "request body too large",
        "status": 413,
        "hint": "the limit here is 4096 bytes (4 KiB, MAX_REQUEST_BODY_BYTES)",
    }


@pytest.mark.django_db
def test_a_declared_oversize_body_names_the_limit_and_its_setting(api, settings):
    settings.MAX_REQUEST_BODY_BYTES = 2 * 1024 * 1024
    response = api().post(
        "/openapi/v1/oauth/device/code",
        data="x",
        content_type="application/json",
        CONTENT_LENGTH=str(3 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert response.json()["hint"] == (
        "the limit here is 2097152 bytes (2.0 MiB, MAX_REQUEST_BODY_BYTES)"
    )


@pytest.mark.django_db(transaction=True)
def test_chunked_body_within_the_limit_reaches_the_app(settings):
    settings.MAX_REQUEST_BODY_BYTES = 4096
    payload = json.dumps({"client_id": "difyctl", "device_label": "chunked"}).encode()
    status, _, body = _call("/openapi/v1/oauth/device/code", [payload[:10], payload[10:]])
    assert status == 200, body
    assert json.loads(body)["user_code"]


@pytest.mark.django_db(transaction=True)
def test_oversize_page_post_is_413_plain_text(settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    status, headers, _ = _call("/accounts/login/", [b"x" * 2048])
    assert status == 413 and headers["content-type"].startswith("text/plain")


def _declared(path: str, length: int, *, content_type: bytes = b"application/json"):
    """Call the ASGI app with a declared length and a client that would fail if it were read."""
    response = asgi_post(
        path,
        [(b"content-type", content_type), (b"content-length", str(length).encode())],
        None,
    )
    return response.status, response.headers, response.body


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/openapi/v1/oauth/device/code", "application/json"),
        ("/accounts/login/", "text/plain"),
        ("/admin/apps_runtime/app/import-dsl/", "text/html"),
        ("/admin/login/", "text/html"),
    ],
)
def test_a_declared_oversize_body_is_refused_unread(settings, path, content_type):
    settings.MAX_REQUEST_BODY_BYTES = 4096
    settings.ADMIN_DSL_UPLOAD_MAX_BYTES = 8192
    status, headers, body = _declared(path, 50 * 1024 * 1024)
    assert status == 413
    assert headers["content-type"].startswith(content_type)
    assert headers["connection"] == "close"
    if content_type == "text/html":
        assert b"Request too large" in body and b"the most this page accepts" in body
