"""The run engine: walks an app's graph (or prompt) and knows nothing about HTTP or the database.

Its host (the run layer) is reached only through :class:`apps_runtime.engine.host.EngineHost`.
Node and provider failures never raise out of ``run_*``/``resume_*``: they come back as an
:class:`Outcome` with status ``failed``; a stop comes back as status ``stopped``.
"""

from __future__ import annotations

from typing import Any

from apps_runtime.engine.agent import (
    AgentLoop,
    AgentResult,
    AgentSetup,
    max_iteration_of,
    strategy_of,
)
from apps_runtime.engine.agent import history_messages as agent_history_messages
from apps_runtime.engine.host import EngineHost, StopRequested
from apps_runtime.engine.nodes import runnable_node_types
from apps_runtime.engine.nodes.base import NodeFailed
from apps_runtime.engine.nodes.start import form_variables, validate_start_inputs
from apps_runtime.engine.nodes.tool import coerce
from apps_runtime.engine.prompt import model_params, prompt_app_messages
from apps_runtime.engine.runner import GraphError, Runner
from apps_runtime.engine.types import (
    FAILED,
    STOPPED,
    SUCCEEDED,
    InputError,
    Outcome,
    Pause,
    ResumeError,
    ResumeInput,
)
from apps_runtime.engine.variables import VariablePool
from apps_runtime.providers.types import ProviderError, Usage
from apps_runtime.tools.types import ToolUnavailable

__all__ = [
    "EngineHost",
    "InputError",
    "Outcome",
    "Pause",
    "ResumeError",
    "ResumeInput",
    "StopRequested",
    "form_variables",
    "resume_workflow",
    "run_agent_app",
    "run_prompt_app",
    "run_workflow",
    "runnable_node_types",
    "validate_start_inputs",
]


def run_workflow(
    graph: dict[str, Any],
    *,
    mode: str,
    inputs: dict[str, Any],
    system: dict[str, Any],
    environment: dict[str, Any],
    conversation: dict[str, Any],
    host: EngineHost,
) -> Outcome:
    """Run a ``workflow`` or ``advanced-chat`` graph from its start node."""
    pool = VariablePool(system=system, environment=environment, conversation=conversation)
    try:
        runner = Runner(graph or {}, mode=mode, pool=pool, host=host)
    except GraphError as exc:
        return Outcome(status=FAILED, error=str(exc))
    pool.set_outputs(runner.root, dict(inputs or {}))
    return runner.run()


def resume_workflow(
    graph: dict[str, Any], *, state: dict[str, Any], resume: ResumeInput, host: EngineHost
) -> Outcome:
    """Continue a paused run from its saved ``state`` along the chosen action (or ``__timeout``).

    Raises :class:`ResumeError` (before emitting anything) when ``resume`` does not fit the paused
    node: unknown node or action, or a missing input.
    """
    try:
        runner = Runner.from_state(graph or {}, state, host)
    except GraphError as exc:
        raise ResumeError(str(exc)) from None
    return runner.resume(resume)


def run_prompt_app(
    model_config: dict[str, Any], *, mode: str, inputs: dict[str, Any], query: str, host: EngineHost
) -> Outcome:
    """Run a ``chat`` or ``completion`` app: its prompt (with inputs and, for chat, the history)
    to the model, the answer streamed as ``message`` events. ``agent-chat`` apps run their
    tool loop (:func:`run_agent_app`)."""
    if mode == "agent-chat":
        return run_agent_app(model_config, inputs=inputs, query=query, host=host)
    answer: list[str] = []
    usage = Usage()
    try:
        values = validate_start_inputs(form_variables(model_config.get("user_input_form")), inputs)
        values = {**(inputs or {}), **values}
        history = host.history(None) if mode == "chat" else []
        messages = prompt_app_messages(
            model_config, mode=mode, inputs=values, query=query or "", history=history
        )
        model = model_config.get("model") or {}
        if host.should_stop():
            raise StopRequested()
        stream = host.chat_stream(
            provider=str(model.get("provider") or ""),
            model=str(model.get("name") or ""),
            messages=messages,
            params=model_params(model_config),
        )
        try:
            for chunk in stream:
                if host.should_stop():
                    raise StopRequested()
                if chunk.text:
                    answer.append(chunk.text)
                    host.emit({"event": "message", "answer": chunk.text})
                if chunk.usage is not None:
                    usage = chunk.usage
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    except StopRequested:
        return Outcome(status=STOPPED, answer="".join(answer), usage=usage)
    except ProviderError as exc:
        return Outcome(
            status=FAILED,
            error=exc.message,
            error_code=exc.code,
            answer="".join(answer),
            usage=usage,
        )
    except (InputError, NodeFailed) as exc:
        return Outcome(status=FAILED, error=str(exc), answer="".join(answer), usage=usage)
    text = "".join(answer)
    return Outcome(
        status=SUCCEEDED, outputs={"answer": text}, answer=text, usage=usage, total_steps=1
    )


