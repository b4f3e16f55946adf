"""The node registry: THE one source of which node types the engine runs.

Import warnings, ``app_unavailable`` and the admin's "node types the engine cannot run" all read
:func:`runnable_node_types`; a node type becomes runnable by registering its class here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

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


def node_class(type_name: str) -> type[Node] | None:
    return NODE_TYPES.get(type_name)


# Each module registers its node type(s) on import.
from apps_runtime.engine.nodes import (  # noqa: E402, F401
    agent,
    answer,
    end,
    http_request,
    human_input,
    if_else,
    llm,
    start,
    template_transform,
    tool,
    variable_aggregator,
)
