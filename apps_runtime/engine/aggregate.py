"""Variable-aggregator (dsl.md §4.7; legacy type ``variable-assigner``), pure.

The first selector whose variable EXISTS wins — a stored null counts, only a missing variable (its
producer did not run, e.g. a skipped branch) is passed over. ``output_type`` is not enforced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from apps_runtime.engine.variables import MISSING

Resolve = Callable[[Sequence[str]], Any]


class AggregateError(Exception):
    """The node's data is malformed; the message is meant for the app's author."""


def aggregate(data: Mapping[str, Any], resolve: Resolve) -> dict[str, Any]:
    """The node's outputs: ``{"output": v}``, or with groups ``{group_name: {"output": v}}``.

    A selection with no existing variable contributes nothing: no ``output`` key, and with groups
    no entry for that group, so ``[node, group, "output"]`` downstream resolves to missing.
    """
    return aggregate_with_sources(data, resolve)[0]


def aggregate_with_sources(
    data: Mapping[str, Any], resolve: Resolve
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """:func:`aggregate`'s outputs, and which selector each came from (``"output"`` or the group
    name → selector) for the node's recorded inputs."""
    settings = data.get("advanced_settings")
    outputs: dict[str, Any] = {}
    sources: dict[str, list[str]] = {}
    if isinstance(settings, Mapping) and settings.get("group_enabled"):
        groups = settings.get("groups")
        if not isinstance(groups, list):
            raise AggregateError("'advanced_settings.groups' must be a list")
        for group in groups:
            if not isinstance(group, Mapping):
                raise AggregateError("Each group must be a mapping")
            name = group.get("group_name")
            if not isinstance(name, str) or not name:
                raise AggregateError("Each group needs a group_name")
            found = first_existing(group.get("variables"), resolve)
            if found is not None:
                sources[name], value = found
                outputs[name] = {"output": value}
        return outputs, sources
    found = first_existing(data.get("variables"), resolve)
    if found is not None:
        sources["output"], outputs["output"] = found
    return outputs, sources


def first_existing(selectors: Any, resolve: Resolve) -> tuple[list[str], Any] | None:
    """The first selector that resolves to something (null included), with its value."""
    if selectors is None:
        return None
    if not isinstance(selectors, list):
        raise AggregateError("'variables' must be a list of selectors")
    for selector in selectors:
        if not isinstance(selector, (list, tuple)) or len(selector) < 2:
            raise AggregateError(f"Invalid variable selector: {selector!r}")
        path = [str(part) for part in selector]
        value = resolve(path)
        if value is not MISSING:
            return path, value
    return None
