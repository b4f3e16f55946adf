"""What an app asks of its caller: the ``parameters`` payload and the run ``input_schema``.

Pure functions of an :class:`~apps_runtime.models.App` (its ``model_config`` for prompt apps, its
published workflow for workflow apps). Describe serves them, and the run engine validates run inputs
against the same schema, so both read the inputs through :func:`app_user_input_form`.

Contract: ``server.md`` §5.14; start variables: ``dsl.md`` §4.1.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apps_runtime.models import (
    CHAT_MODES,
    PROMPT_MODES,
    WORKFLOW_MODES,
    App,
    AppModelConfig,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# ``system_parameters``: upload limits in MB, and files per workflow run (Dify's defaults).
IMAGE_FILE_SIZE_LIMIT_MB = 10
VIDEO_FILE_SIZE_LIMIT_MB = 100
AUDIO_FILE_SIZE_LIMIT_MB = 50
FILE_SIZE_LIMIT_MB = 15
WORKFLOW_FILE_UPLOAD_LIMIT = 10

# Feature switches that default to ``{"enabled": false}`` when the definition lacks them.
TOGGLE_FEATURES = (
    "suggested_questions_after_answer",
    "speech_to_text",
    "text_to_speech",
    "retriever_resource",
    "annotation_reply",
    "more_like_this",
)

# Form rows whose value is text (a JSON string with an optional ``maxLength``).
TEXT_INPUT_TYPES = frozenset({"text-input", "paragraph"})

_TRUE_STRINGS = frozenset({"true", "1", "yes", "on"})


@dataclass(frozen=True)
class AppInputSource:
    """Where an app's inputs and feature switches come from."""

    features: Mapping[str, Any]
    user_input_form: list[dict[str, Any]]


# -- user_input_form ---------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return bool(value)


def _form_row_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a row body whose ``required`` is always a boolean (clients check that)."""
    row = copy.deepcopy(dict(body))
    row["required"] = _truthy(body.get("required"))
    return row


def user_input_form_from_start(variables: Iterable[Any]) -> list[dict[str, Any]]:
    """The start node's ``variables`` as Dify's ``user_input_form``: one-key rows by input type.

    ``{"variable": "x", "type": "text-input", ...}`` becomes
    ``{"text-input": {"variable": "x", ...}}``;
    a variable without a type cannot be shown as a form row and is left out.
    """
    form: list[dict[str, Any]] = []
    for variable in variables:
        if not isinstance(variable, Mapping):
            continue
        kind = variable.get("type")
        if not isinstance(kind, str) or not kind:
            continue
        form.append({kind: _form_row_body(variable)})
    return form


def normalize_user_input_form(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """A prompt app's ``user_input_form`` as stored, keeping only well-formed one-key rows."""
    form: list[dict[str, Any]] = []
    for row in rows:
        if not isinstance(row, Mapping) or len(row) != 1:
            continue
        ((kind, body),) = row.items()
        if isinstance(kind, str) and isinstance(body, Mapping):
            form.append({kind: _form_row_body(body)})
    return form


def app_model_config(app: App) -> AppModelConfig | None:
    try:
        return app.model_config
    except AppModelConfig.DoesNotExist:
        return None


def app_input_source(app: App) -> AppInputSource | None:
    """The definition an app's inputs come from, or ``None`` when it has none yet.

    Workflow and advanced-chat apps read their *published* workflow (features + start node);
    prompt apps read their ``model_config``; other modes have no inputs to describe.
    """
    if app.mode in WORKFLOW_MODES:
        workflow = app.published_workflow
        if workflow is None:
            return None
        features = workflow.features if isinstance(workflow.features, Mapping) else {}
        return AppInputSource(features, user_input_form_from_start(workflow.start_variables()))
    if app.mode in PROMPT_MODES:
        config = app_model_config(app)
        if config is None:
            return None
        features = config.config if isinstance(config.config, Mapping) else {}
        return AppInputSource(features, normalize_user_input_form(config.user_input_form))
    return None


def app_tool_providers(app: App) -> list[dict[str, Any]]:
    """The tool providers the app's runnable definition uses, with whether its workspace has
    each (the published workflow, or the agent app's ``agent_mode``)."""
    from apps_runtime.tools.registry import providers_summary, tool_entries

    if app.mode in WORKFLOW_MODES:
        workflow = app.published_workflow
        entries = tool_entries(mode=app.mode, graph=workflow.graph if workflow else None)
    else:
        config = app_model_config(app) if app.mode in PROMPT_MODES else None
        entries = tool_entries(mode=app.mode, model_config=config.config if config else None)
    return providers_summary(app.workspace_id, entries) if entries else []


def app_user_input_form(app: App) -> list[dict[str, Any]]:
    source = app_input_source(app)
    return source.user_input_form if source is not None else []


# -- parameters --------------------------------------------------------------------------------


