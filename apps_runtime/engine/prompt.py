"""The messages a model gets (dsl.md §5): for an ``llm`` node, and for chat/completion apps from
their ``model_config`` (simple ``pre_prompt`` or the advanced prompt configs)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from apps_runtime.engine.nodes.base import NodeFailed
from apps_runtime.engine.templates import files_in, render, to_text
from apps_runtime.engine.variables import MISSING, SYSTEM, VariablePool, file_attribute, is_file

# Memory without a window still has a ceiling (dsl.md §5).
MAX_HISTORY_TURNS = 500
INPUT_PLACEHOLDER = re.compile(r"\{\{([a-zA-Z_][a-zA-Z0-9_]{0,29})\}\}")
CONTEXT = "{{#context#}}"
HISTORIES = "{{#histories#}}"
QUERY = "{{#query#}}"
NO_PROMPT = "No prompt found in the LLM configuration"

History = list[tuple[str, str]]


def fill_inputs(text: str, inputs: dict[str, Any]) -> str:
    """Easy-app ``{{var}}`` placeholders; an unknown name is left as written."""
    return INPUT_PLACEHOLDER.sub(
        lambda m: to_text(inputs[m.group(1)]) if m.group(1) in inputs else m.group(0), text or ""
    )


def history_turns(memory: Any) -> int:
    window = (memory or {}).get("window") or {}
    if isinstance(window, dict) and window.get("enabled"):
        try:
            return max(0, int(window.get("size") or 0))
        except (TypeError, ValueError):
            return MAX_HISTORY_TURNS
    return MAX_HISTORY_TURNS


def history_messages(history: History) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for query, answer in history:
        messages.append({"role": "user", "content": query})
        messages.append({"role": "assistant", "content": answer})
    return messages


def history_text(history: History, user_prefix: str, assistant_prefix: str) -> str:
    return "\n".join(
        f"{user_prefix}: {query}\n{assistant_prefix}: {answer}" for query, answer in history
    )


def _image_parts(files: list[dict[str, Any]], detail: str) -> list[dict[str, Any]]:
    parts = []
    for item in files:
        url = file_attribute(item, "url")
        if url and (item.get("type") in (None, "image")):
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": detail}})
    return parts


def context_text(value: Any) -> str:
    """An LLM node's context: a string verbatim, or knowledge-retrieval results joined."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, str):
                lines.append(item)
            elif isinstance(item, dict) and "content" in item:
                summary = item.get("summary")
                lines.append(f"{summary}\n{item['content']}" if summary else str(item["content"]))
        return "\n".join(lines)
    return to_text(value)


StopCheck = Callable[[], bool] | None


def _jinja2(text: str, data: dict[str, Any], pool: VariablePool, should_stop: StopCheck) -> str:
    """A jinja2 prompt: the render budget and output cap of template-transform; a prompt over
    the cap fails the node (it is never cut)."""
    from apps_runtime.engine.nodes.template_transform import render_jinja2, template_variables

    config = data.get("prompt_config") or {}
    variables = template_variables(config.get("jinja2_variables"), pool, missing="")
    return render_jinja2(text, variables, should_stop=should_stop, what="Prompt")


def _message_text(
    item: dict[str, Any],
    data: dict[str, Any],
    pool: VariablePool,
    context: str,
    should_stop: StopCheck = None,
) -> str:
    if item.get("edition_type") == "jinja2":
        return _jinja2(str(item.get("jinja2_text") or ""), data, pool, should_stop)
    text = str(item.get("text") or "").replace(CONTEXT, context)
    return render(text, pool)


def llm_messages(
    data: dict[str, Any], pool: VariablePool, history: History, should_stop: StopCheck = None
) -> list[dict[str, Any]]:
    """What an ``llm`` node sends, in order: template messages, history, the current query,
    vision files."""
    model = data.get("model") or {}
    context_config = data.get("context") or {}
    context = ""
    if isinstance(context_config, dict) and context_config.get("enabled"):
        context = context_text(pool.get(context_config.get("variable_selector") or []))
    memory = data.get("memory") if isinstance(data.get("memory"), dict) else None
    vision = data.get("vision") or {}
    vision_on = isinstance(vision, dict) and bool(vision.get("enabled"))
    vision_configs = (vision.get("configs") or {}) if vision_on else {}
    detail = str(vision_configs.get("detail") or "high")
    template = data.get("prompt_template")
    messages: list[dict[str, Any]] = []
    if model.get("mode") == "completion" or isinstance(template, dict):
        item = template if isinstance(template, dict) else {}
        text = _message_text(item, data, pool, context, should_stop)
        if memory is not None:
            prefixes = memory.get("role_prefix") or {}
            lines = history_text(
                history,
                str(prefixes.get("user") or "Human"),
                str(prefixes.get("assistant") or "Assistant"),
            )
            if HISTORIES in text:
                text = text.replace(HISTORIES, lines)
            elif "#histories#" in text:
                text = text.replace("#histories#", lines)
            elif lines:
                text = f"{lines}\n{text}"
        if text:
            messages.append({"role": "user", "content": text})
    else:
        for item in template or []:
            if not isinstance(item, dict):
                continue
            role = str(item.get("role") or "user")
            text = _message_text(item, data, pool, context, should_stop)
            if text:
                messages.append({"role": role, "content": text})
            if vision_on and item.get("edition_type") != "jinja2":
                parts = _image_parts(files_in(str(item.get("text") or ""), pool), detail)
                if parts:
                    messages.append({"role": role, "content": parts})
        if memory is not None:
            messages.extend(history_messages(history))
            query_template = str(memory.get("query_prompt_template") or "")
            query = (
                render(query_template, pool)
                if query_template
                else to_text(pool.get([SYSTEM, "query"]))
            )
            if query:
                messages.append({"role": "user", "content": query})
    attach_vision(messages, data, pool)
    if not messages:
        raise NodeFailed(NO_PROMPT, "NoPromptFound")
    return messages


