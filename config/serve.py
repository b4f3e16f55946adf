"""`make serve-prod`: the production layout in one command (measured by `make bench`).

Three kinds of process from one codebase: gunicorn WSGI workers answer the JSON API, the pages and
the admin (under ASGI the same Django view costs about three times more: every sync middleware and
view hops threads); daphne answers the SSE paths, which need an event loop; Celery workers execute
the runs and resumes (``RUN_EXECUTOR=celery``, the default here: no job runs inside a request
worker, whose timeout would kill it). A reverse proxy in front routes ``/openapi/v1/apps/*/run``,
``/openapi/v1/apps/*:run`` and ``/openapi/v1/apps/*/tasks/*/events`` to daphne and everything else
to gunicorn (README has a sample configuration). This script starts them all, forwards
SIGTERM/SIGINT to them and exits as soon as any exits, so a supervisor restarts the set.

Environment: ``SERVE_HOST`` (127.0.0.1), ``SERVE_WSGI_PORT`` (8000), ``SERVE_ASGI_PORT`` (8001),
``SERVE_WSGI_WORKERS`` (two per core), ``SERVE_WSGI_THREADS`` (1: sync workers; more: gthread),
``SERVE_WSGI_TIMEOUT`` (120 s; gunicorn kills a worker silent for longer). The longest a JSON
request may wait on the network is one outbound call (a ``yaml-url`` import), whose total deadline
``OUTBOUND_DEADLINE_SECONDS`` is at most 60 s, so the worker timeout is at least 90 s: a slow
import always ends as a ``failed`` import in its own request, never as a killed worker
(docs/decisions/16-budgets.md).
``SERVE_RUN_WORKERS`` (2 Celery worker processes, each ``RUN_WORKERS`` threads).

``python -m config.serve worker`` replaces itself with one Celery worker (``make worker``).
``python -m config.serve check`` (run by ``make serve-prod`` and ``make worker`` first) refuses a
production start whose database or Redis is set only in the shell: every other process of the
checkout reads ``.env``, so they would not see it (issue 22).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

from config.env import env_file_path, env_int, env_str, load_env_file

PY = sys.executable
JSON_SERVER_NAME = "gunicorn sync = serve-prod"


def wsgi_timeout() -> int:
    return env_int("SERVE_WSGI_TIMEOUT", 120, minimum=90, maximum=3600)


def wsgi_argv(host: str, port: int | str, workers: int, threads: int) -> list[str]:
    argv = [PY, "-m", "gunicorn", "-b", f"{host}:{port}", "-w", str(workers)]
    argv += ["--timeout", str(wsgi_timeout())]
    if threads > 1:
        argv += ["-k", "gthread", "--threads", str(threads)]
    # No access log here (the proxy keeps one); warnings and errors still go to stderr.
    return [*argv, "--log-level", "warning", "config.wsgi:application"]


def asgi_argv(host: str, port: int) -> list[str]:
    return [PY, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"]


def worker_argv(name: str, queue: str | None = None) -> list[str]:
    """One Celery run worker: the threads pool and ``RUN_WORKERS`` threads come from the settings
    (``CELERY_WORKER_POOL``, ``CELERY_WORKER_CONCURRENCY``); mingle and gossip are off (the
    workers share no state; remote control, ``celery inspect``, still answers)."""
    return [
        PY,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        queue or env_str("RUN_CELERY_QUEUE", "runs"),
        "-n",
        f"{name}@%h",
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "INFO",
    ]


def wsgi_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """WSGI worker threads keep their database connection between requests (a pool checkout
    and connection set-up per request cost about 5% of a bearer GET); daphne keeps the pool."""
    return {"DB_PERSISTENT_SECONDS": "300", **(os.environ if base is None else base)}


THREAD_UNDER_SERVE_PROD = (
    "warning: RUN_EXECUTOR=thread under make serve-prod: runs and resumes execute inside the "
    "gunicorn and daphne processes (a gunicorn worker timeout kills them); unset it to use Celery "
    "workers"
)


def default_workers() -> int:
    return 2 * (os.cpu_count() or 1)


# Sync workers. make bench measured threaded (gthread) workers ahead when the kernel spread the
# keep-alive connections over them, and at half speed when one worker got them all (it holds them
# and runs on one core, the GIL, while the others idle): 1 run in 3. A sync worker takes one
# connection at a time, so the next one goes to a free worker; behind the proxy, keep-alive to
# the client is the proxy's.
DEFAULT_THREADS = 1


# The settings that decide where the data goes: they must come from the env file.
SHARED_SETTINGS = ("DATABASE_URL", "REDIS_URL")


def config_problems(environ: dict[str, str], file_values: dict[str, str], path: str) -> list[str]:
    """Why a production start would not share its configuration with the checkout's commands."""
    problems = []
    for name in SHARED_SETTINGS:
        in_file, in_env = file_values.get(name, ""), environ.get(name, "")
        if not in_file and in_env:
            problems.append(
                f"{name} is set in this shell but not in {path}: manage.py commands, make worker "
                f"and cron jobs started elsewhere would not see it; put {name}=… in {path}"
            )
        elif not in_file:
            problems.append(f"the production layout needs {name}: put {name}=… in {path}")
    return problems


