"""Real daphne server processes on the test database, for tests across processes and sockets.

A test that uses them runs with ``django_db(transaction=True)`` so what it writes is committed and
visible to the servers; the servers share the test's rate-limit key prefix, so their counters stay
isolated from every other test on the shared Redis.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(r"Listening on TCP address 127\.0\.0\.1:(\d+)")


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int, log: list[str]) -> None:
        self.process = process
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    def stop(self) -> None:
        """Terminate (SIGTERM, as a supervisor would) and wait; kill if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def server_env(overrides: dict[str, str]) -> dict[str, str]:
    """The environment of a process a test starts: the test database, its key prefixes, then
    ``overrides``."""
    return _server_env(overrides)


def _server_env(overrides: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    params = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{params['USER']}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
            f"/{params['NAME']}"
        )
    else:  # the test database is a file the servers open too
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(params["NAME"])
    env.update(
        {
            "TESTING": "1",
            "SECRET_KEY": settings.SECRET_KEY,
            "RATE_LIMIT_KEY_PREFIX": settings.RATE_LIMIT_KEY_PREFIX,
            "EVENT_LOG_KEY_PREFIX": settings.EVENT_LOG_KEY_PREFIX,
            "LOG_LEVEL": "INFO",  # daphne says its port at INFO
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def _drain(stream: IO[str], log: list[str], port_found: threading.Event, box: list[int]) -> None:
    for line in stream:
        log.append(line)
        match = _LISTENING.search(line)
        if match and not port_found.is_set():
            box.append(int(match.group(1)))
            port_found.set()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server started by a test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(env: dict[str, str], wsgi: bool) -> Server:
    port: int | None = None
    if wsgi:  # make serve-prod's JSON side: gunicorn workers, persistent connections
        from config.serve import DEFAULT_THREADS, wsgi_argv, wsgi_env

        port = free_port()
        argv = wsgi_argv("127.0.0.1", port, 2, DEFAULT_THREADS)
        env = {**wsgi_env(), **env}
    else:  # daphne picks its own port and says which
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0"]
        argv.append("config.asgi:application")
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log: list[str] = []
    found = threading.Event()
    box: list[int] = []
    assert process.stdout is not None
    threading.Thread(target=_drain, args=(process.stdout, log, found, box), daemon=True).start()
    if port is None:
        if not found.wait(timeout=30):
            process.kill()
            raise RuntimeError("daphne did not start:\n" + "".join(log))
        port = box[0]
    server = Server(process, port, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.base + "/openapi/v1/_health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server never answered _health:\n" + "".join(log))


@contextmanager
def servers(count: int = 1, *, wsgi: bool = False, **overrides: str) -> Iterator[list[Server]]:
    """``count`` daphne processes (``wsgi``: gunicorn, as serve-prod runs the JSON API) on the
    test database, cache and event log, stopped afterwards. ``overrides`` are environment
    variables; ``TESTING="false"`` gives servers their housekeeping thread."""
    env = _server_env(overrides)
    started: list[Server] = []
    try:
        for _ in range(count):
            started.append(_start(env, wsgi))
        yield started
    finally:
        for server in started:
            if server.process.poll() is None:
                server.process.terminate()
        for server in started:
            server.stop()


class PrivateRedis:
    """A redis-server of the test's own on a free port (no persistence), to stop and restart
    for fault tests without touching the shared Redis."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def closed_port_url() -> str:
    """A redis URL nothing listens on (a store that is down)."""
    return f"redis://127.0.0.1:{free_port()}/0"


def serve_prod(env: dict[str, str]) -> subprocess.Popen[str]:
    """``make serve-prod``'s process (``python -m config.serve``) in a session of its own (to kill
    its children with it), output piped as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "config.serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


class Worker:
    """A ``celery -A config worker`` process (as ``make worker`` / serve-prod start it) on the
    test database, starting in the background until :meth:`wait_ready`; ``log`` collects its
    output, where each job names its run and this worker."""

    def __init__(self, name: str, env: dict[str, str], queue: str | None = None) -> None:
        from config.serve import worker_argv

        self.name = name
        self.log: list[str] = []
        self.process = subprocess.Popen(
            worker_argv(name, queue),
            cwd=ROOT,
            env={"LOG_LEVEL": "INFO", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._ready = threading.Event()
        assert self.process.stdout is not None
        threading.Thread(target=self._drain, daemon=True).start()

    def wait_ready(self, timeout: float = 40) -> Worker:
        """Block until the worker consumes its queue (it says so in its log)."""
        if not self._ready.wait(timeout=timeout):
            self.process.kill()
            raise RuntimeError(f"worker {self.name} did not start:\n" + "".join(self.log))
        return self

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)
            if f"{self.name}@" in line and " ready." in line:
                self._ready.set()

    def ran(self, run_id: object, kind: str = "run") -> bool:
        """Whether this worker started a ``kind`` job of ``run_id``."""
        needle = f"run {run_id}: {kind} job on {self.name}@"
        return any(needle in line for line in list(self.log))

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (Celery's warm shutdown) and wait; SIGKILL if it lingers, or at once."""
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
