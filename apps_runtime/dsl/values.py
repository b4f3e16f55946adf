"""Turn what ``yaml.safe_load`` produced into plain JSON values the JSON columns can store.

YAML has types JSON lacks (timestamps, binary, sets, non-string keys, NaN). Timestamps become ISO
strings and scalar keys become strings, as ``json.dumps`` would write them; anything without a
faithful JSON form is refused with the path where it was found. Aliases are expanded here, so the
number of values is capped: a document built to explode through anchors stops early instead of
exhausting memory.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from apps_runtime.dsl.constants import MAX_DSL_VALUES
from apps_runtime.dsl.errors import DslError


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise DslError(
                f"the DSL expands to more than {self.limit} values (YAML aliases?); refused"
            )


def to_json(value: Any, *, path: str = "", limit: int = MAX_DSL_VALUES) -> Any:
    return _convert(value, path, _Budget(limit))


def _convert(value: Any, path: str, budget: _Budget) -> Any:
    budget.spend()
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise DslError(f"{_where(path)}: {value} has no JSON form")
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise DslError(f"{_where(path)}: text contains a NUL character")
        _require_utf8(value, path)
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            name = _key(key, path)
            converted[name] = _convert(item, f"{path}.{name}" if path else name, budget)
        return converted
    if isinstance(value, list):
        return [_convert(item, f"{path}[{index}]", budget) for index, item in enumerate(value)]
    raise DslError(f"{_where(path)}: a YAML {type(value).__name__} value has no JSON form")


def _key(key: Any, path: str) -> str:
    if isinstance(key, str):
        if "\x00" in key:
            raise DslError(f"{_where(path)}: a key contains a NUL character")
        _require_utf8(key, path)
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float, datetime.date)):
        return key.isoformat() if isinstance(key, datetime.date) else str(key)
    raise DslError(f"{_where(path)}: a mapping key of type {type(key).__name__} has no JSON form")


def _require_utf8(text: str, path: str) -> None:
    """YAML escapes can produce lone surrogates, which no database or JSON encoder accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DslError(
            f"{_where(path)}: text contains an invalid character (a lone surrogate)"
        ) from None


def _where(path: str) -> str:
    return path or "the document"
