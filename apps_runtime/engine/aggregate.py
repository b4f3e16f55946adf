"""Variable-aggregator (dsl.md §4.7; legacy type ``variable-assigner``), pure.

The first selector whose variable EXISTS wins — a stored null counts, only a missing variable (its
producer did not run, e.g. a skipped branch) is passed over. ``output_type`` is not enforced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from apps_runtime.engine.missing import MISSING

Resolve = Callable[[Sequence[str]], Any]


class AggregateError(Exception):
    """The node's data is malformed; the message is meant for the app's author."""


def aggregate(data: Mapping[str, Any], resolve: Resolve) -> dict[str, Any]:
    """The node's outputs: ``{"output": v}``, or with groups ``{group_name: {"output": v}}``.

    A selection with no existing variable contributes nothing: no ``output`` key, and with groups
    no entry for that group, so ``[node, group, "output"]`` downstream resolves to missing.
    """
    settings = data.get("advanced_settings")
    if isinstance(settings, Mapping) and settings.get("group_enabled"):
        groups = settings.get("groups")
        if not isinstance(groups, list):
            raise AggregateError("'advanced_settings.groups' must be a list")
        outputs: dict[str, Any] = {}
        for group in groups:
            if not isinstance(group, Mapping):
                raise AggregateError("Each group must be a mapping")
            name = group.get("group_name")
            if not isinstance(name, str) or not name:
                raise AggregateError("Each group needs a group_name")
            found = _first_existing(group.get("variables"), resolve)
            if found:
                outputs[name] = found
        return outputs
    return _first_existing(data.get("variables"), resolve)


def _first_existing(selectors: Any, resolve: Resolve) -> dict[str, Any]:
    if selectors is None:
        return {}
    if not isinstance(selectors, list):
        raise AggregateError("'variables' must be a list of selectors")
    for selector in selectors:
        if not isinstance(selector, (list, tuple)) or len(selector) < 2:
            raise AggregateError(f"Invalid variable selector: {selector!r}")
        value = resolve([str(part) for part in selector])
        if value is not MISSING:
            return {"output": value}
    return {}