def system_parameters() -> dict[str, int]:
    return {
        "image_file_size_limit": IMAGE_FILE_SIZE_LIMIT_MB,
        "video_file_size_limit": VIDEO_FILE_SIZE_LIMIT_MB,
        "audio_file_size_limit": AUDIO_FILE_SIZE_LIMIT_MB,
        "file_size_limit": FILE_SIZE_LIMIT_MB,
        "workflow_file_upload_limit": WORKFLOW_FILE_UPLOAD_LIMIT,
    }


def _default_file_upload() -> dict[str, Any]:
    return {
        "enabled": False,
        "image": {
            "enabled": False,
            "number_limits": 3,
            "detail": "high",
            "transfer_methods": ["remote_url", "local_file"],
        },
    }


def _feature(features: Mapping[str, Any], key: str, default: dict[str, Any]) -> dict[str, Any]:
    value = features.get(key)
    return copy.deepcopy(dict(value)) if isinstance(value, Mapping) else default


def parameters_from_source(source: AppInputSource) -> dict[str, Any]:
    """The Service API ``/parameters`` payload for a definition (every key the contract lists)."""
    features = source.features
    opening = features.get("opening_statement")
    questions = features.get("suggested_questions")
    body: dict[str, Any] = {
        "opening_statement": opening if isinstance(opening, str) else None,
        "suggested_questions": [q for q in questions if isinstance(q, str)]
        if isinstance(questions, list)
        else [],
    }
    for key in TOGGLE_FEATURES:
        body[key] = _feature(features, key, {"enabled": False})
    body["user_input_form"] = copy.deepcopy(source.user_input_form)
    body["sensitive_word_avoidance"] = _feature(
        features, "sensitive_word_avoidance", {"enabled": False, "type": "", "configs": []}
    )
    body["file_upload"] = _feature(features, "file_upload", _default_file_upload())
    body["system_parameters"] = system_parameters()
    return body


def fallback_parameters() -> dict[str, Any]:
    """The reduced payload of an app that has no configuration or published workflow."""
    return {
        "opening_statement": None,
        "suggested_questions": [],
        "user_input_form": [],
        "file_upload": None,
        "system_parameters": {},
    }


def app_parameters(app: App) -> dict[str, Any]:
    source = app_input_source(app)
    return parameters_from_source(source) if source is not None else fallback_parameters()


# -- input_schema ------------------------------------------------------------------------------


def empty_input_schema() -> dict[str, Any]:
    return {"$schema": JSON_SCHEMA_DIALECT, "type": "object", "properties": {}, "required": []}


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value > 0 else None


def file_value_schema() -> dict[str, Any]:
    """One file value of a run body; extra keys are allowed (the file API may add some)."""
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "transfer_method": {"type": "string"},
            "url": {"type": "string"},
            "upload_file_id": {"type": "string"},
        },
        "additionalProperties": True,
    }


def _row_schema(kind: str, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema of one form row's value; ``None`` for input types the schema skips."""
    label = row.get("label")
    title = label if isinstance(label, str) and label else str(row["variable"])
    schema: dict[str, Any]
    if kind in TEXT_INPUT_TYPES:
        schema = {"type": "string", "title": title}
        max_length = _positive_int(row.get("max_length"))
        if max_length is not None:
            schema["maxLength"] = max_length
    elif kind == "select":
        options = row.get("options")
        schema = {
            "type": "string",
            "title": title,
            "enum": list(options) if isinstance(options, list) else [],
        }
    elif kind == "number":
        schema = {"type": "number", "title": title}
    elif kind == "file":
        schema = {**file_value_schema(), "title": title}
    elif kind == "file-list":
        schema = {"type": "array", "title": title, "items": file_value_schema()}
    else:
        return None
    return schema


def input_schema_from_form(mode: str, form: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """JSON Schema 2020-12 of a run body (``query`` for the chat family, then ``inputs``)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for row in form:
        if not isinstance(row, Mapping) or len(row) != 1:
            continue
        ((kind, body),) = row.items()
        if not isinstance(body, Mapping):
            continue
        variable = body.get("variable")
        if not isinstance(variable, str) or not variable:
            continue
        schema = _row_schema(str(kind), body)
        if schema is None:
            continue
        properties[variable] = schema
        if _truthy(body.get("required")) and variable not in required:
            required.append(variable)

    top_properties: dict[str, Any] = {}
    top_required: list[str] = []
    if mode in CHAT_MODES:
        top_properties["query"] = {"type": "string", "minLength": 1}
        top_required.append("query")
    top_properties["inputs"] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    top_required.append("inputs")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "type": "object",
        "properties": top_properties,
        "required": top_required,
    }


def app_input_schema(app: App) -> dict[str, Any]:
    source = app_input_source(app)
    if source is None:
        return empty_input_schema()
    return input_schema_from_form(app.mode, source.user_input_form)
