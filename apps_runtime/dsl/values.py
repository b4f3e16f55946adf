"""Turn what ``yaml.safe_load`` produced into plain JSON values the JSON columns can store.

YAML has types JSON lacks (timestamps, binary, sets, non-string keys, NaN). Timestamps become ISO
strings and scalar keys become strings, as ``json.dumps`` would write them; anything without a
faithful JSON form is refused with the path where it was found. Aliases are expanded here, so the
expansion is measured as it happens, in values and in bytes of the JSON it becomes: a document
built to explode through anchors stops as soon as it passes ``MAX_DSL_EXPANDED_BYTES`` instead of
being stored (and later answered) at whatever size it reaches.
"""

from __future__ import annotations

import datetime
import math
import sys
from typing import Any

from django.conf import settings

from apps_runtime.dsl.constants import MAX_DSL_VALUES
from apps_runtime.dsl.errors import DslError


class _Budget:
    """What the expansion may still produce: values, and bytes of compact JSON (about)."""

    def __init__(self, values: int, size: int) -> None:
        self.values_limit, self.values_left = values, values
        self.bytes_limit, self.bytes_left = size, size

    def spend(self, size: int, values: int = 1) -> None:
        self.values_left -= values
        self.bytes_left -= size
        if self.bytes_left < 0:
            raise DslError(
                f"the DSL expands to more than {self.bytes_limit} bytes"
                " (MAX_DSL_EXPANDED_BYTES; YAML aliases?); refused"
            )
        if self.values_left < 0:
            raise DslError(
                f"the DSL expands to more than {self.values_limit} values (YAML aliases?); refused"
            )


def to_json(
    value: Any, *, path: str = "", limit: int = MAX_DSL_VALUES, max_bytes: int | None = None
) -> Any:
    size = settings.MAX_DSL_EXPANDED_BYTES if max_bytes is None else max_bytes
    return _convert(value, path, _Budget(limit, size))


def _convert(value: Any, path: str, budget: _Budget) -> Any:
    if value is None or isinstance(value, bool):
        budget.spend(5)
        return value
    if isinstance(value, int):
        budget.spend(value.bit_length() // 3 + 2)  # about its decimal digits, sign included
        if value.bit_length() > 64:
            _require_decimal(value, path)
        return value
    if isinstance(value, float):
        budget.spend(24)
        if math.isnan(value) or math.isinf(value):
            raise DslError(f"{_where(path)}: {value} has no JSON form")
        return value
    if isinstance(value, str):
        budget.spend(len(value) + 2)  # characters first: no encoding of a text past the budget
        if "\x00" in value:
            raise DslError(f"{_where(path)}: text contains a NUL character")
        budget.spend(_utf8_size(value, path) - len(value), values=0)
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        budget.spend(34)
        return value.isoformat()
    if isinstance(value, dict):
        budget.spend(2)
        converted: dict[str, Any] = {}
        for key, item in value.items():
            name = _key(key, path)
            budget.spend(len(name) + 4, values=0)
            converted[name] = _convert(item, f"{path}.{name}" if path else name, budget)
        return converted
    if isinstance(value, list):
        budget.spend(2)
        items = []
        for index, item in enumerate(value):
            budget.spend(1, values=0)
            items.append(_convert(item, f"{path}[{index}]", budget))
        return items
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


def _require_decimal(value: int, path: str) -> None:
    """Hex, octal and binary YAML integers escape Python's digit limit on the way in, but JSON
    writes decimal, where the limit applies: such a value could be stored and never answered."""
    try:
        str(value)
    except ValueError:
        raise DslError(
            f"{_where(path)}: an integer with more than {sys.get_int_max_str_digits()} digits"
        ) from None


def _require_utf8(text: str, path: str) -> None:
    _utf8_size(text, path)


def _utf8_size(text: str, path: str) -> int:
    """YAML escapes can produce lone surrogates, which no database or JSON encoder accepts."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise DslError(
            f"{_where(path)}: text contains an invalid character (a lone surrogate)"
        ) from None


def _where(path: str) -> str:
    return path or "the document"
