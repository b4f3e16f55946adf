"""The SSE endpoints in the OpenAPI document (decisions §2): they are Channels consumers, not
Django views, so a drf-spectacular postprocessing hook adds them (``text/event-stream``), never a
placeholder view at the same path."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
_RATE_LIMITED = {"$ref": "#/components/schemas/RateLimitedResponse"}

_ERROR_TEXT = {
    "400": "Not runnable: app_unavailable, provider_not_initialize, bad workflow_id",
    "401": "Missing, invalid, expired or revoked bearer token",
    "403": "Wrong surface, missing scope, service API disabled or workspace unavailable",
    "404": "App, run, workflow version or conversation not found",
    "405": "Method not allowed",
    "413": "Request body too large",
    "422": "Validation failed (the message names the field)",
    "429": "Rate limited, too many open streams, or the executor is full",
}

_SSE = {
    "description": (
        "A stream of server-sent events: `data: {json}` frames with an `id:` line and the event "
        "name inside the JSON (`event`), and `event: ping` keep-alives. See contract §6."
    ),
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

_RUN_BODY = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "inputs": {"type": "object", "additionalProperties": True},
        "query": {"type": "string", "description": "chat family: required; workflow: absent"},
        "files": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        "conversation_id": {"type": "string", "description": "UUID or empty (chat family)"},
        "auto_generate_name": {"type": "boolean", "default": True},
        "workflow_id": {"type": "string"},
        "workspace_id": {"type": "string"},
    },
}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _errors(*statuses: str) -> dict[str, Any]:
    return {
        status: {
            "description": _ERROR_TEXT[status],
            "content": {
                "application/json": {"schema": _RATE_LIMITED if status == "429" else _ERROR}
            },
        }
        for status in statuses
    }


def _run_operation(operation_id: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": "Run an app; the response is always a stream (SSE)",
        "tags": ["apps"],
        "parameters": [_path_param("app_id", "the app's UUID")],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _RUN_BODY}},
        },
        "security": [{"Bearer": []}],
        "responses": {
            "200": _SSE,
            **_errors("400", "401", "403", "404", "413", "422", "429"),
        },
    }


def _events_operation() -> dict[str, Any]:
    flag = {"type": "string", "enum": ["true", "false"], "default": "false"}
    return {
        "operationId": "app_task_events",
        "summary": "Re-attach to a workflow run's event stream (SSE)",
        "tags": ["apps"],
        "parameters": [
            _path_param("app_id", "the app's UUID"),
            _path_param("task_id", "the run's workflow_run_id (or task_id)"),
            {"name": "include_state_snapshot", "in": "query", "schema": flag},
            {"name": "continue_on_pause", "in": "query", "schema": flag},
            {
                "name": "Last-Event-ID",
                "in": "header",
                "schema": {"type": "string"},
                "description": "resume after this event id",
            },
        ],
        "security": [{"Bearer": []}],
        "responses": {"200": _SSE, **_errors("401", "403", "404", "422", "429")},
    }


SSE_PATHS = (
    "/openapi/v1/apps/{app_id}/run",
    "/openapi/v1/apps/{app_id}:run",
    "/openapi/v1/apps/{app_id}/tasks/{task_id}/events",
)


def add_sse_endpoints(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    paths = result.setdefault("paths", {})
    paths[SSE_PATHS[0]] = {"post": _run_operation("app_run")}
    paths[SSE_PATHS[1]] = {"post": _run_operation("app_run_colon")}
    paths[SSE_PATHS[2]] = {"get": _events_operation()}
    return result
