"""Parse and validate a Dify app DSL file into a normalised structure (dsl.md §1).

Every key of the file survives: the ``app`` keys the App model has become fields, the other
``app`` keys and every top-level key besides ``app`` and the mode's block go to ``dsl_extra``
(``app`` extras under ``dsl_extra["app"]``), and ``workflow`` keys besides the four modelled ones
go to the version's ``extra``. Defaults Dify's own export always writes (``kind``, ``version``,
``dependencies``, ``use_icon_as_answer_icon``) are filled in, so an export of the import is stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.conf import settings

from apps_runtime.dsl.constants import (
    APP_MODEL_KEYS,
    CURRENT_DSL_VERSION,
    DEFAULT_ICON_BACKGROUND,
    DEFAULT_ICON_TYPE,
    ICON_TYPES,
    IMPORTABLE_MODES,
    WORKFLOW_MODEL_KEYS,
)
from apps_runtime.dsl.errors import DslError
from apps_runtime.dsl.graph import unavailable_node_reasons, unsupported_node_types, validate_graph
from apps_runtime.dsl.values import to_json
from apps_runtime.dsl.version import check_version
from apps_runtime.models import WORKFLOW_MODES


@dataclass(frozen=True)
class WorkflowBlock:
    graph: dict[str, Any]
    features: dict[str, Any]
    environment_variables: list[Any]
    conversation_variables: list[Any]
    extra: dict[str, Any]


@dataclass(frozen=True)
class ParsedDsl:
    mode: str
    name: str
    description: str
    icon: str
    icon_type: str
    icon_background: str
    version: str
    dsl_extra: dict[str, Any]
    model_config: dict[str, Any] | None = None
    workflow: WorkflowBlock | None = None
    warnings: list[str] = field(default_factory=list)
    unsupported_node_types: list[str] = field(default_factory=list)


class _DslLoader(yaml.SafeLoader):
    """``SafeLoader`` whose scalar constructors cannot crash the import.

    PyYAML builds timestamps, integers and binaries with Python's constructors, which raise
    plain ``ValueError``/``OverflowError`` (a month 13, a UTC offset of 99 hours, an integer past
    Python's digit limit): those become a ``DslError`` that names the line.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (DslError, yaml.YAMLError, RecursionError):
            raise
        except (ValueError, OverflowError, TypeError, ArithmeticError) as exc:
            mark = node.start_mark
            raise DslError(
                f"invalid value {_snippet(node)} (line {mark.line + 1}, column {mark.column + 1}):"
                f" {_reason(exc)}"
            ) from None


def _snippet(node: yaml.Node) -> str:
    value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def dsl_load(text: str | bytes) -> Any:
    """The YAML document as plain JSON values; DslError for unreadable or oversized input.

    The size is bounded twice: the file (``MAX_DSL_BYTES``) and what it expands to through YAML
    aliases (``MAX_DSL_EXPANDED_BYTES``, measured while the document is turned into JSON values).
    """
    max_bytes = settings.MAX_DSL_BYTES
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise DslError(f"the DSL file is larger than {max_bytes} bytes (MAX_DSL_BYTES)")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DslError("the DSL file is not UTF-8 text") from None
    elif len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise DslError(f"the DSL file is larger than {max_bytes} bytes (MAX_DSL_BYTES)")
    try:
        document = yaml.load(text, Loader=_DslLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DslError(f"invalid YAML: {exc.problem or exc.context}{where}") from None
    except yaml.YAMLError as exc:
        raise DslError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise DslError("invalid YAML: the document is nested too deeply") from None
    except (ValueError, OverflowError, TypeError, ArithmeticError) as exc:
        # Raised outside a node's constructor (the reader, the scanner): still a DslError.
        raise DslError(f"invalid YAML: {_reason(exc)}") from None
    try:
        return to_json(document)
    except RecursionError:
        raise DslError("the DSL is nested too deeply") from None


def dsl_parse(text: str | bytes, *, allow_newer: bool = False) -> ParsedDsl:
    """``allow_newer``: a confirmed pending import takes a newer DSL version as is."""
    document = dsl_load(text)
    if document is None:
        raise DslError("the DSL file is empty")
    if not isinstance(document, dict):
        raise DslError(
            f"the DSL must be a YAML mapping at the top level, not a {_yaml_kind(document)}"
        )
    app_block = document.get("app")
    if app_block is None:
        raise DslError("missing the app block (app.name, app.mode, ...)")
    if not isinstance(app_block, dict):
        raise DslError("app must be a mapping")
    mode = _mode(app_block.get("mode"))
    version, warnings = check_version(document.get("version"), allow_newer=allow_newer)

    kind = document.get("kind")
    if kind is not None and kind != "app":
        warnings.append(f"kind {kind!r} is not 'app'; imported as an app")

    block_key = "workflow" if mode in WORKFLOW_MODES else "model_config"
    dsl_extra: dict[str, Any] = {
        key: value for key, value in document.items() if key not in ("app", block_key)
    }
    dsl_extra["kind"] = "app"
    dsl_extra["version"] = version
    dsl_extra.setdefault("dependencies", [])
    app_extra = {key: value for key, value in app_block.items() if key not in APP_MODEL_KEYS}
    app_extra.setdefault("use_icon_as_answer_icon", False)
    dsl_extra["app"] = app_extra

    parsed_fields: dict[str, Any] = {
        "mode": mode,
        "name": _text(app_block, "name", limit=255),
        "description": _text(app_block, "description"),
        "icon": _text(app_block, "icon", limit=255),
        "icon_type": _icon_type(app_block.get("icon_type")),
        "icon_background": _text(app_block, "icon_background", limit=32) or DEFAULT_ICON_BACKGROUND,
        "version": version,
        "dsl_extra": dsl_extra,
    }
    if mode in WORKFLOW_MODES:
        workflow = _workflow_block(document.get("workflow"), mode)
        unsupported = unsupported_node_types(workflow.graph)
        if unsupported:
            warnings.append(
                "the engine cannot run node type(s) "
                + ", ".join(unsupported)
                + "; runs of this app answer app_unavailable until it can"
            )
        for reason in unavailable_node_reasons(workflow.graph):
            warnings.append(
                f"this server cannot run node type {reason}; "
                "runs of this app answer app_unavailable until it is installed"
            )
        return ParsedDsl(
            **parsed_fields,
            workflow=workflow,
            warnings=warnings,
            unsupported_node_types=unsupported,
        )
    model_config = _model_config(document.get("model_config"), mode, warnings)
    return ParsedDsl(**parsed_fields, model_config=model_config, warnings=warnings)


def _mode(raw: Any) -> str:
    expected = ", ".join(IMPORTABLE_MODES)
    if raw is None or raw == "":
        raise DslError(f"missing app.mode (one of: {expected})")
    if not isinstance(raw, str) or raw not in IMPORTABLE_MODES:
        raise DslError(f"unknown app.mode {raw!r} (expected one of: {expected})")
    return raw


def _text(block: Mapping[str, Any], key: str, *, limit: int | None = None) -> str:
    value = block.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise DslError(f"app.{key} must be text")
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        raise DslError(f"app.{key} is longer than {limit} characters")
    return text


def _icon_type(raw: Any) -> str:
    return raw if isinstance(raw, str) and raw in ICON_TYPES else DEFAULT_ICON_TYPE


def _workflow_block(block: Any, mode: str) -> WorkflowBlock:
    if not isinstance(block, dict) or "graph" not in block:
        raise DslError(f"a {mode} app needs a workflow block with workflow.graph")
    graph = block["graph"]
    validate_graph(graph, mode=mode)
    features = block.get("features") or {}
    if not isinstance(features, dict):
        raise DslError("workflow.features must be a mapping")
    environment = _variables(block, "environment_variables", values_required=True)
    conversation = _variables(block, "conversation_variables", values_required=False)
    extra = {key: value for key, value in block.items() if key not in WORKFLOW_MODEL_KEYS}
    return WorkflowBlock(
        graph=graph,
        features=features,
        environment_variables=environment,
        conversation_variables=conversation,
        extra=extra,
    )


def _variables(block: Mapping[str, Any], key: str, *, values_required: bool) -> list[Any]:
    variables = block.get(key) or []
    if not isinstance(variables, list):
        raise DslError(f"workflow.{key} must be a list")
    for index, variable in enumerate(variables):
        where = f"workflow.{key}[{index}]"
        if not isinstance(variable, dict):
            raise DslError(f"{where} must be a mapping")
        name = variable.get("name")
        if not isinstance(name, str) or not name:
            raise DslError(f"{where} has no name")
        if values_required and variable.get("value") is None:
            raise DslError(f"{where} ({name}) has no value")
    return variables


def _model_config(block: Any, mode: str, warnings: list[str]) -> dict[str, Any]:
    if block is None:
        raise DslError(f"a {mode} app needs a model_config block")
    if not isinstance(block, dict):
        raise DslError("model_config must be a mapping")
    model = block.get("model")
    if not isinstance(model, dict) or not model.get("provider") or not model.get("name"):
        warnings.append(
            "model_config.model names no provider and model; the app cannot answer until one is set"
        )
    return block


def _yaml_kind(document: Any) -> str:
    if isinstance(document, list):
        return "list"
    if isinstance(document, str):
        return "string"
    return type(document).__name__


__all__ = ["CURRENT_DSL_VERSION", "ParsedDsl", "WorkflowBlock", "dsl_load", "dsl_parse"]
