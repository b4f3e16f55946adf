"""Start-input rules (dsl.md §4.1), template rendering (§3.3) and template-transform (§4.5)."""

from __future__ import annotations

from typing import Any

import pytest

from apps_runtime.engine import InputError, run_workflow, validate_start_inputs
from apps_runtime.engine.templates import render, to_markdown, to_text
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node
from apps_runtime.engine.variables import VariablePool

FILE = {
    "dify_model_identity": "__dify__file__",
    "type": "document",
    "transfer_method": "remote_url",
    "url": "https://x.example/a.pdf",
    "name": "a.pdf",
    "extension": ".pdf",
}


@pytest.mark.parametrize(
    ("variable", "value", "result"),
    [
        ({"type": "text-input"}, "hi\x00", "hi"),
        ({"type": "text-input"}, "", ""),
        ({"type": "paragraph", "max_length": 3}, "abc", "abc"),
        ({"type": "select", "options": ["A", "B"]}, "B", "B"),
        ({"type": "number"}, 3, 3),
        ({"type": "number"}, "3", 3),
        ({"type": "number"}, "2.5", 2.5),
        ({"type": "number"}, " ", None),
        ({"type": "checkbox"}, "yes", True),
        ({"type": "checkbox"}, "off", False),
        ({"type": "checkbox"}, 1, True),
        ({"type": "checkbox"}, False, False),
        ({"type": "json_object"}, '{"a": 1}', {"a": 1}),
        (
            {"type": "json_object", "json_schema": '{"type": "object", "required": ["a"]}'},
            {"a": 1},
            {"a": 1},
        ),
        ({"type": "file", "allowed_file_types": ["document"]}, FILE, FILE),
        (
            {"type": "file", "allowed_file_types": ["custom"], "allowed_file_extensions": ["PDF"]},
            FILE,
            FILE,
        ),
        ({"type": "file-list", "max_length": 2}, [FILE, FILE], [FILE, FILE]),
    ],
)
def test_valid_inputs(variable: dict[str, Any], value: Any, result: Any) -> None:
    assert validate_start_inputs([{"variable": "v", **variable}], {"v": value}) == {"v": result}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ({"type": "text-input", "required": True}, None, "v is required"),
        ({"type": "text-input"}, 5, "v must be a string"),
        ({"type": "paragraph", "max_length": 3}, "abcd", "v must be less than 3 characters"),
        ({"type": "select", "options": ["A", "B", "C"]}, "D", "v must be one of: A, B, C"),
        ({"type": "number"}, "abc", "v must be a number"),
        ({"type": "number"}, True, "v must be a number"),
        ({"type": "checkbox"}, "maybe", "v must be a boolean"),
        ({"type": "checkbox"}, 2, "v must be a boolean"),
        ({"type": "json_object"}, "[1]", "v must be a JSON object"),
        ({"type": "json_object"}, "{bad", "v must be a JSON object"),
        (
            {"type": "json_object", "json_schema": {"type": "object", "required": ["a"]}},
            {"b": 1},
            "v does not match its schema: 'a' is a required property",
        ),
        ({"type": "file"}, "not-a-file", "v must be a file"),
        (
            {"type": "file", "allowed_file_types": ["image"]},
            FILE,
            "v: file type 'document' is not allowed",
        ),
        (
            {"type": "file", "allowed_file_upload_methods": ["local_file"]},
            FILE,
            "v: upload method 'remote_url' is not allowed",
        ),
        (
            {"type": "file", "allowed_file_types": ["custom"], "allowed_file_extensions": [".doc"]},
            FILE,
            "v: file extension .pdf is not allowed",
        ),
        ({"type": "file-list", "max_length": 1}, [FILE, FILE], "v must have at most 1 files"),
    ],
)
def test_invalid_inputs(variable: dict[str, Any], value: Any, message: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_start_inputs([{"variable": "v", **variable}], {"v": value})
    assert caught.value.message == message
    assert caught.value.variable == "v"


def test_defaults_and_unknown_inputs() -> None:
    variables = [
        {"variable": "a", "type": "text-input", "default": "x"},
        {"variable": "n", "type": "number", "default": "4"},
        {"variable": "o", "type": "text-input"},
    ]
    assert validate_start_inputs(variables, {"zzz": 1}) == {"a": "x", "n": 4, "o": None}


@pytest.mark.parametrize(
    ("value", "text", "markdown"),
    [
        ("s", "s", "s"),
        (3, "3", "3"),
        (2.5, "2.5", "2.5"),
        (True, "True", "True"),
        (None, "", ""),
        ({"k": "é"}, '{"k": "é"}', '{\n  "k": "é"\n}'),
        (["a", "b"], '["a", "b"]', "- a\n- b"),
        ([1, 2], "[1, 2]", "- 1\n- 2"),
        ([], "", ""),
        (FILE, "", "[a.pdf](https://x.example/a.pdf)"),
    ],
)
def test_text_and_markdown_forms(value: Any, text: str, markdown: str) -> None:
    assert to_text(value) == text
    assert to_markdown(value) == markdown


def test_render_references() -> None:
    pool = VariablePool(system={"query": "q"}, environment={"E": "e"})
    pool.set("n1", "obj", {"k": {"deep": 1}})
    assert (
        render(
            "{{#sys.query#}}-{{#env.E#}}-{{#n1.obj.k.deep#}}-{{#n1.nope#}}-{{#nodot#}}-{{ x }}",
            pool,
        )
        == "q-e-1-n1.nope-{{#nodot#}}-{{ x }}"
    )


def _tt(template: str, variables: list[dict[str, Any]]) -> Any:
    g = graph(
        [
            node("start", "start", variables=[{"variable": "items", "type": "json_object"}]),
            node("t", "template-transform", template=template, variables=variables),
            node("end", "end", outputs=[{"variable": "out", "value_selector": ["t", "output"]}]),
        ],
        [edge("start", "t"), edge("t", "end")],
    )
    return run_workflow(
        g,
        mode="workflow",
        inputs={"items": {"list": [1, 2]}},
        system={},
        environment={},
        conversation={},
        host=RecordingHost(),
    )


def test_template_transform_native_values() -> None:
    outcome = _tt(
        "{% for i in d.list %}[{{ i * 2 }}]{% endfor %}{{ m is none }}",
        [
            {"variable": "d", "value_selector": ["start", "items"]},
            {"variable": "m", "value_selector": ["x", "y"]},
        ],
    )
    assert outcome.outputs == {"out": "[2][4]True"}


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ d.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_template_transform_sandbox(template: str) -> None:
    outcome = _tt(template, [{"variable": "d", "value_selector": ["start", "items"]}])
    assert outcome.status == "failed" or "os" not in str(outcome.outputs)
    assert "module" not in str(outcome.outputs)


def test_template_transform_length_cap(settings: Any) -> None:
    settings.TEMPLATE_TRANSFORM_MAX_LENGTH = 5
    outcome = _tt("{{ 'x' * 6 }}", [])
    assert outcome.status == "failed"


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10**8 }}",
        "{{ [1] * 100000000 }}",
        "{{ 2 ** 100000 }}",
        "{{ 10 * 'ab' * 99999999 }}",
    ],
)
def test_template_transform_refuses_huge_values(template: str) -> None:
    outcome = _tt(template, [])
    assert outcome.status == "failed"
    assert "not allowed" in (outcome.error or "")


def test_template_transform_ordinary_arithmetic_still_works() -> None:
    outcome = _tt("{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 3 * 4 }}", [])
    assert outcome.outputs == {"out": "1024 ababab 12"}
