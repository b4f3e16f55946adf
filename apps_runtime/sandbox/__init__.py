"""THE sandbox for running a tenant's program (code nodes, and anything else that needs one).

    execute(language, code, args, *, dependencies=None, limits=None, should_stop=None) -> Result
    unavailable_reason(language=None) -> str | None   (what to install, or None)
    Limits.from_settings()                           (SANDBOX_* settings)

Decisions: docs/decisions/18-sandbox.md.
"""

from apps_runtime.sandbox.core import LANGUAGES, execute, unavailable_reason
from apps_runtime.sandbox.limits import (
    CPU,
    MEMORY,
    OUTPUT,
    PROCESSES,
    SCRATCH_SPACE,
    WALL,
    Limits,
    Result,
    SandboxUnavailable,
)

__all__ = [
    "CPU",
    "LANGUAGES",
    "MEMORY",
    "OUTPUT",
    "PROCESSES",
    "SCRATCH_SPACE",
    "WALL",
    "Limits",
    "Result",
    "SandboxUnavailable",
    "execute",
    "unavailable_reason",
]