def attach_vision(messages: list[dict[str, Any]], data: dict[str, Any], pool: VariablePool) -> None:
    """With ``vision.enabled``, the image files at ``vision.configs.variable_selector`` (default
    ``sys.files``) go in front of the last user message, or in a user message of their own."""
    vision = data.get("vision") or {}
    if not (isinstance(vision, dict) and vision.get("enabled")):
        return
    configs = vision.get("configs") or {}
    detail = str(configs.get("detail") or "high")
    selector = configs.get("variable_selector") or [SYSTEM, "files"]
    value = pool.get(selector)
    files = (
        [value]
        if is_file(value)
        else [f for f in value if is_file(f)]
        if isinstance(value, list)
        else []
    )
    parts = _image_parts(files, detail)
    if not parts:
        return
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "user" and isinstance(last["content"], str):
        last["content"] = [*parts, {"type": "text", "text": last["content"]}]
    elif last is not None and last["role"] == "user":
        last["content"] = [*parts, *last["content"]]
    else:
        messages.append({"role": "user", "content": parts})


def model_params(data: dict[str, Any], pool: VariablePool | None = None) -> dict[str, Any]:
    """``completion_params`` forwarded as they are; string values may hold references and numbers
    written as text become numbers."""
    params = (data.get("model") or {}).get("completion_params") or {}
    result: dict[str, Any] = {}
    for key, value in params.items() if isinstance(params, dict) else []:
        if isinstance(value, str):
            if pool is not None:
                value = render(value, pool)
            try:
                value = float(value) if "." in value else int(value)
            except ValueError:
                pass
        result[str(key)] = value
    return result


def prompt_app_messages(
    model_config: dict[str, Any], *, mode: str, inputs: dict[str, Any], query: str, history: History
) -> list[dict[str, Any]]:
    """Messages of an easy (``model_config``) chat or completion app."""
    model = model_config.get("model") or {}
    chat_model = model.get("mode", "chat") != "completion"
    messages: list[dict[str, Any]] = []
    if model_config.get("prompt_type") == "advanced":
        if chat_model:
            config = model_config.get("chat_prompt_config") or {}
            for item in config.get("prompt") or []:
                if not isinstance(item, dict):
                    continue
                text = fill_inputs(str(item.get("text") or ""), inputs)
                text = text.replace(CONTEXT, "").replace(QUERY, query)
                role = str(item.get("role") or "user")
                if text or role != "system":
                    if text:
                        messages.append({"role": role, "content": text})
            messages.extend(history_messages(history))
            if query:
                messages.append({"role": "user", "content": query})
        else:
            config = model_config.get("completion_prompt_config") or {}
            prompt = config.get("prompt") or {}
            text = fill_inputs(str(prompt.get("text") or ""), inputs)
            prefixes = config.get("conversation_histories_role") or {}
            lines = history_text(
                history,
                str(prefixes.get("user_prefix") or "Human"),
                str(prefixes.get("assistant_prefix") or "Assistant"),
            )
            text = text.replace(HISTORIES, lines).replace(CONTEXT, "").replace(QUERY, query)
            if text:
                messages.append({"role": "user", "content": text})
    else:
        instruction = fill_inputs(str(model_config.get("pre_prompt") or ""), inputs)
        if mode == "completion":
            text = "\n".join(part for part in (instruction, query) if part)
            if text:
                messages.append({"role": "user", "content": text})
        else:
            if instruction and query:
                messages.append({"role": "system", "content": instruction})
            messages.extend(history_messages(history))
            if query:
                messages.append({"role": "user", "content": query})
            elif instruction:
                messages.append({"role": "user", "content": instruction})
    if not messages:
        raise NodeFailed(NO_PROMPT, "NoPromptFound")
    return messages


def task_messages(
    data: dict[str, Any], pool: VariablePool, history: History, *, system: str, user: str
) -> list[dict[str, Any]]:
    """The prompt of a node that gives the model a fixed task (``question-classifier``,
    ``parameter-extractor``): the task as the system message, the history when the node has
    ``memory``, the input as the user message, then vision files. A completion-mode model gets
    all of it as one user message."""
    memory = data.get("memory") if isinstance(data.get("memory"), dict) else None
    model = data.get("model") or {}
    messages: list[dict[str, Any]] = []
    if model.get("mode") == "completion":
        prefixes = (memory or {}).get("role_prefix") or {}
        lines = history_text(
            history if memory is not None else [],
            str(prefixes.get("user") or "Human"),
            str(prefixes.get("assistant") or "Assistant"),
        )
        text = "\n\n".join(part for part in (system, lines, user) if part)
        messages.append({"role": "user", "content": text})
    else:
        messages.append({"role": "system", "content": system})
        if memory is not None:
            messages.extend(history_messages(history))
        messages.append({"role": "user", "content": user})
    attach_vision(messages, data, pool)
    return messages


def node_history(data: dict[str, Any], history_of: Callable[[int | None], History]) -> History:
    """The turns a node with ``memory`` sees (``history_of`` is the host's ``history``)."""
    memory = data.get("memory")
    return history_of(history_turns(memory)) if isinstance(memory, dict) else []
