"""POST /oauth/device/code (contract §5.2, decisions §4)."""

import re

import pytest

from conftest import assert_envelope
from oauth_device.codes import USER_CODE_ALPHABET, device_code_digest
from oauth_device.models import DeviceGrant
from oauth_device.tests.helpers import CODE_URL, start

USER_CODE = re.compile(rf"^[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}$")


def test_code_returns_the_contract_fields(client, db, settings):
    body = start(client, label="difyctl on laptop", HTTP_USER_AGENT="difyctl/0.1.0 (linux; x64)")
    assert set(body) == {"device_code", "user_code", "verification_uri", "expires_in", "interval"}
    assert re.fullmatch(r"dc_[A-Za-z0-9_-]{32}", body["device_code"])
    assert USER_CODE.fullmatch(body["user_code"])
    assert body["verification_uri"] == "http://testserver/device"
    assert body["expires_in"] == settings.DEVICE_CODE_TTL_SECONDS == 900
    assert body["interval"] == settings.DEVICE_POLL_INTERVAL_SECONDS == 5


def test_grant_is_stored_with_the_digest_only(client, db):
    body = start(client, label="my box", HTTP_USER_AGENT="difyctl/0.1.0 (linux; x64)")
    grant = DeviceGrant.objects.get()
    assert grant.device_code_hash == device_code_digest(body["device_code"])
    assert grant.user_code == body["user_code"]
    assert (grant.client_id, grant.device_label, grant.status) == ("difyctl", "my box", "pending")
    assert grant.created_ip == "127.0.0.1"
    assert grant.created_user_agent == "difyctl/0.1.0 (linux; x64)"
    assert grant.interval == 5
    assert (grant.expires_at - grant.created_at).total_seconds() == 900
    # The raw device code is in no column.
    for field in DeviceGrant._meta.concrete_fields:
        assert body["device_code"] not in str(getattr(grant, field.attname))


def test_code_response_is_not_cacheable(client, db):
    response = client.post(
        CODE_URL, {"client_id": "difyctl", "device_label": "x"}, content_type="application/json"
    )
    assert response["Cache-Control"] == "no-store"


def test_codes_are_unique_and_random(client, db):
    bodies = [start(client, label=f"box {i}") for i in range(10)]
    assert len({b["user_code"] for b in bodies}) == 10
    assert len({b["device_code"] for b in bodies}) == 10


def test_user_code_collision_is_retried(client, db, monkeypatch):
    first = start(client)
    codes = iter([first["user_code"], first["user_code"], "WXYZ-3456"])
    monkeypatch.setattr("oauth_device.services.generate_user_code", lambda: next(codes))
    assert start(client)["user_code"] == "WXYZ-3456"


def test_verification_uri_uses_public_base_url(client, db, settings):
    settings.PUBLIC_BASE_URL = "https://dify.example.com"
    assert start(client)["verification_uri"] == "https://dify.example.com/device"


def test_verification_uri_honours_forwarded_proto_only_behind_trusted_proxies(client, db, settings):
    assert start(client, HTTP_X_FORWARDED_PROTO="https")["verification_uri"].startswith("http://")
    settings.TRUSTED_PROXY_COUNT = 1
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    body = start(
        client,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_HOST="localhost",
    )
    assert body["verification_uri"] == "https://localhost/device"
    assert DeviceGrant.objects.get(user_code=body["user_code"]).created_ip == "203.0.113.9"


def test_unknown_client_is_unsupported_client(client, db):
    response = client.post(
        CODE_URL, {"client_id": "curl", "device_label": "x"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_client"}
    assert not DeviceGrant.objects.exists()


def test_known_clients_come_from_the_setting(client, db, settings):
    settings.OPENAPI_KNOWN_CLIENT_IDS = ["difyctl", "other-cli"]
    assert start(client, client_id="other-cli")["user_code"]


def test_form_encoded_body_is_accepted(client, db):
    response = client.post(
        CODE_URL,
        "client_id=difyctl&device_label=rfc+client",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"device_label": "x"}, "client_id"),
        ({"client_id": "difyctl"}, "device_label"),
        ({"client_id": "difyctl", "device_label": ""}, "device_label"),
        ({"client_id": "d" * 65, "device_label": "x"}, "client_id"),
        ({"client_id": "difyctl", "device_label": "x" * 256}, "device_label"),
        ({"client_id": ["difyctl"], "device_label": "x"}, "client_id"),
    ],
)
def test_invalid_fields_are_400_invalid_param(client, db, body, field):
    response = client.post(CODE_URL, body, content_type="application/json")
    envelope = assert_envelope(response, 400, code="invalid_param")
    assert envelope["message"].startswith(f"{field}: ")
    assert envelope["details"][0]["loc"] == [field]


def test_limits_at_the_column_sizes_are_accepted(client, db):
    body = start(client, client_id="difyctl", label="x" * 255)
    assert DeviceGrant.objects.get(user_code=body["user_code"]).device_label == "x" * 255


def test_non_object_body_is_400_invalid_param(client, db):
    response = client.post(CODE_URL, ["difyctl"], content_type="application/json")
    assert_envelope(response, 400, code="invalid_param")


def test_code_creation_is_limited_per_ip(client, db, settings):
    settings.DEVICE_CODE_PER_IP_PER_HOUR = 3
    for i in range(3):
        start(client, label=f"box {i}")
    response = client.post(
        CODE_URL, {"client_id": "difyctl", "device_label": "x"}, content_type="application/json"
    )
    assert_envelope(response, 429, code="too_many_requests", message="rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 3600
    # Another IP is not affected.
    start(client, REMOTE_ADDR="198.51.100.7")


def test_pending_grants_are_capped_per_ip(client, db, settings, clock):
    settings.DEVICE_PENDING_PER_IP = 2
    start(client, label="a")
    clock.advance(60)
    start(client, label="b")
    response = client.post(
        CODE_URL, {"client_id": "difyctl", "device_label": "c"}, content_type="application/json"
    )
    assert_envelope(response, 429, code="too_many_requests")
    # Retry when the oldest pending grant expires: 900 s after it was created, 60 s have passed.
    assert 830 <= int(response["Retry-After"]) <= 841
    assert DeviceGrant.objects.count() == 2
    clock.advance(900 - 60 + 1)  # the first one has expired: room for one more
    start(client, label="d")
