import uuid

import pytest

from accounts.models import AccessToken
from accounts.tokens import token_digest
from conftest import assert_envelope

URL = "/openapi/v1/account/sessions"


def test_lists_live_sessions_newest_first_with_current_flag(api, alice, token_for):
    older = token_for(alice, label="laptop")
    newer = token_for(alice, label="desktop", client_id="difyctl")
    body = api(newer).get(URL).json()
    assert body["page"] == 1 and body["limit"] == 100 and body["total"] == 2
    assert body["has_more"] is False
    labels = [row["device_label"] for row in body["data"]]
    assert labels == ["desktop", "laptop"]
    current = {row["device_label"]: row["current"] for row in body["data"]}
    assert current == {"desktop": True, "laptop": False}
    row = body["data"][0]
    assert set(row) == {
        "id",
        "prefix",
        "client_id",
        "device_label",
        "created_at",
        "last_used_at",
        "expires_at",
        "current",
    }
    assert row["prefix"] == "dfoa_" and row["client_id"] == "difyctl"
    assert row["created_at"].endswith("Z") and row["expires_at"].endswith("Z")
    # The other session has never been used.
    assert body["data"][1]["last_used_at"] is None
    assert older not in str(body)


def test_revoked_and_expired_sessions_are_not_listed(api, alice, token_for):
    from django.utils import timezone

    keep = token_for(alice, label="keep")
    gone = token_for(alice, label="gone")
    stale = token_for(alice, label="stale")
    api(gone).delete(URL + "/self")
    AccessToken.objects.filter(token_hash=token_digest(stale)).update(expires_at=timezone.now())
    labels = [row["device_label"] for row in api(keep).get(URL).json()["data"]]
    assert labels == ["keep"]


def test_paging(api, alice, token_for):
    tokens = [token_for(alice, label=f"d{i}") for i in range(5)]
    client = api(tokens[0])
    page1 = client.get(URL, {"page": 1, "limit": 2}).json()
    page3 = client.get(URL, {"page": 3, "limit": 2}).json()
    page4 = client.get(URL, {"page": 4, "limit": 2}).json()
    assert page1["total"] == 5 and page1["has_more"] is True and len(page1["data"]) == 2
    assert page3["has_more"] is False and len(page3["data"]) == 1
    assert page4["data"] == [] and page4["total"] == 5
    seen = [
        r["id"] for p in (1, 2, 3) for r in client.get(URL, {"page": p, "limit": 2}).json()["data"]
    ]
    assert len(set(seen)) == 5


@pytest.mark.parametrize(
    "query",
    [
        {"page": 0},
        {"page": -1},
        {"limit": 0},
        {"limit": -5},
        {"limit": 201},
        {"limit": "abc"},
        {"page": "1.5"},
        {"foo": "bar"},
    ],
)
def test_strict_query(api, alice, token_for, query):
    body = assert_envelope(api(token_for(alice)).get(URL, query), 422, code="invalid_param")
    assert body["details"]
    assert next(iter(query)) in body["message"]


def test_a_page_far_past_the_end_is_empty(api, alice, token_for):
    body = api(token_for(alice)).get(URL, {"page": "99999999999999999999"}).json()
    assert body["data"] == [] and body["total"] == 1 and body["has_more"] is False


def test_limit_200_is_allowed(api, alice, token_for):
    assert api(token_for(alice)).get(URL, {"limit": 200}).json()["limit"] == 200


def test_revoke_by_id_and_reuse(api, alice, token_for):
    main = token_for(alice, label="main")
    other = token_for(alice, label="other")
    other_id = AccessToken.objects.get(token_hash=token_digest(other)).id
    response = api(main).delete(f"{URL}/{other_id}")
    assert response.json() == {"status": "revoked"}
    assert_envelope(api(other).get("/openapi/v1/account"), 401)
    # Idempotent on an already revoked own session.
    assert api(main).delete(f"{URL}/{other_id}").status_code == 200


def test_revoke_own_current_session_by_id(api, alice, token_for):
    token = token_for(alice)
    token_id = AccessToken.objects.get(token_hash=token_digest(token)).id
    assert api(token).delete(f"{URL}/{token_id}").status_code == 200
    assert_envelope(api(token).get(URL), 401)


def test_foreign_session_is_404_and_keeps_working(api, alice, charlie, token_for):
    mine = token_for(alice)
    theirs = token_for(charlie)
    their_id = AccessToken.objects.get(token_hash=token_digest(theirs)).id
    assert_envelope(api(mine).delete(f"{URL}/{their_id}"), 404, message="session not found")
    assert api(theirs).get("/openapi/v1/account").status_code == 200


