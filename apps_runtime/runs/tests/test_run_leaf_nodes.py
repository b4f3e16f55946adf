"""The classifier, extractor, list-operator and document-extractor nodes end to end: a DSL app
(fixtures/) imported, run through POST /openapi/v1/apps/{id}/run, the model played by the
recording local server; an edited copy of each fixture changes the output."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps_runtime.engine.nodes.parameter_extractor import TOOL_NAME
from apps_runtime.engine.nodes.parameter_extractor import system_prompt as extractor_prompt
from apps_runtime.engine.nodes.question_classifier import Category
from apps_runtime.engine.nodes.question_classifier import system_prompt as classifier_prompt
from apps_runtime.engine.tests.sample_documents import make_docx, make_pdf
from apps_runtime.runs.models import NodeExecution
from apps_runtime.runs.tests.helpers import run_path, sse_call
from apps_runtime.runs.tests.test_run_e2e import assert_framed, import_app

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def token(alice, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    return token_for(alice)


def _answer(response) -> str:
    return "".join(e["answer"] for e in response.events if e["event"] == "message")


def _node(response, node_id: str) -> dict:
    return next(
        e["data"]
        for e in response.events
        if e["event"] == "node_finished" and e["data"]["node_id"] == node_id
    )


# --- question-classifier ------------------------------------------------------------------------


def test_the_classifier_routes_a_chat_turn_and_sends_the_exact_prompt(acme, alice, token, llm_env):
    app = import_app(acme, alice, FIXTURES / "classifier_chat.yml")
    llm_env.answer('{"category_id": "1", "category_name": "Shipping and delivery"}', once=True)
    llm_env.answer('{"category_id": "2"}', usage=(40, 6), once=True)
    first = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {}, "query": "Where is my box?"}
    )
    assert_framed(first)
    assert _answer(first) == "Shipping desk (Shipping and delivery)"
    second = sse_call(
        "POST",
        run_path(app),
        token=token,
        body={
            "inputs": {},
            "query": "I was charged twice",
            "conversation_id": first.events[-1]["conversation_id"],
        },
    )
    assert _answer(second) == "Billing desk (Invoices and payments)"
    assert second.names[-2:] == ["workflow_finished", "message_end"]
    router = _node(second, "router")
    assert router["node_type"] == "question-classifier"
    assert router["outputs"]["class_id"] == "2" and router["outputs"]["class_label"] == "CLASS 2"
    assert router["outputs"]["usage"]["total_tokens"] == 46
    assert second.events[-1]["metadata"]["usage"]["total_tokens"] == 46

    body = llm_env.requests[-1].body
    assert body["model"] == "router-model" and body["temperature"] == 0
    assert "tools" not in body
    classes = [
        Category("1", "Shipping and delivery", ""),
        Category("2", "Invoices and payments", ""),
    ]
    assert body["messages"] == [
        {"role": "system", "content": classifier_prompt(classes, "The customer asked on turn 2.")},
        {"role": "user", "content": "Where is my box?"},
        {"role": "assistant", "content": "Shipping desk (Shipping and delivery)"},
        {"role": "user", "content": "I was charged twice"},
    ]


def test_an_edited_classifier_routes_by_its_own_classes(acme, alice, token, llm_env):
    def edit(document):
        router = document["workflow"]["graph"]["nodes"][1]["data"]
        router["classes"] = [
            {"id": "1", "name": "Returns", "label": "R"},
            {"id": "2", "name": "Sales", "label": "S"},
        ]

    app = import_app(acme, alice, FIXTURES / "classifier_chat.yml", edit)
    llm_env.answer("Sales")  # a bare class name is understood too
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {}, "query": "q"})
    assert _answer(response) == "Billing desk (Sales)"
    assert _node(response, "router")["outputs"]["class_label"] == "S"
    llm_env.answer("no idea")  # unreadable: the first class
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {}, "query": "q"})
    assert _answer(response) == "Shipping desk (Returns)"


# --- parameter-extractor ------------------------------------------------------------------------


def test_the_extractor_calls_the_tool_and_outputs_typed_values(acme, alice, token, llm_env):
    app = import_app(acme, alice, FIXTURES / "extractor_workflow.yml")
    llm_env.answer_tool_calls([(TOOL_NAME, {"city": "Oslo", "nights": "3", "room": "double"})])
    request = "Three nights in Oslo, double room"
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {"request": request}})
    assert_framed(response)
    finished = response.events[-1]["data"]
    assert finished["status"] == "succeeded"
    assert finished["outputs"] == {
        "city": "Oslo",
        "nights": 3,
        "room": "double",
        "ok": 1,
        "reason": None,
    }
    body = llm_env.requests[-1].body
    assert body["model"] == "extractor-model"
    assert body["tool_choice"] == {"type": "function", "function": {"name": TOOL_NAME}}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": TOOL_NAME,
                "description": "Record the parameters found in the user's input.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "Destination city"},
                        "nights": {"type": "number", "description": "Number of nights"},
                        "room": {
                            "type": "string",
                            "enum": ["single", "double"],
                            "description": "Room type",
                        },
                    },
                    "required": ["city", "nights"],
                },
            },
        }
    ]
    from apps_runtime.engine.nodes.parameter_extractor import declared_parameters

    data = app.published_workflow.graph["nodes"][1]["data"]
    assert body["messages"] == [
        {
            "role": "system",
            "content": extractor_prompt(
                declared_parameters(data), "Dates are relative to today.", tools=True
            ),
        },
        {"role": "user", "content": request},
    ]


def test_a_missing_required_parameter_is_not_a_success_and_not_a_crash(acme, alice, token, llm_env):
    app = import_app(acme, alice, FIXTURES / "extractor_workflow.yml")
    llm_env.answer_tool_calls([(TOOL_NAME, {"city": "Oslo", "room": "suite"})])
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {"request": "x"}})
    finished = response.events[-1]["data"]
    assert finished["status"] == "succeeded"
    assert finished["outputs"]["ok"] == 0
    assert finished["outputs"]["reason"] == (
        "Parameter nights is required; Parameter room must be one of: single, double"
    )


def test_an_edited_extractor_in_prompt_mode_reads_a_json_answer(acme, alice, token, llm_env):
    def edit(document):
        data = document["workflow"]["graph"]["nodes"][1]["data"]
        data["reasoning_mode"] = "prompt"
        data["parameters"][1]["type"] = "string"

    app = import_app(acme, alice, FIXTURES / "extractor_workflow.yml", edit)
    llm_env.answer('```json\n{"city": "Rome", "nights": 2}\n```')
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {"request": "r"}})
    outputs = response.events[-1]["data"]["outputs"]
    assert (outputs["city"], outputs["nights"], outputs["ok"]) == ("Rome", "2", 1)
    assert "tools" not in llm_env.requests[-1].body


# --- list-operator --------------------------------------------------------------------------------


def test_the_list_operator_filters_sorts_and_limits(acme, alice, token):
    app = import_app(acme, alice, FIXTURES / "list_workflow.yml")
    inputs = {"payload": {"scores": [12, 88, 45, 3, 91, 67]}, "floor": 40}
    response = sse_call("POST", run_path(app), token=token, body={"inputs": inputs})
    assert_framed(response)
    assert response.events[-1]["data"]["outputs"] == {
        "result": [91, 88, 67],
        "best": 91,
        "third": 67,
    }


def test_an_edited_list_operator_extracts_from_an_ascending_list(acme, alice, token):
    def edit(document):
        data = document["workflow"]["graph"]["nodes"][1]["data"]
        data["order_by"]["value"] = "asc"
        data["extract_by"] = {"enabled": True, "serial": "2"}

    app = import_app(acme, alice, FIXTURES / "list_workflow.yml", edit)
    inputs = {"payload": {"scores": [12, 88, 45, 3, 91, 67]}, "floor": 40}
    response = sse_call("POST", run_path(app), token=token, body={"inputs": inputs})
    # Extraction comes before the sort: the second of the filtered [88, 45, 91, 67].
    assert response.events[-1]["data"]["outputs"] == {"result": [45], "best": 45, "third": 45}


# --- document-extractor ---------------------------------------------------------------------------


@pytest.fixture
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _upload(client, app, name: str, content: bytes) -> str:
    response = client.post(
        f"/openapi/v1/apps/{app.id}/files",
        {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _local(upload_id: str) -> dict:
    return {"type": "document", "transfer_method": "local_file", "upload_file_id": upload_id}


@pytest.mark.usefixtures("_media")
def test_the_document_extractor_reads_an_uploaded_pdf_and_docx(acme, alice, token, api):
    app = import_app(acme, alice, FIXTURES / "document_workflow.yml")
    client = api(token)
    pdf = _upload(client, app, "terms.pdf", make_pdf(["Terms of sale", "Returns in 30 days"]))
    docx = _upload(client, app, "memo.docx", make_docx(["Meeting at noon"], [["who"], ["Ann"]]))
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {"docs": [_local(pdf), _local(docx)]}}
    )
    assert_framed(response)
    assert response.events[-1]["data"]["outputs"] == {
        "texts": [
            "Terms of sale\n\nReturns in 30 days",
            "Meeting at noon\n| who |\n| --- |\n| Ann |",
        ]
    }


@pytest.mark.usefixtures("_media")
def test_an_unreadable_upload_fails_the_node_naming_the_file(acme, alice, token, api):
    app = import_app(acme, alice, FIXTURES / "document_workflow.yml")
    bad = _upload(api(token), app, "broken.pdf", b"%PDF-1.4 this is not really a pdf")
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {"docs": [_local(bad)]}}
    )
    assert response.names[-2:] == ["workflow_finished", "error"]
    node = _node(response, "extract")
    assert node["status"] == "failed" and "'broken.pdf'" in node["error"]
    assert NodeExecution.objects.get(node_id="extract").status == "failed"


@pytest.mark.usefixtures("_media")
def test_an_edited_document_extractor_reads_a_single_file(acme, alice, token, api, settings):
    def edit(document):
        nodes = document["workflow"]["graph"]["nodes"]
        nodes[0]["data"]["variables"][0]["type"] = "file"
        nodes[1]["data"]["is_array_file"] = False

    app = import_app(acme, alice, FIXTURES / "document_workflow.yml", edit)
    upload_id = _upload(api(token), app, "one.docx", make_docx(["Only paragraph"]))
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {"docs": _local(upload_id)}}
    )
    assert response.events[-1]["data"]["outputs"] == {"texts": "Only paragraph"}
    settings.DOCUMENT_EXTRACTOR_MAX_BYTES = 100
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {"docs": _local(upload_id)}}
    )
    assert "'one.docx'" in _node(response, "extract")["error"]
    assert "larger than 100 bytes" in _node(response, "extract")["error"]
