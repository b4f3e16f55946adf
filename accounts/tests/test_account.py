from conftest import assert_envelope


def test_account_returns_identity_workspaces_and_default(alice, bob, charlie, api, token_for):
    response = api(token_for(alice)).get("/openapi/v1/account")
    assert response.status_code == 200
    body = response.json()
    assert body["subject_type"] == "account"
    assert body["subject_email"] == "alice@example.com"
    assert body["subject_issuer"] is None
    assert body["account"] == {"id": str(alice.id), "email": "alice@example.com", "name": "Alice"}
    assert [w["role"] for w in body["workspaces"]] == ["owner"]
    assert body["default_workspace_id"] == body["workspaces"][0]["id"]


def test_account_for_external_subject(api, sso_token):
    response = api(sso_token).get("/openapi/v1/account")
    assert response.status_code == 200
    assert response.json() == {
        "subject_type": "external_sso",
        "subject_email": "sso@partner.example",
        "subject_issuer": "https://idp.example.com",
        "account": None,
        "workspaces": [],
        "default_workspace_id": None,
    }


def test_account_without_token_is_401_envelope(api, db):
    response = api().get("/openapi/v1/account")
    assert_envelope(response, 401, code="unauthorized", message="missing bearer token")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
