"""``api`` providers: an OpenAPI 3 schema (JSON or YAML) becomes one tool per operation.

A tool's parameters are the operation's path, query and header parameters plus the properties of
its JSON request body, in one JSON schema. Calls go through the outbound client (``fetch``), so
private addresses are refused unless allowed, with timeouts and a response size cap.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.conf import settings

from apps_runtime.dsl import DslError, dsl_load
from apps_runtime.engine.host import StopRequested
from apps_runtime.engine.outbound import OutboundError, OutboundTooLarge, fetch
from apps_runtime.tools.types import ToolError, ToolOutput

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
MAX_REF_DEPTH = 16
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")


class SchemaError(ValueError):
    pass


def _resolve(document: dict[str, Any], value: Any, depth: int = 0) -> Any:
    """``value`` with local ``$ref``s replaced (cycles and deep chains cut off as ``{}``)."""
    if depth > MAX_REF_DEPTH:
        return {}
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                raise SchemaError(f"only local $ref are supported, not {ref!r}")
            target: Any = document
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise SchemaError(f"$ref {ref!r} points at nothing")
                target = target[part]
            return _resolve(document, target, depth + 1)
        return {key: _resolve(document, item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(document, item, depth + 1) for item in value]
    return value


def _tool_name(operation: dict[str, Any], method: str, path: str) -> str:
    name = operation.get("operationId")
    if not isinstance(name, str) or not name.strip():
        name = f"{method}_{path}"
    return _NAME_UNSAFE.sub("_", name.strip()).strip("_")[:64] or method


def parse_schema(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The schema's first server URL and its operations as tool descriptions.

    Raises ``SchemaError`` naming the problem."""
    try:
        document = dsl_load(text)
    except DslError as exc:
        raise SchemaError(f"the schema is not readable JSON or YAML: {exc}") from None
    if not isinstance(document, dict) or not str(document.get("openapi") or "").startswith("3"):
        raise SchemaError("the schema must be an OpenAPI 3 document (an openapi: 3.x key)")
    servers = document.get("servers")
    server = ""
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        server = str(servers[0].get("url") or "")
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise SchemaError("the schema has no paths")
    tools: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        shared = _list(item.get("parameters"))
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            tool = _operation_tool(document, str(path), method, operation, shared)
            if tool["name"] in seen:
                raise SchemaError(f"two operations are named {tool['name']!r}")
            seen.add(tool["name"])
            tools.append(tool)
    if not tools:
        raise SchemaError("the schema has no operations")
    return server, tools


def _operation_tool(
    document: dict[str, Any],
    path: str,
    method: str,
    operation: dict[str, Any],
    shared: list[Any],
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    locations: dict[str, str] = {}
    own = _list(operation.get("parameters"))
    for raw in [*shared, *own]:
        parameter = _resolve(document, raw)
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            continue
        where = parameter.get("in")
        if where not in ("path", "query", "header"):
            continue
        name = parameter["name"]
        schema = parameter.get("schema") if isinstance(parameter.get("schema"), dict) else {}
        prop = dict(schema or {"type": "string"})
        if parameter.get("description"):
            prop.setdefault("description", str(parameter["description"]))
        properties[name] = prop
        locations[name] = where
        if parameter.get("required") or where == "path":
            required.append(name)
    body = _resolve(document, operation.get("requestBody") or {})
    content = body.get("content") if isinstance(body, dict) else None
    json_body = content.get("application/json") if isinstance(content, dict) else None
    body_schema = json_body.get("schema") if isinstance(json_body, dict) else None
    if isinstance(body_schema, dict):
        for name, prop in (body_schema.get("properties") or {}).items():
            if name in locations:
                continue
            properties[name] = prop if isinstance(prop, dict) else {}
            locations[name] = "body"
        for name in body_schema.get("required") or []:
            if locations.get(name) == "body":
                required.append(name)
    description = operation.get("summary") or operation.get("description") or ""
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = list(dict.fromkeys(required))
    return {
        "name": _tool_name(operation, method, path),
        "description": str(description)[:1024],
        "parameters": parameters,
        "method": method.upper(),
        "path": path,
        "locations": locations,
    }


def call(
    *,
    server: str,
    tool: dict[str, Any],
    arguments: dict[str, Any],
    auth_type: str,
    auth_key_name: str,
    secret: str,
    deadline: float,
    should_stop: Callable[[], bool] | None = None,
) -> ToolOutput:
    """Make the operation's request; ``deadline`` is a ``time.monotonic()`` instant, the whole
    call's (the outbound client cuts a server that drips past it); a stop ends the call within
    the outbound client's stop poll."""
    path = str(tool.get("path") or "")
    query: list[tuple[str, str | int | float | bool | None]] = []
    headers: dict[str, str] = {}
    body: dict[str, Any] = {}
    locations = tool.get("locations") or {}
    for name, value in arguments.items():
        where = locations.get(name)
        if where == "path":
            path = path.replace("{" + name + "}", quote(_scalar(value), safe=""))
        elif where == "query":
            query.append((name, _scalar(value)))
        elif where == "header":
            headers[name] = _scalar(value)
        elif where == "body":
            body[name] = value
    if auth_type == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif auth_type == "api_key_header":
        headers[auth_key_name or "X-API-Key"] = secret
    elif auth_type == "api_key_query":
        query.append((auth_key_name or "api_key", secret))
    content = None
    if body:
        content = json.dumps(body, ensure_ascii=False)
        headers["Content-Type"] = "application/json"
    url = server.rstrip("/") + "/" + path.lstrip("/")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ToolError("the tool call ran out of time")
    try:
        response = fetch(
            str(tool.get("method") or "GET"),
            url,
            headers=headers,
            params=query or None,
            content=content,
            timeout=remaining,
            deadline=remaining,
            should_stop=should_stop,
            max_bytes=settings.TOOL_MAX_RESPONSE_BYTES,
        )
    except StopRequested:
        raise ToolError("the run was stopped") from None
    except OutboundTooLarge:
        raise ToolError(
            f"the API answered more than {settings.TOOL_MAX_RESPONSE_BYTES} bytes"
        ) from None
    except OutboundError as exc:
        raise ToolError(str(exc)) from None
    if response.status_code >= 400:
        raise ToolError(f"the API answered HTTP {response.status_code}: {response.text[:500]}")
    text = response.text
    output = ToolOutput(text=text)
    if "json" in response.headers.get("content-type", ""):
        try:
            value = json.loads(text)
        except ValueError:
            return output
        output.json = [value]
        if isinstance(value, dict):
            output.variables = value
    return output


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)
