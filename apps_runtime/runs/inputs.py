"""The run body (contract §5.15) and the app's inputs, checked before anything runs.

Inputs are validated with ``jsonschema`` against the same ``input_schema`` describe serves
(``apps_runtime.describe``); each error names the variable (decisions §9): ``x is required``,
``num must be a number``, ``enum_var must be one of: A, B, C``, ``paragraph must be less than 100
characters``. Unknown inputs are dropped. Files (``file`` / ``file-list`` inputs and the body's
``files``): ``remote_url`` entries are checked and handed on; a ``local_file`` entry's
``upload_file_id`` must name the caller's own upload of this workspace (``uploads``), and becomes a
file value the nodes read (name, extension, MIME type, size, ``related_id``).
"""

from __future__ import annotations

import ipaddress
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from accounts.authentication import Subject
from apps_runtime.describe import app_input_schema, app_user_input_form
from apps_runtime.models import CHAT_MODES, App, AppMode
from config.api.errors import ApiError, validation_error
from config.api.parsers import json_loads_bounded

QUERY_REQUIRED_FOR_CHAT = "query_required_for_chat"
QUERY_NOT_SUPPORTED_FOR_WORKFLOW = "query_not_supported_for_workflow"
MODE_NOT_RUNNABLE = "mode_not_runnable"

FILE_TYPES = ("image", "document", "audio", "video", "custom")
TRANSFER_METHODS = ("remote_url", "local_file")
MAX_URL_LENGTH = 2048
MAX_BODY_FILES = 20

_TYPE_WORDS = {
    "number": "a number",
    "string": "a string",
    "object": "an object",
    "array": "a list",
    "boolean": "a boolean",
}


@dataclass
class RunRequest:
    """A run body after validation: what ``run_start`` records."""

    inputs: dict[str, Any]
    query: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    conversation_id: uuid.UUID | None = None
    auto_generate_name: bool = True
    workflow_id: str | None = None