def check() -> int:
    path = env_file_path()
    original = dict(os.environ)
    problems = config_problems(original, load_env_file(path), str(path))
    for problem in problems:
        print(f"configuration error: {problem}", file=sys.stderr)
    return 2 if problems else 0


def main() -> int:
    if sys.argv[1:2] == ["check"]:
        return check()
    load_env_file(env_file_path())  # SERVE_* and what the children read
    if sys.argv[1:2] == ["worker"]:
        argv = worker_argv(env_str("SERVE_WORKER_NAME", "runs"))
        env = {**os.environ, "RUN_EXECUTOR": env_str("RUN_EXECUTOR", "celery")}
        os.execve(argv[0], argv, env)  # noqa: S606
    host = env_str("SERVE_HOST", "127.0.0.1")
    wsgi_port = env_int("SERVE_WSGI_PORT", 8000, minimum=1, maximum=65535)
    asgi_port = env_int("SERVE_ASGI_PORT", 8001, minimum=1, maximum=65535)
    workers = env_int("SERVE_WSGI_WORKERS", default_workers(), minimum=1, maximum=64)
    threads = env_int("SERVE_WSGI_THREADS", DEFAULT_THREADS, minimum=1, maximum=64)
    executor = env_str("RUN_EXECUTOR", "celery")
    run_workers = env_int("SERVE_RUN_WORKERS", 2, minimum=1, maximum=64)
    env = {**os.environ, "RUN_EXECUTOR": executor}
    children = [
        subprocess.Popen(wsgi_argv(host, wsgi_port, workers, threads), env=wsgi_env(env)),  # noqa: S603
        subprocess.Popen(asgi_argv(host, asgi_port), env=env),  # noqa: S603
    ]
    if executor == "celery":
        children += [
            subprocess.Popen(worker_argv(f"runs{index}"), env=env)  # noqa: S603
            for index in range(1, run_workers + 1)
        ]
    else:
        print(THREAD_UNDER_SERVE_PROD, file=sys.stderr, flush=True)
    print(
        f"JSON API, pages, admin: gunicorn on http://{host}:{wsgi_port} ({workers} workers"
        f"{f' x {threads} threads' if threads > 1 else ''}); SSE paths: daphne on "
        f"http://{host}:{asgi_port}; runs: "
        + (f"{run_workers} Celery workers" if executor == "celery" else "in those processes"),
        flush=True,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop(signal.SIGTERM, None)
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    # A child that ends from the SIGTERM we forwarded has stopped as asked (daphne, terminated
    # before its reactor installs its handler, ends that way); any other code is a failure.
    codes = [0 if c.returncode == -signal.SIGTERM else c.returncode for c in children]
    return next((code for code in codes if code), 0)


if __name__ == "__main__":
    sys.exit(main())
