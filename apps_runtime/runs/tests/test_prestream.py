"""Everything checkable before a run starts is a JSON error (contract §3.5, §5.15, decisions §5,
§9), answered by the run consumer itself (it bypasses Django's middleware and DRF)."""

from __future__ import annotations

import pytest

from apps_runtime.models import App, AppMode
from apps_runtime.runs.models import Conversation, Run
from apps_runtime.runs.streams import stream_slot_acquire
from apps_runtime.runs.tests.helpers import assert_error, run_path, sse_call
from apps_runtime.tests.factories import (
    form_row,
    make_prompt_app,
    make_workflow_app,
    start_variable,
)


@pytest.fixture
def echo_form(acme):
    """A workflow whose inputs are the demo echo app's: x required, num, enum_var, paragraph."""
    return make_workflow_app(
        acme,
        variables=[
            start_variable("x", required=True),
            start_variable("num", "number"),
            start_variable("enum_var", "select", options=["A", "B", "C"]),
            start_variable("paragraph", "paragraph", max_length=100),
            start_variable("doc", "file"),
            start_variable("agree", "checkbox"),
            start_variable(
                "payload",
                "json_object",
                json_schema={"type": "object", "required": ["id"]},
            ),
        ],
    )


@pytest.fixture
def alice_token(alice, token_for):
    return token_for(alice)


def test_without_a_token_is_401_with_the_bearer_challenge(echo_form):
    response = sse_call("POST", run_path(echo_form), body={"inputs": {}})
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_a_malformed_token_is_401_invalid_token(echo_form):
    response = sse_call("POST", run_path(echo_form), token="dfoa_nope", body={"inputs": {}})
    assert_error(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_an_external_subject_gets_404_for_an_app_it_is_not_permitted(echo_form, sso_token):
    # Contract G2: external subjects run only public / SSO-verified apps; any other is unknown.
    assert echo_form.access_mode not in ("public", "sso_verified")
    response = sse_call("POST", run_path(echo_form), token=sso_token, body={"inputs": {}})
    assert_error(response, 404, message="app not found")


@pytest.mark.parametrize("ref", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_or_malformed_app_is_404(alice_token, ref):
    response = sse_call("POST", f"/openapi/v1/apps/{ref}/run", token=alice_token, body={})
    assert_error(response, 404, message="app not found")


def test_an_outsider_gets_404_even_when_the_api_is_off(echo_form, charlie, token_for):
    App.objects.filter(pk=echo_form.pk).update(enable_api=False)
    response = sse_call(
        "POST", run_path(echo_form), token=token_for(charlie), body={"inputs": {"x": "1"}}
    )
    assert_error(response, 404, message="app not found")


def test_a_member_with_the_service_api_off_gets_403(echo_form, bob, token_for):
    App.objects.filter(pk=echo_form.pk).update(enable_api=False)
    response = sse_call("POST", run_path(echo_form), token=token_for(bob), body={"inputs": {}})
    assert_error(response, 403, code="service_api_disabled")


def test_get_is_405(echo_form, alice_token):
    response = sse_call("GET", run_path(echo_form), token=alice_token)
    assert_error(response, 405)


def test_an_agent_with_a_strategy_this_server_lacks_is_unavailable(acme, alice_token):
    app = make_prompt_app(
        acme, mode=AppMode.AGENT_CHAT, config={"agent_mode": {"strategy": "plan_and_execute"}}
    )
    response = sse_call("POST", run_path(app), token=alice_token, body={"inputs": {}, "query": "q"})
    assert_error(
        response,
        400,
        code="app_unavailable",
        message="the agent strategy 'plan_and_execute' is not runnable on this server",
    )


def test_a_node_the_engine_cannot_run_is_unavailable_naming_its_type(acme, alice_token):
    app = make_workflow_app(acme)
    version = app.published_workflow
    version.graph["nodes"].insert(1, {"id": "kb", "data": {"type": "knowledge-retrieval"}})
    version.graph["nodes"].insert(2, {"id": "ds", "data": {"type": "datasource", "title": "Src"}})
    version.save()
    response = sse_call("POST", run_path(app), token=alice_token, body={"inputs": {}})
    assert_error(
        response,
        400,
        code="app_unavailable",
        message="the app uses node types this server cannot run: datasource, knowledge-retrieval",
    )
    assert not Run.objects.exists()


def test_a_model_node_without_any_provider_is_refused_before_the_stream(
    acme, alice_token, settings
):
    settings.OPENAI_BASE_URL = ""
    app = make_workflow_app(acme)
    version = app.published_workflow
    version.graph["nodes"].insert(
        1,
        {
            "id": "qc",
            "data": {
                "type": "question-classifier",
                "model": {"provider": "langgenius/openai/openai", "name": "m"},
                "classes": [{"id": "1", "name": "a"}],
            },
        },
    )
    version.save()
    response = sse_call("POST", run_path(app), token=alice_token, body={"inputs": {}})
    assert response.status == 400 and response.json()["code"] == "provider_not_initialize"
    assert not Run.objects.exists()


@pytest.mark.parametrize("mode", [AppMode.CHANNEL, AppMode.RAG_PIPELINE])
def test_channel_and_pipeline_modes_are_not_runnable(acme, alice_token, mode):
    app = make_prompt_app(acme, mode=mode)
    response = sse_call("POST", run_path(app), token=alice_token, body={"inputs": {}})
    assert_error(response, 422, code="invalid_param", message="mode_not_runnable")


@pytest.mark.parametrize("query", [None, "", "   "])
def test_chat_needs_a_query(acme, alice_token, query):
    app = make_workflow_app(acme, mode=AppMode.ADVANCED_CHAT)
    body = {"inputs": {}} if query is None else {"inputs": {}, "query": query}
    response = sse_call("POST", run_path(app), token=alice_token, body=body)
    assert_error(response, 422, code="invalid_param", message="query_required_for_chat")


def test_a_workflow_refuses_a_query_even_empty(echo_form, alice_token):
    response = sse_call(
        "POST", run_path(echo_form), token=alice_token, body={"inputs": {"x": "a"}, "query": ""}
    )
    assert_error(response, 422, code="invalid_param", message="query_not_supported_for_workflow")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "x is required"),
        ({"x": None}, "x is required"),
        ({"x": "a", "num": "abc"}, "num must be a number"),
        ({"x": "a", "num": [1]}, "num must be a number"),
        ({"x": "a", "enum_var": "D"}, "enum_var must be one of: A, B, C"),
        ({"x": "a", "paragraph": "p" * 101}, "paragraph must be less than 100 characters"),
        ({"x": 5}, "x must be a string"),
        ({"x": "a", "agree": "maybe"}, "agree must be a boolean"),
        ({"x": "a", "payload": [1]}, "payload must be a JSON object"),
        (
            {"x": "a", "doc": {"transfer_method": "local_file", "upload_file_id": "u"}},
            None,
        ),
        ({"x": "a", "doc": {"transfer_method": "remote_url", "url": "http://10.0.0.1/a"}}, None),
        ({"x": "a", "doc": {"transfer_method": "remote_url", "url": "ftp://h/a"}}, None),
    ],
)
def test_each_input_error_is_a_422_naming_the_variable(echo_form, alice_token, inputs, message):
    response = sse_call("POST", run_path(echo_form), token=alice_token, body={"inputs": inputs})
    body = assert_error(response, 422, code="invalid_param")
    if message is not None:
        assert body["message"] == message
    else:
        assert body["message"].startswith("doc")
    assert not Run.objects.exists()