def invalid(message: str, loc: list[str] | None = None) -> ApiError:
    return validation_error(
        [{"type": "value_error", "loc": loc or [], "msg": message}], message=message
    )


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON body; an empty body counts as ``{}`` (contract §5.15).

    A body that is not JSON, or not a JSON object, is the 400 ``bad_request`` every other JSON
    route answers (decisions 22: a typo is named, not turned into ``inputs is required``).
    Nesting is bounded like every JSON route's (``MAX_JSON_DEPTH``): deeper is the 400 envelope;
    text no database can store (a NUL, an unpaired surrogate) is the 422 naming the field.
    """
    if not raw.strip():
        return {}
    body = json_loads_bounded(raw)
    if not isinstance(body, dict):
        raise ApiError(
            400, "Invalid JSON payload: the body must be a JSON object", code="bad_request"
        )
    return body


def check_mode_rules(mode: str, body: Mapping[str, Any]) -> None:
    """Per-mode rules of contract §5.15 (messages are the contract's strings, 422)."""
    if mode in CHAT_MODES:
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise invalid(QUERY_REQUIRED_FOR_CHAT, ["query"])
    elif mode == AppMode.WORKFLOW:
        if "query" in body:
            raise invalid(QUERY_NOT_SUPPORTED_FOR_WORKFLOW, ["query"])
    elif mode != AppMode.COMPLETION:
        raise invalid(MODE_NOT_RUNNABLE)


def run_request_from_body(
    app: App, body: Mapping[str, Any], *, subject: Subject | None = None
) -> RunRequest:
    """Validate a run body for ``app`` (mode rules first); raise 422 naming the field.

    ``subject`` resolves ``local_file`` uploads (without one, they are refused)."""
    check_mode_rules(app.mode, body)
    raw_inputs = body.get("inputs")
    if raw_inputs is None:
        raise invalid("inputs is required", ["inputs"])
    if not isinstance(raw_inputs, dict):
        raise invalid("inputs must be an object", ["inputs"])

    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise invalid("query must be a string", ["query"])
    context = _FileContext(app, subject)
    request = RunRequest(
        inputs=validate_inputs(app, raw_inputs, context=context), query=(query or "").strip()
    )
    if app.mode == AppMode.WORKFLOW:
        request.query = ""

    request.files = validate_body_files(body.get("files"), context=context)
    if app.mode in CHAT_MODES:
        request.conversation_id = _conversation_id(body.get("conversation_id"))
    auto_name = body.get("auto_generate_name", True)
    if not isinstance(auto_name, bool):
        raise invalid("auto_generate_name must be a boolean", ["auto_generate_name"])
    request.auto_generate_name = auto_name and app.mode in CHAT_MODES

    workflow_id = body.get("workflow_id")
    if workflow_id not in (None, ""):
        if not isinstance(workflow_id, str):
            raise invalid("workflow_id must be a string", ["workflow_id"])
        request.workflow_id = workflow_id.strip()
    workspace_id = body.get("workspace_id")
    if workspace_id not in (None, "") and (
        not isinstance(workspace_id, str) or _uuid(workspace_id.strip()) is None
    ):
        raise invalid("workspace_id must be a valid UUID", ["workspace_id"])
    return request


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _conversation_id(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("conversation_id must be a valid UUID", ["conversation_id"])
    value = value.strip()
    if not value:
        return None
    parsed = _uuid(value)
    if parsed is None:
        raise invalid("conversation_id must be a valid UUID", ["conversation_id"])
    return parsed


# -- inputs ------------------------------------------------------------------------------------


def _form_rows(app: App) -> dict[str, tuple[str, dict[str, Any]]]:
    rows: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in app_user_input_form(app):
        ((kind, body),) = row.items()
        variable = body.get("variable")
        if isinstance(variable, str) and variable and variable not in rows:
            rows[variable] = (kind, body)
    return rows


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def _number(value: Any) -> Any:
    """Numeric strings become numbers (dsl.md §4.1); anything else is left for the schema."""
    if isinstance(value, str):
        text = value.strip()
        try:
            number: float | int = float(text) if "." in text or "e" in text.lower() else int(text)
        except ValueError:
            return value
        if isinstance(number, float) and not math.isfinite(number):
            return value
        return number
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinities are not numbers a form can hold
    return value


def _normalise(
    rows: Mapping[str, tuple[str, dict[str, Any]]], inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Known inputs only, NUL-free; blank optional numbers and selects count as not given."""
    values: dict[str, Any] = {}
    for name, (kind, _body) in rows.items():
        if name not in inputs:
            continue
        value = _strip_nul(inputs[name])
        if kind == "number":
            if isinstance(value, str) and not value.strip():
                value = None
            else:
                value = _number(value)
        if kind == "select" and value == "":
            value = None
        if value is None:
            continue  # missing: required → error below; optional → the engine's default
        values[name] = value
    return values


def _schema_message(error: SchemaError, schema: Mapping[str, Any]) -> tuple[str, list[str]]:
    path = [str(part) for part in error.absolute_path]
    name = path[0] if path else ""
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else name
        return f"{missing} is required", [missing]
    prop = (schema.get("properties") or {}).get(name, {})
    if error.validator == "type" and len(path) == 1:
        expected = prop.get("type", error.validator_value)
        return f"{name} must be {_TYPE_WORDS.get(str(expected), str(expected))}", path
    if error.validator == "enum":
        allowed: Any = error.validator_value
        options = ", ".join(str(option) for option in allowed)
        return f"{name} must be one of: {options}", path
    if error.validator == "maxLength":
        return f"{name} must be less than {error.validator_value} characters", path
    label = ".".join(path) or "inputs"
    return f"{label} is invalid: {error.message}", path


def validate_inputs(
    app: App, inputs: Mapping[str, Any], *, context: _FileContext | None = None
) -> dict[str, Any]:
    """The app's inputs from a run body, validated; unknown keys dropped."""
    rows = _form_rows(app)
    values = _normalise(rows, inputs)
    schema = app_input_schema(app)["properties"]["inputs"]
    validator = Draft202012Validator(schema)
    # The schema leaves some input types out (checkbox, json_object): the engine's rules check them.
    described = {k: v for k, v in values.items() if k in (schema.get("properties") or {})}
    errors = sorted(
        validator.iter_errors(described),
        key=lambda e: list(rows).index(e.path[0]) if e.path and e.path[0] in rows else -1,
    )
    if errors:
        details: list[dict[str, Any]] = []
        for error in errors:
            message, loc = _schema_message(error, schema)
            details.append({"type": str(error.validator), "loc": ["inputs", *loc], "msg": message})
        raise validation_error(details, message=details[0]["msg"])
    _engine_rules(app, values)
    for name, (kind, body) in rows.items():
        if name not in values:
            continue
        if kind == "file":
            values[name] = validate_file(name, values[name], body, context=context)
        elif kind == "file-list":
            items = values[name]
            limit = body.get("max_length")
            if isinstance(limit, int) and not isinstance(limit, bool) and len(items) > limit > 0:
                raise invalid(f"{name} must have at most {limit} files", ["inputs", name])
            values[name] = [
                validate_file(f"{name}[{i}]", item, body, context=context)
                for i, item in enumerate(items)
            ]
    return values


def _engine_rules(app: App, values: dict[str, Any]) -> None:
    """The start node's own rules for what ``input_schema`` leaves out (checkbox, json_object
    against its ``json_schema``, file extensions), so they fail before the run starts too."""
    from apps_runtime.engine import InputError, form_variables, validate_start_inputs

    try:
        validate_start_inputs(form_variables(app_user_input_form(app)), dict(values))
    except InputError as exc:
        raise invalid(exc.message, ["inputs", exc.variable]) from None


# -- files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileContext:
    """Whose uploads a ``local_file`` may name: the caller's, in the app's workspace."""

    app: App
    subject: Subject | None


def validate_body_files(files: Any, *, context: _FileContext | None = None) -> list[dict[str, Any]]:
    if files is None:
        return []
    if not isinstance(files, list):
        raise invalid("files must be a list", ["files"])
    if len(files) > MAX_BODY_FILES:
        raise invalid(f"files must have at most {MAX_BODY_FILES} entries", ["files"])
    return [validate_file(f"files[{i}]", item, {}, context=context) for i, item in enumerate(files)]


def validate_file(
    name: str, value: Any, row: Mapping[str, Any], *, context: _FileContext | None = None
) -> dict[str, Any]:
    """One file value: ``{type, transfer_method, url}`` for a remote file; a ``local_file`` is
    resolved to the caller's upload (422 naming the input when it is not theirs or unknown)."""
    if not isinstance(value, dict):
        raise invalid(f"{name} must be a file object", [name])
    method = value.get("transfer_method")
    if method not in TRANSFER_METHODS:
        raise invalid(f"{name}.transfer_method must be one of: {', '.join(TRANSFER_METHODS)}")
    allowed_methods = row.get("allowed_file_upload_methods")
    if isinstance(allowed_methods, list) and allowed_methods and method not in allowed_methods:
        raise invalid(f"{name}: transfer_method {method} is not allowed for this input")
    kind = value.get("type", "custom")
    if kind not in FILE_TYPES:
        raise invalid(f"{name}.type must be one of: {', '.join(FILE_TYPES)}", [name])
    allowed_types = row.get("allowed_file_types")
    if isinstance(allowed_types, list) and allowed_types and kind not in allowed_types:
        raise invalid(f"{name}: file type {kind} is not allowed for this input", [name])
    if method == "local_file":
        return _local_file(name, value, kind, context)
    url = value.get("url")
    if not isinstance(url, str) or not url.strip():
        raise invalid(f"{name}.url is required for a remote_url file", [name])
    url = url.strip()
    check_remote_url(name, url)
    return {"type": kind, "transfer_method": method, "url": url}


def _local_file(
    name: str, value: Mapping[str, Any], kind: str, context: _FileContext | None
) -> dict[str, Any]:
    from uploads.selectors import upload_file_for_run

    upload_id = value.get("upload_file_id")
    if not isinstance(upload_id, str) or not upload_id.strip():
        raise invalid(f"{name}.upload_file_id is required for a local_file file", [name])
    upload = (
        upload_file_for_run(context.subject, context.app, upload_id.strip())
        if context is not None and context.subject is not None
        else None
    )
    if upload is None:
        raise invalid(f"{name}: upload file not found", [name])
    return {
        "dify_model_identity": "__dify__file__",
        "type": kind,
        "transfer_method": "local_file",
        "upload_file_id": str(upload.id),
        "related_id": str(upload.id),
        "name": upload.name,
        "filename": upload.name,
        "extension": f".{upload.extension}" if upload.extension else "",
        "mime_type": upload.mime_type,
        "size": upload.size,
        "url": None,
    }


def check_remote_url(name: str, url: str) -> None:
    """A remote file URL must be http(s) with a host, and not name a private address literally.

    (Fetching goes through the engine's SSRF-safe client, which checks every resolved address
    and redirect; this refuses the obvious cases before a run starts.)
    """
    if len(url) > MAX_URL_LENGTH:
        raise invalid(f"{name}.url must be at most {MAX_URL_LENGTH} characters", [name])
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise invalid(f"{name}.url is not a valid URL", [name]) from None
    if parts.scheme not in ("http", "https") or not host:
        raise invalid(f"{name}.url must be an http or https URL", [name])
    if host == "localhost" or host.endswith(".localhost"):
        raise invalid(f"{name}.url may not point to a private address", [name])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address.is_global:
        raise invalid(f"{name}.url may not point to a private address", [name])
