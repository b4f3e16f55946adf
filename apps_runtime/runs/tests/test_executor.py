"""The thread executor: bounded queue (429 when full), jobs by kind and id, the shared heartbeat
round that keeps held runs alive and picks up stop flags written by other processes."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps_runtime.runs.executor import ExecutorFull, ThreadExecutor
from apps_runtime.runs.models import Run
from apps_runtime.tests.factories import make_workflow_app


def test_a_full_queue_refuses_and_jobs_run_with_their_kind_and_id():
    release = threading.Event()
    started = threading.Event()
    seen: list[tuple[str, uuid.UUID]] = []
    done = threading.Semaphore(0)

    def job(kind, run_id):
        started.set()
        release.wait(5)
        seen.append((kind, run_id))
        done.release()

    executor = ThreadExecutor(workers=1, capacity=1, job=job)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    executor.submit("run", first)
    assert started.wait(5)  # the only worker is busy with the first job
    executor.submit("resume", second)  # waits in the queue
    with pytest.raises(ExecutorFull):
        executor.submit("run", third)
    assert executor.held() == {first, second}
    release.set()
    for _ in range(2):
        assert done.acquire(timeout=5)
    assert ("run", first) in seen and ("resume", second) in seen
    with pytest.raises(ValueError):
        executor.submit("bogus", uuid.uuid4())  # type: ignore[arg-type]


def test_the_heartbeat_round_refreshes_held_runs_and_reads_stop_flags(acme, alice):
    app = make_workflow_app(acme)
    old = timezone.now() - timedelta(minutes=5)

    def make(**fields):
        return Run.objects.create(
            app=app,
            workspace=acme,
            mode=app.mode,
            subject_type="account",
            subject_email=alice.email,
            account=alice,
            heartbeat_at=old,
            **fields,
        )

    held, stopped, other = make(), make(stop_requested_at=timezone.now()), make()
    executor = ThreadExecutor(workers=1, capacity=4, job=lambda kind, run_id: None)
    executor.runs._held |= {held.id, stopped.id}  # as if submitted and running here
    executor.runs.beat(executor.held())
    held.refresh_from_db()
    other.refresh_from_db()
    assert held.heartbeat_at > old and other.heartbeat_at == old
    assert executor.stop_requested(stopped.id) and not executor.stop_requested(held.id)


def test_without_celery_the_workers_command_and_page_say_jobs_run_in_the_servers(
    superuser_client,
):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("workers", stdout=out)  # exit 0: nothing is missing
    assert "RUN_EXECUTOR=thread: jobs run inside the server processes" in out.getvalue()
    page = superuser_client.get("/admin/apps_runtime/run/workers/")
    assert page.status_code == 200
    assert "jobs run inside the server processes" in page.content.decode()


def test_the_workers_page_is_for_staff_only(client, db):
    response = client.get("/admin/apps_runtime/run/workers/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
