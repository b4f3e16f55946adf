"""The one error type of DSL parsing, validation and export."""

from __future__ import annotations


class DslError(Exception):
    """A DSL file (or an app being exported) is unusable; ``message`` names the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
