"""Every failure under /openapi/v1 is the JSON envelope — also with DEBUG on."""

import logging

import pytest
from django.test import override_settings

from accounts.models import AccessToken, AuditEvent
from conftest import assert_envelope


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_unknown_path(client, db, debug):
    assert_envelope(client.get("/openapi/v1/nope"), 404, code="not_found")
    assert_envelope(client.get("/openapi/v1"), 404, code="not_found")
    assert_envelope(client.post("/openapi/v1/nope/deeper", {}), 404, code="not_found")


def test_trailing_slash_is_unknown(client, alice, token_for, debug):
    response = client.get("/openapi/v1/account/", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    assert_envelope(response, 404, code="not_found")
    assert_envelope(client.get("/openapi/v1/_health/"), 404)


def test_wrong_method(client, alice, token_for, debug):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    assert_envelope(client.post("/openapi/v1/account", **auth), 405, code="method_not_allowed")
    assert_envelope(client.delete("/openapi/v1/_health"), 405)


def test_oversize_body(client, alice, token_for, settings, debug):
    settings.MAX_REQUEST_BODY_BYTES = 2048
    body = "x" * 4096
    response = client.post(
        "/openapi/v1/workspaces/abc/switch",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )
    assert_envelope(response, 413, code="request_entity_too_large")


def test_unhandled_exception_is_envelope_without_traceback(
    client, alice, token_for, debug, monkeypatch
):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("accounts.views.account_identity", boom)
    response = client.get("/openapi/v1/account", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    body = assert_envelope(response, 500, code="internal_server_error")
    assert body["message"] == "Internal Server Error"
    assert b"secret internal detail" not in response.content
    assert b"Traceback" not in response.content


def test_anti_framing_headers(client, db):
    response = client.get("/openapi/v1/_health")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_health_and_version(client, db):
    assert client.get("/openapi/v1/_health").json() == {"ok": True}
    body = client.get("/openapi/v1/_version").json()
    assert body["version"] == "1.15.0" and body["edition"] == "SELF_HOSTED"
    assert body["server"].startswith("difyapi ")
    # Early era-B builds accept [1.14.0, 1.15.0] inclusive, later ones >= 1.15.0: 1.15.0 suits both.
    assert (1, 14, 0) <= tuple(int(p) for p in body["version"].split(".")) <= (1, 15, 0)
    with override_settings(DIFY_COMPAT_VERSION="1.20.0"):
        assert client.get("/openapi/v1/_version").json()["version"] == "1.20.0"


def test_raw_token_is_stored_nowhere_and_never_logged(api, alice, token_for, caplog, admin_client):
    from django.db import connection

    caplog.set_level(logging.DEBUG)
    token = token_for(alice, label="secret-check")
    api(token).get("/openapi/v1/account")
    api(token).get("/openapi/v1/account/sessions")
    api(token).delete("/openapi/v1/account/sessions/self")
    api(token).get("/openapi/v1/account")
    secret = token.split("_", 1)[1]
    # No column of any table holds the token or its secret part.
    with connection.cursor() as cursor:
        for model in (AccessToken, AuditEvent):
            table = model._meta.db_table
            cursor.execute(f"SELECT * FROM {table}")
            for row in cursor.fetchall():
                assert secret not in repr(row)
    assert secret not in caplog.text
    page = admin_client.get("/admin/accounts/accesstoken/")
    assert page.status_code == 200
    assert secret not in page.content.decode()


@pytest.mark.parametrize("accept", ["text/html", "text/event-stream", "application/xml"])
def test_accept_header_never_causes_406(client, alice, token_for, accept):
    response = client.get(
        "/openapi/v1/account", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}", HTTP_ACCEPT=accept
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    # An error is JSON too.
    assert_envelope(client.get("/openapi/v1/account", HTTP_ACCEPT=accept), 401)
