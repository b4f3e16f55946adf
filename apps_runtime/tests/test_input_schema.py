"""Describe's ``input_schema`` (contract §5.14), checked with the ``jsonschema`` library."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

import apps_runtime
from accounts.audit import Actor
from apps_runtime.describe import input_schema_from_form, user_input_form_from_start
from apps_runtime.models import AppMode
from apps_runtime.tests.factories import (
    AppFactory,
    form_row,
    make_prompt_app,
    make_workflow_app,
    start_variable,
)

TEST_ACTOR = Actor.operator("pytest")

DIALECT = "https://json-schema.org/draft/2020-12/schema"
FILE = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "transfer_method": {"type": "string"},
        "url": {"type": "string"},
        "upload_file_id": {"type": "string"},
    },
    "additionalProperties": True,
}
A_FILE = {"type": "document", "transfer_method": "remote_url", "url": "https://x.example/a.pdf"}

EVERY_TYPE = [
    start_variable("x", "text-input", label="X value", required=True, max_length=10),
    start_variable("paragraph", "paragraph", max_length=100),
    start_variable("free_text", "text-input", max_length=0),
    start_variable("enum_var", "select", options=["A", "B", "C"], required=True),
    start_variable("num", "number"),
    start_variable("doc", "file", allowed_file_types=["document"]),
    start_variable("docs", "file-list", max_length=3, required=True),
    start_variable("flag", "checkbox"),
    start_variable("blob", "json_object"),
    {"type": "text-input", "label": "no variable", "required": True},
]


@pytest.fixture
def client(alice, api, token_for):
    return api(token_for(alice))


def schema_of(client, app):
    response = client.get(f"/openapi/v1/apps/{app.id}/describe", {"fields": "input_schema"})
    assert response.status_code == 200, response.content
    schema = response.json()["input_schema"]
    Draft202012Validator.check_schema(schema)
    return schema


def errors(schema, instance):
    return sorted(e.message for e in Draft202012Validator(schema).iter_errors(instance))


def test_every_input_type_of_a_workflow(client, acme):
    app = make_workflow_app(acme, variables=EVERY_TYPE)
    assert schema_of(client, app) == {
        "$schema": DIALECT,
        "type": "object",
        "properties": {
            "inputs": {
                "type": "object",
                "properties": {
                    "x": {"type": "string", "title": "X value", "maxLength": 10},
                    "paragraph": {"type": "string", "title": "Paragraph", "maxLength": 100},
                    "free_text": {"type": "string", "title": "Free Text"},
                    "enum_var": {"type": "string", "title": "Enum Var", "enum": ["A", "B", "C"]},
                    "num": {"type": "number", "title": "Num"},
                    "doc": {**FILE, "title": "Doc"},
                    "docs": {"type": "array", "title": "Docs", "items": FILE},
                },
                "required": ["x", "enum_var", "docs"],
                "additionalProperties": False,
            },
        },
        "required": ["inputs"],
    }


VALID = {"x": "hi", "enum_var": "B", "docs": []}


@pytest.mark.parametrize(
    "inputs",
    [
        VALID,
        {**VALID, "x": "0123456789", "paragraph": "p" * 100, "free_text": "f" * 5000},
        {**VALID, "num": 3},
        {**VALID, "num": 2.5},
        {**VALID, "num": -1},
        {**VALID, "doc": A_FILE},
        {**VALID, "doc": {**A_FILE, "extra": 1}},
        {**VALID, "docs": [A_FILE, {"transfer_method": "local_file", "upload_file_id": "u1"}]},
        {**VALID, "enum_var": "A"},
        {**VALID, "enum_var": "C"},
    ],
)
def test_valid_samples(client, acme, inputs):
    schema = schema_of(client, make_workflow_app(acme, variables=EVERY_TYPE))
    assert errors(schema, {"inputs": inputs}) == []


@pytest.mark.parametrize(
    ("instance", "fragment"),
    [
        ({}, "'inputs' is a required property"),
        ({"inputs": []}, "is not of type 'object'"),
        ({"inputs": {"enum_var": "A", "docs": []}}, "'x' is a required property"),
        ({"inputs": {"x": "hi", "docs": []}}, "'enum_var' is a required property"),
        ({"inputs": {**VALID, "x": "01234567890"}}, "is too long"),
        ({"inputs": {**VALID, "x": 5}}, "is not of type 'string'"),
        ({"inputs": {**VALID, "paragraph": "p" * 101}}, "is too long"),
        ({"inputs": {**VALID, "enum_var": "D"}}, "is not one of ['A', 'B', 'C']"),
        ({"inputs": {**VALID, "enum_var": "a"}}, "is not one of ['A', 'B', 'C']"),
        ({"inputs": {**VALID, "num": "5"}}, "is not of type 'number'"),
        ({"inputs": {**VALID, "doc": "https://x.example/a.pdf"}}, "is not of type 'object'"),
        ({"inputs": {**VALID, "doc": {"type": 1}}}, "is not of type 'string'"),
        ({"inputs": {**VALID, "docs": A_FILE}}, "is not of type 'array'"),
        ({"inputs": {**VALID, "docs": ["a.pdf"]}}, "is not of type 'object'"),
        ({"inputs": {**VALID, "unknown": 1}}, "Additional properties are not allowed"),
        ({"inputs": {**VALID, "flag": True}}, "Additional properties are not allowed"),
    ],
)
def test_invalid_samples(client, acme, instance, fragment):
    schema = schema_of(client, make_workflow_app(acme, variables=EVERY_TYPE))
    found = errors(schema, instance)
    assert any(fragment in message for message in found), found


@pytest.mark.parametrize("mode", [AppMode.CHAT, AppMode.AGENT_CHAT])
def test_chat_family_prompt_apps_require_a_query(client, acme, mode):
    app = make_prompt_app(acme, mode=mode, form=[form_row("topic", required=True, max_length=5)])
    schema = schema_of(client, app)
    assert schema["properties"]["query"] == {"type": "string", "minLength": 1}
    assert schema["required"] == ["query", "inputs"]
    assert errors(schema, {"query": "hi", "inputs": {"topic": "cats"}}) == []
    assert errors(schema, {"inputs": {"topic": "cats"}}) == ["'query' is a required property"]
    assert len(errors(schema, {"query": "", "inputs": {"topic": "cats"}})) == 1
    assert errors(schema, {"query": "hi", "inputs": {"topic": "kittens"}}) == [
        "'kittens' is too long"
    ]


def test_advanced_chat_requires_a_query(client, acme):
    app = make_workflow_app(acme, mode=AppMode.ADVANCED_CHAT, variables=[start_variable("x")])
    schema = schema_of(client, app)
    assert schema["required"] == ["query", "inputs"]
    assert list(schema["properties"]) == ["query", "inputs"]
    assert errors(schema, {"query": "hello", "inputs": {}}) == []


@pytest.mark.parametrize("mode", [AppMode.COMPLETION, AppMode.WORKFLOW])
def test_no_query_outside_the_chat_family(client, acme, mode):
    app = (
        make_workflow_app(acme, mode=mode)
        if mode == AppMode.WORKFLOW
        else make_prompt_app(acme, mode=mode)
    )
    schema = schema_of(client, app)
    assert list(schema["properties"]) == ["inputs"]
    assert errors(schema, {"inputs": {}}) == []
    assert errors(schema, {"query": "x", "inputs": {}}) == []  # extra top-level keys are allowed


def test_prompt_app_form_types(client, acme):
    app = make_prompt_app(
        acme,
        mode=AppMode.COMPLETION,
        form=[
            form_row("subject", "text-input", label="Subject", required=True, max_length=20),
            form_row("body", "paragraph", label="", max_length=None),
            form_row("tone", "select", options=["formal", "casual"]),
            form_row("words", "number", required="true"),
            {"external_data_tool": {"variable": "weather", "label": "Weather", "required": True}},
            {"text-input": "not a mapping"},
            "not a row",
        ],
    )
    inputs = schema_of(client, app)["properties"]["inputs"]
    assert inputs["properties"] == {
        "subject": {"type": "string", "title": "Subject", "maxLength": 20},
        "body": {"type": "string", "title": "body"},
        "tone": {"type": "string", "title": "Tone", "enum": ["formal", "casual"]},
        "words": {"type": "number", "title": "Words"},
    }
    assert inputs["required"] == ["subject", "words"]


def test_edits_to_the_inputs_show_at_once(client, acme):
    app = make_workflow_app(acme, variables=[start_variable("x", max_length=10)])
    assert schema_of(client, app)["properties"]["inputs"]["properties"]["x"]["maxLength"] == 10
    workflow = app.published_workflow
    workflow.graph["nodes"][0]["data"]["variables"] = [
        start_variable("renamed", "select", options=["P", "Q"], required=True)
    ]
    workflow.save()
    inputs = schema_of(client, app)["properties"]["inputs"]
    assert inputs["properties"] == {
        "renamed": {"type": "string", "title": "Renamed", "enum": ["P", "Q"]}
    }
    assert inputs["required"] == ["renamed"]


EMPTY = {"$schema": DIALECT, "type": "object", "properties": {}, "required": []}


def test_app_without_config_has_the_empty_schema(client, acme):
    assert schema_of(client, AppFactory(workspace=acme, mode=AppMode.CHAT)) == EMPTY


def test_workflow_without_published_version_has_the_empty_schema(client, acme):
    app = make_workflow_app(acme, variables=[start_variable("x")], published=False)
    assert schema_of(client, app) == EMPTY


@pytest.mark.parametrize("mode", [AppMode.CHANNEL, AppMode.RAG_PIPELINE])
def test_modes_without_inputs_have_the_empty_schema(client, acme, mode):
    assert schema_of(client, AppFactory(workspace=acme, mode=mode)) == EMPTY


def test_builders_are_pure_functions():
    form = user_input_form_from_start(
        [
            start_variable("a", "text-input", required=1, max_length="12"),
            start_variable("b", "number", required=0),
            {"variable": "untyped"},
            "junk",
        ]
    )
    assert [list(row) for row in form] == [["text-input"], ["number"]]
    assert form[0]["text-input"]["required"] is True and form[1]["number"]["required"] is False
    schema = input_schema_from_form(AppMode.WORKFLOW, form)
    assert schema["properties"]["inputs"]["properties"]["a"]["maxLength"] == 12
    assert schema["properties"]["inputs"]["required"] == ["a"]
    Draft202012Validator.check_schema(schema)


# -- edited copies of the demo DSL files (issue: nothing may depend on their exact content) -----

DEMO_DIR = Path(apps_runtime.__file__).parent / "demo_apps"


def _demo_files() -> list[Path]:
    return sorted(DEMO_DIR.glob("*.yml")) if DEMO_DIR.is_dir() else []


def _input_rows(doc: dict) -> tuple[list, str]:
    """The editable input rows of a DSL document, as (type, body) views, and their container."""
    if "workflow" in doc:
        for node in doc["workflow"]["graph"]["nodes"]:
            if node.get("data", {}).get("type") == "start":
                return node["data"].setdefault("variables", []), "start"
        pytest.fail("the workflow has no start node")
    return doc.setdefault("model_config", {}).setdefault("user_input_form", []), "form"


@pytest.mark.parametrize("path", _demo_files(), ids=lambda p: p.name)
def test_describe_reports_edits_of_an_imported_demo_copy(client, acme, alice, path):
    services = pytest.importorskip("apps_runtime.services")
    doc = yaml.safe_load(path.read_text())
    doc["app"]["name"] = f"Edited copy of {path.stem}"
    rows, kind = _input_rows(doc)
    expected = {}
    for row in rows:
        type_, body = (row["type"], row) if kind == "start" else next(iter(row.items()))
        body["label"] = f"Edited {body['variable']}"
        if type_ in ("text-input", "paragraph"):
            body["max_length"] = 7
            expected[body["variable"]] = {"type": "string", "title": body["label"], "maxLength": 7}
        elif type_ == "select":
            body["options"] = ["P", "Q"]
            body["default"] = "P"
            expected[body["variable"]] = {
                "type": "string",
                "title": body["label"],
                "enum": ["P", "Q"],
            }
    added = {"variable": "added_var", "label": "Added", "required": True}
    rows.append({**added, "type": "number"} if kind == "start" else {"number": added})
    expected["added_var"] = {"type": "number", "title": "Added"}

    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc), author=alice
    ).app
    body = client.get(f"/openapi/v1/apps/{app.id}/describe").json()
    assert body["info"]["name"] == f"Edited copy of {path.stem}"
    form = body["parameters"]["user_input_form"]
    assert next(iter(form[-1].values()))["variable"] == "added_var"
    assert next(iter(form[-1].values()))["required"] is True
    inputs = body["input_schema"]["properties"]["inputs"]
    for variable, schema in expected.items():
        assert inputs["properties"][variable] == schema, variable
    assert "added_var" in inputs["required"]
    Draft202012Validator.check_schema(body["input_schema"])


@pytest.mark.parametrize("odd", ["²", "٣", "-4", "abc", 0, -1, True])
def test_max_length_that_is_not_a_positive_ascii_number_is_ignored(client, acme, odd):
    app = make_prompt_app(acme, mode=AppMode.COMPLETION, form=[form_row("p", max_length=odd)])
    assert "maxLength" not in schema_of(client, app)["properties"]["inputs"]["properties"]["p"]
