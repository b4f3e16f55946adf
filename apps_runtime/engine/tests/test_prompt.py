"""What the model is sent (dsl.md §5): llm nodes (template, jinja2, memory window and history
order, context, vision, completion mode, params) and chat/completion apps (simple and advanced)."""

from __future__ import annotations

from typing import Any

import pytest

from apps_runtime.engine import run_prompt_app, run_workflow
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node
from apps_runtime.providers.types import ProviderError, Usage

TURNS = [(f"q{i}", f"a{i}") for i in range(1, 5)]


def llm_run(
    data: dict[str, Any],
    *,
    inputs: dict[str, Any] | None = None,
    system: dict[str, Any] | None = None,
    turns: list[tuple[str, str]] | None = None,
    reply: Any = None,
) -> tuple[Any, RecordingHost]:
    host = RecordingHost(replies=[reply or ["ok"]], turns=turns or [])
    data = {
        "model": {
            "provider": "langgenius/openai_api_compatible/openai_api_compatible",
            "name": "gpt-x",
            "mode": "chat",
            "completion_params": {"temperature": 0.2, "max_tokens": "64", "stop": ["\n\n"]},
        },
        **data,
    }
    g = graph(
        [
            node(
                "start",
                "start",
                variables=[
                    {"variable": "name", "type": "text-input"},
                    {"variable": "pic", "type": "file"},
                ],
            ),
            node("llm", "llm", **data),
            node("answer", "answer", answer="{{#llm.text#}}"),
        ],
        [edge("start", "llm"), edge("llm", "answer")],
    )
    outcome = run_workflow(
        g,
        mode="advanced-chat",
        inputs=inputs or {"name": "Ada"},
        system={"query": "What now?", **(system or {})},
        environment={},
        conversation={},
        host=host,
    )
    return outcome, host


def test_system_prompt_with_inputs_history_in_order_and_the_query() -> None:
    outcome, host = llm_run(
        {
            "prompt_template": [{"role": "system", "text": "You help {{#start.name#}}."}],
            "memory": {
                "window": {"enabled": True, "size": 2},
                "query_prompt_template": "{{#sys.query#}}",
            },
        },
        turns=TURNS,
    )
    assert outcome.status == "succeeded", outcome.error
    call = host.calls[0]
    assert call.provider == "langgenius/openai_api_compatible/openai_api_compatible"
    assert call.model == "gpt-x"
    assert call.params == {"temperature": 0.2, "max_tokens": 64, "stop": ["\n\n"]}
    assert call.messages == [
        {"role": "system", "content": "You help Ada."},
        {"role": "user", "content": "q3"},
        {"role": "assistant", "content": "a3"},
        {"role": "user", "content": "q4"},
        {"role": "assistant", "content": "a4"},
        {"role": "user", "content": "What now?"},
    ]
    assert host.history_limits == [2]


def test_memory_without_window_takes_all_history_and_an_empty_query_template_uses_sys_query() -> (
    None
):
    _, host = llm_run(
        {
            "prompt_template": [{"role": "system", "text": "S"}],
            "memory": {"window": {"enabled": False}},
        },
        turns=TURNS,
    )
    messages = host.calls[0].messages
    assert [m["content"] for m in messages] == [
        "S",
        "q1",
        "a1",
        "q2",
        "a2",
        "q3",
        "a3",
        "q4",
        "a4",
        "What now?",
    ]
    assert host.history_limits == [500]


def test_without_memory_nothing_is_appended() -> None:
    _, host = llm_run(
        {
            "prompt_template": [
                {"role": "system", "text": "S1"},
                {"role": "assistant", "text": "A"},
                {"role": "system", "text": "{{#start.nothing#}}x"},
                {"role": "user", "text": ""},
            ]
        },
        turns=TURNS,
    )
    assert host.calls[0].messages == [
        {"role": "system", "content": "S1"},
        {"role": "assistant", "content": "A"},
        {"role": "system", "content": "start.nothingx"},
    ]
    assert host.history_limits == []


def test_jinja2_edition_and_context() -> None:
    _, host = llm_run(
        {
            "prompt_template": [
                {"role": "system", "text": "ctx: {{#context#}}", "edition_type": "basic"},
                {
                    "role": "user",
                    "text": "",
                    "edition_type": "jinja2",
                    "jinja2_text": "Hi {{ name }}{{ missing }}!",
                },
            ],
            "prompt_config": {
                "jinja2_variables": [
                    {"variable": "name", "value_selector": ["start", "name"]},
                    {"variable": "missing", "value_selector": ["nowhere", "x"]},
                ]
            },
            "context": {"enabled": True, "variable_selector": ["start", "name"]},
        }
    )
    assert host.calls[0].messages == [
        {"role": "system", "content": "ctx: Ada"},
        {"role": "user", "content": "Hi Ada!"},
    ]


