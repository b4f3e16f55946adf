"""The Python launcher, run by the system ``python3`` inside the sandbox (never imported).

Reads ``{"code", "args", "dependencies"}`` as JSON on stdin, refuses a dependency it cannot import,
runs the code, calls ``main(**args)`` and writes ``{"ok": true, "value": ...}`` or ``{"ok": false,
"kind": ..., "error": ...}`` as JSON to the file descriptor named by its first argument. What the
code prints goes to stdout/stderr, which the host caps.
"""

import importlib.util
import json
import os
import sys
from typing import Any

RESULT_FD = int(sys.argv[1])
FIRST_PID = os.getpid()
EAGAIN, EFBIG, ENOSPC = 11, 27, 28


def send(message: dict[str, Any]) -> None:
    view = memoryview(json.dumps(message, allow_nan=True).encode())
    while view:
        view = view[os.write(RESULT_FD, view) :]


def kind_of(exc: BaseException) -> str:
    """``memory`` / ``processes`` / ``scratch`` when the failure is a limit the language saw
    first."""
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError) and exc.errno == EAGAIN:
        return "processes"
    if isinstance(exc, OSError) and exc.errno in (EFBIG, ENOSPC):
        return "scratch"
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return "processes"
    return "error"


def missing_dependency(names: list[str]) -> str | None:
    for name in names:
        try:
            found = importlib.util.find_spec(name.replace("-", "_"))
        except (ImportError, ValueError):
            found = None
        if found is None:
            return name
    return None


def run() -> dict[str, Any]:
    request = json.loads(sys.stdin.buffer.read())
    missing = missing_dependency(request.get("dependencies") or [])
    if missing is not None:
        return {"ok": False, "kind": "dependency", "error": missing}
    scope: dict[str, Any] = {"__name__": "__main__"}
    try:
        exec(compile(request["code"], "<code>", "exec"), scope)  # noqa: S102
        main = scope.get("main")
        if not callable(main):
            return {"ok": False, "kind": "error", "error": "the code defines no main function"}
        value = main(**request["args"])
    except BaseException as exc:  # every failure of the code is its answer
        return {"ok": False, "kind": kind_of(exc), "error": f"{type(exc).__name__}: {exc}"}
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError) as exc:
        return {"ok": False, "kind": "error", "error": f"main returned a non-JSON value: {exc}"}
    return {"ok": True, "value": value}


try:
    outcome = run()
except MemoryError:
    outcome = {"ok": False, "kind": "memory", "error": "MemoryError"}
if os.getpid() != FIRST_PID:
    os._exit(0)  # a child process the code forked: only the first process answers
send(outcome)
