"""The one tool registry: agent apps, agent nodes and tool nodes all ask it which tool a DSL entry
means in the app's workspace (by ``provider_id``, then ``provider_name``), and what an app needs
that its workspace lacks. A tool is always bound to its own workspace's provider row, so a call
can never use another workspace's credentials."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from apps_runtime.tools import builtin_time
from apps_runtime.tools.models import ToolProvider
from apps_runtime.tools.types import (
    ToolError,
    ToolOutput,
    ToolSpec,
    ToolUnavailable,
    agent_tool_entry,
)

# Tool plugins served in-tree (``plugin_id`` form), satisfied without a provider row.
IN_TREE_TOOL_PLUGINS = frozenset({"langgenius/time"})

# Tool call: (arguments, deadline as a time.monotonic() instant, should_stop) -> output.
Caller = Callable[[dict[str, Any], float, Callable[[], bool] | None], ToolOutput]


@dataclass(frozen=True)
class BoundTool:
    spec: ToolSpec
    provider_label: str
    call: Caller


def _plugin_base(identifier: str) -> str:
    """``langgenius/time/time`` and ``langgenius/time:0.0.1@sha`` → ``langgenius/time``."""
    base = identifier.split("@", 1)[0].split(":", 1)[0].strip().lower()
    parts = [p for p in base.split("/") if p]
    return "/".join(parts[:2])


def is_builtin_time(entry: Mapping[str, Any]) -> bool:
    """Whether a DSL entry names the builtin time provider (plugin id, or pre-plugin ``time``)."""
    wanted = {_plugin_base(builtin_time.PROVIDER_ID), builtin_time.PROVIDER_NAME}
    provider_id = str(entry.get("provider_id") or "")
    if provider_id:
        return _plugin_base(provider_id) in wanted
    return (
        str(entry.get("provider_type") or "") in ("builtin", "plugin")
        and _plugin_base(str(entry.get("provider_name") or "")) in wanted
    )


def provider_label(entry: Mapping[str, Any]) -> str:
    return str(entry.get("provider_name") or entry.get("provider_id") or "?")


def provider_find(workspace_id: Any, entry: Mapping[str, Any]) -> ToolProvider | None:
    """The workspace's provider for a DSL tool entry: by id first, then by name."""
    rows = ToolProvider.objects.filter(workspace_id=workspace_id)
    provider_id = str(entry.get("provider_id") or "").strip()
    if provider_id:
        by_id = Q(provider_id=provider_id)
        try:
            by_id |= Q(id=uuid.UUID(provider_id))
        except ValueError:
            pass
        found = rows.filter(by_id).first()
        if found is not None:
            return found
    name = str(entry.get("provider_name") or "").strip()
    return rows.filter(name=name).first() if name else None


def entry_is_available(workspace_id: Any, entry: Mapping[str, Any]) -> bool:
    return is_builtin_time(entry) or provider_find(workspace_id, entry) is not None


