"""The graph walk: branches, skip propagation, joins, error strategies and retries, stop, pause and
resume, live streaming of model output, and the events the engine emits (dsl.md §2.4, §4.0)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps_runtime.engine import ResumeError, ResumeInput, resume_workflow, run_workflow
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node
from apps_runtime.providers.types import ProviderError, Usage


def run(
    g: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    *,
    mode: str = "workflow",
    host: RecordingHost | None = None,
    system: dict[str, Any] | None = None,
) -> tuple[Any, RecordingHost]:
    host = host or RecordingHost()
    outcome = run_workflow(
        g,
        mode=mode,
        inputs=inputs or {},
        system=system or {},
        environment={"KEY": "k-1"},
        conversation={"topic": "t"},
        host=host,
    )
    return outcome, host


def tt(node_id: str, template: str, **extra: Any) -> dict[str, Any]:
    return node(
        node_id,
        "template-transform",
        template=template,
        variables=extra.pop("variables", []),
        **extra,
    )


def start(*names: str) -> dict[str, Any]:
    return node("start", "start", variables=[{"variable": n, "type": "text-input"} for n in names])


def end(*pairs: tuple[str, list[str]]) -> dict[str, Any]:
    return node("end", "end", outputs=[{"variable": v, "value_selector": s} for v, s in pairs])


def branch(value: str) -> dict[str, Any]:
    return node(
        "cond",
        "if-else",
        cases=[
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [
                    {
                        "variable_selector": ["start", "x"],
                        "comparison_operator": "is",
                        "value": value,
                    }
                ],
            }
        ],
    )


def test_linear_run_events_and_outputs() -> None:
    g = graph(
        [
            start("x"),
            tt(
                "t",
                "{{ x | upper }}!",
                variables=[{"variable": "x", "value_selector": ["start", "x"]}],
            ),
            end(("out", ["t", "output"])),
        ],
        [edge("start", "t"), edge("t", "end")],
    )
    outcome, host = run(g, {"x": "hi", "ignored": 1})
    assert outcome.status == "succeeded"
    assert outcome.outputs == {"out": "HI!"}
    assert outcome.total_steps == 3
    names = [e["event"] for e in host.events]
    assert names == ["node_started", "node_finished"] * 3
    started, finished = host.events[2]["data"], host.events[3]["data"]
    assert (
        started["node_id"] == "t"
        and started["index"] == 2
        and started["predecessor_node_id"] == "start"
    )
    assert finished["id"] == started["id"] and finished["status"] == "succeeded"
    assert finished["node_type"] == "template-transform" and finished["title"] == "t"
    for key in (
        "inputs",
        "outputs",
        "process_data",
        "elapsed_time",
        "execution_metadata",
        "created_at",
        "finished_at",
        "error",
    ):
        assert key in finished
    assert host.finished()["start"]["outputs"]["x"] == "hi"
    assert "ignored" not in host.finished()["start"]["outputs"]
    json.dumps(host.events)  # every event is JSON


def test_skips_propagate_and_joins_run_once() -> None:
    # start → cond ─true→ a → c ─┐
    #              └false→ b ────┴→ join → end
    g = graph(
        [
            start("x"),
            branch("yes"),
            tt("a", "A"),
            tt("b", "B"),
            tt("c", "C{{ 1 }}"),
            node("join", "variable-aggregator", variables=[["c", "output"], ["b", "output"]]),
            end(("out", ["join", "output"])),
        ],
        [
            edge("start", "cond"),
            edge("cond", "a", "true"),
            edge("cond", "b", "false"),
            edge("a", "c"),
            edge("c", "join"),
            edge("b", "join"),
            edge("join", "end"),
        ],
    )
    outcome, host = run(g, {"x": "yes"})
    assert outcome.outputs == {"out": "C1"}
    assert host.ran() == ["start", "cond", "a", "c", "join", "end"]
    outcome, host = run(g, {"x": "no"})
    assert outcome.outputs == {"out": "B"}
    assert host.ran() == ["start", "cond", "b", "join", "end"]  # a and c skipped, join still runs


def test_a_node_whose_in_edges_are_all_skipped_is_skipped_with_its_successors() -> None:
    g = graph(
        [
            start("x"),
            branch("yes"),
            tt("a", "A"),
            tt("a2", "A2"),
            tt("b", "B"),
            end(("out", ["b", "output"])),
        ],
        [
            edge("start", "cond"),
            edge("cond", "a", "true"),
            edge("a", "a2"),
            edge("cond", "b", "false"),
            edge("b", "end"),
            edge("a2", "end"),
        ],
    )
    outcome, host = run(g, {"x": "no"})
    assert host.ran() == ["start", "cond", "b", "end"]
    assert outcome.outputs == {"out": "B"}


def test_parallel_branches_both_run_and_the_join_waits_for_both() -> None:
    g = graph(
        [
            start(),
            tt("a", "A"),
            tt("b", "B"),
            tt(
                "j",
                "{{ a }}{{ b }}",
                variables=[
                    {"variable": "a", "value_selector": ["a", "output"]},
                    {"variable": "b", "value_selector": ["b", "output"]},
                ],
            ),
            end(("out", ["j", "output"])),
        ],
        [edge("start", "a"), edge("start", "b"), edge("a", "j"), edge("b", "j"), edge("j", "end")],
    )
    outcome, host = run(g)
    assert outcome.outputs == {"out": "AB"}
    assert host.ran().count("j") == 1


def test_failure_without_strategy_fails_the_run() -> None:
    g = graph(
        [start(), tt("bad", "{{ 1 / 0 }}"), end(("out", ["bad", "output"]))],
        [edge("start", "bad"), edge("bad", "end")],
    )
    outcome, host = run(g)
    assert outcome.status == "failed"
    assert "division" in (outcome.error or "")
    assert host.finished()["bad"]["status"] == "failed"
    assert "end" not in host.ran()


def test_fail_branch_routes_the_error() -> None:
    g = graph(
        [
            start(),
            tt("bad", "{{ 1 / 0 }}", error_strategy="fail-branch"),
            tt("ok", "fine"),
            tt(
                "handler",
                "caught: {{ e }}",
                variables=[{"variable": "e", "value_selector": ["bad", "error_type"]}],
            ),
            node("agg", "variable-aggregator", variables=[["ok", "output"], ["handler", "output"]]),
            end(("out", ["agg", "output"]), ("msg", ["bad", "error_message"])),
        ],
        [
            edge("start", "bad"),
            edge("bad", "ok"),
            edge("bad", "handler", "fail-branch"),
            edge("ok", "agg"),
            edge("handler", "agg"),
            edge("agg", "end"),
        ],
    )
    outcome, host = run(g)
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs["out"] == "caught: TemplateRenderError"
    assert "division" in outcome.outputs["msg"]
    assert host.finished()["bad"]["status"] == "exception"
    assert "ok" not in host.ran()


def test_default_value_continues_on_normal_edges() -> None:
    g = graph(
        [
            start(),
            tt(
                "bad",
                "{{ 1 / 0 }}",
                error_strategy="default-value",
                default_value=[
                    {"key": "output", "type": "string", "value": "fallback"},
                    {"key": "n", "type": "number", "value": "3"},
                ],
            ),
            end(("out", ["bad", "output"]), ("n", ["bad", "n"]), ("t", ["bad", "error_type"])),
        ],
        [edge("start", "bad"), edge("bad", "end")],
    )
    outcome, _host = run(g)
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs == {"out": "fallback", "n": 3, "t": "TemplateRenderError"}
    assert outcome.exceptions_count == 1


def test_retries_then_succeeds() -> None:
    host = RecordingHost(replies=[ProviderError("completion_request_error", "boom"), ["fine"]])
    g = graph(
        [
            start(),
            node(
                "llm",
                "llm",
                model={"provider": "p", "name": "m", "mode": "chat"},
                prompt_template=[{"role": "user", "text": "hi"}],
                retry_config={"retry_enabled": True, "max_retries": 2, "retry_interval": 0},
            ),
            end(("out", ["llm", "text"])),
        ],
        [edge("start", "llm"), edge("llm", "end")],
    )
    outcome, host = run(g, host=host)
    assert outcome.status == "succeeded"
    assert outcome.outputs == {"out": "fine"}
    assert len(host.calls) == 2
    assert len(host.named("node_retry")) == 1


def test_provider_failure_fails_the_run_with_its_code() -> None:
    host = RecordingHost(replies=[ProviderError("rate_limit_error", "slow down", status=429)])
    g = graph(
        [
            start(),
            node(
                "llm",
                "llm",
                model={"provider": "p", "name": "m", "mode": "chat"},
                prompt_template=[{"role": "user", "text": "hi"}],
            ),
            end(("out", ["llm", "text"])),
        ],
        [edge("start", "llm"), edge("llm", "end")],
    )
    outcome, host = run(g, host=host)
    assert outcome.status == "failed"
    assert outcome.error_code == "rate_limit_error"
    assert outcome.error == "slow down"
    assert host.finished()["llm"]["status"] == "failed"


def test_stop_before_a_node() -> None:
    host = RecordingHost(stop_when=lambda h: len(h.named("node_finished")) >= 1)
    g = graph(
        [start(), tt("t", "T"), end(("out", ["t", "output"]))],
        [edge("start", "t"), edge("t", "end")],
    )
    outcome, host = run(g, host=host)
    assert outcome.status == "stopped"
    assert host.ran() == ["start"]


def test_stop_during_a_streamed_answer_aborts_the_model_stream() -> None:
    host = RecordingHost(
        replies=[["a", "b", "c", "d"]], stop_when=lambda h: len(h.named("message")) >= 2
    )
    g = graph(
        [
            start(),
            node(
                "llm",
                "llm",
                model={"provider": "p", "name": "m", "mode": "chat"},
                prompt_template=[{"role": "user", "text": "{{#sys.query#}}"}],
            ),
            node("answer", "answer", answer="{{#llm.text#}}"),
        ],
        [edge("start", "llm"), edge("llm", "answer")],
    )
    outcome, host = run(g, mode="advanced-chat", host=host, system={"query": "q"})
    assert outcome.status == "stopped"
    assert outcome.answer == "ab"
    assert host.closed == 1
    assert host.finished()["llm"]["status"] == "stopped"


def test_advanced_chat_streams_model_tokens_live_inside_the_answer() -> None:
    host = RecordingHost(replies=[(["Hel", "lo"], Usage(5, 2, 7))])
    g = graph(
        [
            start(),
            node(
                "llm",
                "llm",
                model={"provider": "p", "name": "m", "mode": "chat"},
                prompt_template=[{"role": "user", "text": "{{#sys.query#}}"}],
            ),
            node("answer", "answer", answer="Bot: {{#llm.text#}} ({{#sys.query#}})"),
        ],
        [edge("start", "llm"), edge("llm", "answer")],
    )
    outcome, host = run(g, mode="advanced-chat", host=host, system={"query": "hey"})
    assert outcome.status == "succeeded"
    chunks = [e["answer"] for e in host.named("message")]
    assert chunks == ["Bot: ", "Hel", "lo", " (hey)"]
    # the tokens went out before the llm node finished
    order = [
        e["event"] if e["event"] != "node_finished" else f"finished:{e['data']['node_id']}"
        for e in host.events
    ]
    assert order.index("message") < order.index("finished:llm")
    assert outcome.answer == "Bot: Hello (hey)"
    assert outcome.outputs == {"answer": "Bot: Hello (hey)"}
    assert outcome.usage == Usage(5, 2, 7)
    assert host.finished()["answer"]["outputs"]["answer"] == "Bot: Hello (hey)"


def test_answers_without_a_model_arrive_in_execution_order() -> None:
    g = graph(
        [
            start("x"),
            node("a1", "answer", answer="one {{#start.x#}}"),
            node("a2", "answer", answer=" two"),
        ],
        [edge("start", "a1"), edge("a1", "a2")],
    )
    outcome, host = run(g, {"x": "X"}, mode="advanced-chat")
    assert host.answer() == "one X two"
    assert outcome.answer == "one X two"


def test_workflow_streams_model_text_as_text_chunks() -> None:
    host = RecordingHost(replies=[["x", "y"]])
    g = graph(
        [
            start(),
            node(
                "llm",
                "llm",
                model={"provider": "p", "name": "m", "mode": "chat"},
                prompt_template=[{"role": "user", "text": "go"}],
            ),
            end(("out", ["llm", "text"])),
        ],
        [edge("start", "llm"), edge("llm", "end")],
    )
    outcome, host = run(g, host=host)
    chunks = host.named("text_chunk")
    assert [c["data"]["text"] for c in chunks] == ["x", "y"]
    assert chunks[0]["data"]["from_variable_selector"] == ["llm", "text"]
    assert outcome.outputs == {"out": "xy"}


def _hitl_graph() -> dict[str, Any]:
    return graph(
        [
            start("x"),
            node(
                "form",
                "human-input",
                form_content="Review {{#start.x#}}: {{#$output.comment#}}",
                inputs=[
                    {
                        "type": "paragraph",
                        "output_variable_name": "comment",
                        "default": {"type": "variable", "selector": ["start", "x"], "value": ""},
                    }
                ],
                user_actions=[
                    {"id": "approve", "title": "Approve", "button_style": "primary"},
                    {"id": "reject", "title": "Reject"},
                ],
                timeout=2,
                timeout_unit="day",
                delivery_methods=[
                    {
                        "id": "d1",
                        "enabled": True,
                        "type": "email",
                        "config": {"subject": "About {{#start.x#}}", "body": "Open {{#url#}}"},
                    }
                ],
            ),
            tt(
                "yes",
                "approved: {{ c }}",
                variables=[{"variable": "c", "value_selector": ["form", "comment"]}],
            ),
            tt("no", "rejected"),
            tt(
                "late",
                "timed out {{ a }}",
                variables=[{"variable": "a", "value_selector": ["form", "__action_id"]}],
            ),
            node(
                "agg",
                "variable-aggregator",
                variables=[["yes", "output"], ["no", "output"], ["late", "output"]],
            ),
            end(
                ("out", ["agg", "output"]),
                ("action", ["form", "__action_value"]),
                ("content", ["form", "__rendered_content"]),
            ),
        ],
        [
            edge("start", "form"),
            edge("form", "yes", "approve"),
            edge("form", "no", "reject"),
            edge("form", "late", "__timeout"),
            edge("yes", "agg"),
            edge("no", "agg"),
            edge("late", "agg"),
            edge("agg", "end"),
        ],
    )


def test_human_input_pauses_with_a_serialisable_state() -> None:
    outcome, host = run(_hitl_graph(), {"x": "doc"})
    assert outcome.status == "paused"
    pause = outcome.pause
    assert pause.node_id == "form"
    assert pause.form_content == "Review doc: {{#$output.comment#}}"
    assert pause.actions == [
        {"id": "approve", "title": "Approve", "button_style": "primary"},
        {"id": "reject", "title": "Reject", "button_style": "default"},
    ]
    assert pause.timeout_seconds == 2 * 86400
    assert pause.resolved_default_values == {"comment": "doc"}
    assert pause.inputs[0]["default"]["value"] == "doc"
    assert pause.delivery_methods[0]["config"] == {"subject": "About doc", "body": "Open {{#url#}}"}
    assert host.ran() == ["start", "form"]
    assert "form" not in host.finished()
    json.loads(json.dumps(outcome.state))


@pytest.mark.parametrize(
    ("resume", "out", "action"),
    [
        (ResumeInput("form", "approve", {"comment": "lgtm"}), "approved: lgtm", "Approve"),
        (ResumeInput("form", "reject", {"comment": "no"}), "rejected", "Reject"),
        (ResumeInput("form", "", {}, timed_out=True), "timed out ", ""),
    ],
)
def test_resume_follows_the_chosen_action(resume: ResumeInput, out: str, action: str) -> None:
    paused, _ = run(_hitl_graph(), {"x": "doc"})
    state = json.loads(json.dumps(paused.state))
    host = RecordingHost()
    outcome = resume_workflow(_hitl_graph(), state=state, resume=resume, host=host)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["out"] == out
    assert outcome.outputs["action"] == action
    assert host.ran()[0] != "form"
    form = host.finished()["form"]
    assert form["outputs"]["__action_id"] == resume.action_id
    expected_comment = resume.values.get("comment", "doc")
    assert outcome.outputs["content"] == f"Review doc: {expected_comment}"
    assert outcome.total_steps == len(host.ran()) + 2


@pytest.mark.parametrize(
    "resume",
    [
        ResumeInput("form", "maybe", {"comment": "x"}),
        ResumeInput("form", "approve", {}),
        ResumeInput("other", "approve", {"comment": "x"}),
    ],
)
def test_resume_that_does_not_fit_is_refused_before_anything_happens(resume: ResumeInput) -> None:
    paused, _ = run(_hitl_graph(), {"x": "doc"})
    host = RecordingHost()
    with pytest.raises(ResumeError):
        resume_workflow(_hitl_graph(), state=paused.state, resume=resume, host=host)
    assert host.events == []


def test_a_graph_with_an_unsupported_node_fails_cleanly() -> None:
    outcome, _ = run(
        graph([start(), node("k", "knowledge-retrieval", query="x")], [edge("start", "k")])
    )
    assert outcome.status == "failed"
    assert "'knowledge-retrieval' is not supported" in (outcome.error or "")


def test_env_and_conversation_variables() -> None:
    g = graph(
        [
            start(),
            node("a", "answer", answer="{{#env.KEY#}}/{{#conversation.topic#}}/{{#nope.x#}}"),
        ],
        [edge("start", "a")],
    )
    outcome, _ = run(g, mode="advanced-chat")
    assert outcome.answer == "k-1/t/nope.x"


def test_model_text_is_not_streamed_past_an_earlier_answer() -> None:
    host = RecordingHost(replies=[["x", "y"]])
    g = graph(
        [
            start(),
            node(
                "llm",
                "llm",
                model={"provider": "p", "name": "m", "mode": "chat"},
                prompt_template=[{"role": "user", "text": "go"}],
            ),
            node("first", "answer", answer="first;"),
            node("second", "answer", answer="{{#llm.text#}}"),
        ],
        [edge("start", "llm"), edge("llm", "first"), edge("first", "second")],
    )
    outcome, host = run(g, mode="advanced-chat", host=host)
    assert [e["answer"] for e in host.named("message")] == ["first;", "xy"]
    assert outcome.answer == "first;xy"


def _llm(**extra: Any) -> dict[str, Any]:
    return node(
        "llm",
        "llm",
        model={"provider": "p", "name": "m", "mode": "chat"},
        prompt_template=[{"role": "user", "text": "hi"}],
        **extra,
    )


def test_retries_exhausted_then_default_value() -> None:
    errors = [ProviderError("completion_request_error", f"boom {i}") for i in range(3)]
    host = RecordingHost(replies=list(errors))
    g = graph(
        [
            start(),
            _llm(
                retry_config={"retry_enabled": True, "max_retries": 2, "retry_interval": 0},
                error_strategy="default-value",
                default_value=[{"key": "text", "type": "string", "value": "sorry"}],
            ),
            end(("out", ["llm", "text"]), ("err", ["llm", "error_message"])),
        ],
        [edge("start", "llm"), edge("llm", "end")],
    )
    outcome, host = run(g, host=host)
    assert len(host.calls) == 3
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs == {"out": "sorry", "err": "boom 2"}
    assert host.finished()["llm"]["status"] == "exception"


def test_provider_failure_takes_the_fail_branch() -> None:
    host = RecordingHost(replies=[ProviderError("provider_not_initialize", "bad key")])
    g = graph(
        [
            start(),
            _llm(error_strategy="fail-branch"),
            tt("ok", "fine"),
            tt(
                "sorry",
                "{{ e }}",
                variables=[{"variable": "e", "value_selector": ["llm", "error_message"]}],
            ),
            node("agg", "variable-aggregator", variables=[["ok", "output"], ["sorry", "output"]]),
            end(("out", ["agg", "output"])),
        ],
        [
            edge("start", "llm"),
            edge("llm", "ok"),
            edge("llm", "sorry", "fail-branch"),
            edge("ok", "agg"),
            edge("sorry", "agg"),
            edge("agg", "end"),
        ],
    )
    outcome, host = run(g, host=host)
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs == {"out": "bad key"}
    assert "ok" not in host.ran()


def test_retry_without_success_fails_with_the_last_error() -> None:
    host = RecordingHost(
        replies=[ProviderError("rate_limit_error", "a"), ProviderError("rate_limit_error", "b")]
    )
    g = graph(
        [
            start(),
            _llm(retry_config={"retry_enabled": True, "max_retries": 1, "retry_interval": 0}),
            end(("out", ["llm", "text"])),
        ],
        [edge("start", "llm"), edge("llm", "end")],
    )
    outcome, host = run(g, host=host)
    assert (outcome.status, outcome.error, outcome.error_code) == (
        "failed",
        "b",
        "rate_limit_error",
    )


def test_stop_during_a_retry_wait() -> None:
    host = RecordingHost(
        replies=[ProviderError("completion_request_error", "x")],
        stop_when=lambda h: bool(h.named("node_retry")),
    )
    g = graph(
        [
            start(),
            _llm(retry_config={"retry_enabled": True, "max_retries": 3, "retry_interval": 60000}),
            end(("out", ["llm", "text"])),
        ],
        [edge("start", "llm"), edge("llm", "end")],
    )
    outcome, host = run(g, host=host)
    assert outcome.status == "stopped"
    assert len(host.calls) == 1
