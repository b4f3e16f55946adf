"""GET /oauth/device/lookup (contract §5.4, decisions §4)."""

import pytest

from conftest import assert_envelope
from oauth_device.tests.helpers import LOOKUP_URL, Browser, start


def lookup(client, user_code, **extra):
    return client.get(LOOKUP_URL, {"user_code": user_code}, **extra)


def test_pending_code_is_valid_with_the_real_seconds_left(client, db, clock):
    code = start(client)["user_code"]
    assert lookup(client, code).json() == {
        "valid": True,
        "expires_in_remaining": 900,
        "client_id": "difyctl",
    }
    clock.advance(100.5)
    assert lookup(client, code).json()["expires_in_remaining"] == 800


@pytest.mark.parametrize(
    "transform",
    [
        str.lower,
        lambda c: c.replace("-", ""),
        lambda c: f"  {c[:4]} {c[5:]}  ",
        lambda c: c.lower().replace("-", " - "),
    ],
)
def test_codes_are_accepted_case_insensitively_with_or_without_dash(client, db, transform):
    code = start(client)["user_code"]
    assert lookup(client, transform(code)).json()["valid"] is True


def test_unknown_code(client, db):
    for code in ("ABCD-EFGH", "nonsense", "ABCD-EFG0"):
        response = lookup(client, code)
        assert response.status_code == 200
        assert response.json() == {"valid": False, "expires_in_remaining": 0, "client_id": None}


def test_resolved_code_is_not_valid_but_names_its_client(client, alice):
    code = start(client)["user_code"]
    assert Browser(alice).approve(code).status_code == 200
    assert lookup(client, code).json() == {
        "valid": False,
        "expires_in_remaining": 0,
        "client_id": "difyctl",
    }


def test_expired_code_is_unknown(client, db, clock):
    code = start(client)["user_code"]
    clock.advance(900)
    assert lookup(client, code).json() == {
        "valid": False,
        "expires_in_remaining": 0,
        "client_id": None,
    }


def test_missing_user_code_is_400_invalid_param(client, db):
    body = assert_envelope(client.get(LOOKUP_URL), 400, code="invalid_param")
    assert body["message"].startswith("user_code: ")


def test_lookup_is_limited_per_ip(client, db, settings):
    settings.DEVICE_LOOKUP_PER_IP_PER_5_MIN = 3
    code = start(client)["user_code"]
    for _ in range(3):
        assert lookup(client, code).status_code == 200
    response = lookup(client, code)
    assert_envelope(response, 429, code="too_many_requests", message="rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 300
    assert lookup(client, code, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_unknown_codes_count_as_wrong_codes_for_the_ip(client, db, settings):
    settings.DEVICE_WRONG_CODES_PER_IP_PER_HOUR = 3
    code = start(client)["user_code"]
    for _ in range(3):
        assert lookup(client, "ABCD-EFGH").json()["valid"] is False
    response = lookup(client, code)  # even the right code is refused while locked out
    assert_envelope(response, 429, code="too_many_requests")
    assert int(response["Retry-After"]) >= 1
