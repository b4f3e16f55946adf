"""The agent loop of agent-chat apps: function calling and ReAct, the thoughts it reports, the
messages it sends, the iteration cap, bad calls becoming observations, memory and stop."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps_runtime.engine import run_prompt_app
from apps_runtime.engine.agent import parse_action
from apps_runtime.engine.tests.enginehost import RecordingHost
from apps_runtime.providers.types import ToolCall
from apps_runtime.tools.registry import BoundTool
from apps_runtime.tools.types import ToolOutput, ToolSpec

WEATHER = ToolSpec(
    name="weather",
    label="Weather",
    description="Weather in a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
    provider="meteo",
)


def weather_tool(calls: list[Any]) -> BoundTool:
    def call(arguments: dict[str, Any], deadline: float, stop: Any) -> ToolOutput:
        calls.append(arguments)
        return ToolOutput(text=f"sunny in {arguments['city']}")

    return BoundTool(spec=WEATHER, provider_label="meteo", call=call)


def config(strategy: str = "function_call", max_iteration: int = 3) -> dict[str, Any]:
    return {
        "pre_prompt": "You are a weather bot.",
        "model": {"provider": "openai", "name": "gpt-4o", "mode": "chat", "completion_params": {}},
        "agent_mode": {
            "enabled": True,
            "strategy": strategy,
            "max_iteration": max_iteration,
            "tools": [
                {
                    "enabled": True,
                    "provider_type": "api",
                    "provider_id": "x",
                    "provider_name": "meteo",
                    "tool_name": "weather",
                    "tool_parameters": {},
                }
            ],
        },
    }


def agent(
    replies: list[Any], strategy: str = "function_call", max_iteration: int = 3, **host_fields: Any
):
    calls: list[Any] = []
    host = RecordingHost(replies=replies, **host_fields)
    host.tools["weather"] = weather_tool(calls)
    outcome = run_prompt_app(
        config(strategy, max_iteration),
        mode="agent-chat",
        inputs={},
        query="Weather in Oslo?",
        host=host,
    )
    return outcome, host, calls


def thoughts(host: RecordingHost) -> list[dict[str, Any]]:
    return [
        {k: e[k] for k in ("id", "position", "thought", "tool", "tool_input", "observation")}
        for e in host.named("agent_thought")
    ]


def answer(host: RecordingHost) -> str:
    return "".join(e["answer"] for e in host.named("agent_message"))


def test_function_calling_offers_the_tools_calls_them_and_answers():
    outcome, host, calls = agent(
        [[ToolCall("call_1", "weather", '{"city": "Oslo"}')], ["It is ", "sunny."]]
    )
    assert outcome.status == "succeeded", outcome.error
    assert calls == [{"city": "Oslo"}]
    first, second = host.calls
    assert first.tools == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather in a city.",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert first.messages == [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Oslo?"},
    ]
    assert second.messages[2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny in Oslo"},
    ]
    decided, observed = thoughts(host)
    assert decided["id"] == observed["id"] and decided["position"] == observed["position"] == 1
    assert decided["tool"] == "weather" and json.loads(decided["tool_input"]) == {
        "weather": {"city": "Oslo"}
    }
    assert decided["observation"] == ""
    assert json.loads(observed["observation"]) == {"weather": "sunny in Oslo"}
    names = [e["event"] for e in host.events]
    assert names == ["agent_thought", "agent_thought", "agent_message", "agent_message"]
    assert answer(host) == outcome.answer == "It is sunny."
    assert outcome.agent_thoughts[0]["calls"][0]["observation"] == "sunny in Oslo"
    assert host.named("agent_thought")[0]["tool_labels"] == {
        "weather": {"en_US": "Weather", "zh_Hans": "Weather"}
    }


def test_a_model_that_loops_past_max_iteration_is_asked_once_more_without_tools():
    loop = [ToolCall(f"c{i}", "weather", '{"city": "Oslo"}') for i in range(5)]
    outcome, host, calls = agent([[loop[0]], [loop[1]], ["Enough: sunny."]], max_iteration=2)
    assert outcome.status == "succeeded"
    assert len(calls) == 2
    assert [bool(c.tools) for c in host.calls] == [True, True, False]
    assert answer(host) == "Enough: sunny."
    assert [t["position"] for t in thoughts(host)] == [1, 1, 2, 2]


@pytest.mark.parametrize(
    ("call", "observation"),
    [
        (ToolCall("c1", "forecast", "{}"), "Error: there is no tool named 'forecast'"),
        (ToolCall("c1", "weather", '{"city": 5}'), "city: 5 is not of type 'string'"),
        (ToolCall("c1", "weather", '{"days": 2}'), "'city' is a required property"),
        (ToolCall("c1", "weather", '{"city": "Oslo"'), "are not valid JSON"),
    ],
)
def test_bad_calls_become_observations_the_model_reads(call, observation):
    outcome, host, calls = agent([[call], ["Sorry."]])
    assert outcome.status == "succeeded"
    assert calls == []
    tool_message = host.calls[1].messages[-1]
    assert tool_message["role"] == "tool" and observation in tool_message["content"]
    assert answer(host) == "Sorry."


def test_react_parses_the_action_calls_the_tool_and_streams_the_final_answer():
    outcome, host, calls = agent(
        [
            [
                "Thought: I need the weather.\nAction:\n```json\n",
                '{"action": "weather", "action_input": {"city": "Oslo"}}\n```',
            ],
            ["Thought: I know it.\nFinal ", "Answer: Sunny ", "in Oslo."],
        ],
        strategy="react",
    )
    assert outcome.status == "succeeded", outcome.error
    assert calls == [{"city": "Oslo"}]
    first, second = host.calls
    assert first.tools is None and "Observation:" in first.params["stop"]
    system = first.messages[0]["content"]
    assert system.startswith("You are a weather bot.\n\nYou can use these tools")
    assert json.dumps(WEATHER.parameters) in system
    assert second.messages[-2:] == [
        {
            "role": "assistant",
            "content": "Thought: I need the weather.\nAction:\n```json\n"
            '{"action": "weather", "action_input": {"city": "Oslo"}}\n```',
        },
        {"role": "user", "content": "Observation: sunny in Oslo"},
    ]
    decided, observed = thoughts(host)
    assert decided["thought"] == "I need the weather." and decided["tool"] == "weather"
    assert json.loads(observed["observation"]) == {"weather": "sunny in Oslo"}
    assert [e["answer"] for e in host.named("agent_message")] == ["Sunny ", "in Oslo."]
    assert outcome.answer == "Sunny in Oslo."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'Action: {"action": "weather", "action_input": {"city": "A"}}',
            ("weather", {"city": "A"}),
        ),
        ('Action: weather\nAction Input: {"city": "B"}', ("weather", {"city": "B"})),
        (
            'Action:\n```\n{"action": "weather", "action_input": "{\\"city\\": \\"C\\"}"}\n```',
            ("weather", {"city": "C"}),
        ),
        (
            "Action: {'action': 'weather', 'action_input': {'city': 'D',}}",
            ("weather", {"city": "D"}),
        ),
        ("Just an answer without any tool.", None),
        ("Action: ```json\nnot json at all\n```", None),
    ],
)
def test_the_react_parser_is_defensive(text, expected):
    assert parse_action(text) == expected


def test_react_past_max_iteration_is_told_to_answer_without_tools():
    from apps_runtime.engine.agent import FORCE_ANSWER

    action = 'Action: {"action": "weather", "action_input": {"city": "Oslo"}}'
    outcome, host, calls = agent(
        [[action], [action + "\nFinal Answer: Sunny, I think."]], strategy="react", max_iteration=1
    )
    assert len(calls) == 1
    assert host.calls[-1].messages[-1] == {"role": "user", "content": FORCE_ANSWER}
    assert outcome.answer == "Sunny, I think."


def test_a_react_reply_without_marker_or_action_is_the_answer():
    outcome, _host, calls = agent([["Thought: easy.\nIt is sunny."]], strategy="cot")
    assert calls == [] and outcome.answer == "easy.\nIt is sunny."


def test_earlier_thoughts_are_part_of_the_memory():
    earlier = [
        (
            "Weather in Rome?",
            "Sunny in Rome.",
            [
                {
                    "thought": "",
                    "calls": [
                        {
                            "id": "call_9",
                            "name": "weather",
                            "arguments": '{"city": "Rome"}',
                            "observation": "sunny in Rome",
                        }
                    ],
                }
            ],
        )
    ]
    _outcome, host, _calls = agent([["Still sunny."]], thought_turns=earlier)
    assert host.calls[0].messages == [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Rome"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "sunny in Rome"},
        {"role": "assistant", "content": "Sunny in Rome."},
        {"role": "user", "content": "Weather in Oslo?"},
    ]


def test_a_stop_between_steps_ends_the_loop_with_what_was_done():
    def stop_after_first_thought(host: RecordingHost) -> bool:
        return len(host.named("agent_thought")) >= 2

    outcome, host, calls = agent(
        [[ToolCall("c1", "weather", '{"city": "Oslo"}')], ["never"]],
        stop_when=stop_after_first_thought,
    )
    assert outcome.status == "stopped"
    assert len(host.calls) == 1 and calls == [{"city": "Oslo"}]
    assert len(outcome.agent_thoughts) == 1


# -- agent nodes in workflows -------------------------------------------------------------------


def agent_node(strategy: str = "function_calling", **parameters: Any) -> dict[str, Any]:
    from apps_runtime.engine.tests.enginehost import node

    return node(
        "agent",
        "agent",
        agent_strategy_provider_name="langgenius/agent/agent",
        agent_strategy_name=strategy,
        agent_parameters={
            "model": {
                "type": "constant",
                "value": {
                    "provider": "langgenius/openai/openai",
                    "model": "gpt-4o",
                    "mode": "chat",
                    "completion_params": {"temperature": "0.2"},
                },
            },
            "tools": {
                "type": "constant",
                "value": [
                    {
                        "enabled": True,
                        "type": "api",
                        "provider_name": "meteo",
                        "tool_name": "weather",
                    }
                ],
            },
            "instruction": {"type": "constant", "value": "Answer about {{#start.place#}}."},
            "query": {"type": "constant", "value": "{{#sys.query#}}"},
            "maximum_iterations": {"type": "constant", "value": 2},
            **parameters,
        },
    )


def run_agent_graph(replies: list[Any], strategy: str = "function_calling"):
    from apps_runtime.engine import run_workflow
    from apps_runtime.engine.tests.enginehost import edge, graph, node

    calls: list[Any] = []
    host = RecordingHost(replies=replies)
    host.tools["weather"] = weather_tool(calls)
    start = node(
        "start", "start", variables=[{"variable": "place", "label": "place", "type": "text-input"}]
    )
    reply = node("answer", "answer", answer="{{#agent.text#}}")
    outcome = run_workflow(
        graph(
            [start, agent_node(strategy), reply], [edge("start", "agent"), edge("agent", "answer")]
        ),
        mode="advanced-chat",
        inputs={"place": "Norway"},
        system={"query": "Weather in Oslo?"},
        environment={},
        conversation={},
        host=host,
    )
    return outcome, host, calls


def test_an_agent_node_runs_the_function_calling_loop_and_streams_its_answer():
    outcome, host, calls = run_agent_graph(
        [[ToolCall("call_1", "weather", '{"city": "Oslo"}')], ["Sunny ", "there."]]
    )
    assert outcome.status == "succeeded", outcome.error
    assert calls == [{"city": "Oslo"}]
    first = host.calls[0]
    assert first.provider == "langgenius/openai/openai" and first.model == "gpt-4o"
    assert first.params == {"temperature": 0.2}
    assert first.messages == [
        {"role": "system", "content": "Answer about Norway."},
        {"role": "user", "content": "Weather in Oslo?"},
    ]
    assert first.tools[0]["function"]["name"] == "weather"
    logs = host.named("agent_log")
    assert [log["data"]["status"] for log in logs] == ["start", "success"]
    assert logs[0]["data"]["id"] == logs[1]["data"]["id"] and logs[0]["data"]["label"] == "weather"
    assert [e["answer"] for e in host.named("message")] == ["Sunny ", "there."]
    assert host.finished()["agent"]["outputs"]["text"] == "Sunny there."


def test_an_agent_node_runs_react_too():
    outcome, host, calls = run_agent_graph(
        [
            ['Action: {"action": "weather", "action_input": {"city": "Oslo"}}'],
            ["Final Answer: Sunny."],
        ],
        strategy="ReAct",
    )
    assert outcome.status == "succeeded", outcome.error
    assert calls == [{"city": "Oslo"}]
    assert host.answer() == "Sunny."


def test_parameters_the_app_fixed_are_hidden_from_the_model_and_sent_with_the_call(monkeypatch):
    from datetime import UTC, datetime

    from apps_runtime.tools.registry import tool_resolve

    moment = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    host = RecordingHost(
        replies=[[ToolCall("c1", "current_time", '{"format": "%H:%M"}')], ["It is 00:09."]]
    )
    host.tools["current_time"] = tool_resolve(
        None, {"provider_id": "langgenius/time/time", "tool_name": "current_time"}
    )
    cfg = config()
    cfg["agent_mode"]["tools"] = [
        {
            "enabled": True,
            "provider_type": "builtin",
            "provider_id": "langgenius/time/time",
            "provider_name": "time",
            "tool_name": "current_time",
            "tool_parameters": {"timezone": "Asia/Tokyo", "format": ""},
        }
    ]
    outcome = run_prompt_app(cfg, mode="agent-chat", inputs={}, query="Time?", host=host)
    assert outcome.status == "succeeded", outcome.error
    offered = host.calls[0].tools[0]["function"]["parameters"]["properties"]
    assert set(offered) == {"format"}
    assert host.tool_calls == [("current_time", {"format": "%H:%M", "timezone": "Asia/Tokyo"})]
    assert host.calls[1].messages[-1]["content"] == "00:09"
