"""POST /oauth/device/approve and /deny (contract §5.5-§5.6, decisions §4, security 5-6)."""

import pytest
from django.test import Client

from conftest import assert_envelope
from oauth_device.models import DeviceGrant
from oauth_device.tests.helpers import APPROVE_URL, DENY_URL, LOOKUP_URL, Browser, start


@pytest.mark.parametrize(("url", "status"), [(APPROVE_URL, "approved"), (DENY_URL, "denied")])
def test_session_with_csrf_decides(client, alice, url, status):
    code = start(client)["user_code"]
    response = Browser(alice).post(url, {"user_code": code})
    assert response.status_code == 200
    assert response.json() == {"status": status}
    grant = DeviceGrant.objects.get()
    assert (grant.status, grant.decision, grant.account) == (status, status, alice)
    assert grant.decided_at is not None


@pytest.mark.parametrize("url", [APPROVE_URL, DENY_URL])
def test_code_forms_are_normalised(client, alice, url):
    code = start(client)["user_code"]
    typed = f" {code[:4].lower()} {code[5:].lower()} "
    assert Browser(alice).post(url, {"user_code": typed}).status_code == 200


@pytest.mark.parametrize("url", [APPROVE_URL, DENY_URL])
def test_missing_csrf_is_rejected(client, alice, url):
    code = start(client)["user_code"]
    response = Browser(alice).post(url, {"user_code": code}, csrf=False)
    assert_envelope(response, 403, code="csrf_failed")
    assert DeviceGrant.objects.get().status == "pending"


def test_wrong_csrf_is_rejected(client, alice):
    code = start(client)["user_code"]
    response = Browser(alice).post(
        APPROVE_URL, {"user_code": code}, HTTP_X_CSRFTOKEN="x" * 32, csrf=False
    )
    assert_envelope(response, 403, code="csrf_failed")
    assert DeviceGrant.objects.get().status == "pending"


@pytest.mark.parametrize("url", [APPROVE_URL, DENY_URL])
def test_not_logged_in_is_401_envelope(client, db, url):
    code = start(client)["user_code"]
    response = Client(enforce_csrf_checks=True).post(
        url, {"user_code": code}, content_type="application/json"
    )
    assert_envelope(response, 401, code="unauthorized")
    assert DeviceGrant.objects.get().status == "pending"


@pytest.mark.parametrize("url", [APPROVE_URL, DENY_URL])
def test_a_bearer_token_can_never_approve(client, alice, token_for, api, url):
    code = start(client)["user_code"]
    bearer = token_for(alice)
    response = api(bearer).post(url, {"user_code": code}, format="json")
    assert_envelope(response, 401, code="unauthorized")
    # Not even with CSRF checks off in the client and a header that looks right.
    response = Client().post(
        url,
        {"user_code": code},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {bearer}",
        HTTP_X_CSRFTOKEN="x" * 32,
    )
    assert_envelope(response, 401, code="unauthorized")
    assert DeviceGrant.objects.get().status == "pending"


def test_disabled_account_session_is_401(client, alice):
    code = start(client)["user_code"]
    browser = Browser(alice)
    alice.status = "disabled"
    alice.save()
    assert_envelope(browser.approve(code), 401)


def test_unknown_code_is_404_expired_or_unknown(client, alice):
    response = Browser(alice).approve("ABCD-EFGH")
    assert response.status_code == 404
    assert response.json() == {"error": "expired_or_unknown"}


def test_expired_code_is_404(client, alice, clock):
    code = start(client)["user_code"]
    clock.advance(900)
    assert Browser(alice).deny(code).json() == {"error": "expired_or_unknown"}


def test_second_decision_by_the_same_account_is_409(client, alice):
    code = start(client)["user_code"]
    browser = Browser(alice)
    assert browser.approve(code).status_code == 200
    for response in (browser.approve(code), browser.deny(code)):
        assert response.status_code == 409
        assert response.json() == {"error": "already_resolved"}
    assert DeviceGrant.objects.get().status == "approved"


