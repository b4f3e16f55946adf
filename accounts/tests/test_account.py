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


def test_workspaces_in_order_with_current_as_default_and_changes_seen_at_once(
    alice, acme, api, token_for
):
    from workspaces.models import Membership, Workspace

    Membership.objects.filter(workspace=acme, account=alice).update(current=False)
    extra = [Workspace.objects.create(name=f"W{i}") for i in range(4)]
    for index, workspace in enumerate(extra):
        Membership.objects.create(
            workspace=workspace, account=alice, role="normal", current=index == 2
        )
    client = api(token_for(alice))
    body = client.get("/openapi/v1/account").json()
    assert [w["name"] for w in body["workspaces"]] == ["Acme", "W0", "W1", "W2", "W3"]
    assert [w["role"] for w in body["workspaces"]] == ["owner"] + ["normal"] * 4
    assert body["default_workspace_id"] == str(extra[2].id)
    listed = client.get("/openapi/v1/workspaces").json()["workspaces"]
    assert [(w["name"], w["current"], w["status"]) for w in listed] == [
        ("Acme", False, "normal"),
        ("W0", False, "normal"),
        ("W1", False, "normal"),
        ("W2", True, "normal"),
        ("W3", False, "normal"),
    ]

    Membership.objects.filter(workspace=extra[1], account=alice).delete()
    Workspace.objects.filter(pk=extra[3].pk).update(name="Renamed")
    body = client.get("/openapi/v1/account").json()
    assert [w["name"] for w in body["workspaces"]] == ["Acme", "W0", "W2", "Renamed"]


def test_account_and_workspaces_read_the_caller_in_one_query(
    alice, bob, api, token_for, django_assert_num_queries
):
    from django.db import connection

    client = api(token_for(alice))
    client.get("/openapi/v1/account")  # the once-a-minute last_used_at write
    # PostgreSQL reads the token, account and memberships in one round trip; SQLite in two.
    expected = 1 if connection.vendor == "postgresql" else 2
    for path in ("/openapi/v1/account", "/openapi/v1/workspaces"):
        with django_assert_num_queries(expected):
            assert client.get(path).status_code == 200