def missing_providers(workspace_id: Any, entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Sorted names of the providers ``entries`` name that the workspace does not have."""
    missing = {
        provider_label(entry) for entry in entries if not entry_is_available(workspace_id, entry)
    }
    return sorted(missing)


def _spec(provider: ToolProvider, tool: Mapping[str, Any]) -> ToolSpec:
    return ToolSpec(
        name=str(tool.get("name") or ""),
        description=str(tool.get("description") or ""),
        parameters=dict(tool.get("parameters") or {"type": "object", "properties": {}}),
        label=str(tool.get("label") or tool.get("name") or ""),
        provider=provider.name,
    )


def tool_resolve(workspace_id: Any, entry: Mapping[str, Any]) -> BoundTool:
    """The tool a DSL entry names, ready to call; ``ToolUnavailable`` naming what is missing."""
    tool_name = str(entry.get("tool_name") or "")
    if is_builtin_time(entry):
        spec = builtin_time.TOOLS.get(tool_name)
        if spec is None:
            raise ToolUnavailable(f"the time provider has no tool {tool_name!r}")
        return BoundTool(
            spec=spec,
            provider_label=builtin_time.PROVIDER_ID,
            call=lambda arguments, _deadline, _stop: builtin_time.call(tool_name, arguments),
        )
    provider = provider_find(workspace_id, entry)
    if provider is None:
        raise ToolUnavailable(
            f"the workspace has no tool provider {provider_label(entry)!r} (add it in the admin)"
        )
    tool = next((t for t in provider.tools or [] if t.get("name") == tool_name), None)
    if tool is None:
        raise ToolUnavailable(f"the tool provider {provider.name!r} has no tool {tool_name!r}")
    return BoundTool(
        spec=_spec(provider, tool),
        provider_label=provider.name,
        call=_caller(provider, tool),
    )


def _caller(provider: ToolProvider, tool: Mapping[str, Any]) -> Caller:
    from config.crypto import unseal

    if provider.kind == ToolProvider.Kind.API:
        from apps_runtime.tools import openapi

        server = provider.server_url or str(tool.get("server") or "")
        secret = unseal(provider.credentials) if provider.credentials else ""

        def call_api(
            arguments: dict[str, Any], deadline: float, stop: Callable[[], bool] | None
        ) -> ToolOutput:
            return openapi.call(
                server=server,
                tool=dict(tool),
                arguments=arguments,
                auth_type=provider.auth_type,
                auth_key_name=provider.auth_key_name,
                secret=secret,
                deadline=deadline,
                should_stop=stop,
            )

        return call_api
    if provider.kind == ToolProvider.Kind.MCP:
        from apps_runtime.tools import mcp

        url, headers, name = provider.server_url, mcp.provider_headers(provider), str(tool["name"])

        def call_mcp(
            arguments: dict[str, Any], deadline: float, stop: Callable[[], bool] | None
        ) -> ToolOutput:
            return mcp.call(url, headers, name, arguments, deadline=deadline, should_stop=stop)

        return call_mcp
    if provider.kind == ToolProvider.Kind.WORKFLOW:
        from apps_runtime.tools import workflow

        try:
            return workflow.caller(provider)
        except ToolError as exc:
            raise ToolUnavailable(exc.message) from None
    raise ToolUnavailable(f"tool providers of kind {provider.kind!r} cannot be called yet")


def deadline_from_now(seconds: float) -> float:
    return time.monotonic() + seconds


# -- what an app needs -------------------------------------------------------------------------


def _agent_node_tools(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    parameters = data.get("agent_parameters")
    tools = parameters.get("tools") if isinstance(parameters, dict) else None
    value = tools.get("value") if isinstance(tools, dict) else tools
    return [
        agent_tool_entry(t) for t in value or [] if isinstance(t, dict) and t.get("enabled", True)
    ]


def graph_tool_entries(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The tool entries of a workflow graph: tool nodes and the tools of agent nodes."""
    entries: list[dict[str, Any]] = []
    nodes = graph.get("nodes") if isinstance(graph, Mapping) else None
    for node in nodes or []:
        data = node.get("data") if isinstance(node, dict) else None
        if not isinstance(data, dict):
            continue
        if data.get("type") == "tool":
            entries.append(data)
        elif data.get("type") == "agent":
            entries.extend(_agent_node_tools(data))
    return entries


def model_config_tool_entries(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The enabled tools of an agent app's ``agent_mode`` (legacy dataset tools left out)."""
    agent_mode = config.get("agent_mode") if isinstance(config, Mapping) else None
    tools = agent_mode.get("tools") if isinstance(agent_mode, dict) else None
    return [
        tool
        for tool in tools or []
        if isinstance(tool, dict) and tool.get("enabled", True) and "dataset" not in tool
    ]


def tool_entries(*, mode: str, graph: Any = None, model_config: Any = None) -> list[dict[str, Any]]:
    """The tool entries an app of ``mode`` uses: a workflow graph's, or an agent app's (other
    prompt apps call no tools, whatever their ``model_config`` carries)."""
    if mode in ("workflow", "advanced-chat"):
        return graph_tool_entries(graph) if isinstance(graph, Mapping) else []
    if mode == "agent-chat" and isinstance(model_config, Mapping):
        return model_config_tool_entries(model_config)
    return []


def providers_summary(
    workspace_id: Any, entries: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The distinct providers ``entries`` name, each with whether the workspace has it."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for entry in entries:
        key = (
            str(entry.get("provider_type") or ""),
            str(entry.get("provider_id") or ""),
            str(entry.get("provider_name") or ""),
        )
        row = seen.setdefault(
            key,
            {
                "provider_type": key[0],
                "provider_id": key[1],
                "provider_name": key[2],
                "tools": [],
                "available": entry_is_available(workspace_id, entry),
            },
        )
        name = str(entry.get("tool_name") or "")
        if name and name not in row["tools"]:
            row["tools"].append(name)
    return list(seen.values())
