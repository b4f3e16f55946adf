"""`make bench`: the JSON API beside its server's ceiling, the serving models, growth with data.

Everything runs on 127.0.0.1 with production settings (DEBUG off, PostgreSQL and Redis, rate limits
off) in a database of its own (``bench``, dropped and recreated), with a raised open-file limit.
It starts PostgreSQL or Redis if they are down and installs Debian's ``wrk`` if it is missing.

1. Serving models: ``GET /openapi/v1/account`` on daphne, uvicorn, gunicorn sync and gunicorn
   threaded, each beside the ceiling: a raw ASGI/WSGI app on the same server answering the same
   bytes (``benchmarks/ceiling.py``).
2. The endpoints on the production JSON layout (``python -m config.serve``'s WSGI side).
3. Growth: ``/apps`` and ``/account/sessions`` at 100 and 10,000 rows, with queries per request
   and any sequential scans in their plans.
4. Code nodes (``benchmarks/code_nodes.py``): executions per second through the engine, and the
   median time of an empty ``main`` in the sandbox (cold, and with a spare waiting) beside a bare
   ``python3 -c`` / ``node -e`` process.

Each figure is the median of BENCH_REPS runs of wrk (BENCH_SECONDS each, BENCH_CONNECTIONS
connections), with the spread (min-max), and the CPU each request cost the server's processes
and PostgreSQL's backends (from /proc, over all runs). One table is printed and the figures are
written to BENCH_OUTPUT (default ``benchmarks/results.json``). The machine is a shared 2-core VM:
compare figures within one run.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.serve import (  # noqa: E402
    DEFAULT_THREADS,
    JSON_SERVER_NAME,
    default_workers,
    wsgi_argv,
    wsgi_env,
)

PY = sys.executable
REPS = int(os.environ.get("BENCH_REPS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
# BENCH_ONLY=runs: section 5 alone (it updates the "runs" entry of BENCH_OUTPUT).
ONLY = os.environ.get("BENCH_ONLY", "")
# The database the bench drops and recreates (another name lets two benches share a server).
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench")
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", ROOT / "benchmarks" / "results.json"))
CORES = os.cpu_count() or 1

# name -> (kind, server argv without the application); the last one is `make serve-prod`'s
# JSON side, the one the endpoint and growth tables use.
SERVERS: dict[str, tuple[str, list[str]]] = {
    "daphne (1 process)": ("asgi", [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}"]),
    "uvicorn (2 workers)": (
        "asgi",
        [
            PY,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "2",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
    ),
    f"gunicorn gthread ({CORES} x 4 threads)": (
        "wsgi",
        wsgi_argv("127.0.0.1", "{port}", CORES, 4)[:-1],
    ),
    JSON_SERVER_NAME: (
        "wsgi",
        wsgi_argv("127.0.0.1", "{port}", default_workers(), DEFAULT_THREADS)[:-1],
    ),
}
# Environment the serve-prod layout adds to its WSGI workers (persistent connections), given to
# every gunicorn measured so that the worker class is the only difference.
_WSGI_ENV = {k: v for k, v in wsgi_env().items() if os.environ.get(k) != v}
SERVER_ENV: dict[str, dict[str, str]] = {
    name: _WSGI_ENV for name, (kind, _) in SERVERS.items() if kind == "wsgi"
}
APPS = {
    ("asgi", "django"): "config.asgi:application",
    ("wsgi", "django"): "config.wsgi:application",
    ("asgi", "ceiling"): "benchmarks.ceiling:asgi_app",
    ("wsgi", "ceiling"): "benchmarks.ceiling:wsgi_app",
    ("asgi", "sse-ceiling"): "benchmarks.ceiling:sse_app",
}


@dataclass
class Figure:
    label: str
    runs: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    errors: int = 0
    # CPU per request, over all runs: the server's processes, and PostgreSQL's backends on the
    # bench database (where the milliseconds go).
    server_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else 0.0

    def spread(self) -> str:
        return f"{min(self.runs):.0f}-{max(self.runs):.0f}" if self.runs else "-"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "median": round(self.median, 1)}


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_pid: int) -> tuple[float, float]:
    """CPU time so far of the server (the process and its workers) and of PostgreSQL's backends
    serving the bench database, from /proc (0, 0 where there is no /proc)."""
    server = db = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        pid, ppid = int(stat.parent.name), int(fields[1])
        if server_pid in (pid, ppid):
            server += ticks
        elif cmdline.startswith(b"postgres: ") and f" {DB_NAME} ".encode() in cmdline:
            db += ticks
    return server / _TICK, db / _TICK


# --- set-up ------------------------------------------------------------------------------------


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk)")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=apt_env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=apt_env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=apt_env, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and could not be installed")
    return found


def ensure_services() -> None:
    if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=True,
        )
    ping = subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True)
    if ping.returncode != 0:
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
    for _ in range(30):
        pg = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0
        rd = subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True)
        if pg and rd.returncode == 0:
            return
        time.sleep(1)
    raise SystemExit("PostgreSQL or Redis did not start")


def bench_database_url() -> str:
    base = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + DB_NAME))


def recreate_database(url: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def settle_database(url: str) -> None:
    """Leave the seeded tables as autovacuum would, and their pages on disk: otherwise autovacuum
    and the checkpoint's writeback (kernel flush threads) start during a measurement."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass  # a role without pg_checkpoint: the writeback may then show in a figure
    os.sync()


