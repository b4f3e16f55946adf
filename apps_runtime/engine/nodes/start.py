"""``start`` (dsl.md §4.1): validates and normalises the run's inputs, stores them at
``[start_id, variable]``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import jsonschema

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.types import InputError
from apps_runtime.engine.variables import SYSTEM

TEXT_TYPES = ("text-input", "paragraph", "select")
FILE_TYPES = ("image", "document", "audio", "video", "custom")
UPLOAD_METHODS = ("local_file", "remote_url")
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def read_bool(value: Any) -> bool | None:
    """A boolean, 0/1, or true/false/yes/no/on/off/1/0 text as a boolean; ``None`` otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def _strip_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def _file_ok(value: Any, variable: dict[str, Any], name: str) -> None:
    if not isinstance(value, dict):
        raise InputError(name, f"{name} must be a file")
    method = value.get("transfer_method")
    allowed_methods = variable.get("allowed_file_upload_methods") or list(UPLOAD_METHODS)
    if method not in allowed_methods:
        raise InputError(name, f"{name}: upload method {method!r} is not allowed")
    allowed_types = variable.get("allowed_file_types") or []
    kind = value.get("type")
    if allowed_types and kind not in allowed_types:
        if "custom" not in allowed_types:
            raise InputError(name, f"{name}: file type {kind!r} is not allowed")
        extensions = [str(e).lower() for e in variable.get("allowed_file_extensions") or []]
        extension = str(value.get("extension") or "").lower()
        if not extension:
            filename = str(value.get("filename") or value.get("name") or value.get("url") or "")
            extension = "." + filename.rsplit(".", 1)[1].lower() if "." in filename else ""
        normalised = {e if e.startswith(".") else "." + e for e in extensions}
        if extension not in normalised:
            raise InputError(name, f"{name}: file extension {extension or '(none)'} is not allowed")


def _validate_one(variable: dict[str, Any], value: Any) -> Any:
    name = str(variable.get("variable"))
    kind = str(variable.get("type") or "text-input")
    value = _strip_nul(value)
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            raise InputError(name, f"{name} must be a string")
        max_length = variable.get("max_length")
        if kind != "select" and isinstance(max_length, int) and max_length > 0:
            if len(value) > max_length:
                raise InputError(name, f"{name} must be less than {max_length} characters")
        if kind == "select":
            options = [str(o) for o in variable.get("options") or []]
            if value not in options:
                raise InputError(name, f"{name} must be one of: {', '.join(options)}")
        return value
    if kind == "number":
        if isinstance(value, bool):
            raise InputError(name, f"{name} must be a number")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            try:
                return float(text) if "." in text else int(text)
            except ValueError:
                raise InputError(name, f"{name} must be a number") from None
        raise InputError(name, f"{name} must be a number")
    if kind == "checkbox":
        flag = read_bool(value)
        if flag is None:
            raise InputError(name, f"{name} must be a boolean")
        return flag
    if kind == "file":
        _file_ok(value, variable, name)
        return value
    if kind == "file-list":
        if not isinstance(value, list):
            raise InputError(name, f"{name} must be a list of files")
        max_length = variable.get("max_length")
        if isinstance(max_length, int) and max_length > 0 and len(value) > max_length:
            raise InputError(name, f"{name} must have at most {max_length} files")
        for item in value:
            _file_ok(item, variable, name)
        return value
    if kind == "json_object":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise InputError(name, f"{name} must be a JSON object") from None
        if not isinstance(value, dict):
            raise InputError(name, f"{name} must be a JSON object")
        schema = variable.get("json_schema")
        if isinstance(schema, str) and schema.strip():
            try:
                schema = json.loads(schema)
            except ValueError:
                raise InputError(name, f"{name} has an invalid JSON schema") from None
        if isinstance(schema, dict) and schema:
            try:
                jsonschema.Draft7Validator(schema).validate(value)
            except jsonschema.ValidationError as exc:
                raise InputError(name, f"{name} does not match its schema: {exc.message}") from None
            except jsonschema.SchemaError:
                raise InputError(name, f"{name} has an invalid JSON schema") from None
        return value
    return value


def validate_start_inputs(
    variables: Iterable[dict[str, Any]], inputs: dict[str, Any]
) -> dict[str, Any]:
    """The inputs a run gets from its start variables (dsl.md §4.1): required values present,
    defaults applied, numbers and checkboxes converted, text lengths, select options, files and
    JSON objects checked. Unknown inputs are dropped. Raises :class:`InputError` naming the
    variable with the decisions §9 wording."""
    result: dict[str, Any] = {}
    for variable in variables:
        if not isinstance(variable, dict) or not variable.get("variable"):
            continue
        name = str(variable["variable"])
        value = inputs.get(name)
        if value is None:
            if variable.get("required"):
                raise InputError(name, f"{name} is required")
            default = variable.get("default")
            if default is None or (default == "" and variable.get("type") not in TEXT_TYPES):
                result[name] = None
                continue
            value = default
        result[name] = _validate_one(variable, value)
    return result


def form_variables(user_input_form: Any) -> list[dict[str, Any]]:
    """An easy app's ``user_input_form`` (one-key dicts) as start-variable definitions."""
    variables: list[dict[str, Any]] = []
    for item in user_input_form or []:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        ((kind, spec),) = item.items()
        if isinstance(spec, dict) and spec.get("variable"):
            variables.append({**spec, "type": kind})
    return variables


@register("start")
class StartNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        raw = ctx.pool.node_values(self.id)
        try:
            values = validate_start_inputs(self.data.get("variables") or [], raw)
        except InputError as exc:
            raise NodeFailed(exc.message, "InputError") from None
        ctx.pool.set_outputs(self.id, values)
        outputs = dict(values)
        for key, value in ctx.pool.node_values(SYSTEM).items():
            outputs[f"sys.{key}"] = value
        return NodeResult(inputs=dict(outputs), outputs=outputs)
