"""question-classifier: the model's pick (read defensively) is the branch the run follows; an
unreadable reply takes the first class; the prompt carries the classes, the templated
instruction and, with memory, the history."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.nodes.question_classifier import system_prompt
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node
from apps_runtime.providers.types import ProviderError, Usage

MODEL = {"provider": "openai_api_compatible", "name": "m-1", "mode": "chat"}
CLASSES = [
    {"id": "1", "name": "Shipping question"},
    {"id": "b2", "name": "Billing", "label": "Money"},
    {"id": "x3", "name": "Other"},
]


def _run(
    replies: list[Any],
    *,
    classes: list[dict[str, Any]] | None = None,
    query: Any = "Where is my parcel?",
    mode: str = "workflow",
    turns: list[tuple[str, str]] | None = None,
    **data: Any,
) -> tuple[Any, RecordingHost]:
    classes = CLASSES if classes is None else classes
    data.setdefault("model", MODEL)
    nodes = [
        node(
            "start",
            "start",
            variables=[
                {"variable": "q", "type": "json_object" if isinstance(query, dict) else "paragraph"}
            ],
        ),
        node(
            "qc",
            "question-classifier",
            classes=classes,
            **{"query_variable_selector": ["start", "q"], **data},
        ),
    ]
    edges = [edge("start", "qc")]
    for item in classes:
        branch = f"to_{item['id']}"
        nodes.append(node(branch, "template-transform", template=f"went {item['id']}"))
        edges.append(edge("qc", branch, str(item["id"])))
        edges.append(edge(branch, "end"))
    nodes.append(
        node(
            "end",
            "end",
            outputs=[
                {"variable": "name", "value_selector": ["qc", "class_name"]},
                {"variable": "id", "value_selector": ["qc", "class_id"]},
                {"variable": "label", "value_selector": ["qc", "class_label"]},
                {"variable": "usage", "value_selector": ["qc", "usage"]},
            ],
        )
    )
    host = RecordingHost(replies=list(replies), turns=list(turns or []))
    outcome = run_workflow(
        graph(nodes, edges),
        mode=mode,
        inputs={} if query is None else {"q": query},
        system={"query": "turn query"} if mode == "advanced-chat" else {},
        environment={},
        conversation={},
        host=host,
    )
    return outcome, host


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"category_id": "b2", "category_name": "Billing"}', "b2"),
        ('{"category_id": 1}', "1"),
        ('```json\n{"category_id": "x3"}\n```', "x3"),
        ('Sure! {"category_name": "billing"}', "b2"),
        ('{"category_id": "nope", "category_name": "Other"}', "x3"),
        ('[{"category_id": "b2"}]', "b2"),
        ("Billing", "b2"),
        ('"x3"', "x3"),
        ("{'category_id': 'b2'", "b2"),  # broken JSON, repaired
        ("I cannot decide.", "1"),
        ('{"category_id": "unknown"}', "1"),
        ("", "1"),
    ],
)
def test_the_reply_picks_the_branch(reply, expected):
    outcome, host = _run([[reply]])
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["id"] == expected
    assert f"to_{expected}" in host.ran()
    assert [n for n in host.ran() if n.startswith("to_")] == [f"to_{expected}"]
    name = {c["id"]: c["name"] for c in CLASSES}[expected]
    assert outcome.outputs["name"] == name


def test_outputs_label_and_usage():
    outcome, _host = _run([(['{"category_id": "b2"}'], Usage(21, 4, 25))])
    assert outcome.outputs["label"] == "Money"
    assert outcome.outputs["usage"]["total_tokens"] == 25
    assert outcome.usage.total_tokens == 25
    other, _ = _run([['{"category_id": "x3"}']])
    assert other.outputs["label"] == "CLASS 3"  # unlabelled: its position, as the editor shows


def test_the_prompt_names_the_classes_and_the_rendered_instruction():
    _outcome, host = _run(
        [['{"category_id": "1"}']],
        instruction="Customer wrote in {{#start.q#}} - be strict",
    )
    call = host.calls[0]
    assert (call.provider, call.model, call.params) == ("openai_api_compatible", "m-1", {})
    instruction = "Customer wrote in Where is my parcel? - be strict"
    assert call.messages == [
        {"role": "system", "content": system_prompt(_categories(CLASSES), instruction)},
        {"role": "user", "content": "Where is my parcel?"},
    ]
    system = call.messages[0]["content"]
    assert (
        json.dumps([{"category_id": c["id"], "category_name": c["name"]} for c in CLASSES])
        in system
    )
    assert instruction in system
    assert call.tools is None


def test_completion_params_reach_the_model():
    _outcome, host = _run(
        [['{"category_id": "1"}']], model={**MODEL, "completion_params": {"temperature": "0.1"}}
    )
    assert host.calls[0].params == {"temperature": 0.1}


def test_memory_puts_the_history_between_the_task_and_the_input():
    _outcome, host = _run(
        [['{"category_id": "b2"}']],
        mode="workflow",
        turns=[("hello", "hi"), ("my bill", "which one?")],
        memory={"window": {"enabled": True, "size": 1}},
    )
    messages = host.calls[0].messages
    assert host.history_limits == [1]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1:] == [
        {"role": "user", "content": "my bill"},
        {"role": "assistant", "content": "which one?"},
        {"role": "user", "content": "Where is my parcel?"},
    ]


def test_without_memory_no_history_is_read():
    _outcome, host = _run([['{"category_id": "1"}']], turns=[("a", "b")])
    assert host.history_limits == []
    assert len(host.calls[0].messages) == 2


def test_a_missing_query_variable_fails_the_node():
    outcome, host = _run([], query_variable_selector=["start", "nothing"])
    assert outcome.status == "failed"
    assert "['start', 'nothing'] not found" in outcome.error
    assert host.calls == []


def test_no_classes_is_a_clear_failure():
    outcome, _host = _run([], classes=[])
    assert outcome.status == "failed" and "no classes" in outcome.error


def test_a_provider_failure_fails_the_run_with_its_code():
    outcome, _host = _run([ProviderError("rate_limit_error", "slow down", status=429)])
    assert outcome.status == "failed"
    assert outcome.error_code == "rate_limit_error"


def test_a_non_text_query_is_sent_as_text():
    _outcome, host = _run([['{"category_id": "1"}']], query={"order": 7})
    assert host.calls[0].messages[-1]["content"] == '{"order": 7}'


def _categories(classes: list[dict[str, Any]]) -> Any:
    from apps_runtime.engine.nodes.question_classifier import categories

    return categories({"classes": classes})


def test_a_completion_model_gets_one_user_message_with_the_history_as_lines():
    _outcome, host = _run(
        [['{"category_id": "1"}']],
        model={**MODEL, "mode": "completion"},
        turns=[("old question", "old answer")],
        memory={"window": {"enabled": False}, "role_prefix": {"user": "U", "assistant": "A"}},
    )
    (message,) = host.calls[0].messages
    assert message["role"] == "user"
    system = system_prompt(_categories(CLASSES), "")
    assert (
        message["content"] == f"{system}\n\nU: old question\nA: old answer\n\nWhere is my parcel?"
    )


def test_vision_puts_the_images_in_front_of_the_input():
    image = {
        "dify_model_identity": "__dify__file__",
        "type": "image",
        "transfer_method": "remote_url",
        "url": "https://img.example/p.png",
    }
    nodes = [
        node("start", "start", variables=[]),
        node(
            "qc",
            "question-classifier",
            model=MODEL,
            classes=CLASSES,
            query_variable_selector=["sys", "query"],
            vision={"enabled": True, "configs": {"detail": "low"}},
        ),
    ]
    host = RecordingHost(replies=[['{"category_id": "1"}']])
    run_workflow(
        graph(nodes, [edge("start", "qc")]),
        mode="advanced-chat",
        inputs={},
        system={"query": "what is this?", "files": [image]},
        environment={},
        conversation={},
        host=host,
    )
    assert host.calls[0].messages[-1] == {
        "role": "user",
        "content": [
            {
                "type": "image_url",
                "image_url": {"url": "https://img.example/p.png", "detail": "low"},
            },
            {"type": "text", "text": "what is this?"},
        ],
    }


def test_a_stop_during_the_model_call_stops_the_run_and_closes_the_stream():
    nodes = [
        node("start", "start", variables=[]),
        node(
            "qc",
            "question-classifier",
            model=MODEL,
            classes=CLASSES,
            query_variable_selector=["sys", "query"],
        ),
    ]
    host = RecordingHost(replies=[['{"category_', 'id": "1"}']], stop_when=lambda h: bool(h.calls))
    outcome = run_workflow(
        graph(nodes, [edge("start", "qc")]),
        mode="advanced-chat",
        inputs={},
        system={"query": "q"},
        environment={},
        conversation={},
        host=host,
    )
    assert outcome.status == "stopped"
    assert host.closed == 1
    assert host.finished()["qc"]["status"] == "stopped"
