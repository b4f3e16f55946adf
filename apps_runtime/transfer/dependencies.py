"""What an app's DSL ``dependencies`` need that this server lacks ("leaked dependencies").

This server has no plugin system. A model-provider plugin is satisfied: every provider an app's
nodes name is served through the OpenAI-compatible client (a workspace provider configuration or
the deployment default, decisions §8). Any other plugin (tools, extensions, data sources …) is
missing, so it is reported, in the shape the DSL writes it (dsl.md §1.4) — except the tool
plugins served in-tree (the builtin time provider). Tool providers the app names that its workspace
lacks (OpenAPI, MCP, workflow tools are added in the admin) are reported as ``tool_provider``.
"""

from __future__ import annotations

from typing import Any

from apps_runtime.models import WORKFLOW_MODES, App, AppModelConfig, WorkflowVersion

# DSL node types whose ``data.model.provider`` names a model provider.
_MODEL_NODE_TYPES = frozenset({"llm", "question-classifier", "parameter-extractor"})
_IDENTIFIER_KEYS = (
    "marketplace_plugin_unique_identifier",
    "github_plugin_unique_identifier",
    "plugin_unique_identifier",
)


def plugin_id(identifier: str) -> str:
    """``langgenius/openai:0.0.30@sha`` → ``langgenius/openai``; a bare provider name
    (pre-plugin DSL, ``openai``) → ``langgenius/openai``."""
    base = identifier.split("@", 1)[0].split(":", 1)[0].strip().lower()
    parts = [p for p in base.split("/") if p]
    if len(parts) >= 2:
        return f"{parts[0]}/{parts[1]}"
    return f"langgenius/{parts[0]}" if parts else ""


def _model_providers(app: App) -> set[str]:
    providers: set[str] = set()
    if app.mode in WORKFLOW_MODES:
        version = (
            WorkflowVersion.objects.filter(app=app, version=WorkflowVersion.DRAFT).first()
            or app.published_workflow
        )
        nodes = ((version.graph or {}).get("nodes") if version is not None else None) or []
        for node in nodes:
            data = node.get("data") if isinstance(node, dict) else None
            if isinstance(data, dict) and data.get("type") in _MODEL_NODE_TYPES:
                model = data.get("model")
                if isinstance(model, dict) and isinstance(model.get("provider"), str):
                    providers.add(plugin_id(model["provider"]))
    else:
        config = AppModelConfig.objects.filter(app=app).first()
        model = config.model if config is not None else {}
        if isinstance(model.get("provider"), str):
            providers.add(plugin_id(model["provider"]))
    return providers


def _identifier(dependency: dict[str, Any]) -> str:
    value = dependency.get("value")
    if not isinstance(value, dict):
        return ""
    for key in _IDENTIFIER_KEYS:
        if isinstance(value.get(key), str) and value[key]:
            return str(value[key])
    return ""


def _tool_entries(app: App) -> list[dict[str, Any]]:
    from apps_runtime.tools.registry import tool_entries

    if app.mode in WORKFLOW_MODES:
        version = (
            WorkflowVersion.objects.filter(app=app, version=WorkflowVersion.DRAFT).first()
            or app.published_workflow
        )
        return tool_entries(mode=app.mode, graph=version.graph if version else None)
    config = AppModelConfig.objects.filter(app=app).first()
    return tool_entries(mode=app.mode, model_config=config.config if config else None)


def _missing_tool_providers(app: App) -> list[dict[str, Any]]:
    from apps_runtime.tools.registry import providers_summary

    return [
        {
            "type": "tool_provider",
            "value": {
                "provider_type": row["provider_type"],
                "provider_id": row["provider_id"],
                "provider_name": row["provider_name"],
                "tools": row["tools"],
            },
            "current_identifier": None,
        }
        for row in providers_summary(app.workspace_id, _tool_entries(app))
        if not row["available"]
    ]


def app_leaked_dependencies(app: App) -> list[dict[str, Any]]:
    from apps_runtime.tools.registry import IN_TREE_TOOL_PLUGINS

    extra = app.dsl_extra if isinstance(app.dsl_extra, dict) else {}
    declared = extra.get("dependencies")
    if not isinstance(declared, list):
        declared = []
    providers = _model_providers(app) | IN_TREE_TOOL_PLUGINS
    leaked: list[dict[str, Any]] = []
    for dependency in declared:
        if not isinstance(dependency, dict):
            continue
        identifier = _identifier(dependency)
        if identifier and plugin_id(identifier) in providers:
            continue
        leaked.append(
            {
                "type": dependency.get("type"),
                "value": dependency.get("value"),
                "current_identifier": dependency.get("current_identifier"),
            }
        )
    return leaked + _missing_tool_providers(app)
