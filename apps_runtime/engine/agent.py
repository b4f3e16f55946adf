"""The agent loop (agent-chat apps and agent nodes): a model calls tools until it can answer.

Two strategies. ``function_call`` offers the tools through the provider's tool-calling API and
reads the model's ``tool_calls``; ``react`` describes the tools in the prompt and parses the
model's ``Action`` / ``Final Answer`` text defensively. ``max_iteration`` counts tool rounds;
after the last one the model is asked once more without tools. Each round is one
``agent_thought`` (sent when the model decides, and again with the same id once the observations
are in); answer text streams through ``on_answer`` as it arrives. A bad call (unknown tool,
arguments that are not JSON or do not fit the tool's schema, a failing tool) becomes an
observation the model reads, never a crash. The stop check runs between steps and on every
streamed chunk.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import json_repair

from apps_runtime.engine.host import EngineHost
from apps_runtime.providers.types import ToolCall, Usage
from apps_runtime.tools.types import ToolError, ToolHandle, ToolSpec, openai_function

FUNCTION_CALL, REACT = "function_call", "react"
# DSL strategy names (dsl.md §1.6): legacy ``cot`` and ``react_router`` are ReAct, ``router`` is
# the old function-calling router.
STRATEGIES = {
    "function_call": FUNCTION_CALL,
    "router": FUNCTION_CALL,
    "react": REACT,
    "cot": REACT,
    "react_router": REACT,
}
DEFAULT_MAX_ITERATION = 10
MAX_ITERATION_CEILING = 99
FINAL_ANSWER = "Final Answer:"
OBSERVATION = "Observation:"
FORCE_ANSWER = (
    "You have used all the tool calls you may make. Answer the question now, without any "
    f"Action, starting with '{FINAL_ANSWER}'."
)


def strategy_of(name: Any) -> str | None:
    return STRATEGIES.get(str(name or FUNCTION_CALL))


def max_iteration_of(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return DEFAULT_MAX_ITERATION
    return max(1, min(number, MAX_ITERATION_CEILING))


@dataclass
class Thought:
    position: int
    thought: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)  # {id, name, arguments, observation}
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    labels: dict[str, str] = field(default_factory=dict)

    def _joined(self, key: str) -> str:
        values: dict[str, Any] = {}
        for call in self.calls:
            value = call.get(key)
            if key == "arguments":
                try:
                    value = json.loads(value) if isinstance(value, str) else value
                except ValueError:
                    pass
            values[call["name"]] = value
        return json.dumps(values, ensure_ascii=False) if values else ""

    def event(self) -> dict[str, Any]:
        observed = any("observation" in call for call in self.calls)
        return {
            "event": "agent_thought",
            "id": self.id,
            "position": self.position,
            "thought": self.thought,
            "observation": self._joined("observation") if observed else "",
            "tool": ";".join(call["name"] for call in self.calls),
            "tool_labels": {
                name: {"en_US": label, "zh_Hans": label} for name, label in self.labels.items()
            },
            "tool_input": self._joined("arguments"),
            "message_files": [],
        }

    def stored(self) -> dict[str, Any]:
        event = self.event()
        event.pop("event")
        return {**event, "calls": self.calls}


@dataclass
class AgentResult:
    answer: str = ""
    thoughts: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass
class AgentSetup:
    provider: str
    model: str
    params: dict[str, Any]
    strategy: str
    max_iteration: int
    tools: list[ToolHandle]
    # Arguments the app fixed per tool (``tool_parameters`` with a value): sent with every call
    # and not offered to the model.
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def offered(self, tool: ToolHandle) -> ToolSpec:
        """The tool as the model sees it: without the parameters the app fixed."""
        fixed = self.presets.get(tool.spec.name)
        if not fixed:
            return tool.spec
        schema = dict(tool.spec.parameters)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            schema["properties"] = {k: v for k, v in properties.items() if k not in fixed}
        required = schema.get("required")
        if isinstance(required, list):
            schema["required"] = [name for name in required if name not in fixed]
            if not schema["required"]:
                del schema["required"]
        return replace(tool.spec, parameters=schema)


class AgentLoop:
    def __init__(
        self,
        host: EngineHost,
        setup: AgentSetup,
        *,
        on_thought: Callable[[dict[str, Any]], None],
        on_answer: Callable[[str], None],
        check_stop: Callable[[], None],
    ) -> None:
        self.host = host
        self.setup = setup
        self.on_thought = on_thought
        self.on_answer = on_answer
        self.check_stop = check_stop
        self.by_name = {tool.spec.name: tool for tool in setup.tools}
        self.result = AgentResult()
        self._thoughts: list[Thought] = []

    # -- shared ---------------------------------------------------------------------------------

    def run(self, messages: list[dict[str, Any]]) -> AgentResult:
        """Run the loop on ``messages`` (they grow with the rounds). ``self.result`` holds what
        was done so far when a stop or a provider error interrupts it."""
        if self.setup.strategy == REACT:
            self._react(list(messages))
        else:
            self._function_call(list(messages))
        return self.result

    def _stream(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        tools: list[dict[str, Any]] | None,
        on_text: Callable[[str], None],
    ) -> tuple[str, tuple[ToolCall, ...]]:
        self.check_stop()
        stream = self.host.chat_stream(
            provider=self.setup.provider,
            model=self.setup.model,
            messages=list(messages),  # the loop keeps growing its own list
            params=params,
            tools=tools,
        )
        text: list[str] = []
        calls: tuple[ToolCall, ...] = ()
        try:
            for chunk in stream:
                self.check_stop()
                if chunk.text:
                    text.append(chunk.text)
                    on_text(chunk.text)
                if chunk.usage is not None:
                    self.result.usage = self.result.usage + chunk.usage
                if chunk.tool_calls:
                    calls = chunk.tool_calls
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return "".join(text), calls

    def _answer(self, text: str) -> None:
        self.result.answer += text
        self.on_answer(text)

    def _decide(self, thought: Thought) -> None:
        for call in thought.calls:
            tool = self.by_name.get(call["name"])
            if tool is not None:
                thought.labels[call["name"]] = tool.spec.label or tool.spec.name
        self._thoughts.append(thought)
        self.on_thought(thought.event())

    def _observe(self, thought: Thought) -> None:
        for call in thought.calls:
            self.check_stop()
            call["observation"] = self._call(call["name"], call["arguments"])
        self.result.thoughts.append(thought.stored())
        self.on_thought(thought.event())

    def _call(self, name: str, arguments: Any) -> str:
        tool = self.by_name.get(name)
        if tool is None:
            known = ", ".join(sorted(self.by_name)) or "none"
            return f"Error: there is no tool named {name!r} (available tools: {known})."
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return f"Error: the arguments for {name} are not valid JSON ({exc.msg})."
        fixed = self.setup.presets.get(name)
        if fixed and isinstance(arguments, dict):
            arguments = {**arguments, **fixed}
        try:
            return self.host.call_tool(tool, arguments).text
        except ToolError as exc:
            return f"Error: {exc.message}"

    # -- function calling -----------------------------------------------------------------------

    def _function_call(self, messages: list[dict[str, Any]]) -> None:
        functions = [openai_function(self.setup.offered(tool)) for tool in self.setup.tools]
        rounds = 0
        while True:
            offered = functions if functions and rounds < self.setup.max_iteration else None
            text, calls = self._stream(messages, self.setup.params, offered, self._answer)
            if not calls or offered is None:
                return
            rounds += 1
            thought = Thought(
                position=len(self._thoughts) + 1,
                thought=text,
                calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls],
            )
            self._decide(thought)
            messages.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [tool_call_message(call) for call in thought.calls],
                }
            )
            self._observe(thought)
            for call in thought.calls:
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": call["observation"]}
                )

    # -- ReAct ----------------------------------------------------------------------------------

    def _react(self, messages: list[dict[str, Any]]) -> None:
        tools = self.setup.tools
        if tools:
            instruction = react_instruction([self.setup.offered(tool) for tool in tools])
            if messages and messages[0].get("role") == "system":
                content = f"{messages[0]['content']}\n\n{instruction}"
                messages[0] = {**messages[0], "content": content}
            else:
                messages.insert(0, {"role": "system", "content": instruction})
        params = dict(self.setup.params)
        found = params.get("stop")
        stop: list[Any] = found if isinstance(found, list) else []
        params["stop"] = [*stop, OBSERVATION] if OBSERVATION not in stop else stop
        rounds = 0
        while True:
            forced = bool(tools) and rounds >= self.setup.max_iteration
            asked = [*messages, {"role": "user", "content": FORCE_ANSWER}] if forced else messages
            reader = FinalAnswerReader(self._answer)
            text, _calls = self._stream(asked, params, None, reader.feed)
            action = None if forced or not tools or reader.started else parse_action(text)
            if action is None or action[0] == "Final Answer":
                if action is not None and not reader.started:
                    reader.emit_all(_as_text(action[1]))
                else:
                    reader.finish(text)
                return
            rounds += 1
            name, arguments = action
            thought = Thought(
                position=len(self._thoughts) + 1,
                thought=thought_text(text),
                calls=[
                    {
                        "id": f"react-{rounds}",
                        "name": name,
                        "arguments": json.dumps(arguments, ensure_ascii=False),
                    }
                ],
            )
            self._decide(thought)
            self._observe(thought)
            messages.append({"role": "assistant", "content": text})
            messages.append(
                {"role": "user", "content": f"{OBSERVATION} {thought.calls[0]['observation']}"}
            )


def tool_call_message(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": call["arguments"]},
    }


def react_instruction(specs: list[ToolSpec]) -> str:
    lines = [
        "You can use these tools (each takes a JSON object of arguments):",
    ]
    for spec in specs:
        schema = json.dumps(spec.parameters, ensure_ascii=False)
        lines.append(f"- {spec.name}: {spec.description} Arguments schema: {schema}")
    lines += [
        "",
        "To use a tool, answer exactly in this format and stop:",
        "Thought: what you need to do next",
        "Action:",
        "```json",
        '{"action": "<tool name>", "action_input": {<arguments>}}',
        "```",
        f"You will then get the tool's result as '{OBSERVATION} ...'.",
        "When you can answer, write:",
        "Thought: I know the answer",
        f"{FINAL_ANSWER} <your answer to the user>",
    ]
    return "\n".join(lines)


class FinalAnswerReader:
    """Streams what follows ``Final Answer:`` live (the marker may arrive split across chunks);
    without the marker, the answer is decided when the text is complete."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.text = ""
        self.started = False
        self.sent = 0  # characters of the answer already emitted

    def feed(self, piece: str) -> None:
        self.text += piece
        index = self.text.find(FINAL_ANSWER)
        if index < 0:
            return
        self.started = True
        answer = self.text[index + len(FINAL_ANSWER) :].lstrip()
        if len(answer) > self.sent:
            self.emit(answer[self.sent :])
            self.sent = len(answer)

    def emit_all(self, answer: str) -> None:
        if answer:
            self.emit(answer)

    def finish(self, text: str) -> None:
        if self.started:
            return
        # No marker and no action: the whole reply (minus a leading "Thought:") is the answer.
        answer = re.sub(r"^\s*Thought:\s*", "", text).strip()
        self.emit_all(answer)


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_PLAIN_ACTION = re.compile(r"Action:\s*([^\n`{]+?)\s*\n+\s*Action Input:\s*(.*)", re.DOTALL)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        value = json_repair.loads(text)
        return value if value != "" else None


