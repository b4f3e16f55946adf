"""``code`` (dsl.md §4.10): the node's ``main`` runs in THE sandbox (``apps_runtime.sandbox``);
what it returns is checked and coerced against the node's declared ``outputs``.

The value limits are Dify's code-node limits, each a setting (``CODE_*``): strings up to 80,000
characters, numbers in the signed 64-bit range, floats rounded to 20 digits, objects nested at
most 5 deep, arrays of strings or objects up to 30 items, arrays of numbers up to 1,000.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps_runtime import sandbox
from apps_runtime.engine.conditions import type_name
from apps_runtime.engine.host import StopRequested
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.nodes.template_transform import template_variables

LANGUAGES = {"python3": "python3", "javascript": "javascript"}
_ARTICLE = {
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
}


@dataclass(frozen=True)
class ValueLimits:
    max_string: int
    min_number: int
    max_number: int
    precision: int
    max_depth: int
    max_string_array: int
    max_object_array: int
    max_number_array: int

    @classmethod
    def from_settings(cls) -> ValueLimits:
        return cls(
            max_string=settings.CODE_MAX_STRING_LENGTH,
            min_number=settings.CODE_MIN_NUMBER,
            max_number=settings.CODE_MAX_NUMBER,
            precision=settings.CODE_MAX_PRECISION,
            max_depth=settings.CODE_MAX_DEPTH,
            max_string_array=settings.CODE_MAX_STRING_ARRAY_LENGTH,
            max_object_array=settings.CODE_MAX_OBJECT_ARRAY_LENGTH,
            max_number_array=settings.CODE_MAX_NUMBER_ARRAY_LENGTH,
        )


class OutputInvalid(NodeFailed):
    def __init__(self, message: str) -> None:
        super().__init__(message, "OutputValidationError")


class _Checker:
    """Checks one returned value against a declared type; ``path`` names it in every failure."""

    def __init__(self, limits: ValueLimits) -> None:
        self.limits = limits

    def outputs(self, value: Any, declared: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise OutputInvalid(f"main must return a dict (an object), not {_kind(value)}")
        if not declared:
            return {str(key): self.any(item, str(key), 1) for key, item in value.items()}
        return self.obj(value, declared, "", 1)

    def obj(
        self, value: dict[str, Any], schema: Mapping[str, Any], prefix: str, depth: int
    ) -> dict[str, Any]:
        if depth > self.limits.max_depth:
            raise OutputInvalid(
                f"output {prefix} is nested deeper than {self.limits.max_depth} levels"
            )
        checked: dict[str, Any] = {}
        for name, spec in schema.items():
            path = f"{prefix}.{name}" if prefix else str(name)
            if name not in value:
                raise OutputInvalid(f"output {path} is missing from the value main returned")
            spec = spec if isinstance(spec, Mapping) else {}
            checked[str(name)] = self.typed(
                value[name], str(spec.get("type") or ""), spec.get("children"), path, depth
            )
        return checked

    def typed(self, value: Any, kind: str, children: Any, path: str, depth: int) -> Any:
        if value is None:
            return None
        if kind == "string":
            return self.string(value, path)
        if kind == "number":
            return self.number(value, path)
        if kind == "boolean":
            return self.boolean(value, path)
        if kind == "object":
            if not isinstance(value, dict):
                raise OutputInvalid(f"output {path} must be an object, not {_kind(value)}")
            if isinstance(children, Mapping) and children:
                return self.obj(value, children, path, depth + 1)
            return self.any(value, path, depth)
        if kind.startswith("array[") and kind.endswith("]"):
            item_kind = kind[6:-1]
            if not isinstance(value, list):
                raise OutputInvalid(f"output {path} must be an array, not {_kind(value)}")
            self.length(value, item_kind, path)
            items = []
            for index, item in enumerate(value):
                where = f"{path}[{index}]"
                if item_kind not in ("string", "number", "boolean", "object"):
                    items.append(self.any(item, where, depth))
                elif item is None:
                    raise OutputInvalid(f"output {where} must be {_ARTICLE[item_kind]}, not null")
                elif item_kind == "object":
                    if not isinstance(item, dict):
                        raise OutputInvalid(f"output {where} must be an object, not {_kind(item)}")
                    items.append(self.any(item, where, depth))
                else:
                    items.append(self.typed(item, item_kind, None, where, depth))
            return items
        return self.any(value, path, depth)

    def length(self, value: list[Any], item_kind: str, path: str) -> None:
        limit = {
            "string": self.limits.max_string_array,
            "object": self.limits.max_object_array,
        }.get(item_kind, self.limits.max_number_array)
        if len(value) > limit:
            raise OutputInvalid(
                f"output {path} has {len(value)} items; an array of {item_kind or 'values'} "
                f"may have at most {limit}"
            )

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise OutputInvalid(f"output {path} must be a string, not {_kind(value)}")
        value = value.replace("\x00", "")
        if len(value) > self.limits.max_string:
            raise OutputInvalid(
                f"output {path} is {len(value)} characters long; "
                f"the limit is {self.limits.max_string}"
            )
        return value

    def number(self, value: Any, path: str) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OutputInvalid(f"output {path} must be a number, not {_kind(value)}")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise OutputInvalid(f"output {path} must be a finite number, not {value}")
            value = round(value, self.limits.precision)
        if not self.limits.min_number <= value <= self.limits.max_number:
            raise OutputInvalid(
                f"output {path} is out of range: numbers must be between "
                f"{self.limits.min_number} and {self.limits.max_number}"
            )
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise OutputInvalid(f"output {path} must be a boolean, not {_kind(value)}")
        return value

    def any(self, value: Any, path: str, depth: int) -> Any:
        """A value without a declared type: each part is held to the limits of its own type."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, int | float):
            return self.number(value, path)
        if isinstance(value, dict):
            if depth + 1 > self.limits.max_depth:
                raise OutputInvalid(
                    f"output {path} is nested deeper than {self.limits.max_depth} levels"
                )
            return {
                str(key): self.any(item, f"{path}.{key}", depth + 1) for key, item in value.items()
            }
        if isinstance(value, list):
            kinds = {_item_kind(item) for item in value if item is not None}
            self.length(value, kinds.pop() if len(kinds) == 1 else "", path)
            return [self.any(item, f"{path}[{index}]", depth) for index, item in enumerate(value)]
        raise OutputInvalid(f"output {path} has a type that cannot be stored: {_kind(value)}")


