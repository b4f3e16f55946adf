"""Hostile programs in both languages fail cleanly (or learn nothing), name the limit they hit, and
leave this process and the machine as they were: no leaked secret, no network, no file of the
project, no process that outlives the execution.

The limits are shrunk (``support.shrink_limits``) to keep the table fast.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from apps_runtime import sandbox
from apps_runtime.sandbox.tests.support import needs_sandbox, processes_with, shrink_limits

pytestmark = needs_sandbox

SECRET_NAMES = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY")


@pytest.fixture(autouse=True)
def small_limits(settings: Any) -> None:
    shrink_limits(settings)
    os.environ.setdefault("SECRET_KEY", "server-secret-that-must-not-leak")


def run(language: str, code: str, **args: Any) -> sandbox.Result:
    return sandbox.execute(language, code, args)


def leaks_nothing(result: sandbox.Result) -> None:
    text = repr(result.value) + result.error + result.output
    for name in SECRET_NAMES:
        value = os.environ.get(name)
        assert name not in text
        if value:
            assert value not in text


def failed_without(*fragments: str) -> Callable[[sandbox.Result], None]:
    def check(result: sandbox.Result) -> None:
        assert not result.ok, result
        assert result.limit is None
        assert any(f in result.error for f in fragments), result.error
        leaks_nothing(result)

    return check


def hit(limit: str) -> Callable[[sandbox.Result], None]:
    def check(result: sandbox.Result) -> None:
        assert not result.ok and result.limit == limit, result
        assert result.error.startswith("the code exceeded the"), result.error
        leaks_nothing(result)

    return check


def returned(predicate: Callable[[Any], bool]) -> Callable[[sandbox.Result], None]:
    def check(result: sandbox.Result) -> None:
        assert result.ok, result
        assert predicate(result.value), result.value
        leaks_nothing(result)

    return check


PY, JS = "python3", "javascript"
HOSTILE: list[tuple[str, str, str, Callable[[sandbox.Result], None]]] = [
    (
        "environment",
        PY,
        "import os\ndef main():\n    return {'env': dict(os.environ)}",
        returned(lambda v: set(v["env"]) <= {"PATH", "HOME", "LANG", "PYTHONIOENCODING", "PWD"}),
    ),
    (
        "environment",
        JS,
        "function main() { return {env: process.env} }",
        returned(lambda v: set(v["env"]) <= {"PATH", "HOME", "LANG", "PYTHONIOENCODING", "PWD"}),
    ),
    (
        "proc-1-environ",
        PY,
        "def main():\n    return {'e': open('/proc/1/environ').read()}",
        returned(lambda v: "PATH=" in v["e"]),
    ),
    (
        "proc-1-environ",
        JS,
        "function main() { return {e: require('fs').readFileSync('/proc/1/environ', 'utf8')} }",
        returned(lambda v: "PATH=" in v["e"]),
    ),
    (
        "postgres-socket",
        PY,
        "import socket\ndef main():\n    s = socket.socket(socket.AF_UNIX)\n"
        "    s.connect('/var/run/postgresql/.s.PGSQL.5432')",
        failed_without("FileNotFoundError"),
    ),
    (
        "postgres-tcp",
        JS,
        "const net = require('net');\nfunction main() { return new Promise((ok, fail) => {"
        " const s = net.connect(5432, '127.0.0.1'); s.on('connect', () => ok({c: 1}));"
        " s.on('error', fail); }) }",
        failed_without("ECONNREFUSED"),
    ),
    (
        "redis",
        PY,
        "import socket\ndef main():\n    socket.create_connection(('127.0.0.1', 6379), 1)",
        failed_without("ConnectionRefusedError"),
    ),
    (
        "redis",
        JS,
        "const net = require('net');\nfunction main() { return new Promise((ok, fail) => {"
        " const s = net.connect(6379, '127.0.0.1'); s.on('connect', () => ok({c: 1}));"
        " s.on('error', fail); }) }",
        failed_without("ECONNREFUSED"),
    ),
    (
        "resolve",
        PY,
        "import socket\ndef main():\n    socket.getaddrinfo('example.com', 443)",
        failed_without("gaierror"),
    ),
    (
        "resolve",
        JS,
        "const dns = require('dns');\nfunction main() { return new Promise((ok, fail) =>"
        " dns.lookup('example.com', (err, a) => err ? fail(err) : ok({a}))) }",
        failed_without("EAI_AGAIN", "ENOTFOUND"),
    ),
    (
        "connect-anywhere",
        PY,
        "import socket\ndef main():\n    socket.create_connection(('1.1.1.1', 53), 1)",
        failed_without("OSError", "unreachable"),
    ),
    (
        "connect-anywhere",
        JS,
        "const net = require('net');\nfunction main() { return new Promise((ok, fail) => {"
        " const s = net.connect(53, '1.1.1.1'); s.on('connect', () => ok({c: 1}));"
        " s.on('error', fail); }) }",
        failed_without("ENETUNREACH"),
    ),
    (
        "project-files",
        PY,
        "def main(path):\n    return {'t': open(path).read()}",
        failed_without("FileNotFoundError"),
    ),
    (
        "sqlite-db",
        JS,
        "function main({db}) { return {t: require('fs').readFileSync(db, 'latin1')} }",
        failed_without("ENOENT"),
    ),
    (
        "write-outside-scratch",
        PY,
        "def main():\n    open('/tmp/ok', 'w').write('scratch works')\n    open('/usr/lib/x', 'w')",
        failed_without("Read-only file system"),
    ),
    (
        "write-outside-scratch",
        JS,
        "const fs = require('fs');\nfunction main() { fs.writeFileSync('/tmp/ok', 'fine');"
        " fs.writeFileSync('/evil', 'x') }",
        failed_without("EROFS"),
    ),
    (
        "fork-bomb",
        PY,
        "import os\ndef main():\n    while True:\n        os.fork()",
        hit(sandbox.PROCESSES),
    ),
    (
        "thread-bomb",
        JS,
        "const {Worker} = require('worker_threads');\nfunction main() {"
        " while (true) new Worker('setInterval(() => 0, 1000)', {eval: true}) }",
        lambda r: hit(r.limit or "")(r) if r.limit else pytest.fail(str(r)),
    ),
    ("memory", PY, "def main():\n    return {'x': len(bytearray(200 << 20))}", hit(sandbox.MEMORY)),
    (
        "memory",
        JS,
        "function main() { const a = []; while (true) a.push(new Array(1e6).fill(1.5)) }",
        hit(sandbox.MEMORY),
    ),
    (
        "fill-scratch",
        PY,
        "def main():\n    with open('/tmp/big', 'wb') as f:\n        for _ in range(64):\n"
        "            f.write(b'x' * (1 << 20))",
        hit(sandbox.SCRATCH_SPACE),
    ),
    (
        "fill-scratch",
        JS,
        "const fs = require('fs');\nfunction main() { const chunk = Buffer.alloc(1 << 20);"
        " for (let i = 0; i < 64; i++) fs.appendFileSync('/tmp/big', chunk) }",
        hit(sandbox.SCRATCH_SPACE),
    ),
    ("cpu", PY, "def main():\n    while True:\n        pass", hit(sandbox.CPU)),
    ("cpu", JS, "function main() { while (true) {} }", hit(sandbox.CPU)),
    (
        "print-100-mb",
        PY,
        "def main():\n    line = 'x' * (1 << 20)\n    for _ in range(100):\n        print(line)",
        hit(sandbox.OUTPUT),
    ),
    (
        "print-100-mb",
        JS,
        "function main() { const line = 'x'.repeat(1 << 20);"
        " for (let i = 0; i < 100; i++) process.stdout.write(line) }",
        hit(sandbox.OUTPUT),
    ),
    (
        "signal-parent",
        PY,
        "import os, signal\ndef main():\n    for pid in (os.getppid(), 1, -1):\n"
        "        try:\n            os.kill(pid, signal.SIGKILL)\n        except OSError:\n"
        "            pass\n    return {'alive': True}",
        lambda r: leaks_nothing(r),
    ),
    (
        "signal-parent",
        JS,
        "function main() { for (const pid of [process.ppid, 1]) { try { process.kill(pid,"
        " 'SIGKILL') } catch (e) {} } return {alive: true} }",
        lambda r: leaks_nothing(r),
    ),
]


@pytest.mark.parametrize(
    ("name", "language", "code", "check"),
    HOSTILE,
    ids=[f"{language}-{name}" for name, language, _, _ in HOSTILE],
)
def test_hostile_program_fails_cleanly(
    name: str, language: str, code: str, check: Any, settings: Any
) -> None:
    if name == "cpu":
        # CPU time, not the wall clock, must end it, also on a busy machine.
        settings.SANDBOX_WALL_SECONDS = 20
    args: dict[str, Any] = {}
    if name == "project-files":
        args["path"] = str(settings.BASE_DIR / "pyproject.toml")
    if name == "sqlite-db":
        args["db"] = str(settings.BASE_DIR / "db.sqlite3")
    started = time.monotonic()
    check(run(language, code, **args))
    # Every execution ends within the wall clock plus the kill, whatever the program did.
    assert time.monotonic() - started < settings.SANDBOX_WALL_SECONDS + 2
    # The server (this process) is unharmed and the next execution answers normally.
    assert run(PY, "def main():\n    return {'n': 1}").value == {"n": 1}


def test_sleep_past_the_wall_clock_is_killed(settings: Any) -> None:
    settings.SANDBOX_WALL_SECONDS = 1
    for language, code in (
        (PY, "import time\ndef main():\n    time.sleep(30)"),
        (JS, "function main() { return new Promise(() => setTimeout(() => 0, 30000)) }"),
    ):
        started = time.monotonic()
        result = run(language, code)
        assert result.limit == sandbox.WALL
        assert result.error == "the code exceeded the wall-clock timeout of 1 s"
        assert time.monotonic() - started < 2


@pytest.mark.parametrize("language", [PY, JS])
def test_no_process_outlives_the_execution(language: str) -> None:
    marker = f"{random.randint(100, 999)}.{random.randint(1000, 9999)}"
    code = {
        PY: "import subprocess\ndef main(t):\n"
        "    subprocess.Popen(['sleep', t], start_new_session=True)\n"
        "    subprocess.Popen(['sh', '-c', 'sleep ' + t + ' & sleep ' + t])\n"
        "    return {'spawned': True}",
        JS: "const cp = require('child_process');\nfunction main({t}) {"
        " cp.spawn('sleep', [t], {detached: true}).unref(); return {spawned: true} }",
    }[language]
    result = run(language, code, t=marker)
    assert result.ok and result.value == {"spawned": True}
    time.sleep(0.2)
    assert processes_with(f"sleep {marker}") == []


def test_a_stop_kills_the_execution_within_a_second() -> None:
    asked = time.monotonic() + 0.5
    result = sandbox.execute(
        PY,
        "import time\ndef main():\n    time.sleep(30)",
        {},
        should_stop=lambda: time.monotonic() >= asked,
    )
    assert result.stopped and not result.ok
    assert time.monotonic() - asked < 1


def test_the_server_is_not_signalled() -> None:
    before = signal.getsignal(signal.SIGTERM)
    run(PY, "import os, signal\ndef main():\n    os.kill(-1, signal.SIGTERM)\n    return {}")
    assert signal.getsignal(signal.SIGTERM) is before
    assert os.getpid() > 0  # still here


def test_a_missing_dependency_is_named_and_an_installed_one_runs() -> None:
    missing = sandbox.execute(PY, "def main():\n    return {}", {}, dependencies=["numpyx-nope"])
    assert not missing.ok and missing.dependency == "numpyx-nope"
    assert "numpyx-nope" in missing.error
    present = sandbox.execute(
        PY, "import json\ndef main():\n    return {}", {}, dependencies=["json"]
    )
    assert present.ok
    js = sandbox.execute(JS, "function main() { return {} }", {}, dependencies=["left-pad-nope"])
    assert not js.ok and js.dependency == "left-pad-nope"


def test_unavailable_names_what_to_install(settings: Any) -> None:
    assert sandbox.unavailable_reason("python3") is None
    settings.SANDBOX_BWRAP = "/nonexistent/bwrap"
    reason = sandbox.unavailable_reason("python3")
    assert reason is not None and "apt-get install -y bubblewrap" in reason
    with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap"):
        run(PY, "def main():\n    return {}")
    settings.SANDBOX_BWRAP = "/usr/bin/bwrap"
    settings.SANDBOX_NODE = "/nonexistent/node"
    assert sandbox.unavailable_reason("python3") is None
    assert "nodejs" in (sandbox.unavailable_reason("javascript") or "")


@pytest.mark.parametrize("spares", [0, 1])
def test_each_execution_has_its_own_scratch_and_process(settings: Any, spares: int) -> None:
    """With or without spares started ahead, nothing carries over from one execution to the
    next: not a file in scratch, not a module-level value."""
    settings.SANDBOX_SPARES = spares
    code = (
        "import os\nSEEN = []\ndef main():\n    SEEN.append(1)\n"
        "    found = os.path.exists('/tmp/left-behind')\n"
        "    open('/tmp/left-behind', 'w').write('x')\n"
        "    return {'found': found, 'seen': len(SEEN)}"
    )
    for _ in range(3):
        result = run(PY, code)
        assert result.value == {"found": False, "seen": 1}
        time.sleep(0.1)
