"""`make bench` section 5: runs, each beside its ceiling (issue 21).

Run by ``benchmarks.run`` in a child process with the bench environment (production settings, the
``bench`` database, a private ``redis-server`` of its own as event log and cache, so 5,000 held
streams never load the shared Redis); ``BENCH_RUNS_OUTPUT`` names the JSON file it writes.

a. Idle SSE streams held by one daphne process (BENCH_STREAMS, default 1000,5000): memory and
   file descriptors per stream, and ``GET /account`` latency while they are held; ceiling: the
   same streams on a raw ASGI streaming app on daphne (``benchmarks.ceiling:sse_app``).
b. Event delivery from the engine (this process, appending to the run's log as a job does) to a
   client attached through a daphne process: latency p50/p99 and events lost in a burst of
   BENCH_EVENTS (2,000); ceiling: a bare Redis Streams writer (XADD) and reader (XREAD BLOCK) in
   another process.
c. Time to first event and to the terminal event of the echo demo apps (BENCH_RUN_COUNT runs each),
   and of an LLM app against ``tests.llm_server`` streaming BENCH_LLM_CHUNKS pieces every
   BENCH_LLM_DELAY seconds: our overhead over the model's own time (a direct streamed call).

The client functions take a base URL and tokens, so ``tests/test_bench_smoke.py`` runs them small
against test servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
ECHO_WORKFLOW_BODY = {"inputs": {"x": "hi", "num": "2", "enum_var": "B"}}
ECHO_CHAT_BODY = {"inputs": {}, "query": "ping"}
LLM_BODY = {"inputs": {"product": "Acme Cloud"}, "query": "hi"}
TERMINAL = ("workflow_finished", "message_end", "error")


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def parse_sse(buffer: str) -> tuple[list[dict[str, Any]], str]:
    """Complete frames of ``buffer`` as ``{"_id", ...data}`` (pings skipped) and the rest."""
    events: list[dict[str, Any]] = []
    while "\n\n" in buffer:
        block, buffer = buffer.split("\n\n", 1)
        entry_id = None
        for line in block.split("\n"):
            if line.startswith("id: "):
                entry_id = line[4:]
            elif line.startswith("data: "):
                events.append({**json.loads(line[6:]), "_id": entry_id})
    return events, buffer


# --- process figures -------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# --- a. idle streams ---------------------------------------------------------------------------


async def _open_stream(host: str, port: int, path: str, token: str) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=120)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream refused: {head[:200]!r}")
    writer._bench_reader = reader  # type: ignore[attr-defined]  # keep it referenced
    return writer


async def _account_latency(base: str, token: str, count: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get(
                "/openapi/v1/account", headers={"Authorization": f"Bearer {token}"}
            )
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    return times


async def hold_streams(
    base: str,
    pid: int,
    paths: list[tuple[str, str]],
    account_token: str,
    samples: int = 20,
    redis_url: str | None = None,
) -> dict[str, float]:
    """Open one idle stream per ``(path, token)`` on the server ``pid`` at ``base``, then measure
    its memory and descriptors per stream and ``/account`` latency while they are held."""
    host, port = base.split("//")[1].split(":")
    idle_ms = await _account_latency(base, account_token, samples)
    rss_before, fds_before = rss_kb(pid), open_fds(pid)
    writers: list[asyncio.StreamWriter] = []
    started = time.perf_counter()
    try:
        # In waves: a listen backlog of thousands would overflow.
        for start in range(0, len(paths), 200):
            wave = paths[start : start + 200]
            writers += await asyncio.gather(
                *(_open_stream(host, int(port), path, token) for path, token in wave)
            )
        opened_s = time.perf_counter() - started
        await asyncio.sleep(2)  # let the allocator settle
        rss_after, fds_after = rss_kb(pid), open_fds(pid)
        held_ms = await _account_latency(base, account_token, samples)
        # Streams the server ended meanwhile would flatter the figures: count the live ones
        # (the client's side open, and a socket each on the server's).
        alive = sum(not w._bench_reader.at_eof() for w in writers)  # type: ignore[attr-defined]
        alive = min(alive, fds_after - fds_before)
        waiting = -1  # streams waiting on the event log: one Redis connection each
        if redis_url:
            import redis

            with redis.Redis.from_url(redis_url) as client:
                waiting = int(client.info("clients")["connected_clients"]) - 1
    finally:
        for writer in writers:
            writer.close()
    await asyncio.sleep(1)
    n = len(paths)
    return {
        "streams": n,
        "alive": alive,
        "redis_connections": waiting,
        "open_seconds": round(opened_s, 2),
        "kb_per_stream": round((rss_after - rss_before) / n, 2),
        "fds_per_stream": round((fds_after - fds_before) / n, 2),
        "fds": fds_after,
        "rss_mb": round(rss_after / 1024, 1),
        "account_p50_ms_idle": round(statistics.median(idle_ms), 2),
        "account_p50_ms_held": round(statistics.median(held_ms), 2),
        "account_p99_ms_held": round(pct(held_ms, 0.99), 2),
    }


# --- b. cross-process event latency ------------------------------------------------------------


def attached_latency(
    base: str, events_path: str, token: str, count: int, append: Callable[[int, bool], None]
) -> dict[str, Any]:
    """A client process attaches to ``events_path`` on ``base``; then ``append(i, last)`` runs
    for ``count`` events here (the engine's side); each event carries its ``monotonic`` send time
    ``t``, which the client subtracts from its arrival time (one clock: the same machine)."""
    reader = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.runs", "attached-reader", base, events_path, token],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert reader.stdout is not None
    try:
        ready = reader.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"the attached reader did not attach: {ready!r}")
        started = time.monotonic()
        for i in range(count):
            append(i, i == count - 1)
        appended = time.monotonic() - started
        out = reader.stdout.read()
        reader.wait(timeout=120)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    result = json.loads(out.strip().splitlines()[-1])
    figures = _latency_figures(count, result["latencies"], result["seen"])
    figures["appends_per_s"] = round(count / appended) if appended else 0
    figures["delivered_in_ms"] = round(result["last"] - started * 1000, 1)
    figures["ended_with"] = result["ended"]
    return figures


async def _attached_reader(base: str, events_path: str, token: str) -> None:
    latencies: list[float] = []
    seen: list[int] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        async with client.stream(
            "GET", events_path, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            print("ready" if response.status_code == 200 else response.status_code, flush=True)
            buffer = ""
            done: dict[str, Any] | None = None
            async for chunk in response.aiter_text():
                now = time.monotonic()
                events, buffer = parse_sse(buffer + chunk)
                for event in events:
                    if "t" in event:
                        latencies.append((now - float(event["t"])) * 1000)
                        seen.append(int(event["i"]))
                    if event.get("event") in TERMINAL:
                        done = event
                if done:
                    break
    last = time.monotonic() * 1000
    ended = done or {}
    print(json.dumps({"latencies": latencies, "seen": seen, "last": last, "ended": ended}))


def _latency_figures(count: int, latencies: list[float], seen: list[int]) -> dict[str, float]:
    return {
        "events": count,
        "delivered": len(seen),
        "lost": count - len(set(seen)),
        "duplicates": len(seen) - len(set(seen)),
        "in_order": seen == sorted(seen),
        "p50_ms": round(statistics.median(latencies), 3) if latencies else 0.0,
        "p99_ms": round(pct(latencies, 0.99), 3),
    }


def bare_redis_latency(url: str, count: int) -> dict[str, float]:
    """The ceiling: this process XADDs ``count`` entries; a reader process (``ceiling-reader``)
    follows the stream with XREAD BLOCK and reports each entry's latency."""
    import redis

    key = f"bench-ceiling-{os.getpid()}-{time.time_ns()}"
    reader = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.runs", "ceiling-reader", url, key, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    client = redis.Redis.from_url(url)
    time.sleep(1.0)  # the reader is blocked on the stream
    try:
        for i in range(count):
            client.xadd(key, {"i": i, "t": repr(time.monotonic()), "answer": "token "})
        out, _ = reader.communicate(timeout=120)
    finally:
        client.delete(key)
    result = json.loads(out.strip().splitlines()[-1])
    return _latency_figures(count, result["latencies"], result["seen"])


def _ceiling_reader(url: str, key: str, count: int) -> None:
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    last = "$"
    latencies: list[float] = []
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while len(seen) < count and time.monotonic() < deadline:
        reply = client.xread({key: last}, block=5000)
        now = time.monotonic()
        for _, entries in reply or []:
            for entry_id, fields in entries:
                latencies.append((now - float(fields["t"])) * 1000)
                seen.append(int(fields["i"]))
                last = entry_id
    print(json.dumps({"latencies": latencies, "seen": seen}))


# --- c. runs: first event, terminal event -------------------------------------------------------


async def timed_run(
    client: httpx.AsyncClient, path: str, token: str, body: dict[str, Any]
) -> dict[str, Any]:
    """One streamed run: ms to the first event and to the terminal one, and its events."""
    started = time.perf_counter()
    first = 0.0
    events: list[dict[str, Any]] = []
    buffer = ""
    async with client.stream(
        "POST", path, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        async for chunk in response.aiter_text():
            new, buffer = parse_sse(buffer + chunk)
            if new and not first:
                first = time.perf_counter()
            events += new
    ended = time.perf_counter()
    return {
        "first_ms": (first - started) * 1000 if first else 0.0,
        "total_ms": (ended - started) * 1000,
        "events": events,
        "terminal": events[-1]["event"] if events else None,
    }


async def run_times(
    base: str, path: str, token: str, body: dict[str, Any], count: int
) -> dict[str, float]:
    """``count`` runs one after the other; medians and p99 of first and terminal event."""
    firsts, totals = [], []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await timed_run(client, path, token, body)  # warm-up
        for _ in range(count):
            result = await timed_run(client, path, token, body)
            if result["terminal"] not in TERMINAL or result["terminal"] == "error":
                raise RuntimeError(f"{path}: run ended with {result['terminal']}")
            firsts.append(result["first_ms"])
            totals.append(result["total_ms"])
    return {
        "runs": count,
        "first_p50_ms": round(statistics.median(firsts), 2),
        "first_p99_ms": round(pct(firsts, 0.99), 2),
        "terminal_p50_ms": round(statistics.median(totals), 2),
        "terminal_p99_ms": round(pct(totals, 0.99), 2),
    }


async def model_time(url: str, count: int) -> dict[str, float]:
    """The model's own time: streamed chat completions straight from the model server."""
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    totals, firsts = [], []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(count + 1):
            started = time.perf_counter()
            first = 0.0
            async with client.stream("POST", url + "/chat/completions", json=body) as response:
                async for _chunk in response.aiter_bytes():
                    first = first or time.perf_counter()
            totals.append((time.perf_counter() - started) * 1000)
            firsts.append((first - started) * 1000)
    return {
        "first_p50_ms": round(statistics.median(firsts[1:]), 2),
        "terminal_p50_ms": round(statistics.median(totals[1:]), 2),
    }


# --- the bench (set-up of its own data, servers, the table) --------------------------------------


def _seed(stream_tokens: int, idle_runs: int) -> dict[str, Any]:
    """Account, tokens (10 streams each: the per-token limit), the demo apps, idle runs."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from accounts.audit import Actor
    from accounts.models import Account
    from apps_runtime.demo import demo_app_path
    from apps_runtime.dsl import dsl_parse
    from apps_runtime.runs.models import Run
    from apps_runtime.services import app_import_parsed
    from benchmarks.seed import mint_tokens
    from workspaces.models import Membership, Workspace

    account = Account.objects.create_user("bench-runs@example.com", "bench-password-1")
    workspace = Workspace.objects.create(name="Bench runs")
    Membership.objects.create(workspace=workspace, account=account, role="owner", current=True)
    raws = mint_tokens(account, stream_tokens + 1)
    apps = {}
    for name in ("echo_workflow.yml", "echo_chat.yml", "support_bot.yml"):
        parsed = dsl_parse(demo_app_path(name).read_text(encoding="utf-8"))
        apps[name] = app_import_parsed(
            workspace=workspace, parsed=parsed, author=account, actor=Actor.operator("bench")
        ).app
    workflow = apps["echo_workflow.yml"]
    runs = Run.objects.bulk_create(
        Run(
            app=workflow,
            workspace=workspace,
            mode=workflow.mode,
            subject_type="account",
            subject_email=account.email,
            account=account,
            status=Run.Status.RUNNING,
            workflow_run_id=__import__("uuid").uuid4(),
        )
        for _ in range(idle_runs)
    )
    return {
        "token": raws[0],
        "stream_tokens": raws[1:],
        "apps": {name: str(app.id) for name, app in apps.items()},
        "runs": [str(run.id) for run in runs],
    }


def _table_row(label: str, value: str, ceiling: str, ratio: str) -> None:
    print(f"   {label:44} {value:>22} {ceiling:>22} {ratio:>8}")


def main() -> None:
    from benchmarks.run import Server

    counts = [int(n) for n in os.environ.get("BENCH_STREAMS", "1000,5000").split(",")]
    events = int(os.environ.get("BENCH_EVENTS", "2000"))
    run_count = int(os.environ.get("BENCH_RUN_COUNT", "20"))
    llm_chunks = int(os.environ.get("BENCH_LLM_CHUNKS", "20"))
    llm_delay = float(os.environ.get("BENCH_LLM_DELAY", "0.02"))
    output = Path(os.environ["BENCH_RUNS_OUTPUT"])
    data = _seed(max(counts) // 10 + 1, max(counts) + 1)
    # The idle runs have no job heartbeating them: keep housekeeping from failing them (which
    # ends their streams) while they are measured.
    env = {**os.environ, "RUN_STALE_SECONDS": "86400"}
    results: dict[str, Any] = {}
    print(f"   {'':44} {'runs':>22} {'ceiling':>22} {'ratio':>8}")

    # a. idle streams
    results["idle_streams"] = {}
    workflow_id = data["apps"]["echo_workflow.yml"]
    for n in counts:
        paths = [
            (f"/openapi/v1/apps/{workflow_id}/tasks/{run}/events", data["stream_tokens"][i // 10])
            for i, run in enumerate(data["runs"][:n])
        ]
        with Server("daphne (1 process)", "django", env) as server:
            app = asyncio.run(
                hold_streams(
                    server.base, server.proc.pid, paths, data["token"], 20, env["REDIS_URL"]
                )
            )
        with Server("daphne (1 process)", "sse-ceiling", env) as server:
            raw = asyncio.run(hold_streams(server.base, server.proc.pid, paths, data["token"]))
        ratio = app["kb_per_stream"] / raw["kb_per_stream"] if raw["kb_per_stream"] else 0.0
        results["idle_streams"][str(n)] = {"app": app, "ceiling": raw, "ratio": round(ratio, 2)}
        _table_row(
            f"{n} idle streams: KB/stream",
            f"{app['kb_per_stream']:.1f}",
            f"{raw['kb_per_stream']:.1f}",
            f"{ratio:.1f}x",
        )
        _table_row(
            f"{n} idle streams: fds/stream (total)",
            f"{app['fds_per_stream']:.2f} ({app['fds']})",
            f"{raw['fds_per_stream']:.2f} ({raw['fds']})",
            f"{app['fds_per_stream'] / (raw['fds_per_stream'] or 1):.1f}x",
        )
        _table_row(
            f"{n} idle streams: /account p50 idle->held",
            f"{app['account_p50_ms_idle']:.1f}->{app['account_p50_ms_held']:.1f} ms",
            f"{raw['account_p50_ms_idle']:.1f}->{raw['account_p50_ms_held']:.1f} ms",
            f"{app['account_p50_ms_held'] / (raw['account_p50_ms_held'] or 1):.1f}x",
        )
        _table_row(
            f"{n} idle streams: opened in; alive; on Redis",
            f"{app['open_seconds']:.1f} s; {app['alive']}; {app['redis_connections']}",
            f"{raw['open_seconds']:.1f} s; {raw['alive']}",
            "",
        )

    # b. cross-process event latency
    from apps_runtime.events import event_log

    log = event_log()
    task = data["runs"][-1]

    def append(i: int, last: bool) -> None:
        event: dict[str, Any] = {"event": "text_chunk", "i": i, "t": repr(time.monotonic())}
        event["data"] = {"text": "token "}
        log.append(task, event)
        if last:
            log.append(task, {"event": "workflow_finished", "data": {"status": "succeeded"}})

    with Server("daphne (1 process)", "django", env) as server:
        path = f"/openapi/v1/apps/{workflow_id}/tasks/{task}/events"
        app = attached_latency(server.base, path, data["token"], events, append)
    raw = bare_redis_latency(env["REDIS_URL"], events)
    results["event_latency"] = {"app": app, "ceiling": raw, "ratio": _ratio(app, raw, "p99_ms")}
    _table_row(
        f"{events}-event burst, cross-process: p50/p99",
        f"{app['p50_ms']:.2f}/{app['p99_ms']:.2f} ms",
        f"{raw['p50_ms']:.2f}/{raw['p99_ms']:.2f} ms",
        f"{_ratio(app, raw, 'p99_ms'):.1f}x",
    )
    _table_row("  events lost / duplicated", f"{app['lost']} / {app['duplicates']}", "", "")
    _table_row(
        "  appended at; last delivered after",
        f"{app['appends_per_s']}/s; {app['delivered_in_ms']:.0f} ms",
        "",
        "",
    )

    # c. runs
    from tests.llm_server import LLMServer

    model = LLMServer()
    model.answer("", chunks=["word "] * llm_chunks, chunk_delay=llm_delay)
    llm_env = {**env, "OPENAI_BASE_URL": model.url, "OPENAI_API_KEY": "sk-bench"}
    results["runs"] = {}
    try:
        with Server("daphne (1 process)", "sse-ceiling", env) as server:
            ceiling = asyncio.run(
                run_times(server.base, "/ceiling/run", data["token"], {}, run_count)
            )
        with Server("daphne (1 process)", "django", llm_env) as server:
            for label, name, body in (
                ("echo workflow", "echo_workflow.yml", ECHO_WORKFLOW_BODY),
                ("echo chat", "echo_chat.yml", ECHO_CHAT_BODY),
                ("LLM chat", "support_bot.yml", LLM_BODY),
            ):
                path = f"/openapi/v1/apps/{data['apps'][name]}/run"
                figures = asyncio.run(run_times(server.base, path, data["token"], body, run_count))
                results["runs"][label] = {**figures, "ceiling": ceiling}
                _table_row(
                    f"{label}: first event p50 (p99)",
                    f"{figures['first_p50_ms']:.1f} ({figures['first_p99_ms']:.1f}) ms",
                    f"{ceiling['first_p50_ms']:.1f} ms",
                    f"{_ratio(figures, ceiling, 'first_p50_ms'):.1f}x",
                )
                _table_row(
                    f"{label}: terminal event p50 (p99)",
                    f"{figures['terminal_p50_ms']:.1f} ({figures['terminal_p99_ms']:.1f}) ms",
                    f"{ceiling['terminal_p50_ms']:.1f} ms",
                    f"{_ratio(figures, ceiling, 'terminal_p50_ms'):.1f}x",
                )
        own = asyncio.run(model_time(model.url, run_count))
    finally:
        model.close()
    llm = results["runs"]["LLM chat"]
    overhead = llm["terminal_p50_ms"] - own["terminal_p50_ms"]
    results["llm_overhead"] = {
        "model_terminal_p50_ms": own["terminal_p50_ms"],
        "run_terminal_p50_ms": llm["terminal_p50_ms"],
        "overhead_ms": round(overhead, 2),
        "ratio": round(llm["terminal_p50_ms"] / own["terminal_p50_ms"], 3),
    }
    _table_row(
        "LLM chat: terminal p50 over the model's own",
        f"{llm['terminal_p50_ms']:.1f} ms",
        f"{own['terminal_p50_ms']:.1f} ms",
        f"+{overhead:.1f} ms",
    )
    output.write_text(json.dumps(results, indent=2))


def _ratio(app: dict[str, Any], ceiling: dict[str, Any], key: str) -> float:
    return round(app[key] / ceiling[key], 2) if ceiling.get(key) else 0.0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "ceiling-reader":
        _ceiling_reader(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "seed":  # benchmarks.load's data
        print(json.dumps(_seed(int(sys.argv[2]), 0)))
    elif len(sys.argv) > 1 and sys.argv[1] == "attached-reader":
        asyncio.run(_attached_reader(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        main()
