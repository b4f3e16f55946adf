"""Redis unreachable: the JSON API keeps answering (security requirement 28)."""

import pytest
from django.test import override_settings

from config import outage
from config.api import ratelimit
from config.api.errors import ApiError
from conftest import assert_envelope

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


def test_api_keeps_working_without_the_cache(api, alice, token_for):
    token = token_for(alice)
    with override_settings(CACHES=DEAD_REDIS):
        response = api(token).get("/openapi/v1/account")
    assert response.status_code == 200
    assert response.json()["subject_email"] == "alice@example.com"


def test_fail_closed_limiter_answers_503(db):
    with override_settings(CACHES=DEAD_REDIS), pytest.raises(ApiError) as caught:
        ratelimit.hit("device-code-ip", "1.2.3.4", limit=5, window=60, fail_open=False)
    assert caught.value.status == 503


def test_device_flow_fails_closed_on_secret_guards_without_the_cache(client, alice, caplog):
    """Starting a login is a throughput limit (fails open); checking a user code guards a secret
    (fails closed: 503 with Retry-After, logged once per interval, not once per request)."""
    with override_settings(CACHES=DEAD_REDIS, RATE_LIMIT_OUTAGE_RETRY_AFTER_SECONDS=7):
        code = client.post(
            "/openapi/v1/oauth/device/code",
            {"client_id": "difyctl", "device_label": "outage"},
            content_type="application/json",
        )
        assert code.status_code == 200
        user_code = code.json()["user_code"]
        outage.reset()
        with caplog.at_level("WARNING", logger="difyapi.ratelimit"):
            for _ in range(3):
                lookup = client.get("/openapi/v1/oauth/device/lookup", {"user_code": user_code})
                assert_envelope(lookup, 503, code="service_unavailable")
                assert lookup["Retry-After"] == "7"
        outage_lines = [r for r in caplog.records if "device-wrong-anon-ip" in r.getMessage()]
        assert len(outage_lines) == 1
        client.force_login(alice)
        assert client.get("/device", {"user_code": user_code}).status_code == 200  # pre-fill only
        page = client.post("/device", {"user_code": user_code})
        assert page.status_code == 503 and page["Retry-After"] == "7"
        assert b"Temporarily unavailable" in page.content
        approve = client.post(
            "/openapi/v1/oauth/device/approve",
            {"user_code": user_code},
            content_type="application/json",
        )
        assert_envelope(approve, 503)
