"""The run engine: walks an app's graph (or prompt) and knows nothing about HTTP or the database.

Its host (the run layer) is reached only through :class:`apps_runtime.engine.host.EngineHost`.
Node and provider failures never raise out of ``run_*``/``resume_*``: they come back as an
:class:`Outcome` with status ``failed``; a stop comes back as status ``stopped``.
"""

from __future__ import annotations

from typing import Any

from apps_runtime.engine.host import EngineHost, StopRequested
from apps_runtime.engine.nodes import runnable_node_types
from apps_runtime.engine.nodes.base import NodeFailed
from apps_runtime.engine.nodes.start import form_variables, validate_start_inputs
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
    to the model, the answer streamed as ``message`` events."""
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
