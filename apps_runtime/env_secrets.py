"""``secret`` environment variables of a workflow are stored encrypted (decisions §3)."""

from __future__ import annotations

import copy
from typing import Any

from config.crypto import seal, unseal


def _is_secret(variable: object) -> bool:
    return isinstance(variable, dict) and variable.get("value_type") == "secret"


def seal_secret_values(variables: list[Any]) -> list[Any]:
    """A copy of ``variables`` whose non-empty secret values are encrypted."""
    sealed = copy.deepcopy(variables)
    for variable in sealed:
        value = variable.get("value") if _is_secret(variable) else None
        if isinstance(value, str) and value:
            variable["value"] = seal(value)
    return sealed


def unseal_secret_values(variables: list[Any]) -> list[Any]:
    """A copy of ``variables`` with secret values decrypted (for export with secrets, and runs)."""
    plain = copy.deepcopy(variables)
    for variable in plain:
        value = variable.get("value") if _is_secret(variable) else None
        if isinstance(value, str) and value:
            variable["value"] = unseal(value)
    return plain
