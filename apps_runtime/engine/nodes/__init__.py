"""The node registry: THE one source of which node types the engine runs.

Import warnings, ``app_unavailable`` and the admin's "node types the engine cannot run" all read
:func:`runnable_node_types`; a node type becomes runnable by registering its class here. A
registered type whose runtime is missing on this machine (the ``code`` node without its sandbox)
says so through :func:`node_unavailable_reason`, read by the same places.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from apps_runtime.engine.nodes.base import Node

NODE_TYPES: dict[str, type[Node]] = {}

N = TypeVar("N", bound=type[Node])


def register(*type_names: str) -> Callable[[N], N]:
    def decorate(cls: N) -> N:
        for name in type_names:
            NODE_TYPES[name] = cls
        if not cls.type:
            cls.type = type_names[0]
        return cls

    return decorate


def runnable_node_types() -> frozenset[str]:
    return frozenset(NODE_TYPES)


def model_node_types() -> frozenset[str]:
    """Node types that call a model (their ``model.provider`` must be configured to run)."""
    return frozenset(name for name, cls in NODE_TYPES.items() if cls.calls_model)


def node_class(type_name: str) -> type[Node] | None:
    return NODE_TYPES.get(type_name)


def node_unavailable_reason(type_name: str, data: dict[str, Any]) -> str | None:
    """Why a registered node type cannot run here with this ``data`` (e.g. the code sandbox is
    not installed), naming what to install; None when it can (or when the type is unknown, which
    :func:`runnable_node_types` reports)."""
    cls = NODE_TYPES.get(type_name)
    return None if cls is None else cls.unavailable_reason(data)


# Each module registers its node type(s) on import.
from apps_runtime.engine.nodes import (  # noqa: E402, F401
    agent,
    answer,
    assigner,
    code,
    document_extractor,
    end,
    http_request,
    human_input,
    if_else,
    iteration,
    list_operator,
    llm,
    loop,
    parameter_extractor,
    question_classifier,
    start,
    template_transform,
    tool,
    variable_aggregator,
)
