"""The "no such variable" sentinel (dsl.md §3.1).

A selector that points at nothing resolves to ``MISSING``, never to ``None``: a stored null is a
value (the variable-aggregator takes it, if-else compares it), a missing variable is not.
"""

from __future__ import annotations

from typing import Final, final


@final
class _Missing:
    """One instance only; falsy so a careless ``if value:`` does not mistake it for data."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> _Missing:
        return self

    def __deepcopy__(self, memo: object) -> _Missing:
        return self

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
