"""Dify app DSL: parse and validate YAML, export apps, and say which node types cannot run yet.

Public API::

    dsl_parse(text) -> ParsedDsl             # DslError naming the problem
    app_export_dsl(app, workflow=None, include_secrets=False) -> str
    app_unsupported_node_types(app, workflow=None) -> list[str]
    app_blocking_nodes(app) -> list[{node_id, node_type, title}]
    app_unavailable_reasons(app, workflow=None) -> list[str]   (runtime missing: what to install)
    app_unrunnable_message(app, workflow=None) -> str | None   (the run's app_unavailable message)
    workflow_unsupported_node_types(version) -> list[str]
    workflow_cannot_run(version) -> list[str]   (the admin's list: both of the above)
    CURRENT_DSL_VERSION (what can run: apps_runtime.engine.nodes.runnable_node_types)

Writes (import, publish) live in ``apps_runtime.services``.
"""

from apps_runtime.dsl.constants import CURRENT_DSL_VERSION, IMPORTABLE_MODES
from apps_runtime.dsl.errors import DslError
from apps_runtime.dsl.exporter import app_export_data, app_export_dsl, dsl_dump
from apps_runtime.dsl.graph import unavailable_node_reasons, unsupported_node_types, validate_graph
from apps_runtime.dsl.nodes import (
    app_blocking_nodes,
    app_unavailable_reasons,
    app_unrunnable_message,
    app_unsupported_node_types,
    workflow_cannot_run,
    workflow_unsupported_node_types,
)
from apps_runtime.dsl.parser import ParsedDsl, WorkflowBlock, dsl_load, dsl_parse

__all__ = [
    "CURRENT_DSL_VERSION",
    "IMPORTABLE_MODES",
    "DslError",
    "ParsedDsl",
    "WorkflowBlock",
    "app_blocking_nodes",
    "app_export_data",
    "app_export_dsl",
    "app_unavailable_reasons",
    "app_unrunnable_message",
    "app_unsupported_node_types",
    "dsl_dump",
    "dsl_load",
    "dsl_parse",
    "unavailable_node_reasons",
    "unsupported_node_types",
    "validate_graph",
    "workflow_cannot_run",
    "workflow_unsupported_node_types",
]