def _item_kind(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "number"


def _kind(value: Any) -> str:
    """``a string``, ``an object``, ``null``: the JSON type of a value, for messages."""
    name = type_name(value)
    return name if name == "null" else ("an " if name[0] in "aeiou" else "a ") + name


def check_outputs(value: Any, declared: Any, limits: ValueLimits | None = None) -> dict[str, Any]:
    """The value ``main`` returned, checked and coerced against ``outputs`` (``OutputInvalid``
    names the first key that does not fit)."""
    schema = declared if isinstance(declared, Mapping) else {}
    return _Checker(limits or ValueLimits.from_settings()).outputs(value, schema)


def dependency_names(items: Any) -> list[str]:
    names: list[str] = []
    for item in items or []:
        name = item.get("name") if isinstance(item, Mapping) else item
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def unavailable_reason(data: Mapping[str, Any]) -> str | None:
    """Why a code node with this ``data`` cannot run on this machine (what to install), or None."""
    language = LANGUAGES.get(str(data.get("code_language") or "python3"))
    return sandbox.unavailable_reason(language)


@register("code")
class CodeNode(Node):
    @classmethod
    def unavailable_reason(cls, data: dict[str, Any]) -> str | None:
        return unavailable_reason(data)

    def run(self, ctx: RunContext) -> NodeResult:
        language = LANGUAGES.get(str(self.data.get("code_language") or ""))
        if language is None:
            raise NodeFailed(
                f"code_language {self.data.get('code_language')!r} is not supported "
                "(python3 or javascript)",
                "CodeLanguageError",
            )
        args = template_variables(self.data.get("variables"), ctx.pool)
        try:
            result = sandbox.execute(
                language,
                str(self.data.get("code") or ""),
                args,
                dependencies=dependency_names(self.data.get("dependencies")),
                should_stop=ctx.host.should_stop,
            )
        except sandbox.SandboxUnavailable as exc:
            raise NodeFailed(str(exc), "SandboxUnavailable") from None
        if result.stopped:
            raise StopRequested()
        if not result.ok:
            error_type = "CodeExecutionError"
            if result.limit is not None:
                error_type = "CodeLimitExceeded"
            elif result.dependency is not None:
                error_type = "DependencyNotAvailable"
            raise NodeFailed(result.error, error_type)
        outputs = check_outputs(result.value, self.data.get("outputs"))
        return NodeResult(inputs=args, outputs=outputs)
