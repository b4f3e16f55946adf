"""POST /oauth/device/token (contract §5.3, decisions §3-§4, security 3-4 and 13)."""

import pytest

from accounts.models import AccessToken, AuditEvent
from conftest import assert_envelope
from oauth_device.models import DeviceGrant
from oauth_device.tests.helpers import TOKEN_URL, Browser, poll, poll_error, start


def test_pending_grant_answers_authorization_pending(client, db):
    device_code = start(client)["device_code"]
    response = poll(client, device_code)
    assert response.status_code == 400
    assert response.json() == {"error": "authorization_pending"}


def test_first_poll_is_never_slow_down(client, db):
    # difyctl polls right after getting its code, then sleeps `interval`.
    device_code = start(client)["device_code"]
    assert poll_error(client, device_code) == {"error": "authorization_pending"}


def test_polling_faster_than_the_interval_is_slow_down_and_the_interval_grows(client, db, clock):
    device_code = start(client)["device_code"]
    assert poll_error(client, device_code)["error"] == "authorization_pending"
    clock.advance(1)
    assert poll_error(client, device_code) == {"error": "slow_down", "interval": 10}
    clock.advance(5)  # 5 s is enough no more: the interval is now 10 s
    assert poll_error(client, device_code) == {"error": "slow_down", "interval": 15}
    assert DeviceGrant.objects.get().interval == 15
    clock.advance(15)
    assert poll_error(client, device_code) == {"error": "authorization_pending"}
    clock.advance(15)
    assert poll_error(client, device_code) == {"error": "authorization_pending"}


def test_polling_at_the_interval_is_fine(client, db, clock):
    device_code = start(client)["device_code"]
    for _ in range(4):
        assert poll_error(client, device_code) == {"error": "authorization_pending"}
        clock.advance(5)


def test_interval_growth_is_capped(client, db, clock):
    device_code = start(client)["device_code"]
    poll(client, device_code)
    for _ in range(20):
        body = poll_error(client, device_code)
    assert body == {"error": "slow_down", "interval": 60}


def test_unknown_device_code_is_expired_token(client, db):
    assert poll_error(client, "dc_" + "A" * 32) == {"error": "expired_token"}


def test_expired_grant_is_expired_token(client, alice, clock):
    code = start(client)
    assert Browser(alice).approve(code["user_code"]).status_code == 200
    clock.advance(900)
    assert poll_error(client, code["device_code"]) == {"error": "expired_token"}
    assert not AccessToken.objects.exists()


def test_pending_grant_expires(client, db, clock):
    device_code = start(client)["device_code"]
    clock.advance(899)
    assert poll_error(client, device_code)["error"] == "authorization_pending"
    clock.advance(1)
    assert poll_error(client, device_code)["error"] == "expired_token"


def test_deny_is_access_denied_once_then_expired_token(client, alice, clock):
    code = start(client)
    assert Browser(alice).deny(code["user_code"]).json() == {"status": "denied"}
    assert poll_error(client, code["device_code"]) == {"error": "access_denied"}
    clock.advance(5)
    assert poll_error(client, code["device_code"]) == {"error": "expired_token"}
    assert not AccessToken.objects.exists()


