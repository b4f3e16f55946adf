"""``secret`` environment variables of a workflow are stored encrypted (decisions §3)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from config.crypto import seal, unseal


def seal_secret_values(variables: list[Any]) -> list[Any]:
    """A copy of ``variables`` whose non-empty secret values are encrypted."""
    return _map_secret_values(variables, seal)


def unseal_secret_values(variables: list[Any]) -> list[Any]:
    """A copy of ``variables`` with secret values decrypted (for export with secrets, and runs)."""
    return _map_secret_values(variables, unseal)


def _map_secret_values(variables: list[Any], transform: Callable[[str], str]) -> list[Any]:
    result = copy.deepcopy(variables)
    for variable in result:
        if not (isinstance(variable, dict) and variable.get("value_type") == "secret"):
            continue
        value = variable.get("value")
        if isinstance(value, str) and value:
            variable["value"] = transform(value)
    return result
