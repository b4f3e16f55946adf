"""Bearer authentication through HTTP: every way a token can be wrong, and when it stops working."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccessToken, Account, AuditEvent
from accounts.tokens import token_digest
from conftest import assert_envelope

ACCOUNT_URL = "/openapi/v1/account"
INVALID = 'Bearer realm="api", error="invalid_token"'


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer    ", "Basic dXNlcjpwYXNz", "Token dfoa_" + "a" * 43],
    ids=["empty", "bearer-only", "bearer-blank", "basic", "wrong-scheme"],
)
def test_missing_or_non_bearer_credentials(api, db, header):
    client = api()
    response = (
        client.get(ACCOUNT_URL, HTTP_AUTHORIZATION=header) if header else client.get(ACCOUNT_URL)
    )
    assert_envelope(response, 401, code="unauthorized", message="missing bearer token")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "token",
    [
        "dfp_" + "a" * 43,  # personal-access prefix is not accepted here
        "app-" + "a" * 43,
        "dfoa_" + "a" * 42,  # too short
        "dfoa_" + "a" * 44,  # too long
        "dfoa_" + "a" * 42 + "!",  # outside base64url
        "garbage",
    ],
)
def test_malformed_tokens_are_rejected_before_any_query(api, db, token, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api(token).get(ACCOUNT_URL)
    assert_envelope(response, 401, message="invalid_bearer")
    assert response["WWW-Authenticate"] == INVALID


def test_well_formed_unknown_token(api, db):
    response = api("dfoa_" + "A" * 43).get(ACCOUNT_URL)
    assert_envelope(response, 401, message="invalid_bearer")
    assert "unknown, revoked or expired" in response.json()["hint"]


def test_a_refused_token_says_to_log_in_again(api, alice, token_for):
    token = token_for(alice)
    client = api(token)
    client.delete("/openapi/v1/account/sessions/self")
    body = client.get(ACCOUNT_URL).json()
    assert body["message"] == "invalid_bearer"
    assert body["hint"] == (
        "the token is unknown, revoked or expired: log in again (difyctl auth login, or the "
        "device flow in the README) for a new one"
    )


def test_query_string_token_is_ignored(api, alice, token_for):
    token = token_for(alice)
    response = api().get(f"{ACCOUNT_URL}?access_token={token}&token={token}")
    assert_envelope(response, 401, message="missing bearer token")


def test_scheme_is_case_insensitive(api, alice, token_for):
    token = token_for(alice)
    response = api().get(ACCOUNT_URL, HTTP_AUTHORIZATION=f"bearer {token}")
    assert response.status_code == 200


def test_expired_token_is_401_and_audited_once(api, alice, token_for):
    token = token_for(alice)
    row = AccessToken.objects.get(token_hash=token_digest(token))
    AccessToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for _ in range(2):
        assert_envelope(api(token).get(ACCOUNT_URL), 401, message="invalid_bearer")
    row.refresh_from_db()
    assert row.revoked_at is not None and row.token_hash is None
    assert AuditEvent.objects.filter(action="access_token.expired", token_id=row.id).count() == 1


def test_expiry_reads_the_clock(api, alice, token_for, monkeypatch):
    token = token_for(alice)
    assert api(token).get(ACCOUNT_URL).status_code == 200
    later = timezone.now() + timedelta(days=15)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert_envelope(api(token).get(ACCOUNT_URL), 401, message="invalid_bearer")


def test_revoked_token_fails_on_the_next_request(api, alice, token_for):
    token = token_for(alice)
    client = api(token)
    assert client.get(ACCOUNT_URL).status_code == 200
    assert client.delete("/openapi/v1/account/sessions/self").json() == {"status": "revoked"}
    assert_envelope(client.get(ACCOUNT_URL), 401, message="invalid_bearer")


def test_disabled_account_stops_on_the_next_request(api, alice, token_for):
    token = token_for(alice)
    assert api(token).get(ACCOUNT_URL).status_code == 200
    Account.objects.filter(pk=alice.pk).update(status=Account.Status.DISABLED)
    assert_envelope(api(token).get(ACCOUNT_URL), 401, message="invalid_bearer")
    Account.objects.filter(pk=alice.pk).update(status=Account.Status.ACTIVE)
    assert api(token).get(ACCOUNT_URL).status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(api, alice, token_for, monkeypatch):
    token = token_for(alice)
    row = AccessToken.objects.get(token_hash=token_digest(token))
    assert row.last_used_at is None
    api(token).get(ACCOUNT_URL)
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None
    api(token).get(ACCOUNT_URL)
    row.refresh_from_db()
    assert row.last_used_at == first
    later = first + timedelta(seconds=61)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    api(token).get(ACCOUNT_URL)
    row.refresh_from_db()
    assert row.last_used_at == later


def test_per_token_rate_limit(api, alice, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 3
    token = token_for(alice)
    other = token_for(alice)
    for _ in range(3):
        assert api(token).get(ACCOUNT_URL).status_code == 200
    response = api(token).get(ACCOUNT_URL)
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "too_many_requests"
    assert body["error"] == "rate_limited"
    assert body["status"] == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["retry_after_ms"] == retry_after * 1000
    # The limit is per token.
    assert api(other).get(ACCOUNT_URL).status_code == 200


def test_rate_limit_zero_disables(api, alice, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    token = token_for(alice)
    for _ in range(5):
        assert api(token).get(ACCOUNT_URL).status_code == 200


def test_external_subject_on_account_surface_is_wrong_surface(api, sso_token):
    for path in ("/openapi/v1/workspaces", "/openapi/v1/workspaces/" + "0" * 8):
        body = assert_envelope(api(sso_token).get(path), 403, code="forbidden")
        assert body["message"] == "wrong_surface (canonical: /openapi/v1/permitted-external-apps)"


def test_housekeeping_expires_overdue_tokens(alice, token_for):
    from accounts.services import access_tokens_expire_overdue

    live = token_for(alice, label="live")
    stale = token_for(alice, label="stale")
    AccessToken.objects.filter(token_hash=token_digest(stale)).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert access_tokens_expire_overdue() == 1
    assert access_tokens_expire_overdue() == 0
    assert AuditEvent.objects.filter(action="access_token.expired").count() == 1
    assert AccessToken.objects.get(token_hash=token_digest(live)).revoked_at is None


def test_housekeeping_command_expires_overdue_tokens(alice, token_for):
    import io

    from django.core.management import call_command

    stale = token_for(alice, label="stale")
    AccessToken.objects.filter(token_hash=token_digest(stale)).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    out = io.StringIO()
    call_command("housekeeping", stdout=out)
    assert "overdue access tokens expired: 1" in out.getvalue()
    assert AuditEvent.objects.filter(action="access_token.expired").count() == 1


def test_subject_key_names_an_account_by_id_and_an_external_identity_by_issuer_and_email(
    alice, token_for
):
    from accounts.authentication import resolve_bearer

    own = resolve_bearer(f"Bearer {token_for(alice)}")
    assert own.key == f"account:{alice.pk}"
    # The same email from two identity providers is two subjects.
    keys = {
        resolve_bearer(
            f"Bearer {token_for(external_email=alice.email, external_issuer=issuer)}"
        ).key
        for issuer in ("https://idp-one.example", "https://idp-two.example")
    }
    assert len(keys) == 2 and own.key not in keys


def test_account_read_limit_is_per_subject_key(api, alice, token_for, settings):
    settings.OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE = 2
    first, second = token_for(alice), token_for(alice)
    assert api(first).get(ACCOUNT_URL).status_code == 200
    assert api(second).get(ACCOUNT_URL).status_code == 200
    # Two tokens of one account share the account's bucket.
    response = api(first).get(ACCOUNT_URL)
    assert_envelope(response, 429, code="too_many_requests", message="rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert api(token_for(external_email=alice.email)).get(ACCOUNT_URL).status_code == 200


def test_bearer_calls_never_read_the_password_hash(api, alice, token_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(token_for(alice))
    client.get(ACCOUNT_URL)  # the once-a-minute last_used_at write
    for path in (ACCOUNT_URL, "/openapi/v1/workspaces", "/openapi/v1/account/sessions"):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        assert queries.captured_queries
        assert not [q for q in queries.captured_queries if "password" in q["sql"]], path
