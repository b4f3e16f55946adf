"""Structural checks of a workflow graph (dsl.md §2) and the node types it uses.

Only what execution needs is checked: nodes with an id and a ``data.type``, edges with a source
and a target, one root, and a path from the root to the mode's terminal node. Everything else
(positions, UI keys, node fields) is stored verbatim and judged by the engine at run time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from apps_runtime.dsl.constants import (
    NOTE_WRAPPER_TYPES,
    ROOT_NODE_TYPES,
    TERMINAL_NODE_TYPE,
)
from apps_runtime.dsl.errors import DslError
from apps_runtime.engine.nodes import node_unavailable_reason, runnable_node_types


def graph_nodes(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The executable nodes of a graph (sticky notes left out); lenient about bad shapes."""
    nodes = graph.get("nodes") if isinstance(graph, Mapping) else None
    if not isinstance(nodes, list):
        return []
    return [
        node
        for node in nodes
        if isinstance(node, dict)
        and node.get("type") not in NOTE_WRAPPER_TYPES
        and isinstance(node.get("data"), dict)
    ]


def node_type(node: Mapping[str, Any]) -> str:
    data = node.get("data")
    value = data.get("type") if isinstance(data, Mapping) else None
    return value if isinstance(value, str) else ""


def unsupported_node_types(graph: Mapping[str, Any]) -> list[str]:
    """Sorted, distinct ``data.type`` values of the graph that the engine cannot run."""
    found = {node_type(node) for node in graph_nodes(graph)}
    runnable = runnable_node_types()
    return sorted(kind for kind in found if kind and kind not in runnable)


def unsupported_nodes(graph: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each node of the graph the engine cannot run: ``{node_id, node_type, title}``, in graph
    order (what blocks a run of it)."""
    runnable = runnable_node_types()
    found: list[dict[str, str]] = []
    for node in graph_nodes(graph):
        kind = node_type(node)
        if kind and kind not in runnable:
            title = node["data"].get("title")
            found.append(
                {
                    "node_id": str(node.get("id")),
                    "node_type": kind,
                    "title": title if isinstance(title, str) and title else str(node.get("id")),
                }
            )
    return found


def unavailable_node_reasons(graph: Mapping[str, Any]) -> list[str]:
    """Distinct "type: reason" lines for runnable node types whose runtime this machine lacks
    (the code sandbox not installed), each naming what to install; [] when all can run."""
    reasons: list[str] = []
    for node in graph_nodes(graph):
        kind = node_type(node)
        reason = node_unavailable_reason(kind, node["data"]) if kind else None
        line = f"{kind}: {reason}" if reason else None
        if line and line not in reasons:
            reasons.append(line)
    return reasons


def validate_graph(graph: Any, *, mode: str) -> None:
    """Raise DslError naming the first structural problem of ``workflow.graph``."""
    if not isinstance(graph, Mapping):
        raise DslError("workflow.graph must be a mapping with nodes and edges")
    nodes = graph.get("nodes")
    edges = graph.get("edges", [])
    if not isinstance(nodes, list):
        raise DslError("workflow.graph.nodes must be a list of nodes")
    if edges is None:
        edges = []
    if not isinstance(edges, list):
        raise DslError("workflow.graph.edges must be a list of edges")

    types: dict[str, str] = {}
    children: dict[str, list[str]] = {}
    for index, node in enumerate(nodes):
        where = f"workflow.graph.nodes[{index}]"
        if not isinstance(node, Mapping):
            raise DslError(f"{where} must be a mapping")
        if node.get("type") in NOTE_WRAPPER_TYPES:
            continue
        node_id = node.get("id")
        if node_id is None or isinstance(node_id, (dict, list, bool)) or str(node_id) == "":
            raise DslError(f"{where} has no id")
        key = str(node_id)
        if key in types:
            raise DslError(f"workflow.graph has two nodes with id {key!r}")
        kind = node_type(node)
        if not kind:
            raise DslError(f"{where} (id {key!r}) has no data.type")
        types[key] = kind
        parent = node.get("parentId")
        if parent is not None:
            children.setdefault(str(parent), []).append(key)

    following: dict[str, set[str]] = {key: set() for key in types}
    for index, edge in enumerate(edges):
        where = f"workflow.graph.edges[{index}]"
        if not isinstance(edge, Mapping):
            raise DslError(f"{where} must be a mapping")
        source, target = edge.get("source"), edge.get("target")
        if source is None or target is None:
            raise DslError(f"{where} needs a source and a target")
        if str(source) in following and str(target) in types:
            following[str(source)].add(str(target))
    # A container (iteration, loop) leads into its children even though no edge says so.
    for parent, kids in children.items():
        if parent in following:
            following[parent].update(kids)

    roots = [key for key, kind in types.items() if kind in ROOT_NODE_TYPES]
    if not roots:
        raise DslError("workflow.graph has no start node")
    starts = [key for key in roots if types[key] == "start"]
    if len(starts) > 1:
        raise DslError(f"workflow.graph has {len(starts)} start nodes; exactly one is allowed")

    terminal = TERMINAL_NODE_TYPE.get(mode)
    if terminal is None:
        return
    if not _reaches(roots, following, lambda key: types[key] == terminal):
        raise DslError(
            f"workflow.graph has no path from the start node to an {terminal} node "
            f"(a {mode} app needs one)"
        )


def _reaches(
    roots: list[str], following: Mapping[str, set[str]], goal: Callable[[str], bool]
) -> bool:
    seen = set(roots)
    queue = deque(roots)
    while queue:
        key = queue.popleft()
        if goal(key):
            return True
        for nxt in following.get(key, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return False
