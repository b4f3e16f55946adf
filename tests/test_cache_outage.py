"""Redis unreachable: the JSON API keeps answering (security requirement 28)."""

import pytest
from django.test import override_settings

from config.api import ratelimit
from config.api.errors import ApiError

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


def test_device_flow_keeps_working_without_the_cache(client, alice):
    with override_settings(CACHES=DEAD_REDIS):
        code = client.post(
            "/openapi/v1/oauth/device/code",
            {"client_id": "difyctl", "device_label": "outage"},
            content_type="application/json",
        )
        assert code.status_code == 200
        user_code = code.json()["user_code"]
        lookup = client.get("/openapi/v1/oauth/device/lookup", {"user_code": user_code})
        assert lookup.status_code == 200 and lookup.json()["valid"] is True
        client.force_login(alice)
        page = client.get("/device", {"user_code": user_code})
        assert page.status_code == 200