def test_inputs_are_required_and_an_object(echo_form, alice_token):
    for body, message in (({}, "inputs is required"), ({"inputs": []}, "inputs must be an object")):
        response = sse_call("POST", run_path(echo_form), token=alice_token, body=body)
        assert_error(response, 422, message=message)
    # An empty body counts as {} (contract §5.15).
    response = sse_call("POST", run_path(echo_form), token=alice_token, raw=b"")
    assert_error(response, 422, message="inputs is required")


@pytest.mark.parametrize("raw", [b"{nope", b'{"inputs": {"x": "a"},}', b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400_invalid_json(echo_form, alice_token, raw):
    # Decisions 22: a typo is named as invalid JSON, like every other JSON route, not turned
    # into "inputs is required".
    response = sse_call("POST", run_path(echo_form), token=alice_token, raw=raw)
    body = assert_error(response, 400, code="bad_request")
    assert body["message"].startswith("Invalid JSON payload")
    assert not Run.objects.exists()


def test_conversation_id_must_be_a_uuid(acme, alice_token):
    app = make_workflow_app(acme, mode=AppMode.ADVANCED_CHAT)
    response = sse_call(
        "POST",
        run_path(app),
        token=alice_token,
        body={"inputs": {}, "query": "hi", "conversation_id": "nope"},
    )
    assert_error(response, 422, message="conversation_id must be a valid UUID")


def test_unknown_foreign_or_other_app_conversation_is_404(acme, alice, bob, token_for):
    app = make_workflow_app(acme, mode=AppMode.ADVANCED_CHAT)
    other_app = make_workflow_app(acme, mode=AppMode.ADVANCED_CHAT)
    bobs = Conversation.objects.create(
        app=app, subject_type="account", subject_email=bob.email, account=bob
    )
    alices_elsewhere = Conversation.objects.create(
        app=other_app, subject_type="account", subject_email=alice.email, account=alice
    )
    token = token_for(alice)
    for conversation in ("4f0c5d8e-1111-4222-8333-944445555666", bobs.id, alices_elsewhere.id):
        response = sse_call(
            "POST",
            run_path(app),
            token=token,
            body={"inputs": {}, "query": "hi", "conversation_id": str(conversation)},
        )
        assert_error(response, 404, message="Conversation Not Exists.")
    assert not Run.objects.exists()


def test_an_oversize_body_is_413(echo_form, alice_token, settings):
    settings.MAX_REQUEST_BODY_BYTES = 2048
    response = sse_call(
        "POST", run_path(echo_form), token=alice_token, body={"inputs": {"x": "y" * 5000}}
    )
    assert_error(response, 413)


def test_streams_per_token_are_capped(echo_form, alice, token_for, settings):
    from accounts.models import AccessToken

    settings.SSE_MAX_STREAMS_PER_TOKEN = 1
    token = token_for(alice)
    stream_slot_acquire(str(AccessToken.objects.get(device_label__startswith="test").id))
    response = sse_call("POST", run_path(echo_form), token=token, body={"inputs": {"x": "a"}})
    assert_error(response, 429, code="too_many_requests")
    assert "retry-after" in response.headers


def test_run_starts_per_minute_are_limited(echo_form, alice_token, settings, monkeypatch):
    from apps_runtime.runs import prestream

    settings.RUN_STARTS_PER_MINUTE = 1
    submitted = []
    monkeypatch.setattr(prestream, "get_executor", lambda: _Recorder(submitted))
    monkeypatch.setattr(prestream, "plan_for_started_run", lambda run, key: _closed_plan(run, key))
    first = sse_call("POST", run_path(echo_form), token=alice_token, body={"inputs": {"x": "a"}})
    assert first.status == 200
    second = sse_call("POST", run_path(echo_form), token=alice_token, body={"inputs": {"x": "a"}})
    assert_error(second, 429)
    assert "retry-after" in second.headers
    assert len(submitted) == 1


def test_a_full_executor_is_429_and_leaves_no_run(echo_form, alice_token, monkeypatch):
    from apps_runtime.runs import prestream
    from apps_runtime.runs.executor import ExecutorFull

    class Full:
        def submit(self, kind, run_id):
            raise ExecutorFull()

    monkeypatch.setattr(prestream, "get_executor", lambda: Full())
    response = sse_call("POST", run_path(echo_form), token=alice_token, body={"inputs": {"x": "a"}})
    assert_error(response, 429, code="too_many_requests")
    assert not Run.objects.exists()


def test_a_chat_app_without_a_query_rule_checks_inputs_too(acme, alice_token):
    app = make_prompt_app(acme, mode=AppMode.COMPLETION, form=[form_row("topic", required=True)])
    response = sse_call("POST", run_path(app), token=alice_token, body={"inputs": {}})
    assert_error(response, 422, message="topic is required")


class _Recorder:
    def __init__(self, submitted):
        self.submitted = submitted

    def submit(self, kind, run_id):
        self.submitted.append((kind, run_id))


def _closed_plan(run, key):
    from apps_runtime.runs.consumers import StreamPlan

    return StreamPlan(task_id=str(run.id), mode=run.mode, token_key=key, live=False)


def test_the_sse_endpoints_are_in_the_schema_as_event_streams(client):
    schema = client.get("/openapi/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, method in (
        ("/openapi/v1/apps/{app_id}/run", "post"),
        ("/openapi/v1/apps/{app_id}:run", "post"),
        ("/openapi/v1/apps/{app_id}/tasks/{task_id}/events", "get"),
    ):
        operation = schema["paths"][path][method]
        assert "text/event-stream" in operation["responses"]["200"]["content"]
        assert {"401", "403", "404", "429"} <= set(operation["responses"])


def test_workflow_id_names_a_published_version_of_this_app(echo_form, alice_token, acme):
    from apps_runtime.models import WorkflowVersion

    draft = WorkflowVersion.objects.create(app=echo_form, version=WorkflowVersion.DRAFT)
    other = make_workflow_app(acme).published_workflow
    cases = [
        ("not-a-uuid", 400),
        (str(draft.id), 400),
        (str(other.id), 404),
        ("7d9f0c1e-2222-4333-8444-955556666777", 404),
    ]
    for workflow_id, status in cases:
        response = sse_call(
            "POST",
            run_path(echo_form),
            token=alice_token,
            body={"inputs": {"x": "a"}, "workflow_id": workflow_id},
        )
        assert_error(response, status)
    assert not Run.objects.exists()