def _action_from(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, dict):
        return None
    name = value.get("action") or value.get("name") or value.get("tool")
    if not isinstance(name, str) or not name.strip():
        return None
    arguments = value.get("action_input", value.get("arguments", value.get("input", {})))
    if isinstance(arguments, str):
        parsed = _loads(arguments) if arguments.strip().startswith(("{", "[")) else None
        arguments = parsed if isinstance(parsed, dict) else arguments
    return name.strip(), arguments


def parse_action(text: str) -> tuple[str, Any] | None:
    """The (tool name, arguments) a ReAct reply asks for, or None when it asks for none.

    Accepts a fenced JSON blob, a bare JSON object after ``Action:``, or the plain
    ``Action: name`` / ``Action Input: {...}`` form."""
    if "Action" not in text and "action" not in text:
        return None
    for block in _FENCE.findall(text):
        found = _action_from(_loads(block.strip()))
        if found is not None:
            return found
    marker = text.find("Action:")
    tail = text[marker + len("Action:") :] if marker >= 0 else text
    start, end = tail.find("{"), tail.rfind("}")
    if start >= 0 and end > start:
        found = _action_from(_loads(tail[start : end + 1]))
        if found is not None:
            return found
    plain = _PLAIN_ACTION.search(text)
    if plain is not None:
        raw = plain.group(2).strip()
        parsed = _loads(raw) if raw.startswith("{") else None
        return plain.group(1).strip(), parsed if isinstance(parsed, dict) else raw
    return None


