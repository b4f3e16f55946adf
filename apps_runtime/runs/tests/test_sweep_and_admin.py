"""The stale-run sweep (decisions §7), stopping a paused run, and the admin's read-only pages and
audited actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditEvent
from apps_runtime.events import event_log
from apps_runtime.models import AppMode
from apps_runtime.runs.models import Conversation, Message, NodeExecution, Run
from apps_runtime.runs.services import run_stop, runs_fail_stale
from apps_runtime.runs.tests.helpers import events_path, running_run, sse_call
from apps_runtime.tests.factories import make_prompt_app, make_workflow_app
from config import housekeeping

_run = running_run


def test_a_run_with_a_stale_heartbeat_is_failed_and_its_stream_says_so(
    acme, alice, token_for, settings
):
    settings.RUN_STALE_SECONDS = 5
    app = make_workflow_app(acme)
    now = timezone.now()
    stale = _run(app, alice, started_at=now, heartbeat_at=now - timedelta(seconds=6))
    fresh = _run(app, alice, started_at=now, heartbeat_at=now - timedelta(seconds=2))
    event_log().append(str(stale.id), {"event": "workflow_started", "task_id": str(stale.id)})

    assert "stale runs failed" in dict(housekeeping.tasks())
    assert runs_fail_stale() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == "failed" and stale.error and fresh.status == "running"
    names = [event["event"] for _, event in event_log().entries(str(stale.id))]
    assert names == ["workflow_started", "workflow_finished", "error"]

    attached = sse_call("GET", events_path(app, stale.workflow_run_id), token=token_for(alice))
    assert attached.names == ["workflow_started", "workflow_finished", "error"]
    assert attached.events[1]["data"]["status"] == "failed"
    assert runs_fail_stale() == 0  # once


def test_under_celery_a_run_waiting_for_a_worker_is_failed_only_after_the_start_timeout(
    acme, alice, settings
):
    """Issue 17: a job waiting in the broker has no heartbeat; its run (never started) is not
    lost after RUN_STALE_SECONDS but after RUN_START_TIMEOUT_SECONDS. A started run whose
    heartbeat stopped is failed as before."""
    settings.RUN_EXECUTOR = "celery"
    settings.RUN_STALE_SECONDS = 5
    settings.RUN_START_TIMEOUT_SECONDS = 60
    app = make_workflow_app(acme)
    now = timezone.now()
    waiting = _run(app, alice)
    overdue = _run(app, alice)
    lost = _run(app, alice, started_at=now, heartbeat_at=now - timedelta(seconds=6))
    Run.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(seconds=30))
    Run.objects.filter(pk=overdue.pk).update(created_at=now - timedelta(seconds=61))

    assert runs_fail_stale() == 2
    statuses = dict(Run.objects.values_list("id", "status"))
    assert statuses == {waiting.id: "running", overdue.id: "failed", lost.id: "failed"}


def test_stopping_a_paused_run_ends_it_stopped_with_its_terminal_events(acme, alice):
    app = make_workflow_app(acme, mode=AppMode.ADVANCED_CHAT)
    run = _run(app, alice, status=Run.Status.PAUSED, state={"saved": True})
    Message.objects.create(run=run, app=app, query="q")
    run_stop(run=run, actor=Actor.system("test"))
    run.refresh_from_db()
    assert run.status == "stopped" and run.state is None
    events = [event for _, event in event_log().entries(str(run.id))]
    assert [e["event"] for e in events] == ["workflow_finished", "message_end"]
    assert events[0]["data"]["status"] == "stopped"
    assert events[1]["metadata"]["stopped"] is True
    run_stop(run=run, actor=Actor.system("test"))  # idempotent
    assert len(event_log().entries(str(run.id))) == 2


@pytest.fixture
def staff(admin_client):
    return admin_client


def test_the_admin_shows_runs_read_only_with_nodes_and_message(staff, acme, alice):
    app = make_prompt_app(acme, mode=AppMode.CHAT)
    run = _run(app, alice)
    Message.objects.create(run=run, app=app, query="what?", answer="that", total_tokens=7)
    wf = make_workflow_app(acme)
    wf_run = _run(wf, alice)
    NodeExecution.objects.create(run=wf_run, node_id="start", node_type="start", title="Start")
    assert (
        staff.get("/admin/apps_runtime/run/?status__exact=running&mode__exact=chat").status_code
        == 200
    )
    page = staff.get(f"/admin/apps_runtime/run/{run.id}/change/")
    assert page.status_code == 200 and b"what?" in page.content
    page = staff.get(f"/admin/apps_runtime/run/{wf_run.id}/change/")
    assert page.status_code == 200 and b"Start" in page.content
    assert staff.get("/admin/apps_runtime/run/add/").status_code == 403
    assert staff.get("/admin/apps_runtime/nodeexecution/").status_code == 200
    assert staff.get("/admin/apps_runtime/message/").status_code == 200
    assert staff.get("/admin/apps_runtime/conversation/").status_code == 200
    conversation = Conversation.objects.create(
        app=app, subject_type="account", subject_email=alice.email, variables={"turns": 7}
    )
    page = staff.get(f"/admin/apps_runtime/conversation/{conversation.id}/change/")
    assert page.status_code == 200 and b"&quot;turns&quot;: 7" in page.content


def test_the_admin_fail_and_stop_actions_go_through_the_services(staff, acme, alice):
    app = make_workflow_app(acme)
    stuck = _run(app, alice)
    live = _run(app, alice)
    response = staff.post(
        "/admin/apps_runtime/run/",
        {"action": "fail_selected", "_selected_action": [str(stuck.id)]},
    )
    assert response.status_code == 302
    stuck.refresh_from_db()
    assert stuck.status == "failed" and stuck.error == "failed by an administrator"
    assert [e["event"] for _, e in event_log().entries(str(stuck.id))] == [
        "workflow_finished",
        "error",
    ]
    assert AuditEvent.objects.filter(action="run.failed").count() == 1

    staff.post(
        "/admin/apps_runtime/run/", {"action": "stop_selected", "_selected_action": [str(live.id)]}
    )
    live.refresh_from_db()
    assert live.stop_requested_at is not None
    assert AuditEvent.objects.filter(action="run.stop_requested", actor_type="admin").count() == 1
