"""Run one tenant program in a bubblewrap sandbox and report its value or the limit it hit.

Every execution is a fresh process tree (docs/decisions/18-sandbox.md):

- ``bwrap`` gives it new user, PID, network, IPC, UTS and cgroup namespaces: no network but its own
  loopback, no view of the server's processes, and a filesystem of ``/usr`` read-only plus a
  private size-capped tmpfs at ``/tmp`` (the root itself is remounted read-only). The environment
  is empty but for ``PATH``/``HOME``/``LANG``; ``bwrap`` itself is started with that same
  environment, so not even ``/proc/1/environ`` of the sandbox shows the server's.
- When the server runs as root it starts ``bwrap`` as an unprivileged user (``SANDBOX_UID``); the
  process limit needs that: the kernel never applies ``RLIMIT_NPROC`` to root.
- ``prlimit`` (util-linux), run inside the new namespaces, sets the CPU-time, process/thread,
  data-memory, stack, file-size, open-file and core limits before the runtime starts.
- A cold start costs more than the code it runs, so one sandbox per language and limits waits,
  started ahead (``spares``); it is still used once and then killed.
- The host enforces the wall clock, the output cap and the stop request, and kills the whole
  process group; the PID namespace takes every descendant down with it.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from apps_runtime.sandbox import spares
from apps_runtime.sandbox.spares import SpareKey, Started

LANGUAGES = ("python3", "javascript")
# The launcher each runtime runs (its protocol: launchers/python3.py); passed as -c / -e.
LAUNCHERS = {
    language: (Path(__file__).parent / "launchers" / name).read_text(encoding="utf-8")
    for language, name in (("python3", "python3.py"), ("javascript", "javascript.js"))
}

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

# The scratch directory inside the sandbox: a private tmpfs, not the server's /tmp.
SCRATCH = "/tmp"  # noqa: S108
# How the runtimes say they ran out of memory when they die of it.
_OUT_OF_MEMORY = ("MemoryError", "out of memory", "bad_alloc", " OOM ")
POLL_SECONDS = 0.05
STACK_BYTES = 2 * 1024 * 1024
READ_CHUNK = 65536


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


def _tool(path: str) -> str | None:
    found = shutil.which(path)
    return found if found and os.access(found, os.X_OK) else None


def unavailable_reason(language: str | None = None) -> str | None:
    """Why this machine cannot run sandboxed code (naming what to install), or None when it can.

    Without ``language``: whether the sandbox itself is there (enough for ``python3``)."""
    missing: list[str] = []
    if _tool(settings.SANDBOX_BWRAP) is None:
        missing.append(f"bubblewrap ({settings.SANDBOX_BWRAP})")
    if _tool(settings.SANDBOX_PRLIMIT) is None:
        missing.append(f"util-linux ({settings.SANDBOX_PRLIMIT})")
    if language in (None, "python3") and _tool(settings.SANDBOX_PYTHON) is None:
        missing.append(f"python3 ({settings.SANDBOX_PYTHON})")
    if language == "javascript" and _tool(settings.SANDBOX_NODE) is None:
        missing.append(f"nodejs ({settings.SANDBOX_NODE})")
    if not missing:
        return None
    packages = " ".join(item.split(" ")[0] for item in missing)
    return (
        "the code sandbox needs "
        + ", ".join(missing)
        + f"; install it with: apt-get install -y {packages}"
    )


def _bwrap_command(key: SpareKey, result_fd: int) -> list[str]:
    language, limits = key.language, key.limits
    bwrap, prlimit, python, node = key.tools
    memory_mib = max(16, limits.memory_bytes // (1024 * 1024))
    cpu = max(1, int(limits.cpu_seconds))
    if language == "python3":
        runtime = [python, "-I", "-B", "-c", LAUNCHERS["python3"]]
    else:
        # V8 reserves address space far beyond what it uses, so the memory limit is on data, and
        # the heap is kept below it so that running out of heap is reported as such.
        heap = max(8, memory_mib * 3 // 4)
        runtime = [
            node,
            f"--max-old-space-size={heap}",
            "-e",
            LAUNCHERS["javascript"],
        ]
    command = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
        "--tmpfs",
        "/usr/local",
        "--remount-ro",
        "/usr/local",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(limits.scratch_bytes),
        "--tmpfs",
        SCRATCH,
        "--remount-ro",
        "/",
        "--chdir",
        SCRATCH,
        "--clearenv",
        *_setenv(_SANDBOX_ENV),
        prlimit,
        # SIGXCPU at the limit, SIGKILL a second later if the code ignores it.
        f"--cpu={cpu}:{cpu + 1}",
        f"--nproc={limits.processes}",
        f"--data={limits.memory_bytes}",
        f"--fsize={limits.scratch_bytes}",
        # Thread stacks are private mappings, so they count against the data limit: a smaller
        # stack lets node start its worker threads under a small memory limit.
        f"--stack={STACK_BYTES}",
        "--nofile=256",
        "--core=0",
        "--",
        *runtime,
        str(result_fd),
    ]
    return command


_SANDBOX_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": SCRATCH,
    "LANG": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
}


def _setenv(env: Mapping[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


def _drop_privileges(uid: int) -> tuple[int | None, int | None]:
    if os.geteuid() != 0:
        return None, None
    return uid, uid


def execute(
    language: str,
    code: str,
    args: Mapping[str, Any],
    *,
    dependencies: list[str] | None = None,
    limits: Limits | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Result:
    """Run ``code`` (which defines ``main``) in a fresh sandbox, call ``main`` with ``args``
    (Python: keyword arguments; JavaScript: one object); return its JSON value or the failure.

    Raises :class:`SandboxUnavailable` when the machine lacks the sandbox tools; every other
    problem is a ``Result`` with ``ok=False``."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown sandbox language {language!r}")
    reason = unavailable_reason(language)
    if reason is not None:
        raise SandboxUnavailable(reason)
    limits = limits or Limits.from_settings()
    request = json.dumps(
        {"code": code, "args": dict(args), "dependencies": list(dependencies or [])},
        default=str,
    ).encode()
    key = SpareKey.of(language, limits)
    sandbox = spares.take(key) if settings.SANDBOX_SPARES else None
    if sandbox is None:
        sandbox = start_sandbox(key)  # a cold start
    if settings.SANDBOX_SPARES:
        spares.refill(key, start_sandbox)  # the next execution finds one waiting
    try:
        return _supervise(
            sandbox.process, sandbox.result_read, request, limits, should_stop, time.monotonic()
        )
    finally:
        sandbox.discard()