def test_completion_model_with_histories() -> None:
    _, host = llm_run(
        {
            "model": {"provider": "p", "name": "c", "mode": "completion", "completion_params": {}},
            "prompt_template": {"text": "Talk:\n{{#histories#}}\nHuman: {{#sys.query#}}"},
            "memory": {
                "window": {"enabled": True, "size": 1},
                "role_prefix": {"user": "H", "assistant": "B"},
            },
        },
        turns=TURNS,
    )
    assert host.calls[0].messages == [
        {"role": "user", "content": "Talk:\nH: q4\nB: a4\nHuman: What now?"}
    ]


def test_vision_puts_images_before_the_last_user_message() -> None:
    pic = {
        "dify_model_identity": "__dify__file__",
        "type": "image",
        "transfer_method": "remote_url",
        "url": "https://img.example/a.png",
    }
    _, host = llm_run(
        {
            "prompt_template": [{"role": "user", "text": "describe"}],
            "vision": {
                "enabled": True,
                "configs": {"variable_selector": ["start", "pic"], "detail": "low"},
            },
        },
        inputs={"name": "Ada", "pic": pic},
    )
    assert host.calls[0].messages == [
        {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {"url": "https://img.example/a.png", "detail": "low"},
                },
                {"type": "text", "text": "describe"},
            ],
        }
    ]


def test_no_prompt_fails_the_node() -> None:
    outcome, host = llm_run({"prompt_template": [{"role": "system", "text": ""}]})
    assert outcome.status == "failed"
    assert outcome.error == "No prompt found in the LLM configuration"
    assert host.calls == []


@pytest.mark.parametrize(
    ("fmt", "text", "reasoning"),
    [
        ("tagged", "<think>hmm</think>Answer", ""),
        ("separated", "Answer", "hmm"),
    ],
)
def test_reasoning_format(fmt: str, text: str, reasoning: str) -> None:
    outcome, host = llm_run(
        {"prompt_template": [{"role": "user", "text": "x"}], "reasoning_format": fmt},
        reply=["<thi", "nk>hm", "m</th", "ink>Ans", "wer"],
    )
    outputs = host.finished()["llm"]["outputs"]
    assert outputs["text"] == text
    assert outputs["reasoning_content"] == reasoning
    assert outcome.answer == text


def test_usage_comes_from_the_provider() -> None:
    outcome, host = llm_run(
        {"prompt_template": [{"role": "user", "text": "x"}]}, reply=(["a", "b"], Usage(11, 7, 18))
    )
    usage = host.finished()["llm"]["outputs"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        11,
        7,
        18,
    )
    assert outcome.usage == Usage(11, 7, 18)
    assert host.finished()["llm"]["execution_metadata"]["total_tokens"] == 18


# -- chat and completion apps (model_config) ----------------------------------------------------

MODEL = {
    "provider": "langgenius/openai/openai",
    "name": "gpt-4o-mini",
    "mode": "chat",
    "completion_params": {"temperature": 0.5},
}


def app_run(
    config: dict[str, Any],
    *,
    mode: str = "chat",
    inputs: dict[str, Any] | None = None,
    query: str = "Hello?",
    turns: list[tuple[str, str]] | None = None,
    reply: Any = None,
    host: RecordingHost | None = None,
) -> tuple[Any, RecordingHost]:
    host = host or RecordingHost(
        replies=[reply or (["Hi", " there"], Usage(9, 2, 11))], turns=turns or []
    )
    outcome = run_prompt_app(
        {"model": MODEL, **config}, mode=mode, inputs=inputs or {}, query=query, host=host
    )
    return outcome, host


def test_simple_chat_app() -> None:
    outcome, host = app_run(
        {
            "pre_prompt": "You are {{role}} for {{who}}.",
            "user_input_form": [{"text-input": {"variable": "role", "required": True}}],
        },
        inputs={"role": "a pirate", "who": "kids"},
        turns=TURNS[:2],
    )
    assert outcome.status == "succeeded"
    assert outcome.answer == "Hi there"
    assert outcome.usage == Usage(9, 2, 11)
    assert [e["answer"] for e in host.named("message")] == ["Hi", " there"]
    call = host.calls[0]
    assert call.model == "gpt-4o-mini" and call.provider == "langgenius/openai/openai"
    assert call.params == {"temperature": 0.5}
    assert call.messages == [
        {"role": "system", "content": "You are a pirate for kids."},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "Hello?"},
    ]
    assert host.history_limits == [None]