def test_already_resolved_after_the_token_was_delivered(client, alice):
    from oauth_device.tests.helpers import poll

    code = start(client)
    browser = Browser(alice)
    browser.approve(code["user_code"])
    assert poll(client, code["device_code"]).status_code == 200
    assert browser.approve(code["user_code"]).json() == {"error": "already_resolved"}


@pytest.mark.parametrize("first", ["approve", "deny"])
def test_another_account_cannot_decide_a_claimed_grant(client, alice, bob, first):
    code = start(client)["user_code"]
    assert getattr(Browser(alice), first)(code).status_code == 200
    intruder = Browser(bob)
    for response in (intruder.approve(code), intruder.deny(code)):
        assert response.status_code == 404
        assert response.json() == {"error": "expired_or_unknown"}
    grant = DeviceGrant.objects.get()
    assert grant.account == alice
    assert grant.status == ("approved" if first == "approve" else "denied")


def test_missing_user_code_is_400_invalid_param(client, alice):
    body = assert_envelope(Browser(alice).post(APPROVE_URL, {}), 400, code="invalid_param")
    assert body["message"].startswith("user_code: ")


def test_decisions_are_limited_per_account(client, alice, bob, settings):
    settings.DEVICE_DECISIONS_PER_ACCOUNT_PER_HOUR = 2
    browser = Browser(alice)
    for _ in range(2):
        assert browser.approve(start(client)["user_code"]).status_code == 200
    code = start(client)["user_code"]
    response = browser.approve(code)
    assert_envelope(response, 429, code="too_many_requests", message="rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert Browser(bob).approve(code).status_code == 200


def test_wrong_codes_lock_the_account_out(client, alice, bob, settings):
    assert settings.DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN == 5
    code = start(client)["user_code"]
    browser = Browser(alice)
    for wrong in ("ABCD-EFGH", "BCDE-FGHJ", "CDEF-GHJK", "DEFG-HJKL", "garbage"):
        assert browser.approve(wrong).status_code == 404
    response = browser.approve(code)  # locked out: even the right code is refused
    assert_envelope(response, 429, code="too_many_requests")
    assert 1 <= int(response["Retry-After"]) <= 900
    assert DeviceGrant.objects.get().status == "pending"
    # Bob, from another IP, is not locked out.
    assert Browser(bob).approve(code, REMOTE_ADDR="198.51.100.2").status_code == 200


def test_anonymous_wrong_lookups_do_not_lock_out_signed_in_accounts(client, alice, bob, settings):
    """Anonymous guesses use up the IP's budget; a signed-in account keeps its own (issue 8 §8)."""
    settings.DEVICE_WRONG_CODES_PER_IP_PER_HOUR = 2
    code = start(client)["user_code"]
    for _ in range(2):
        assert lookup_json(client, "ABCD-EFGH")["valid"] is False
    locked = client.get(LOOKUP_URL, {"user_code": code})
    assert_envelope(locked, 429, code="too_many_requests")
    # Same IP, signed in: approvals still go through, and the account's budget is its own.
    for wrong in ("BCDE-FGHJ", "CDEF-GHJK"):
        assert Browser(bob).deny(wrong).status_code == 404
    assert Browser(alice).approve(code).status_code == 200


def test_a_correct_code_does_not_use_up_the_budget(client, alice, settings):
    settings.DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN = 1
    browser = Browser(alice)
    for _ in range(3):  # right codes never count
        assert browser.approve(start(client)["user_code"]).status_code == 200
    assert browser.approve("ABCD-EFGH").status_code == 404
    assert browser.approve(start(client)["user_code"]).status_code == 429


def test_a_claimed_code_counts_as_a_wrong_code_for_others(client, alice, bob, settings):
    settings.DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN = 2
    code = start(client)["user_code"]
    Browser(alice).approve(code)
    intruder = Browser(bob)
    for _ in range(2):
        assert intruder.approve(code).status_code == 404
    assert intruder.approve(start(client)["user_code"]).status_code == 429


def lookup_json(client: Client, code: str) -> dict:
    response = client.get(LOOKUP_URL, {"user_code": code})
    assert response.status_code == 200, response.content
    return response.json()
