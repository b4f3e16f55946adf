"""Runs on Celery workers (issue 17), with real processes on PostgreSQL + Redis: two daphne web
processes with ``RUN_EXECUTOR=celery`` and ``celery -A config worker`` subprocesses, whose broker
is a private ``redis-server`` on a free port (no other test's queue is ever touched; the cache and
the event log stay on the shared Redis under this module's key prefixes).

The processes are shared by the module (started once, in test order: the kill test replaces the
worker, the last test stops the broker). Waits are shrunk: heartbeat 1 s, stale after 3 s,
housekeeping every second. Every web process and worker runs at most ``RUN_QUEUE=1`` waiting job
and one job at a time (``RUN_WORKERS=1``), so "the slot is free" and "the queue is full" are
observable.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from apps_runtime.forms.tests import graphs
from apps_runtime.models import AppMode
from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.test_run_e2e import PROVIDER, _advanced_chat_with_llm
from apps_runtime.runs.tests.test_two_processes import Reader, _has
from apps_runtime.tests.factories import make_prompt_app
from tests.llm_server import LLMServer
from tests.servers import (
    ROOT,
    PrivateRedis,
    Server,
    Worker,
    free_port,
    serve_prod,
    server_env,
    servers,
)

pytestmark = [
    pytest.mark.shared_services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

STALE_SECONDS = 3
HOUSEKEEPING_SECONDS = 1
START_TIMEOUT_SECONDS = 12  # the visibility timeout is half
PREFIX = f"test-celery-{uuid.uuid4().hex[:12]}"


class Broker(PrivateRedis):
    """A private redis-server (``tests.servers.PrivateRedis``): the workers' broker, which a
    test may stop; ``client`` reads its queues."""

    def __init__(self) -> None:
        super().__init__()
        self.start()
        self.client = redis.Redis.from_url(self.url, socket_timeout=1)


class Cluster:
    def __init__(
        self, web: list[Server], env: dict[str, str], broker: Broker, workers: list[Worker]
    ) -> None:
        self.web = web
        self.env = env
        self.broker = broker
        self.workers = workers

    def start_worker(self, name: str, *, wait: bool = True) -> Worker:
        worker = Worker(name, self.env)
        self.workers.append(worker)
        return worker.wait_ready() if wait else worker

    @property
    def worker(self) -> Worker:
        """The worker started last (the one consuming now)."""
        return self.workers[-1]


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    server = LLMServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def cluster(django_db_setup: Any, llm: LLMServer) -> Iterator[Cluster]:
    broker = Broker()
    overrides = {
        "TESTING": "false",  # housekeeping runs in the web processes, as in production
        "RUN_EXECUTOR": "celery",
        "RUN_BROKER_URL": broker.url,
        "RUN_WORKERS": "1",
        "RUN_QUEUE": "1",
        "RUN_HEARTBEAT_SECONDS": "1",
        "RUN_STALE_SECONDS": str(STALE_SECONDS),
        "HOUSEKEEPING_SECONDS": str(HOUSEKEEPING_SECONDS),
        "RUN_START_TIMEOUT_SECONDS": str(START_TIMEOUT_SECONDS),
        "OPENAI_BASE_URL": llm.url,
        "OPENAI_API_KEY": "sk-test",
        "OPENAPI_RATE_LIMIT_PER_TOKEN": "0",
        "DB_POOL_MAX": "4",
        "RATE_LIMIT_KEY_PREFIX": PREFIX,
        "EVENT_LOG_KEY_PREFIX": PREFIX,
    }
    env = server_env(overrides)
    workers = [Worker("w1", env)]  # starts while the web processes do
    try:
        with servers(2, **overrides) as web:
            workers[0].wait_ready()
            try:
                yield Cluster(web, env, broker, workers)
            finally:
                for server in web:  # no run is left running; don't wait for streams to drain
                    server.process.kill()
    finally:
        for worker in workers:
            worker.stop(kill=True)
        broker.stop()
        shared = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)
        for key in shared.scan_iter(match=f"*{PREFIX}*", count=1000):
            shared.delete(key)
        shared.close()


@pytest.fixture(autouse=True)
def _module_prefixes(cluster: Cluster, llm: LLMServer, settings: Any) -> Iterator[None]:
    """This process reads the event log the web processes and workers write; each test ends with
    no run left running (the database is flushed after it)."""
    from apps_runtime import events

    settings.EVENT_LOG_KEY_PREFIX = settings.RATE_LIMIT_KEY_PREFIX = PREFIX
    events.event_log_reset()
    llm.reset()
    yield
    llm.release()
    _wait_until(lambda: not Run.objects.filter(status=Run.Status.RUNNING).exists(), 15)


def _wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _stream(server: Server, method: str, path: str, token: str, **kwargs: Any) -> list[Any]:
    events = []
    with httpx.stream(
        method, server.base + path, headers=_headers(token), timeout=30, **kwargs
    ) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    return events


def _chat_run(client: httpx.AsyncClient, server: Server, app: Any, token: str, query: str) -> Any:
    """The streamed response of a chat run started through ``server``."""
    return client.stream(
        "POST",
        f"{server.base}/openapi/v1/apps/{app.id}/run",
        headers=_headers(token),
        json={"inputs": {}, "query": query},
    )


def _none_active(app: Any) -> bool:
    return not Run.objects.filter(app=app, status__in=Run.ACTIVE).exists()


def _demo_app(workspace: Any, filename: str) -> Any:
    from apps_runtime.demo import demo_app_path

    return graphs.import_app(workspace, demo_app_path(filename).read_text(encoding="utf-8"))


# -- every mode, re-attach, stop -----------------------------------------------------------------


def test_every_mode_runs_on_a_worker_and_streams(cluster, acme, alice, token_for, llm):
    web = cluster.web[0]
    token = token_for(alice)
    llm.answer("Hello from the model")
    completion = make_prompt_app(
        acme,
        mode=AppMode.COMPLETION,
        config={"model": {"provider": PROVIDER, "name": "m", "mode": "chat"}},
    )
    bot = {"inputs": {"product": "Acme Cloud"}, "query": "hi"}
    cases = [
        (_demo_app(acme, "echo_workflow.yml"), {"inputs": {"x": "across"}}, "workflow_finished"),
        (_demo_app(acme, "echo_chat.yml"), {"inputs": {}, "query": "ping"}, "message_end"),
        (_demo_app(acme, "support_bot.yml"), bot, "message_end"),
        (completion, {"inputs": {"query": "write"}}, "message_end"),
    ]
    for app, body, last in cases:
        events = _stream(web, "POST", f"/openapi/v1/apps/{app.id}/run", token, json=body)
        names = [e["event"] for e in events]
        assert names[-1] == last, (app.mode, names)
        run = Run.objects.get(app=app)
        assert run.status == "succeeded", (app.mode, run.error)
        # Executed by the worker (the web process only published the job).
        assert cluster.worker.ran(run.id), (app.mode, "".join(cluster.worker.log[-20:]))
        text = json.dumps(events) + "".join(str(e.get("answer") or "") for e in events)
        expected = {
            AppMode.WORKFLOW: "across",
            AppMode.ADVANCED_CHAT: "echo: ping",
        }.get(app.mode, "Hello from the model")
        assert expected in text, (app.mode, names)


def _workers_command(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "workers", "--timeout", "1"],
        cwd=ROOT,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_reattach_and_stop_through_the_second_web_process(cluster, acme, alice, token_for, llm):
    first, second = cluster.web
    app = _advanced_chat_with_llm(acme)
    token = token_for(alice)
    llm.stall("thinking ")

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            async with _chat_run(client, first, app, token, "hello") as response:
                assert response.status_code == 200
                live = Reader(response)
                await live.until(_has("message"))
                run_id = live.events[0]["workflow_run_id"]
                task_id = live.events[0]["task_id"]
                # The operator's view while the job runs: the worker answers and lists it.
                listed = await asyncio.to_thread(_workers_command, cluster)
                async with client.stream(
                    "GET",
                    f"{second.base}/openapi/v1/apps/{app.id}/tasks/{run_id}/events",
                    headers={**_headers(token), "Last-Event-ID": live.events[-1]["_id"]},
                ) as other:
                    assert other.status_code == 200
                    attached = Reader(other)
                    reader = asyncio.ensure_future(attached.until(_has("message_end")))
                    stop = await client.post(
                        f"{second.base}/openapi/v1/apps/{app.id}/tasks/{task_id}:stop",
                        headers=_headers(token),
                    )
                    assert (
                        stop.json()["result"] == "success" and stop.json()["status"] == "stopping"
                    )
                    await asyncio.wait_for(live.until(_has("message_end")), 15)
                    await asyncio.wait_for(reader, 15)
            return live.events, attached.events, task_id, listed

    live, attached, task_id, listed = asyncio.run(scenario())
    assert listed.returncode == 0, listed.stderr
    assert f"{cluster.worker.name}@" in listed.stdout and f"run {task_id}" in listed.stdout
    assert "queue 'runs': 0 waiting" in listed.stdout
    for events in (live, attached):
        assert [e["event"] for e in events][-2:] == ["workflow_finished", "message_end"]
        assert events[-2]["data"]["status"] == "stopped"
    assert [e["_id"] for e in attached] == [e["_id"] for e in live][-len(attached) :]
    assert cluster.worker.ran(task_id)
    assert llm.client_gone.wait(5)  # the worker hung up on the model


# -- pause and resume across workers ---------------------------------------------------------------


def test_a_pause_frees_the_slot_and_the_answer_resumes_on_another_worker(
    cluster, acme, alice, token_for
):
    first, second = cluster.web
    token = token_for(alice)
    app = graphs.review_app(acme)
    paused = _stream(
        first, "POST", f"/openapi/v1/apps/{app.id}/run", token, json={"inputs": {"subject": "s"}}
    )
    assert [e["event"] for e in paused][-2:] == ["human_input_required", "workflow_paused"]
    required = paused[-2]
    run_id = required["task_id"]
    one = cluster.worker
    assert one.ran(run_id)

    # The worker has one slot; the waiting form does not hold it: another run executes there.
    echo = _demo_app(acme, "echo_workflow.yml")
    other = _stream(
        first, "POST", f"/openapi/v1/apps/{echo.id}/run", token, json={"inputs": {"x": "y"}}
    )
    assert other[-1]["event"] == "workflow_finished" and other[-1]["data"]["status"] == "succeeded"
    assert Run.objects.get(pk=run_id).status == "paused"

    # A second worker comes, the first goes; the answer arrives through the other web process.
    two = cluster.start_worker("w2")
    one.stop()
    answered = httpx.post(
        f"{second.base}/openapi/v1/apps/{app.id}/form/human_input/{required['data']['form_token']}",
        headers=_headers(token),
        json={"action": "approve", "inputs": {"note": "on another worker"}},
        timeout=10,
    )
    assert answered.status_code == 200 and answered.json() == {}
    followed = _stream(
        second,
        "GET",
        f"/openapi/v1/apps/{app.id}/tasks/{required['workflow_run_id']}/events",
        token,
    )
    assert followed[-1]["event"] == "workflow_finished", [e["event"] for e in followed]
    assert followed[-1]["data"]["outputs"]["note"] == "on another worker"
    assert two.ran(run_id, "resume") and not one.ran(run_id, "resume")


def test_an_answer_whose_resume_job_was_lost_is_resubmitted_by_housekeeping(
    cluster, acme, alice, token_for, api, monkeypatch
):
    """The answer is committed but its resume job never reaches the broker (the process that
    took the answer died first): housekeeping in a web process submits it again through the
    Celery executor after RUN_STALE_SECONDS, a worker runs it once and the run finishes."""
    from apps_runtime.runs import services

    first, _ = cluster.web
    token = token_for(alice)
    app = graphs.review_app(acme)
    paused = _stream(
        first, "POST", f"/openapi/v1/apps/{app.id}/run", token, json={"inputs": {"subject": "s"}}
    )
    required = paused[-2]
    run_id = required["task_id"]
    # Answered here, in this process, whose submission of the job is lost.
    monkeypatch.setattr(services, "run_resume_submit", lambda run_id: None)
    answered = api(token).post(
        f"/openapi/v1/apps/{app.id}/form/human_input/{required['data']['form_token']}",
        {"action": "approve", "inputs": {"note": "resubmitted"}},
        format="json",
    )
    assert answered.status_code == 200, answered.content
    answered_at = time.monotonic()
    assert Run.objects.get(pk=run_id).resume_input is not None
    assert not cluster.worker.ran(run_id, "resume")

    assert _wait_until(lambda: _none_active(app), STALE_SECONDS + HOUSEKEEPING_SECONDS + 10)
    took = time.monotonic() - answered_at
    run = Run.objects.get(pk=run_id)
    assert run.status == "succeeded", run.error
    assert run.outputs["note"] == "resubmitted"
    assert took >= STALE_SECONDS - 1, took  # resubmitted by the sweep, not by the answer
    assert cluster.worker.ran(run_id, "resume")


# -- a worker killed mid-run ---------------------------------------------------------------------


def test_a_killed_worker_fails_its_run_visibly_and_loses_nothing_else(
    cluster, acme, alice, token_for, llm
):
    """kill -9 of the worker mid-run: the re-attached stream ends failed within RUN_STALE_SECONDS
    + HOUSEKEEPING_SECONDS; a worker started afterwards never runs it again (the model server
    counts one call for it), and the job the dead worker had reserved, never started, comes back
    after the visibility timeout and runs once on the new worker."""
    first, second = cluster.web
    app = _advanced_chat_with_llm(acme)
    token = token_for(alice)
    llm.stall("halfway ")
    doomed = cluster.worker

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            async with _chat_run(client, first, app, token, "hello") as response:
                live = Reader(response)
                await live.until(_has("message"))
            async with _chat_run(client, first, app, token, "behind") as response:
                assert response.status_code == 200  # waits: the worker's one slot is busy
            run_id = live.events[0]["workflow_run_id"]
            async with client.stream(
                "GET",
                f"{second.base}/openapi/v1/apps/{app.id}/tasks/{run_id}/events",
                headers=_headers(token),
            ) as other:
                attached = Reader(other)
                await attached.until(_has("message"))
                os.kill(doomed.process.pid, signal.SIGKILL)
                killed_at = time.monotonic()
                # A new worker, started after the kill, is consuming while the sweep works.
                fresh = cluster.start_worker("w3", wait=False)
                await asyncio.wait_for(attached.until(_has("error")), 30)
                return attached.events, time.monotonic() - killed_at, fresh, run_id

    llm_calls_before = len(llm.requests)
    attached, took, fresh, run_id = asyncio.run(scenario())
    doomed.process.wait(timeout=10)
    llm.answer("recovered")
    names = [e["event"] for e in attached]
    assert names[-2:] == ["workflow_finished", "error"], names
    assert attached[-2]["data"]["status"] == "failed"
    assert took <= STALE_SECONDS + HOUSEKEEPING_SECONDS + 3, took
    killed = Run.objects.get(workflow_run_id=run_id)
    behind = Run.objects.exclude(pk=killed.pk).get(app=app)
    assert killed.status == "failed"

    fresh.wait_ready()
    assert _wait_until(lambda: _none_active(app), START_TIMEOUT_SECONDS + 5)
    behind.refresh_from_db()
    assert behind.status == "succeeded", behind.error
    assert fresh.ran(behind.id) and not fresh.ran(killed.id)
    assert Run.objects.get(pk=killed.pk).status == "failed"
    queries = [json.dumps(r.body) for r in llm.requests[llm_calls_before:]]
    assert sum("hello" in q for q in queries) == 1  # the killed run's one call, never again
    assert sum("behind" in q for q in queries) == 1


# -- the operator's view, the production layout ---------------------------------------------------


def test_the_admin_lists_the_workers_and_the_queue(cluster, root):
    from django.test import Client

    browser = Client()
    browser.force_login(root)
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    with httpx.Client(base_url=cluster.web[1].base, cookies=cookies, timeout=20) as http:
        page = http.get("/admin/apps_runtime/run/workers/")
        listing = http.get("/admin/apps_runtime/run/")
    assert page.status_code == 200, page.text[:500]
    assert f"{cluster.worker.name}@" in page.text
    assert '<strong id="queue-waiting">0</strong>' in page.text
    assert "/admin/apps_runtime/run/workers/" in listing.text  # linked from the runs


def test_serve_prod_runs_jobs_and_a_gunicorn_answered_resume_on_its_workers(
    cluster, acme, alice, token_for
):
    """Issue 17 item 4: under make serve-prod no job runs inside a request worker; a form answered
    through gunicorn resumes on a Celery worker (its own queue here, so the module's worker
    cannot take the job)."""
    wsgi_port, asgi_port = free_port(), free_port()
    env = {
        **cluster.env,
        "RUN_CELERY_QUEUE": "serve-prod",
        "SERVE_WSGI_PORT": str(wsgi_port),
        "SERVE_ASGI_PORT": str(asgi_port),
        "SERVE_WSGI_WORKERS": "1",
        "SERVE_RUN_WORKERS": "1",
        "LOG_LEVEL": "INFO",
    }
    env.pop("RUN_EXECUTOR")  # serve-prod's default: celery
    proc = serve_prod(env)
    log: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            if "runs1@" in line and " ready." in line:
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        assert ready.wait(40), "".join(log)
        wsgi = Server(proc, wsgi_port, log)
        asgi = Server(proc, asgi_port, log)
        for server in (wsgi, asgi):
            assert _wait_until(lambda s=server: _answers(s), 30), "".join(log[-30:])
        token = token_for(alice)
        app = graphs.review_app(acme)
        paused = _stream(
            asgi, "POST", f"/openapi/v1/apps/{app.id}/run", token, json={"inputs": {"subject": "p"}}
        )
        required = paused[-2]
        assert required["event"] == "human_input_required"
        answered = httpx.post(
            f"{wsgi.base}/openapi/v1/apps/{app.id}/form/human_input/"
            + required["data"]["form_token"],
            headers=_headers(token),
            json={"action": "reject", "inputs": {"note": "through gunicorn"}},
            timeout=10,
        )
        assert answered.status_code == 200 and "gunicorn" in answered.headers.get("server", "")
        path = f"/openapi/v1/apps/{app.id}/tasks/{required['workflow_run_id']}/events"
        followed = _stream(asgi, "GET", path, token)
        assert followed[-1]["event"] == "workflow_finished"
        assert followed[-1]["data"]["status"] == "succeeded"
        assert followed[-1]["data"]["outputs"]["decision"] == "reject"
        text = "".join(log)
        run_id = required["task_id"]
        assert f"run {run_id}: run job on runs1@" in text
        assert f"run {run_id}: resume job on runs1@" in text
        assert not cluster.worker.ran(run_id, "resume")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _answers(server: Server) -> bool:
    try:
        return httpx.get(server.base + "/openapi/v1/_health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# -- the queue full, the broker gone -------------------------------------------------------------


def test_a_full_queue_answers_429_before_any_stream(cluster, acme, alice, token_for, llm):
    """The worker's one slot is busy (a stalled model), it has reserved one more job (prefetch
    1), and the broker queue holds RUN_QUEUE=1: the next run is refused before any stream."""
    first = cluster.web[0]
    token = token_for(alice)
    app = _advanced_chat_with_llm(acme)
    llm.stall("busy ")
    url = f"{first.base}/openapi/v1/apps/{app.id}/run"
    body = {"inputs": {}, "query": "queue me"}
    accepted = 0
    refused = None
    for _ in range(5):
        with httpx.stream("POST", url, headers=_headers(token), json=body, timeout=10) as response:
            if response.status_code != 200:
                response.read()
                refused = response
                break
        accepted += 1
        if accepted == 1:
            assert llm.stalling.wait(10)  # the first job holds the worker's only slot
    assert refused is not None and accepted >= 2, accepted
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["code"] == "too_many_requests"
    assert cluster.broker.client.llen("runs") >= 1  # a job waits in the broker
    assert Run.objects.filter(app=app).count() == accepted  # the refused run left nothing
    llm.release()  # the waiting jobs then run; the fixture waits until none is running
    assert _wait_until(lambda: _none_active(app), 15), list(
        Run.objects.values_list("status", flat=True)
    )


def test_the_broker_stopped_answers_503_and_earlier_runs_end(cluster, acme, alice, token_for, llm):
    first = cluster.web[0]
    token = token_for(alice)
    app = _advanced_chat_with_llm(acme)
    llm.stall("slow ")

    async def start_two():
        async with httpx.AsyncClient(timeout=30) as client:
            async with _chat_run(client, first, app, token, "one") as response:
                await Reader(response).until(_has("message"))  # executing on the worker
            async with _chat_run(client, first, app, token, "two") as response:
                assert response.status_code == 200  # handed to the broker behind the first

    asyncio.run(start_two())
    assert Run.objects.filter(app=app).count() == 2
    cluster.broker.stop()

    started = time.monotonic()
    refused = httpx.post(
        f"{first.base}/openapi/v1/apps/{app.id}/run",
        headers=_headers(token),
        json={"inputs": {}, "query": "three"},
        timeout=30,
    )
    assert time.monotonic() - started < 10
    assert refused.status_code == 503, refused.text
    body = refused.json()
    assert body["status"] == 503 and body["code"] == "service_unavailable" and body["message"]
    assert Run.objects.filter(app=app).count() == 2

    llm.release()
    assert _wait_until(
        lambda: _none_active(app),
        START_TIMEOUT_SECONDS + HOUSEKEEPING_SECONDS + 8,
    ), list(Run.objects.values_list("status", flat=True))
    assert set(Run.objects.filter(app=app).values_list("status", flat=True)) <= {
        "succeeded",
        "failed",
    }
