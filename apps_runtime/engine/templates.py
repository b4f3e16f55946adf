"""``{{#node.var#}}`` references (dsl.md §3.3): parsing and rendering in text and markdown form."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from apps_runtime.engine.variables import MISSING, VariablePool, file_attribute, is_file

REFERENCE = re.compile(r"\{\{#([a-zA-Z0-9_]{1,50}(?:\.[a-zA-Z_][a-zA-Z0-9_]{0,29}){1,10})#\}\}")


@dataclass(frozen=True)
class Segment:
    """Literal text (``selector`` None) or one reference."""

    text: str
    selector: tuple[str, ...] | None = None


def parse(template: str) -> list[Segment]:
    segments: list[Segment] = []
    position = 0
    for match in REFERENCE.finditer(template or ""):
        if match.start() > position:
            segments.append(Segment(template[position : match.start()]))
        segments.append(Segment(match.group(1), tuple(match.group(1).split("."))))
        position = match.end()
    if position < len(template or ""):
        segments.append(Segment(template[position:]))
    return segments


def selectors_in(template: str) -> list[list[str]]:
    return [list(s.selector) for s in parse(template) if s.selector is not None]


def to_text(value: Any) -> str:
    """The text form of a value (string as-is, numbers ``str()``, objects JSON, ...)."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    if is_file(value):
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        if not value:
            return ""
        if all(isinstance(item, str) for item in value):
            return json.dumps(list(value), ensure_ascii=False)
        if all(is_file(item) for item in value):
            return ""
        return str(list(value))
    return str(value)


def to_markdown(value: Any) -> str:
    """The markdown form used by ``answer`` nodes: lists as ``- item`` lines, objects as indented
    JSON, files as links."""
    if is_file(value):
        name = file_attribute(value, "name") or "file"
        url = file_attribute(value, "url") or ""
        prefix = "!" if value.get("type") == "image" else ""
        return f"{prefix}[{name}]({url})" if url else str(name)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, indent=2)
    if isinstance(value, list | tuple):
        return "\n".join(
            f"- {to_markdown(item) if is_file(item) else to_text(item)}" for item in value
        )
    return to_text(value)


def render_segment(segment: Segment, pool: VariablePool, *, markdown: bool = False) -> str:
    if segment.selector is None:
        return segment.text
    value = pool.get(list(segment.selector))
    if value is MISSING:
        return segment.text  # the inner text, braces and hashes removed
    return to_markdown(value) if markdown else to_text(value)


def render(template: str, pool: VariablePool, *, markdown: bool = False) -> str:
    if not template:
        return ""
    return "".join(render_segment(s, pool, markdown=markdown) for s in parse(template))


def files_in(template: str, pool: VariablePool) -> list[dict[str, Any]]:
    """File values referenced by ``template`` (single files and arrays of files)."""
    found: list[dict[str, Any]] = []
    for selector in selectors_in(template):
        value = pool.get(selector)
        if is_file(value):
            found.append(value)
        elif isinstance(value, list):
            found.extend(item for item in value if is_file(item))
    return found
