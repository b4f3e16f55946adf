"""Form fields: checking a submission against them, and the text forms of their values.

Field definitions are the node's ``inputs`` (dsl.md §4.9): ``paragraph`` / ``text_input``
(text), ``select`` (one of its options), ``file`` / ``file-list`` (not accepted until uploads
exist). Every field must be answered; unknown keys are dropped, as run inputs are (decisions §9).
"""

from __future__ import annotations

import json
import re
from typing import Any

from apps_runtime.forms.errors import invalid_form_data

TEXT_TYPES = frozenset({"paragraph", "text_input", "text-input"})
FILE_TYPES = frozenset({"file", "file-list"})
# ``{{#$output.x#}}`` (and the earliest HITL versions' ``$outputs``).
OUTPUT_PLACEHOLDER = re.compile(r"\{\{#\$outputs?\.([A-Za-z_][A-Za-z0-9_]*)#\}\}")


def field_name(field: dict[str, Any]) -> str:
    return str(field.get("output_variable_name") or "")


def select_options(field: dict[str, Any]) -> list[str]:
    source = field.get("option_source")
    if isinstance(source, dict) and isinstance(source.get("value"), list):
        return [str(option) for option in source["value"]]
    options = field.get("options")
    return [str(option) for option in options] if isinstance(options, list) else []


def submission_clean(
    *, fields: list[dict[str, Any]], actions: list[dict[str, Any]], action: str, values: Any
) -> dict[str, Any]:
    """The answered values, one per field; ``invalid_form_data`` naming the first bad one."""
    action_ids = [str(a.get("id")) for a in actions]
    if action not in action_ids:
        allowed = ", ".join(action_ids) or "none"
        raise invalid_form_data(f"action '{action}' is not one of the form's actions: {allowed}")
    clean: dict[str, Any] = {}
    for field in fields:
        name = field_name(field)
        if not name:
            continue
        if name not in values or values[name] is None:
            raise invalid_form_data(f"{name} is required")
        clean[name] = _field_value(field, name, values[name])
    return clean


def _field_value(field: dict[str, Any], name: str, value: Any) -> Any:
    kind = str(field.get("type") or "paragraph")
    if kind in FILE_TYPES:
        raise invalid_form_data(f"{name}: file inputs are not accepted yet (no uploads)")
    if not isinstance(value, str):
        raise invalid_form_data(f"{name} must be a string")
    if kind == "select":
        options = select_options(field)
        if value not in options:
            raise invalid_form_data(f"{name} must be one of: {', '.join(options)}")
    return value


def value_text(value: Any) -> str:
    """The string form the contract gives defaults: null → "", objects and lists → JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def content_with_answers(form_content: str, values: dict[str, Any]) -> str:
    """The form text with each ``{{#$output.x#}}`` replaced by the answer (``""`` if none)."""
    return OUTPUT_PLACEHOLDER.sub(lambda m: value_text(values.get(m.group(1))), form_content)