def start_sandbox(key: SpareKey) -> Started:
    """Start a sandbox that waits on stdin for its request; SandboxUnavailable if it cannot."""
    result_read, result_write = os.pipe()
    uid, gid = _drop_privileges(key.uid)
    try:
        process = subprocess.Popen(  # noqa: S603 - a fixed argv; the code goes to stdin
            _bwrap_command(key, result_write),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(result_write,),
            env=dict(_SANDBOX_ENV),
            cwd="/",
            start_new_session=True,
            user=uid,
            group=gid,
            extra_groups=[] if uid is not None else None,
        )
    except OSError as exc:
        os.close(result_read)
        os.close(result_write)
        raise SandboxUnavailable(f"the code sandbox could not start: {exc}") from None
    os.close(result_write)
    return Started(process, result_read, _kill)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.returncode is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait
        process.kill()


def _supervise(
    process: subprocess.Popen[bytes],
    result_read: int,
    request: bytes,
    limits: Limits,
    should_stop: Callable[[], bool] | None,
    started: float,
) -> Result:
    assert process.stdin is not None and process.stdout is not None
    selector = selectors.DefaultSelector()
    stdin_fd, stdout_fd = process.stdin.fileno(), process.stdout.fileno()
    for fd in (stdin_fd, stdout_fd, result_read):
        os.set_blocking(fd, False)
    selector.register(stdin_fd, selectors.EVENT_WRITE, "stdin")
    selector.register(stdout_fd, selectors.EVENT_READ, "output")
    selector.register(result_read, selectors.EVENT_READ, "result")
    pending = memoryview(request)
    output, answer = bytearray(), bytearray()
    deadline = started + limits.wall_seconds
    open_streams = 2

    def finish(**kwargs: Any) -> Result:
        selector.close()
        return Result(
            output=output.decode("utf-8", "replace"),
            elapsed=time.monotonic() - started,
            **kwargs,
        )

    def limit_hit(limit: str) -> Result:
        _kill(process)
        return finish(ok=False, limit=limit, error=limits.describe(limit))

    while open_streams:
        if should_stop is not None and should_stop():
            _kill(process)
            return finish(ok=False, stopped=True, error="stopped")
        left = deadline - time.monotonic()
        if left <= 0:
            return limit_hit(WALL)
        for key, _ in selector.select(timeout=min(left, POLL_SECONDS)):
            if key.data == "stdin":
                try:
                    written = os.write(stdin_fd, pending[:READ_CHUNK])
                except BrokenPipeError:
                    written = len(pending)
                pending = pending[written:]
                if not pending:
                    selector.unregister(stdin_fd)
                    process.stdin.close()
                continue
            target = output if key.data == "output" else answer
            chunk = os.read(key.fd, READ_CHUNK)
            if not chunk:
                selector.unregister(key.fd)
                open_streams -= 1
                continue
            target.extend(chunk)
            if len(output) + len(answer) > limits.output_bytes:
                return limit_hit(OUTPUT)
    # Both pipes closed: the runtime has exited (or closed them); wait for it within the deadline.
    while process.poll() is None:
        if should_stop is not None and should_stop():
            _kill(process)
            return finish(ok=False, stopped=True, error="stopped")
        if time.monotonic() >= deadline:
            return limit_hit(WALL)
        time.sleep(0.01)
    return _verdict(process.returncode, bytes(answer), output, limits, finish, limit_hit)


