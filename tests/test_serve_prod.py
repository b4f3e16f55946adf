"""`make serve-prod` (``python -m config.serve``): gunicorn and daphne by one command, one stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port, serve_prod

ROOT = Path(__file__).resolve().parent.parent


def _wait_for(url: str, deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


def test_serve_prod_runs_wsgi_and_asgi_and_stops_both(tmp_path):
    # Embedded (SQLite, no Redis): jobs can only run in the server processes, and start-up says
    # so (issue 17); with PostgreSQL and Redis serve-prod starts Celery workers for them.
    wsgi_port, asgi_port = free_port(), free_port()
    env = {
        **os.environ,
        "SECRET_KEY": "serve-prod-test",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "SERVE_WSGI_PORT": str(wsgi_port),
        "SERVE_ASGI_PORT": str(asgi_port),
        "SERVE_WSGI_WORKERS": "1",
        "LOG_LEVEL": "ERROR",
        "RUN_EXECUTOR": "thread",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "TESTING"):
        env.pop(name, None)
    proc = serve_prod(env)
    try:
        deadline = time.monotonic() + 60
        wsgi = _wait_for(f"http://127.0.0.1:{wsgi_port}/openapi/v1/_health", deadline)
        asgi = _wait_for(f"http://127.0.0.1:{asgi_port}/openapi/v1/_health", deadline)
        assert wsgi.status_code == asgi.status_code == 200
        assert wsgi.json() == asgi.json() == {"ok": True}
        assert "gunicorn" in wsgi.headers.get("server", "")
        assert "daphne" in asgi.headers.get("server", "").lower()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        output = proc.stdout.read()
        assert code == 0, (code, output[-3000:])
        assert "warning: RUN_EXECUTOR=thread under make serve-prod" in output
        assert "warning: RUN_EXECUTOR=thread under gunicorn" in output
        for port in (wsgi_port, asgi_port):
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi/v1/_health", timeout=2)
                raise AssertionError(f"port {port} still answers after the stop")
            except httpx.ConnectError:
                pass
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _database_settings(**env: str) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d.get('CONN_HEALTH_CHECKS', False), 'pool' in d['OPTIONS'])"
    )
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x", **env}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_wsgi_workers_keep_connections_and_asgi_keeps_the_pool():
    from config.serve import wsgi_env

    url = "postgres://postgres@127.0.0.1:5432/unused"
    assert _database_settings(DATABASE_URL=url, DB_PERSISTENT_SECONDS="0") == "0 False True"
    persistent = wsgi_env()["DB_PERSISTENT_SECONDS"]
    assert int(persistent) > 0
    expected = f"{persistent} True False"
    assert _database_settings(DATABASE_URL=url, DB_PERSISTENT_SECONDS=persistent) == expected


def _procfile_line(name: str) -> list[str]:
    """The README's sample process file, line ``name``: its command as a newcomer runs it."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```procfile\n", 1)[1].split("```", 1)[0]
    for line in block.splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            return command.split()
    raise AssertionError(f"no {name!r} line in the README's process file")


def test_the_readme_process_files_gunicorn_outlasts_the_longest_outbound_deadline():
    """A gunicorn started by hand from the checkout, as the process file says, must not kill a
    worker waiting on a ``yaml-url`` import (its deadline is at most 60 s): gunicorn's own
    default (30 s) did, answering an HTML 500 (issue 16 item 5, issue 17's by-hand layout)."""
    argv = _procfile_line("web")
    assert argv[:3] == [".venv/bin/python", "-m", "gunicorn"]
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k != "SERVE_WSGI_TIMEOUT"}
    env["SECRET_KEY"] = settings.SECRET_KEY  # --print-config loads the application
    shown = subprocess.run(
        [sys.executable, *argv[1:-1], "--print-config", argv[-1]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    config = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition("=") for line in shown.splitlines())
    )
    assert int(config["timeout"]) >= 90, config["timeout"]
