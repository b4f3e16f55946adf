"""Text no database can store is refused at the edge, naming the field (issue 16 item 7).

An unpaired surrogate (JSON ``"\\ud800"``) or a NUL (``"\\u0000"``, ``%00``) used to be a 500 on
PostgreSQL (and an empty stream on SQLite) wherever it was first written. Now the JSON parser, the
run endpoint's own body parsing, and a middleware for query parameters, form-encoded bodies and
headers answer 422 ``invalid_param`` in the envelope, with the field in ``loc`` and the message.
Run on both databases (CI's two runs).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from apps_runtime.forms.tests.conftest import pause_run, workflow_app  # noqa: F401 (fixtures)
from conftest import TEST_PASSWORD, assert_envelope

BAD = ["\ud800", "a\udc00b", "x\x00"]
NOT_TEXT = "is not valid text"


def raw_json(value: Any) -> str:
    """JSON text with the bad characters written as escapes, as a client would send them."""
    return json.dumps(value, ensure_ascii=True)


def assert_names(response: Any, loc: list[str]) -> None:
    body = assert_envelope(response, 422, code="invalid_param")
    assert body["message"].startswith(".".join(loc) + ": "), body
    assert NOT_TEXT in body["message"]
    assert body["details"][0]["loc"] == loc


@pytest.fixture
def quiet(caplog):
    """No error (traceback) is logged by a refused request."""
    yield
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("bad", BAD)
def test_run_inputs_chat_query_and_keys_on_the_asgi_run_endpoint(acme, alice, token_for, bad):
    from apps_runtime.runs.models import Run
    from apps_runtime.runs.tests.helpers import run_path, sse_call
    from apps_runtime.tests.factories import make_prompt_app, make_workflow_app, start_variable

    token = token_for(alice)
    workflow = make_workflow_app(acme, variables=[start_variable("topic")])
    cases = [
        (workflow, {"inputs": {"topic": "ok " + bad}}, ["inputs", "topic"]),
        (workflow, {"inputs": {"topic": "ok", "k" + bad: "v"}}, ["inputs"]),
        (make_prompt_app(acme), {"inputs": {}, "query": bad + " hello"}, ["query"]),
        (workflow, {"inputs": {"topic": "ok"}, "user": bad}, ["user"]),
    ]
    for app, body, loc in cases:
        response = sse_call("POST", run_path(app), token=token, raw=raw_json(body).encode())
        assert response.status == 422, (body, response.status, response.body[:300])
        payload = response.json()
        assert payload["code"] == "invalid_param" and NOT_TEXT in payload["message"]
        assert payload["details"][0]["loc"][: len(loc)] == loc, payload
    assert not Run.objects.exists()


def test_a_form_answer(alice, api, token_for, pause_run, quiet):  # noqa: F811
    paused = pause_run(alice)
    url = f"/openapi/v1/apps/{paused.run.app_id}/form/human_input/{paused.token}"
    client = api(token_for(alice))
    body = raw_json({"action": "approve", "inputs": {"comment": "fine\ud83d"}})
    assert_names(client.post(url, body, content_type="application/json"), ["inputs", "comment"])
    paused.form.refresh_from_db()
    assert paused.form.status != "submitted"
    # A good answer still goes through afterwards (nothing was used up).
    good = client.post(url, {"action": "approve", "inputs": {"comment": "ok"}}, format="json")
    assert good.status_code == 200, good.content


@pytest.mark.parametrize("bad", BAD)
def test_json_routes_anonymous_and_bearer(bad, acme, alice, api, token_for, quiet):
    device = Client().post(
        "/openapi/v1/oauth/device/code",
        raw_json({"client_id": "difyctl", "device_label": "laptop " + bad}),
        content_type="application/json",
    )
    assert_names(device, ["device_label"])
    owner = api(token_for(alice))
    invite = owner.post(
        f"/openapi/v1/workspaces/{acme.id}/members",
        raw_json({"email": "new@example.com", "role": "normal", "note": [1, {"x": bad}]}),
        content_type="application/json",
    )
    assert_names(invite, ["note", "1", "x"])
    imported = owner.post(
        f"/openapi/v1/workspaces/{acme.id}/apps/imports",
        raw_json({"mode": "yaml-content", "yaml_content": "app:\n  name: " + bad}),
        content_type="application/json",
    )
    assert_names(imported, ["yaml_content"])


@pytest.mark.parametrize("bad", ["\x00", "a\x00"])
def test_query_parameters_and_headers(bad, acme, alice, api, token_for, quiet):
    owner = api(token_for(alice))
    listed = owner.get("/openapi/v1/apps", {"workspace_id": str(acme.id), "name": bad})
    assert_names(listed, ["name"])
    members = owner.get(f"/openapi/v1/workspaces/{acme.id}/members", {"keyword": bad})
    assert_names(members, ["keyword"])
    device = Client(HTTP_USER_AGENT="difyctl/1.0 " + bad).post(
        "/openapi/v1/oauth/device/code",
        {"client_id": "difyctl", "device_label": "laptop"},
        content_type="application/json",
    )
    assert_names(device, ["User-Agent"])


def test_a_form_encoded_page(acme, alice, api, token_for, quiet):
    """The invitation page (a server-rendered form) gets the same check before its view."""
    from accounts.models import Account

    body = (
        api(token_for(alice))
        .post(
            f"/openapi/v1/workspaces/{acme.id}/members",
            {"email": "ivy@example.com", "role": "normal"},
            format="json",
        )
        .json()
    )
    path = "/" + body["invite_url"].split("/", 3)[3]
    response = Client().post(
        path, {"name": "Ivy\x00", "password": TEST_PASSWORD, "password_confirm": TEST_PASSWORD}
    )
    assert_names(response, ["name"])  # multipart, as the test client sends a dict
    encoded = Client().post(
        path,
        f"name=Ivy%00&password={TEST_PASSWORD}&password_confirm={TEST_PASSWORD}",
        content_type="application/x-www-form-urlencoded",
    )
    assert_names(encoded, ["name"])  # url-encoded, as a browser sends the form
    assert Account.objects.get(email="ivy@example.com").status == "pending"
    done = Client().post(
        path, {"name": "Ivy", "password": TEST_PASSWORD, "password_confirm": TEST_PASSWORD}
    )
    assert done.status_code == 200


def test_valid_astral_text_and_escaped_pairs_pass(acme, alice, api, token_for):
    """A surrogate *pair* is one ordinary character: only unpaired ones are refused."""
    owner = api(token_for(alice))
    response = owner.post(
        "/openapi/v1/oauth/device/code",
        '{"client_id": "difyctl", "device_label": "laptop \\ud83d\\ude00 \U0001d426"}',
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def test_an_upload_field(acme, alice, api, token_for, quiet):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps_runtime.tests.factories import make_workflow_app

    app = make_workflow_app(acme)
    client = api(token_for(alice))
    url = f"/openapi/v1/apps/{app.id}/files/upload"
    note = {"file": SimpleUploadedFile("a.txt", b"hello"), "note": "x\x00"}
    assert_names(client.post(url, note, format="multipart"), ["note"])
    ok = client.post(url, {"file": SimpleUploadedFile("a.txt", b"hello")}, format="multipart")
    assert ok.status_code == 201, ok.content
