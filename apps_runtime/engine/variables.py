"""The variable pool of a run (dsl.md §3.1): node outputs, ``sys.*``, ``env.*``, ``conversation.*``.

A selector is ``[node_id, var, key, ...]``; longer selectors reach into dict values (keys only) or
into a file's attributes. A selector that names nothing resolves to :data:`MISSING`, which is not
``None``: a stored null is a value and counts as "exists" (variable-aggregator relies on it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

SYSTEM = "sys"
ENVIRONMENT = "env"
CONVERSATION = "conversation"

FILE_IDENTITY = "__dify__file__"
FILE_ATTRIBUTES = (
    "type",
    "size",
    "name",
    "mime_type",
    "transfer_method",
    "url",
    "extension",
    "related_id",
)


class _Missing:
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def is_file(value: Any) -> bool:
    """A file value: a mapping marked as a Dify file, or one carrying a transfer method."""
    return isinstance(value, dict) and (
        value.get("dify_model_identity") == FILE_IDENTITY
        or ("transfer_method" in value and ("url" in value or "related_id" in value))
    )


def file_attribute(value: dict[str, Any], attribute: str) -> Any:
    """One attribute of a file value (dsl.md §3.1), tolerant of the spellings files arrive in."""
    if attribute == "name":
        return value.get("name", value.get("filename"))
    if attribute == "url":
        return value.get("url", value.get("remote_url"))
    if attribute == "extension":
        extension = value.get("extension")
        if not extension:
            name = str(value.get("name") or value.get("filename") or "")
            extension = "." + name.rsplit(".", 1)[1] if "." in name else ""
        extension = str(extension)
        return extension if not extension or extension.startswith(".") else "." + extension
    if attribute == "related_id":
        return value.get("related_id", value.get("upload_file_id"))
    return value.get(attribute)


class VariablePool:
    def __init__(
        self,
        *,
        system: dict[str, Any] | None = None,
        environment: dict[str, Any] | None = None,
        conversation: dict[str, Any] | None = None,
    ) -> None:
        self._values: dict[str, dict[str, Any]] = {
            SYSTEM: dict(system or {}),
            ENVIRONMENT: dict(environment or {}),
            CONVERSATION: dict(conversation or {}),
        }
        self._parent: VariablePool | None = None
        self._local: frozenset[str] = frozenset()

    def overlay(self, local: Iterable[str]) -> VariablePool:
        """A pool for one pass over a container's inner graph: the scopes named in ``local`` (the
        inner nodes, an iteration's ``item``/``index``) start empty and stay private to it; every
        other scope (``conversation.*``, loop variables, outer node outputs) is this pool's own,
        so an assigner inside the container writes through."""
        child = VariablePool.__new__(VariablePool)
        child._values = dict(self._values)
        child._local = frozenset(local)
        for key in child._local:
            child._values[key] = {}
        child._parent = self
        return child

    def set(self, node_id: str, name: str, value: Any) -> None:
        scope = self._values.get(node_id)
        if scope is None and self._parent is not None and node_id not in self._local:
            self._parent.set(node_id, name, value)
            self._values[node_id] = self._parent._values[node_id]
            return
        self._values.setdefault(node_id, {})[name] = value

    def set_outputs(self, node_id: str, outputs: dict[str, Any]) -> None:
        for name, value in outputs.items():
            self.set(node_id, name, value)

    def get(self, selector: Sequence[Any]) -> Any:
        """The value at ``selector`` or ``MISSING``."""
        if not isinstance(selector, list | tuple) or len(selector) < 2:
            return MISSING
        scope = self._values.get(str(selector[0]))
        if scope is None or str(selector[1]) not in scope:
            return MISSING
        value = scope[str(selector[1])]
        for part in selector[2:]:
            key = str(part)
            if is_file(value) and key in FILE_ATTRIBUTES:
                value = file_attribute(value, key)
            elif isinstance(value, dict) and key in value:
                value = value[key]
            else:
                return MISSING
        return value

    def exists(self, selector: Sequence[Any]) -> bool:
        return self.get(selector) is not MISSING

    def node_values(self, node_id: str) -> dict[str, Any]:
        return dict(self._values.get(node_id, {}))

    def to_state(self) -> dict[str, Any]:
        return copy.deepcopy(self._values)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VariablePool:
        pool = cls()
        pool._values = copy.deepcopy(state)
        for scope in (SYSTEM, ENVIRONMENT, CONVERSATION):
            pool._values.setdefault(scope, {})
        return pool