def _verdict(
    returncode: int,
    answer: bytes,
    output: bytearray,
    limits: Limits,
    finish: Callable[..., Result],
    limit_hit: Callable[[str], Result],
) -> Result:
    message: dict[str, Any] | None = None
    if answer:
        try:
            decoded = json.loads(answer)
            message = decoded if isinstance(decoded, dict) else None
        except ValueError:
            message = None
    if message is not None and message.get("ok") is True:
        return finish(ok=True, value=message.get("value"))
    if message is not None:
        kind = message.get("kind")
        if kind == "dependency":
            name = str(message.get("error") or "")
            return finish(
                ok=False,
                dependency=name,
                error=f"the dependency {name!r} is not installed in the code sandbox",
            )
        if kind in (MEMORY, PROCESSES, SCRATCH_SPACE):
            return finish(
                ok=False,
                limit=kind,
                error=f"{limits.describe(str(kind))} ({message.get('error')})",
            )
        return finish(ok=False, error=str(message.get("error") or "the code failed"))
    # No answer: the runtime died. The exit status of bwrap is 128 + the signal that killed it.
    text = output.decode("utf-8", "replace")
    signal_number = returncode - 128 if returncode > 128 else -returncode
    if any(sign in text for sign in _OUT_OF_MEMORY):
        return limit_hit(MEMORY)
    if signal_number in (signal.SIGXCPU, signal.SIGKILL):
        return limit_hit(CPU)
    if signal_number == signal.SIGXFSZ:
        return limit_hit(SCRATCH_SPACE)
    tail = text.strip().splitlines()[-1:] if text.strip() else []
    detail = f": {tail[0][:500]}" if tail else ""
    return finish(
        ok=False, error=f"the code ended without a result (exit status {returncode}){detail}"
    )
