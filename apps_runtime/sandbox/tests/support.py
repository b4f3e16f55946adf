"""Helpers for tests that run tenant code: small limits so that limit tests stay fast, and a
skip where the machine has no sandbox tools (``.ci/run`` installs them)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

needs_sandbox = pytest.mark.skipif(
    shutil.which("bwrap") is None or shutil.which("node") is None,
    reason="the code sandbox needs bubblewrap and nodejs (apt-get install -y bubblewrap nodejs)",
)


def shrink_limits(settings: Any) -> None:
    """CPU 1 s, wall clock 3 s, memory 64 MiB, output 64 KiB, 32 processes, 4 MiB scratch."""
    settings.SANDBOX_CPU_SECONDS = 1
    settings.SANDBOX_WALL_SECONDS = 3
    settings.SANDBOX_MEMORY_MB = 64
    settings.SANDBOX_OUTPUT_BYTES = 64 * 1024
    settings.SANDBOX_MAX_PROCESSES = 32
    settings.SANDBOX_SCRATCH_MB = 4


def processes_with(marker: str) -> list[int]:
    """Process ids on this machine whose command line contains ``marker``."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in command:
            found.append(int(entry))
    return found