def test_approved_grant_delivers_the_token_once(client, alice, acme, clock):
    code = start(client, label="difyctl on laptop")
    assert poll_error(client, code["device_code"])["error"] == "authorization_pending"
    assert not AccessToken.objects.exists()
    assert Browser(alice).approve(code["user_code"]).json() == {"status": "approved"}
    # Approval alone mints nothing: the token exists only from the first successful poll.
    assert not AccessToken.objects.exists()
    clock.advance(5)
    response = poll(client, code["device_code"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {
        "token",
        "expires_at",
        "subject_type",
        "account",
        "workspaces",
        "default_workspace_id",
        "token_id",
    }
    assert body["token"].startswith("dfoa_") and len(body["token"]) == 48
    assert body["subject_type"] == "account"
    assert body["account"] == {"id": str(alice.id), "email": "alice@example.com", "name": "Alice"}
    assert body["workspaces"] == [{"id": str(acme.id), "name": "Acme", "role": "owner"}]
    assert body["default_workspace_id"] == str(acme.id)
    token = AccessToken.objects.get()
    assert body["token_id"] == str(token.id)
    assert body["expires_at"].endswith("Z")
    assert (token.client_id, token.device_label, token.account) == (
        "difyctl",
        "difyctl on laptop",
        alice,
    )
    grant = DeviceGrant.objects.get()
    assert grant.status == "consumed" and grant.token_id == token.id
    # Every later poll: expired_token.
    clock.advance(5)
    assert poll_error(client, code["device_code"]) == {"error": "expired_token"}
    clock.advance(5)
    assert poll_error(client, code["device_code"]) == {"error": "expired_token"}
    assert AccessToken.objects.count() == 1


def test_poll_errors_are_not_cacheable(client, db):
    response = poll(client, start(client)["device_code"])
    assert response["Cache-Control"] == "no-store"


def test_a_relogin_from_the_same_device_revokes_the_old_token(client, alice, api, clock):
    tokens = []
    for _ in range(2):
        code = start(client, label="difyctl on laptop")
        Browser(alice).approve(code["user_code"])
        tokens.append(poll(client, code["device_code"]).json()["token"])
        clock.advance(5)
    assert_envelope(api(tokens[0]).get("/openapi/v1/account"), 401, message="invalid_bearer")
    assert api(tokens[1]).get("/openapi/v1/account").status_code == 200
    # Another device of the same account keeps its token.
    code = start(client, label="difyctl on desktop")
    Browser(alice).approve(code["user_code"])
    other = poll(client, code["device_code"]).json()["token"]
    assert api(tokens[1]).get("/openapi/v1/account").status_code == 200
    assert api(other).get("/openapi/v1/account").status_code == 200


def test_poll_from_another_ip_works_and_is_audited(client, alice):
    code = start(client, REMOTE_ADDR="198.51.100.1")
    Browser(alice).approve(code["user_code"])
    response = poll(client, code["device_code"], REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="device_grant.cross_ip_poll")
    assert event.ip == "203.0.113.5"
    assert event.details["created_ip"] == "198.51.100.1"


def test_approval_and_issue_are_audited(client, alice):
    code = start(client)
    Browser(alice).approve(code["user_code"])
    poll(client, code["device_code"])
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"device_grant.approved", "access_token.issued"} <= actions


def test_deny_is_audited(client, alice):
    Browser(alice).deny(start(client)["user_code"])
    event = AuditEvent.objects.get(action="device_grant.denied")
    assert event.account == alice and event.details["client_id"] == "difyctl"


def test_a_device_code_of_another_client_is_invalid_grant(client, db, settings):
    settings.OPENAPI_KNOWN_CLIENT_IDS = ["difyctl", "other-cli"]
    code = start(client, client_id="other-cli")
    assert poll_error(client, code["device_code"]) == {"error": "invalid_grant"}


def test_disabled_account_gets_no_token(client, alice):
    code = start(client)
    Browser(alice).approve(code["user_code"])
    alice.status = "disabled"
    alice.save()
    assert poll_error(client, code["device_code"]) == {"error": "expired_token"}
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_id": "difyctl"}, "device_code"),
        ({"device_code": "dc_x"}, "client_id"),
        ({"device_code": "dc_x", "client_id": "d" * 65}, "client_id"),
    ],
)
def test_missing_fields_are_400_invalid_param(client, db, body, field):
    response = client.post(TOKEN_URL, body, content_type="application/json")
    envelope = assert_envelope(response, 400, code="invalid_param")
    assert envelope["message"].startswith(f"{field}: ")


def test_raw_token_and_device_code_are_never_logged(client, alice, caplog):
    caplog.set_level("DEBUG")
    code = start(client)
    Browser(alice).approve(code["user_code"])
    token = poll(client, code["device_code"]).json()["token"]
    assert token not in caplog.text
    assert code["device_code"] not in caplog.text


def test_an_approval_just_before_expiry_still_reaches_the_terminal(client, alice, clock):
    code = start(client)
    assert poll(client, code["device_code"]).json() == {"error": "authorization_pending"}
    clock.advance(900 - 3)  # three seconds left
    assert Browser(alice).approve(code["user_code"]).status_code == 200
    clock.advance(5)  # past the original expiry, within the grace after a decision
    response = poll(client, code["device_code"])
    assert response.status_code == 200 and response.json()["token"].startswith("dfoa_")


def test_the_grace_after_approval_is_bounded(client, alice, clock):
    code = start(client)
    clock.advance(900 - 3)
    assert Browser(alice).approve(code["user_code"]).status_code == 200
    clock.advance(61)
    assert poll(client, code["device_code"]).json() == {"error": "expired_token"}