def test_simple_chat_app_without_query_sends_the_instruction_as_user() -> None:
    _, host = app_run({"pre_prompt": "Say hi"}, query="")
    assert host.calls[0].messages == [{"role": "user", "content": "Say hi"}]


def test_completion_app_has_no_history() -> None:
    _, host = app_run(
        {"pre_prompt": "Translate {{text}}"},
        mode="completion",
        inputs={"text": "chat"},
        query="",
        turns=TURNS,
    )
    assert host.calls[0].messages == [{"role": "user", "content": "Translate chat"}]
    assert host.history_limits == []


def test_advanced_chat_prompt_config() -> None:
    _, host = app_run(
        {
            "prompt_type": "advanced",
            "pre_prompt": "",
            "chat_prompt_config": {
                "prompt": [
                    {"role": "system", "text": "Be {{tone}}. {{#context#}}"},
                    {"role": "system", "text": ""},
                    {"role": "assistant", "text": "Ready."},
                ]
            },
        },
        inputs={"tone": "brief"},
        turns=TURNS[:1],
    )
    assert host.calls[0].messages == [
        {"role": "system", "content": "Be brief. "},
        {"role": "assistant", "content": "Ready."},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "Hello?"},
    ]


def test_advanced_completion_prompt_config() -> None:
    model = {**MODEL, "mode": "completion"}
    host = RecordingHost(replies=[["ok"]], turns=TURNS[:1])
    run_prompt_app(
        {
            "model": model,
            "prompt_type": "advanced",
            "pre_prompt": "",
            "completion_prompt_config": {
                "prompt": {"text": "{{#histories#}}\nUser: {{#query#}} ({{lang}})"},
                "conversation_histories_role": {"user_prefix": "U", "assistant_prefix": "A"},
            },
        },
        mode="chat",
        inputs={"lang": "fr"},
        query="Hello?",
        host=host,
    )
    assert host.calls[0].messages == [
        {"role": "user", "content": "U: q1\nA: a1\nUser: Hello? (fr)"}
    ]


def test_prompt_app_provider_error_and_stop() -> None:
    outcome, _ = app_run(
        {"pre_prompt": "x"}, reply=ProviderError("completion_request_error", "upstream 500")
    )
    assert (outcome.status, outcome.error_code, outcome.error) == (
        "failed",
        "completion_request_error",
        "upstream 500",
    )
    host = RecordingHost(
        replies=[["a", "b", "c"]], stop_when=lambda h: len(h.named("message")) >= 1
    )
    outcome, host = app_run({"pre_prompt": "x"}, host=host)
    assert outcome.status == "stopped"
    assert outcome.answer == "a"
    assert host.closed == 1


def test_prompt_app_invalid_input_fails() -> None:
    outcome, host = app_run(
        {
            "pre_prompt": "x",
            "user_input_form": [
                {"select": {"variable": "v", "options": ["A", "B"], "required": True}}
            ],
        },
        inputs={"v": "C"},
    )
    assert outcome.status == "failed"
    assert outcome.error == "v must be one of: A, B"
    assert host.calls == []


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.mark.parametrize("switch", ["structured_output_switch_on", "structured_output_enabled"])
def test_structured_output(switch: str) -> None:
    outcome, host = llm_run(
        {
            "prompt_template": [{"role": "user", "text": "where?"}],
            "structured_output": {"schema": SCHEMA},
            switch: True,
        },
        reply=["```json\n", '{"city": ', '"Paris"}', "\n```"],
    )
    assert outcome.status == "succeeded", outcome.error
    assert host.finished()["llm"]["outputs"]["structured_output"] == {"city": "Paris"}
    first = host.calls[0].messages[0]
    assert first["role"] == "system" and '"required": ["city"]' in first["content"]


def test_structured_output_that_breaks_the_schema_fails() -> None:
    outcome, _ = llm_run(
        {
            "prompt_template": [{"role": "user", "text": "where?"}],
            "structured_output": {"schema": SCHEMA},
            "structured_output_switch_on": True,
        },
        reply=['{"town": "Paris"}'],
    )
    assert outcome.status == "failed"
    assert "schema" in (outcome.error or "")


def test_structured_output_off_sends_no_instruction() -> None:
    _, host = llm_run(
        {
            "prompt_template": [{"role": "user", "text": "where?"}],
            "structured_output": {"schema": SCHEMA},
            "structured_output_switch_on": False,
        }
    )
    assert "structured_output" not in host.finished()["llm"]["outputs"]
    assert host.calls[0].messages == [{"role": "user", "content": "where?"}]
