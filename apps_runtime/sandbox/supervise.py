"""The host side of one execution: feed the request, read the output and the answer under the
output cap, keep the wall clock and the stop request, kill the process group, and turn how the
runtime ended into a Result that names the limit it hit."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from apps_runtime.sandbox.limits import (
    CPU,
    MEMORY,
    OUTPUT,
    PROCESSES,
    SCRATCH_SPACE,
    WALL,
    Limits,
    Result,
)

# How the runtimes say they ran out of memory when they die of it.
_OUT_OF_MEMORY = ("MemoryError", "out of memory", "bad_alloc", " OOM ")
POLL_SECONDS = 0.05
READ_CHUNK = 65536


def kill(process: subprocess.Popen[bytes]) -> None:
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


def supervise(
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
        kill(process)
        return finish(ok=False, limit=limit, error=limits.describe(limit))

    while open_streams:
        if should_stop is not None and should_stop():
            kill(process)
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
            kill(process)
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
