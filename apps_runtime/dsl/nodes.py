"""Which node types of an app the run engine cannot execute (``app_unavailable`` at run time).

Computed from the stored graph against the engine's node registry rather than recorded at import,
so an app becomes runnable as soon as the engine learns its node types, without a re-import.
"""

from __future__ import annotations

from apps_runtime.dsl.graph import (
    unavailable_node_reasons,
    unsupported_node_types,
    unsupported_nodes,
)
from apps_runtime.models import WORKFLOW_MODES, App, WorkflowVersion


def workflow_unsupported_node_types(workflow: WorkflowVersion) -> list[str]:
    """Sorted node types of this workflow version that the engine cannot run ([] = runnable)."""
    return unsupported_node_types(workflow.graph or {})


def workflow_cannot_run(workflow: WorkflowVersion) -> list[str]:
    """What the admin shows: node types the engine lacks, then "type: reason" lines for nodes
    whose runtime is not installed here (what to install)."""
    graph = workflow.graph or {}
    return unsupported_node_types(graph) + unavailable_node_reasons(graph)


def app_unsupported_node_types(app: App, workflow: WorkflowVersion | None = None) -> list[str]:
    """Node types of the version a run would use (``workflow`` or the published one).

    Prompt-based apps have no graph and report []. A workflow app without any published version
    reports [] too; the caller answers ``app_unavailable`` for the missing workflow itself.
    """
    if app.mode not in WORKFLOW_MODES:
        return []
    version = workflow or app.published_workflow
    if version is None:
        return []
    return workflow_unsupported_node_types(version)


def app_blocking_nodes(app: App) -> list[dict[str, str]]:
    """The nodes of the version a run uses by default (the published one) that the engine
    cannot run, ``{node_id, node_type, title}`` each; [] when nothing blocks a run of it."""
    if app.mode not in WORKFLOW_MODES or app.published_workflow is None:
        return []
    return unsupported_nodes(app.published_workflow.graph or {})


def app_unavailable_reasons(app: App, workflow: WorkflowVersion | None = None) -> list[str]:
    """Why nodes of the version a run would use cannot run on this machine (what to install)."""
    if app.mode not in WORKFLOW_MODES:
        return []
    version = workflow or app.published_workflow
    if version is None:
        return []
    return unavailable_node_reasons(version.graph or {})


def app_unrunnable_message(app: App, workflow: WorkflowVersion | None = None) -> str | None:
    """Why runs of the app's graph answer ``app_unavailable`` (node types the engine lacks,
    nodes whose runtime is not installed, naming what to install, or agent nodes with a strategy
    the engine lacks), or None when it can run. The run endpoint answers with it and describe
    shows it."""
    from apps_runtime.engine.nodes.agent import unrunnable_agent_strategies

    unsupported = app_unsupported_node_types(app, workflow)
    if unsupported:
        return "the app uses node types this server cannot run: " + ", ".join(unsupported)
    missing = app_unavailable_reasons(app, workflow)
    if missing:
        return "this server cannot run node type " + "; ".join(missing)
    version = workflow or app.published_workflow
    if app.mode in WORKFLOW_MODES and version is not None:
        strategies = unrunnable_agent_strategies(version.graph or {})
        if strategies:
            return "the app uses agent strategies this server cannot run: " + ", ".join(strategies)
    return None