@pytest.mark.parametrize("session_id", ["not-a-uuid", "1", str(uuid.uuid4())])
def test_unknown_or_malformed_session_is_404(api, alice, token_for, session_id):
    assert_envelope(
        api(token_for(alice)).delete(f"{URL}/{session_id}"), 404, message="session not found"
    )


def test_external_subject_never_sees_account_sessions(api, alice, token_for):
    # An SSO identity with the same email as an account.
    account_token = token_for(alice, label="acct")
    sso = token_for(external_email="alice@example.com", label="sso")
    sso_rows = api(sso).get(URL).json()["data"]
    assert [r["device_label"] for r in sso_rows] == ["sso"]
    assert sso_rows[0]["prefix"] == "dfoe_"
    account_rows = api(account_token).get(URL).json()["data"]
    assert [r["device_label"] for r in account_rows] == ["acct"]
    account_id = AccessToken.objects.get(token_hash=token_digest(account_token)).id
    assert_envelope(api(sso).delete(f"{URL}/{account_id}"), 404)


# The bearer lookup, the count behind ``total``, the page: the same whatever the number of rows.
SESSIONS_LIST_QUERIES = 3


def _bulk_sessions(account, count, *, sso_email=None, sso_issuer=None):
    """``count`` live sessions of ``account``, or (``account`` None) of the SSO identity
    ``sso_email`` at ``sso_issuer``; each older than the last."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    if account is not None:
        subject = {
            "subject_type": AccessToken.SubjectType.ACCOUNT,
            "subject_email": account.email,
            "subject_issuer": "dify:account",
            "prefix": "dfoa_",
        }
    else:
        subject = {
            "subject_type": AccessToken.SubjectType.EXTERNAL_SSO,
            "subject_email": sso_email,
            "subject_issuer": sso_issuer,
            "prefix": "dfoe_",
        }
    AccessToken.objects.bulk_create(
        AccessToken(
            **subject,
            account=account,
            client_id="difyctl",
            device_label=f"bulk {i}",
            token_hash=uuid.uuid4().hex * 2,
            created_at=now - timedelta(minutes=i + 1),
            expires_at=now + timedelta(days=1),
        )
        for i in range(count)
    )


@pytest.mark.parametrize("rows", [3, 30])
def test_query_count_does_not_grow_with_sessions(
    api, alice, token_for, rows, django_assert_num_queries
):
    client = api(token_for(alice))
    _bulk_sessions(alice, rows - 1)
    client.get(URL)  # the first request of a token also records its last use
    with django_assert_num_queries(SESSIONS_LIST_QUERIES):
        body = client.get(URL).json()
    assert body["total"] == rows and len(body["data"]) == rows


@pytest.mark.shared_services
def test_total_and_page_can_be_read_from_the_live_session_indexes(api, alice, charlie, token_for):
    """The partial indexes match the list's filter: the count is an index-only range count and
    the page is read in index order (no sort of every session)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.plans import plans_with_only

    client = api(token_for(alice))
    _bulk_sessions(alice, 50)
    _bulk_sessions(charlie, 50)
    client.get(URL)
    with CaptureQueriesContext(connection) as captured:
        client.get(URL, {"limit": 10})
    count_sql, page_sql = (q["sql"] for q in captured.captured_queries[-2:])
    assert "COUNT(*)" in count_sql
    count_plan, page_plan = plans_with_only(
        "accounts_accesstoken",
        ["access_token_live_count_idx", "access_token_live_page_idx"],
        [count_sql, page_sql],
    )
    assert "Index Only Scan using access_token_live_count_idx" in count_plan
    assert "Index Scan using access_token_live_page_idx" in page_plan
    assert "Sort" not in page_plan


@pytest.mark.shared_services
def test_an_sso_identitys_sessions_are_read_through_an_index(api, alice, token_for):
    """External (dfoe_) callers have no account to key on: their count and page filter on email
    and issuer, which the live-per-device unique index leads with; no sequential scan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.plans import plans_with_only

    issuer = "https://idp.example.com"
    client = api(token_for(external_email="sso@partner.example", external_issuer=issuer))
    for email in ("sso@partner.example", "other@partner.example"):
        _bulk_sessions(None, 40, sso_email=email, sso_issuer=issuer)
    _bulk_sessions(alice, 40)
    client.get(URL)
    with CaptureQueriesContext(connection) as captured:
        body = client.get(URL, {"limit": 10}).json()
    assert body["total"] == 41 and len(body["data"]) == 10
    count_sql, page_sql = (q["sql"] for q in captured.captured_queries[-2:])
    assert "COUNT(*)" in count_sql and "subject_issuer" in page_sql
    kept = ["uq_access_token_live_per_device"]  # a partial unique index, not a table constraint
    for plan in plans_with_only("accounts_accesstoken", kept, [count_sql, page_sql]):
        assert "Seq Scan" not in plan, plan
        assert "uq_access_token_live_per_device" in plan, plan