def thought_text(text: str) -> str:
    """The reasoning before the action, without its ``Thought:`` label."""
    head = text.split("Action:", 1)[0]
    return re.sub(r"^\s*Thought:\s*", "", head).strip()


# -- memory -------------------------------------------------------------------------------------


def history_messages(
    turns: list[tuple[str, str, list[dict[str, Any]]]], strategy: str
) -> list[dict[str, Any]]:
    """Earlier turns with the thoughts stored with them, as the strategy's messages."""
    messages: list[dict[str, Any]] = []
    for query, answer, thoughts in turns:
        messages.append({"role": "user", "content": query})
        for thought in thoughts or []:
            calls = [c for c in thought.get("calls") or [] if isinstance(c, dict) and c.get("name")]
            if not calls:
                continue
            if strategy == REACT:
                call = calls[0]
                blob = json.dumps(
                    {"action": call["name"], "action_input": _loads(str(call.get("arguments")))},
                    ensure_ascii=False,
                )
                text = f"Thought: {thought.get('thought') or ''}\nAction:\n```json\n{blob}\n```"
                messages.append({"role": "assistant", "content": text})
                observation = str(call.get("observation") or "")
                messages.append({"role": "user", "content": f"{OBSERVATION} {observation}"})
                continue
            messages.append(
                {
                    "role": "assistant",
                    "content": thought.get("thought") or None,
                    "tool_calls": [tool_call_message(c) for c in calls],
                }
            )
            for call in calls:
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call["id"],
                        "content": str(call.get("observation") or ""),
                    }
                )
        messages.append({"role": "assistant", "content": answer})
    return messages