def production_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + os.urandom(16).hex(),
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "OPENAPI_RATE_LIMIT_PER_TOKEN": "0",
        "OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE": "0",
        "RUN_STARTS_PER_MINUTE": "0",
        # The bench measures the engine under load, not the per-caller fairness cap.
        "RUN_MAX_ACTIVE_PER_SUBJECT": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def run_json(env: dict[str, str], module: str, stdin: str = "") -> dict:  # type: ignore[type-arg]
    result = subprocess.run(
        [PY, "-m", module], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"{module} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --- servers and load --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, name: str, app: str, env: dict[str, str]) -> None:
        kind, argv = SERVERS[name]
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [a.replace("{port}", str(self.port)) for a in argv] + [APPS[(kind, app)]]
        self.log = tempfile.TemporaryFile()
        env = {**env, **SERVER_ENV.get(name, {})}
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"server exited:\n{self.log.read().decode()[-3000:]}")
            try:
                with urlopen(self.base + "/openapi/v1/_health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        raise SystemExit("server did not answer within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def get(self, path: str, token: str) -> tuple[int, bytes, str]:
        request = Request(self.base + path, headers={"Authorization": f"Bearer {token}"})
        with urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers["Content-Type"]


_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_P50 = re.compile(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_TOTAL = re.compile(r"(\d+) requests in")


def wrk(server: Server, path: str, token: str, figure: Figure, wrk_bin: str) -> Figure:
    def args(seconds: int) -> list[str]:
        return [
            wrk_bin,
            "-t",
            "2",
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            server.base + path,
        ]

    subprocess.run(args(1), capture_output=True)  # warm-up
    requests = 0
    server_before, db_before = cpu_seconds(server.proc.pid)
    for _ in range(REPS):
        out = subprocess.run(args(SECONDS), capture_output=True, text=True, check=True).stdout
        total = _TOTAL.search(out)
        requests += int(total.group(1)) if total else 0
        rate = _RATE.search(out)
        figure.runs.append(float(rate.group(1)) if rate else 0.0)
        p50 = _P50.search(out)
        if p50:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
            figure.p50_ms.append(round(float(p50.group(1)) * scale, 2))
        non2xx = _NON2XX.search(out)
        socket_errors = _SOCKET.search(out)
        # Sync gunicorn closes each connection after its answer: wrk counts those as read errors.
        figure.errors += int(non2xx.group(1)) if non2xx else 0
        figure.errors += int(socket_errors.group(4)) if socket_errors else 0
    server_after, db_after = cpu_seconds(server.proc.pid)
    if requests:
        figure.server_cpu_ms = round(1000 * (server_after - server_before) / requests, 3)
        figure.db_cpu_ms = round(1000 * (db_after - db_before) / requests, 3)
    return figure


# --- the run -----------------------------------------------------------------------------------


def print_code_nodes(figures: dict[str, Any]) -> None:
    if "unavailable" in figures:
        print(f"   skipped: {figures['unavailable']}")
        return
    print(
        f"{'language':12} {'exec/s':>7} {'bare ms':>8} {'cold ms':>8} {'warm ms':>8}"
        f" {'overhead cold/warm ms':>22}"
    )
    for language, row in figures.items():
        overhead = f"{row['cold_overhead_ms']:.1f} / {row['warm_overhead_ms']:.1f}"
        print(
            f"{language:12} {row['per_second']:7.1f} {row['bare_ms']:8.1f} "
            f"{row['cold_ms']:8.1f} {row['warm_ms']:8.1f} {overhead:>22}"
        )


def private_redis(maxclients: int = 20000) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of the bench's own (no persistence): 5,000 held streams hold 5,000 of its
    connections, which the shared Redis is not asked to carry."""
    port = free_port()
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--maxclients", str(maxclients)),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout:
            return process, url
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the bench's redis-server did not start")


def runs_section(env: dict[str, str]) -> dict[str, Any]:
    """5. Runs (``benchmarks/runs.py``), on a private redis-server; its table goes to stdout."""
    print("\n5. Runs: idle streams, event delivery across processes, run latency; each beside")
    print("   its ceiling (raw ASGI streaming app on daphne; bare Redis Streams; the model alone)")
    print(f"   load {os.getloadavg()[0]:.1f}")
    redis_process, url = private_redis()
    output = Path(tempfile.mkstemp(prefix="bench-runs-", suffix=".json")[1])
    try:
        subprocess.run(
            [PY, "-m", "benchmarks.runs"],
            cwd=ROOT,
            env={**env, "REDIS_URL": url, "BENCH_RUNS_OUTPUT": str(output)},
            check=True,
        )
        figures: dict[str, Any] = json.loads(output.read_text())
    finally:
        redis_process.terminate()
        redis_process.wait(timeout=10)
        output.unlink(missing_ok=True)
    figures["load_avg_after"] = os.getloadavg()
    print(f"   load {os.getloadavg()[0]:.1f}")
    return figures


def main() -> None:
    # A stop (SIGTERM) unwinds like an error, so every server started is stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    open_files = raise_open_files()
    wrk_bin = ensure_wrk()
    ensure_services()
    database_url = bench_database_url()
    recreate_database(database_url)
    env = production_env(database_url)
    subprocess.run(
        [PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    data = run_json(env, "benchmarks.seed")
    settle_database(database_url)
    small, large = data["small"], data["large"]
    token = small["token"]
    endpoints = {
        "GET /account": "/openapi/v1/account",
        "GET /account/sessions": "/openapi/v1/account/sessions",
        "GET /workspaces": "/openapi/v1/workspaces",
        "GET /apps?workspace_id=…": f"/openapi/v1/apps?workspace_id={small['workspace_id']}",
        "GET /apps/{id}/describe": f"/openapi/v1/apps/{small['app_id']}/describe",
    }
    results: dict[str, object] = {
        "machine": {"cores": CORES, "open_files": open_files, "load_avg": os.getloadavg()},
        "settings": {"reps": REPS, "seconds": SECONDS, "connections": CONNECTIONS},
    }
    print(f"{CORES} cores, load {os.getloadavg()[0]:.1f}; wrk {CONNECTIONS} connections, ")
    print(f"{REPS} runs x {SECONDS} s each (median, min-max); PostgreSQL + Redis, DEBUG off")

    if ONLY == "runs":  # only section 5; the other sections' figures stay as they were
        if OUTPUT.exists():
            results = {**json.loads(OUTPUT.read_text()), **results}
        results["runs"] = runs_section(env)
        OUTPUT.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwritten: {OUTPUT}")
        return

    # The ceiling answers the bytes of a real /account.
    with Server(JSON_SERVER_NAME, "django", env) as server:
        status, body, content_type = server.get(endpoints["GET /account"], token)
        assert status == 200, status
    body_file = Path(tempfile.mkstemp(prefix="ceiling-")[1])
    body_file.write_bytes(body)
    ceiling_env = {**env, "CEILING_BODY_FILE": str(body_file), "CEILING_CONTENT_TYPE": content_type}

    # 1. serving models
    serving: dict[str, dict[str, object]] = {}
    print("\n1. Serving models: GET /openapi/v1/account beside a raw app on the same server")
    print("   (CPU ms per request: the server's processes / PostgreSQL's)")
    print(
        f"{'server':34} {'req/s':>8} {'spread':>11} {'ceiling':>8} {'ratio':>7} {'p50 ms':>7}"
        f" {'cpu ms':>7} {'db ms':>6}"
    )
    for name in SERVERS:
        with Server(name, "django", env) as server:
            app = wrk(server, endpoints["GET /account"], token, Figure(name), wrk_bin)
        with Server(name, "ceiling", ceiling_env) as server:
            raw = wrk(server, "/openapi/v1/account", token, Figure(name + " ceiling"), wrk_bin)
        ratio = app.median / raw.median if raw.median else 0.0
        serving[name] = {"app": app.as_dict(), "ceiling": raw.as_dict(), "ratio": round(ratio, 3)}
        p50 = statistics.median(app.p50_ms) if app.p50_ms else 0
        print(
            f"{name:34} {app.median:8.0f} {app.spread():>11} {raw.median:8.0f} "
            f"{ratio:7.1%} {p50:7.1f} {app.server_cpu_ms:7.2f} {app.db_cpu_ms:6.2f}"
        )
    results["serving"] = serving

    # 2. endpoints on the production JSON layout
    print(f"\n2. Endpoints on the production JSON server: {JSON_SERVER_NAME}")
    print(
        f"{'endpoint':34} {'req/s':>8} {'spread':>11} {'ceiling':>8} {'ratio':>7} {'p50 ms':>7}"
        f" {'cpu ms':>7} {'db ms':>6}"
    )
    ceiling = float(serving[JSON_SERVER_NAME]["ceiling"]["median"])  # type: ignore[index]
    table: dict[str, object] = {}
    with Server(JSON_SERVER_NAME, "django", env) as server:
        for label, path in endpoints.items():
            status, _, _ = server.get(path, token)
            assert status == 200, (label, status)
            figure = wrk(server, path, token, Figure(label), wrk_bin)
            ratio = figure.median / ceiling if ceiling else 0.0
            table[label] = {**figure.as_dict(), "ratio": round(ratio, 3)}
            p50 = statistics.median(figure.p50_ms) if figure.p50_ms else 0
            print(
                f"{label:34} {figure.median:8.0f} {figure.spread():>11} {ceiling:8.0f} "
                f"{ratio:7.1%} {p50:7.1f} {figure.server_cpu_ms:7.2f} {figure.db_cpu_ms:6.2f}"
            )
    results["endpoints"] = {"server": JSON_SERVER_NAME, "ceiling": ceiling, "rows": table}

    # 3. growth
    print("\n3. Growth: the same calls at 100 and 10,000 rows")
    print(
        f"{'endpoint':34} {'rows':>6} {'req/s':>8} {'spread':>11} {'cpu ms':>7} {'db ms':>6}"
        f" {'queries':>8}  seq scans"
    )
    calls = []
    for size in (small, large):
        calls.append(
            (f"apps {size['rows']}", f"/openapi/v1/apps?workspace_id={size['workspace_id']}")
        )
        calls.append((f"sessions {size['rows']}", "/openapi/v1/account/sessions"))
    tokens = {f"apps {s['rows']}": s["token"] for s in (small, large)}
    tokens.update({f"sessions {s['rows']}": s["token"] for s in (small, large)})
    plans = run_json(env, "benchmarks.queries", json.dumps([[k, p, tokens[k]] for k, p in calls]))
    growth: dict[str, object] = {}
    with Server(JSON_SERVER_NAME, "django", env) as server:
        for key, path in calls:
            figure = wrk(server, path, tokens[key], Figure(key), wrk_bin)
            plan = plans[key]
            growth[key] = {**figure.as_dict(), **plan, "path": path.split("?")[0]}
            scans = ", ".join(plan["seq_scans"]) or "none"
            label, rows = key.split()
            print(
                f"{'GET /' + label:34} {rows:>6} {figure.median:8.0f} {figure.spread():>11} "
                f"{figure.server_cpu_ms:7.2f} {figure.db_cpu_ms:6.2f} {plan['queries']:8}  {scans}"
            )
    results["growth"] = growth

    # 4. code nodes
    print("\n4. Code nodes: executions per second, and an empty main beside a bare runtime")
    code_nodes = run_json(env, "benchmarks.code_nodes")
    print_code_nodes(code_nodes)
    results["code_nodes"] = code_nodes
    results["runs"] = runs_section(env)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {OUTPUT}")


if __name__ == "__main__":
    main()
