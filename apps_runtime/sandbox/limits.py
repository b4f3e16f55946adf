"""What an execution may use and what it answered: the limits, their failure messages, the
result, and the error for a machine without the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

# What ``execute`` reports in ``Result.limit``.
CPU, WALL, MEMORY, PROCESSES, OUTPUT = "cpu", "wall", "memory", "processes", "output"
SCRATCH_SPACE = "scratch"

LIMIT_MESSAGES = {
    CPU: "the code exceeded the CPU time limit of {cpu} s",
    WALL: "the code exceeded the wall-clock timeout of {wall} s",
    MEMORY: "the code exceeded the memory limit of {memory} MiB",
    PROCESSES: "the code exceeded the limit of {processes} processes/threads",
    OUTPUT: "the code exceeded the output limit of {output} bytes",
    SCRATCH_SPACE: "the code exceeded the scratch space limit of {scratch} MiB in /tmp",
}


class SandboxUnavailable(Exception):
    """The machine lacks what the sandbox needs; the message says what to install."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    output_bytes: int
    processes: int
    scratch_bytes: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            wall_seconds=float(settings.SANDBOX_WALL_SECONDS),
            cpu_seconds=int(settings.SANDBOX_CPU_SECONDS),
            memory_bytes=int(settings.SANDBOX_MEMORY_MB) * 1024 * 1024,
            output_bytes=int(settings.SANDBOX_OUTPUT_BYTES),
            processes=int(settings.SANDBOX_MAX_PROCESSES),
            scratch_bytes=int(settings.SANDBOX_SCRATCH_MB) * 1024 * 1024,
        )

    def describe(self, limit: str) -> str:
        return LIMIT_MESSAGES[limit].format(
            cpu=self.cpu_seconds,
            wall=_number(self.wall_seconds),
            memory=self.memory_bytes // (1024 * 1024),
            processes=self.processes,
            output=self.output_bytes,
            scratch=self.scratch_bytes // (1024 * 1024),
        )


@dataclass
class Result:
    """``ok``: ``value`` is what ``main`` returned. Otherwise ``error`` says why; ``limit`` names
    the limit that was hit, ``dependency`` the package that is missing, and ``stopped`` is true
    when ``should_stop`` ended it."""

    ok: bool
    value: Any = None
    error: str = ""
    limit: str | None = None
    dependency: str | None = None
    stopped: bool = False
    output: str = ""
    elapsed: float = 0.0


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
