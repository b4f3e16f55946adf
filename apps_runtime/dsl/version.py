"""DSL version compatibility (dsl.md §1.2).

Dify parks a newer file, or one of another major version, as a ``pending`` import that needs a
confirmation; this service has no confirmation step, so both are errors. An older minor version
imports with a warning (graphs are stored verbatim, old shapes are the engine's business); the same
minor version with any patch imports cleanly.
"""

from __future__ import annotations

import re
from typing import Any

from apps_runtime.dsl.constants import CURRENT_DSL_VERSION, DEFAULT_DSL_VERSION
from apps_runtime.dsl.errors import DslError

_VERSION_RE = re.compile(r"^(\d{1,6})\.(\d{1,6})(?:\.(\d{1,6}))?$")


def parse_version(text: str) -> tuple[int, int, int]:
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise DslError(f"unsupported DSL version {text!r}: not a version number like '0.6.0'")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def version_outcome(raw: Any, *, current: str = CURRENT_DSL_VERSION) -> tuple[str, str]:
    """How an import treats the file's ``version`` (dsl.md §1.2), without raising for a version
    that needs confirmation: ``("pending" | "completed" | "completed-with-warnings", version)``.
    DslError for a version that is not a string or not a version number."""
    if raw is None:
        raw = DEFAULT_DSL_VERSION
    if not isinstance(raw, str):
        check_version(raw, current=current)  # raises the type error
    version = str(raw).strip()
    imported, supported = parse_version(version), parse_version(current)
    if imported > supported or imported[0] != supported[0]:
        return "pending", version
    if imported[1] < supported[1]:
        return "completed-with-warnings", version
    return "completed", version


def check_version(
    raw: Any, *, current: str = CURRENT_DSL_VERSION, allow_newer: bool = False
) -> tuple[str, list[str]]:
    """The file's version (Dify's default when absent) and warnings; DslError when unsupported.

    ``allow_newer`` (a confirmed pending import) takes a newer or other-major version as is, with
    a warning.
    """
    if raw is None:
        raw = DEFAULT_DSL_VERSION
    if not isinstance(raw, str):
        raise DslError(
            f"invalid DSL version {raw!r}: version must be a string such as '{current}' "
            "(quote it in the YAML)"
        )
    version = raw.strip()
    imported, supported = parse_version(version), parse_version(current)
    if allow_newer and (imported > supported or imported[0] != supported[0]):
        return version, [
            f"DSL version {version} is not {current}; imported as is after confirmation"
        ]
    if imported > supported:
        raise DslError(f"unsupported DSL version {version!r}: newer than the supported {current}")
    if imported[0] != supported[0]:
        raise DslError(
            f"unsupported DSL version {version!r}: "
            f"major version differs from the supported {current}"
        )
    if imported[1] < supported[1]:
        return version, [
            f"DSL version {version} is older than the supported {current}; imported as is"
        ]
    return version, []