def agent_app_setup(model_config: dict[str, Any], host: EngineHost) -> AgentSetup:
    """The loop's model, strategy, cap and tools from ``model_config.agent_mode`` (dsl.md §1.6).
    Raises ``ToolUnavailable`` for a tool the workspace lacks, ``InputError`` for a strategy
    this engine does not run."""
    from apps_runtime.tools.registry import model_config_tool_entries

    agent_mode = model_config.get("agent_mode")
    agent_mode = agent_mode if isinstance(agent_mode, dict) else {}
    strategy = strategy_of(agent_mode.get("strategy"))
    if strategy is None:
        raise InputError(
            "agent_mode", f"agent strategy {agent_mode.get('strategy')!r} is not runnable"
        )
    model = model_config.get("model") or {}
    entries = model_config_tool_entries(model_config)
    tools = [host.tool(entry) for entry in entries]
    presets: dict[str, dict[str, Any]] = {}
    for entry, tool in zip(entries, tools, strict=True):
        fixed = entry.get("tool_parameters")
        if isinstance(fixed, dict):
            found = tool.spec.parameters.get("properties")
            properties = found if isinstance(found, dict) else {}
            values = {
                str(k): coerce(v, properties.get(k))
                for k, v in fixed.items()
                if v not in (None, "")
            }
            if values:
                presets[tool.spec.name] = values
    return AgentSetup(
        provider=str(model.get("provider") or ""),
        model=str(model.get("name") or ""),
        params=model_params(model_config),
        strategy=strategy,
        max_iteration=max_iteration_of(agent_mode.get("max_iteration")),
        tools=tools,
        presets=presets,
    )


def run_agent_app(
    model_config: dict[str, Any], *, inputs: dict[str, Any], query: str, host: EngineHost
) -> Outcome:
    """Run an ``agent-chat`` app: the prompt, the earlier turns with their thoughts, the query;
    then the agent loop, thoughts as ``agent_thought`` and the answer as ``agent_message``."""
    loop: AgentLoop | None = None

    def check_stop() -> None:
        if host.should_stop():
            raise StopRequested()

    def so_far(status: str, **extra: Any) -> Outcome:
        result = loop.result if loop is not None else AgentResult()
        return Outcome(
            status=status,
            answer=result.answer,
            usage=result.usage,
            agent_thoughts=result.thoughts,
            total_steps=len(result.thoughts) + 1,
            **extra,
        )

    try:
        values = validate_start_inputs(form_variables(model_config.get("user_input_form")), inputs)
        values = {**(inputs or {}), **values}
        setup = agent_app_setup(model_config, host)
        messages = prompt_app_messages(
            model_config, mode="chat", inputs=values, query=query or "", history=[]
        )
        earlier = agent_history_messages(host.agent_history(None), setup.strategy)
        if earlier:
            at = len(messages) - 1 if messages and messages[-1].get("role") == "user" else 0
            messages[at:at] = earlier
        loop = AgentLoop(
            host,
            setup,
            on_thought=host.emit,
            on_answer=lambda text: host.emit({"event": "agent_message", "answer": text}),
            check_stop=check_stop,
        )
        loop.run(messages)
    except StopRequested:
        return so_far(STOPPED)
    except ProviderError as exc:
        return so_far(FAILED, error=exc.message, error_code=exc.code)
    except ToolUnavailable as exc:
        return so_far(FAILED, error=exc.message, error_code="app_unavailable")
    except InputError as exc:
        return so_far(FAILED, error=str(exc))
    outcome = so_far(SUCCEEDED)
    outcome.outputs = {"answer": outcome.answer}
    return outcome
