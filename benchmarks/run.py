"""`make bench`: throughput, latency and memory of the JSON API on a real daphne process.

It starts the ASGI server on a free loopback port (on the embedded default, or on PostgreSQL and
Redis when DATABASE_URL and REDIS_URL are set), mints a token, sends a bounded number of requests
from a few concurrent connections and prints req/s, p50/p95 latency, errors and the server's RSS.
Compare figures within one run: the machine is a shared 2-core VM.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "600"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "2"))
ENDPOINTS = [
    "/openapi/v1/_health",
    "/openapi/v1/account",
    "/openapi/v1/account/sessions",
    "/openapi/v1/workspaces",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _load(base: str, path: str, token: str) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    remaining = REQUESTS
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            response = await client.get(path, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1

    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    return latencies, errors


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="bench-")
    env = {
        **os.environ,
        "SECRET_KEY": "bench-secret",
        "OPENAPI_RATE_LIMIT_PER_TOKEN": "0",
        "OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
    }
    if not env.get("DATABASE_URL"):
        env["SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
    backend = "PostgreSQL + Redis" if env.get("DATABASE_URL") else "SQLite + local memory"
    _manage(env, "migrate", "--noinput")
    _manage(env, "seed_demo")
    token = _manage(env, "issue_token", "demo@example.com", "--label", f"bench {time.time()}")
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/openapi/v1/_health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"backend: {backend}; {REQUESTS} requests per endpoint, {CONCURRENCY} connections")
        print(f"{'endpoint':32} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
        for path in ENDPOINTS:
            started = time.perf_counter()
            latencies, errors = asyncio.run(_load(base, path, token))
            elapsed = time.perf_counter() - started
            ordered = sorted(latencies)
            p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
            print(
                f"{path:32} {len(latencies) / elapsed:8.0f} "
                f"{statistics.median(ordered) * 1000:8.1f} {p95:8.1f} {errors:7d}"
            )
        print(f"server RSS after load: {_rss_kib(server.pid) / 1024:.1f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
