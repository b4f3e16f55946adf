"""Run one tenant program in a bubblewrap sandbox and report its value or the limit it hit.

Every execution is a fresh process tree (docs/decisions/18-sandbox.md):

- ``bwrap`` gives it new user, PID, network, IPC, UTS and cgroup namespaces: no network but its own
  loopback, no view of the server's processes, and a filesystem of ``/usr`` read-only plus a
  private size-capped tmpfs at ``/tmp`` (the root itself is remounted read-only). The environment
  is empty but for ``PATH``/``HOME``/``LANG``; ``bwrap`` itself is started with that same
  environment, so not even ``/proc/1/environ`` of the sandbox shows the server's.
- When the server runs as root it starts ``bwrap`` as an unprivileged user (``SANDBOX_UID``): the
  process limit needs that (run by root, the sandbox maps to uid 0 and ``RLIMIT_NPROC`` does not
  hold); the count is then per user namespace, one per execution.
- ``prlimit`` (util-linux), run inside the new namespaces, sets the CPU-time, process/thread,
  data-memory, stack, file-size, open-file and core limits before the runtime starts.
- A cold start costs more than the code it runs, so one sandbox per language and limits waits,
  started ahead (``spares``); it is still used once and then killed.
- The host (``supervise``) enforces the wall clock, the output cap and the stop request, and kills
  the whole process group; the PID namespace takes every descendant down with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from apps_runtime.sandbox import spares
from apps_runtime.sandbox.limits import Limits, Result, SandboxUnavailable
from apps_runtime.sandbox.spares import SpareKey, Started
from apps_runtime.sandbox.supervise import kill, supervise

LANGUAGES = ("python3", "javascript")
# The launcher each runtime runs (its protocol: launchers/python3.py); passed as -c / -e.
LAUNCHERS = {
    language: (Path(__file__).parent / "launchers" / name).read_text(encoding="utf-8")
    for language, name in (("python3", "python3.py"), ("javascript", "javascript.js"))
}

# The scratch directory inside the sandbox: a private tmpfs, not the server's /tmp.
SCRATCH = "/tmp"  # noqa: S108
STACK_BYTES = 2 * 1024 * 1024


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
        return supervise(
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
    return Started(process, result_read, kill)
