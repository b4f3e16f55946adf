"""The client's human-in-the-loop flow end to end through the ASGI application (issue 10 tests):
run → pause → read the form → submit → re-attach to the events until the run ends.

The run and resume jobs execute in the executor's worker threads, so these tests commit
(``transactional_db``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps_runtime.forms.models import HumanInputForm
from apps_runtime.forms.tests import graphs
from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.helpers import events_path, run_path, sse_call
from config import housekeeping

pytestmark = pytest.mark.django_db(transaction=True)

PAUSE_TAIL = ["node_started", "human_input_required", "workflow_paused"]


def form_url(app: Any, token: str) -> str:
    return f"/openapi/v1/apps/{app.id}/form/human_input/{token}"


@pytest.fixture
def token(token_for, alice) -> str:
    return token_for(alice)


@pytest.fixture
def client(api, token):
    return api(token)


def run_until_pause(app: Any, token: str, **inputs: str) -> dict[str, Any]:
    response = sse_call("POST", run_path(app), token=token, body={"inputs": inputs}, timeout=20)
    assert response.status == 200, response.body[:500]
    assert response.names[-3:] == PAUSE_TAIL, response.names
    required = response.events[-2]
    assert required["task_id"] == response.events[0]["task_id"]
    return required


def follow(app: Any, token: str, workflow_run_id: str) -> list[dict[str, Any]]:
    response = sse_call("GET", events_path(app, workflow_run_id), token=token, timeout=20)
    assert response.status == 200, response.body[:500]
    return response.events


def test_the_client_flow_run_pause_read_submit_follow(acme, alice, token, client):
    app = graphs.review_app(acme)
    required = run_until_pause(app, token, subject="the budget")
    data = required["data"]
    assert (data["node_id"], data["node_title"]) == ("review", "Review it")
    assert required["workflow_run_id"] == str(
        Run.objects.get(pk=required["task_id"]).workflow_run_id
    )
    assert data["form_content"] == "Check the budget and say why: {{#$output.note#}}"
    assert [a["id"] for a in data["actions"]] == ["approve", "reject", "escalate"]
    assert data["display_in_ui"] is True and data["approval_channels"] == ["web_app"]
    assert data["resolved_default_values"] == {"note": "the budget"}
    assert data["expiration_time"] > timezone.now().timestamp()
    run = Run.objects.get(pk=required["task_id"])
    assert run.status == "paused" and run.state

    form = client.get(form_url(app, data["form_token"]))
    assert form.status_code == 200
    assert form.json()["form_content"] == data["form_content"]
    assert form.json()["resolved_default_values"] == {"note": "the budget"}

    submitted = client.post(
        form_url(app, data["form_token"]),
        {"action": "reject", "inputs": {"note": "too expensive"}},
        format="json",
    )
    assert submitted.status_code == 200 and submitted.json() == {}

    events = follow(app, token, required["workflow_run_id"])
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started" and events[0]["data"]["reason"] == "resumption"
    assert names[1] == "human_input_form_filled"
    filled = events[1]["data"]
    assert (filled["node_id"], filled["action_id"], filled["action_text"]) == (
        "review",
        "reject",
        "Reject",
    )
    assert filled["rendered_content"] == "Check the budget and say why: too expensive"
    assert names[-1] == "workflow_finished"
    finished = events[-1]
    assert finished["data"]["status"] == "succeeded"
    assert finished["data"]["outputs"] == {
        "decision": "reject",
        "note": "too expensive",
        "branch": "the budget",
    }
    # One task_id throughout: the resumed events belong to the run that paused.
    assert {e["task_id"] for e in events} == {required["task_id"]}
    assert Run.objects.get(pk=required["task_id"]).status == "succeeded"


def test_stopping_a_paused_run_the_run_form_and_reattach_say_stopped(acme, alice, token, client):
    app = graphs.review_app(acme)
    required = run_until_pause(app, token, subject="the budget")
    stop = client.post(f"/openapi/v1/apps/{app.id}/tasks/{required['task_id']}/stop")
    assert stop.status_code == 200
    assert stop.json() == {
        "result": "success",
        "status": "stopped",
        "message": "The paused run was stopped.",
    }
    assert Run.objects.get(pk=required["task_id"]).status == "stopped"

    events = follow(app, token, required["workflow_run_id"])
    assert events[-1]["event"] == "workflow_finished", [e["event"] for e in events]
    assert events[-1]["data"]["status"] == "stopped"

    form = client.get(form_url(app, required["data"]["form_token"]))
    assert form.status_code == 412
    assert form.json()["message"] == "This form can no longer be answered: its run was stopped."

    again = client.post(f"/openapi/v1/apps/{app.id}/tasks/{required['task_id']}/stop")
    assert again.json()["message"] == (
        "The run had already finished (stopped); there was nothing to stop."
    )


def submit(client: Any, app: Any, token: str, action: str, **values: str) -> None:
    response = client.post(
        form_url(app, token), {"action": action, "inputs": values}, format="json"
    )
    assert response.status_code == 200, response.content


def node_ids(events: list[dict[str, Any]], name: str = "node_started") -> list[str]:
    return [e["data"]["node_id"] for e in events if e["event"] == name]


@pytest.mark.parametrize("action", ["approve", "escalate"])
def test_the_run_branches_on_the_chosen_action(acme, alice, token, client, action):
    app = graphs.review_app(acme)
    required = run_until_pause(app, token, subject="x")
    submit(client, app, required["data"]["form_token"], action, note="n")
    events = follow(app, token, required["workflow_run_id"])
    assert node_ids(events) == [f"end_{action}"]
    assert events[-1]["data"]["outputs"]["decision"] == action


def test_two_serial_forms_each_pause_with_a_new_token(acme, alice, token, client):
    app = graphs.serial_app(acme)
    first = run_until_pause(app, token, subject="plan")
    assert first["data"]["node_id"] == "first"
    submit(client, app, first["data"]["form_token"], "go")

    # The re-attached stream ends at the second pause, with a new token.
    attached = follow(app, token, first["workflow_run_id"])
    names = [e["event"] for e in attached]
    assert names[0] == "workflow_started" and names[1] == "human_input_form_filled"
    assert names[-3:] == PAUSE_TAIL
    second = attached[-2]
    assert second["data"]["node_id"] == "second"
    assert second["data"]["form_content"] == "Second look (go) {{#$output.why#}}"
    assert second["data"]["form_token"] != first["data"]["form_token"]
    assert second["task_id"] == first["task_id"]
    # The first token is spent.
    again = client.post(
        form_url(app, first["data"]["form_token"]), {"action": "go", "inputs": {}}, format="json"
    )
    assert again.status_code == 412 and again.json()["code"] == "human_input_form_submitted"

    submit(client, app, second["data"]["form_token"], "stop", why="enough")
    finished = follow(app, token, first["workflow_run_id"])
    assert finished[-1]["event"] == "workflow_finished"
    assert finished[-1]["data"]["outputs"] == {"first": "go", "second": "stop", "why": "enough"}
    assert HumanInputForm.objects.filter(run_id=first["task_id"]).count() == 2


@pytest.mark.parametrize("timeout_edge", [True, False])
def test_expiry_leaves_through_timeout_or_fails(acme, alice, token, settings, timeout_edge):
    app = graphs.review_app(acme, timeout_edge=timeout_edge)
    required = run_until_pause(app, token, subject="late")
    real_now = timezone.now

    later = real_now() + timedelta(hours=1, seconds=1)
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=later):
        assert housekeeping.run_once()["overdue human-input forms expired"] == 1
    events = follow(app, token, required["workflow_run_id"])
    names = [e["event"] for e in events]
    assert names[:2] == ["workflow_started", "human_input_form_timeout"]
    assert events[1]["data"]["node_id"] == "review"
    run = Run.objects.get(pk=required["task_id"])
    if timeout_edge:
        assert node_ids(events) == ["end_timeout"]
        assert events[-1]["data"]["status"] == "succeeded"
        assert events[-1]["data"]["outputs"] == {"decision": ""}
        assert run.status == "succeeded"
    else:
        assert names[-2:] == ["workflow_finished", "error"]
        assert events[-2]["data"]["status"] == "failed"
        assert run.status == "failed"
    assert HumanInputForm.objects.get(run_id=run.pk).status == "timeout"


def test_an_answer_no_executor_could_take_is_resubmitted_by_housekeeping(
    acme, alice, token, client, monkeypatch, settings
):
    from apps_runtime.runs.executor import ExecutorFull, get_executor

    app = graphs.review_app(acme)
    required = run_until_pause(app, token, subject="the queue")
    executor = get_executor()
    real_submit = executor.submit

    def full(kind: str, run_id: Any) -> None:
        raise ExecutorFull()

    monkeypatch.setattr(executor, "submit", full)
    submit(client, app, required["data"]["form_token"], "approve", note="when there is room")
    run = Run.objects.get(pk=required["task_id"])
    assert run.status == "paused" and run.resume_input is not None
    monkeypatch.setattr(executor, "submit", real_submit)

    # Not before RUN_STALE_SECONDS: a job may still be waiting in a queue.
    assert housekeeping.run_once()["answered paused runs resubmitted"] == 0
    assert Run.objects.get(pk=run.pk).status == "paused"
    overdue = timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS + 1)
    Run.objects.filter(pk=run.pk).update(resume_requested_at=overdue)
    monkeypatch.setattr(executor, "submit", full)  # still full: tried, kept for the next round
    assert housekeeping.run_once()["answered paused runs resubmitted"] == 0
    monkeypatch.setattr(executor, "submit", real_submit)
    # An answer saved before runs recorded when (no resume_requested_at) is overdue too.
    Run.objects.filter(pk=run.pk).update(resume_requested_at=None)
    assert housekeeping.run_once()["answered paused runs resubmitted"] == 1

    events = follow(app, token, required["workflow_run_id"])
    names = [e["event"] for e in events]
    assert names.count("workflow_started") == 1 and names[1] == "human_input_form_filled"
    assert events[1]["data"]["action_id"] == "approve"
    assert events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["status"] == "succeeded"
    run = Run.objects.get(pk=run.pk)
    assert run.status == "succeeded" and run.resume_input is None
    # A finished run is not submitted again.
    Run.objects.filter(pk=run.pk).update(resume_requested_at=overdue)
    assert housekeeping.run_once()["answered paused runs resubmitted"] == 0


def test_an_advanced_chat_run_resumes_to_workflow_finished_then_message_end(
    acme, alice, token, client
):
    app = graphs.chatflow_app(acme)
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {}, "query": "lunch?"}, timeout=20
    )
    assert response.names[-3:] == PAUSE_TAIL, response.names
    required = response.events[-2]
    assert required["data"]["form_content"] == "Answer lunch?? {{#$output.note#}}"
    submit(client, app, required["data"]["form_token"], "ok", note="at noon")
    events = follow(app, token, required["workflow_run_id"])
    names = [e["event"] for e in events]
    assert names[:2] == ["workflow_started", "human_input_form_filled"]
    assert names[-2:] == ["workflow_finished", "message_end"]
    answer = "".join(e["answer"] for e in events if e["event"] == "message")
    assert answer == "You said ok: at noon"
    run = Run.objects.get(pk=required["task_id"])
    assert events[-1]["conversation_id"] == str(run.conversation_id)
    assert run.status == "succeeded"
    assert {e["task_id"] for e in events} == {required["task_id"]}


@pytest.mark.parametrize(
    "filename", ["quick_confirm.yml", "approval_request.yml", "two_step_approval.yml"]
)
def test_the_demo_apps_pause_and_finish_when_answered(acme, alice, token, client, filename):
    from apps_runtime.demo import demo_app_path

    app = graphs.import_app(acme, demo_app_path(filename).read_text(encoding="utf-8"))
    inputs = {v["variable"]: "demo" for v in app.published_workflow.start_variables()}
    required = run_until_pause(app, token, **inputs)
    forms = 0
    while True:
        forms += 1
        data = required["data"]
        values = {field["output_variable_name"]: "ok" for field in data["inputs"]}
        submit(client, app, data["form_token"], data["actions"][0]["id"], **values)
        events = follow(app, token, required["workflow_run_id"])
        if events[-1]["event"] == "workflow_finished":
            break
        required = events[-2]
    assert events[-1]["data"]["status"] == "succeeded"
    assert events[-1]["data"]["outputs"]
    assert forms == (2 if filename == "two_step_approval.yml" else 1)


def test_the_emailed_demo_app_mails_the_workspace(acme, alice, bob, token, mailoutbox):
    from apps_runtime.demo import demo_app_path

    app = graphs.import_app(acme, demo_app_path("emailed_review.yml").read_text(encoding="utf-8"))
    required = run_until_pause(app, token, document="the contract")
    assert required["data"]["form_token"] is None
    assert required["data"]["approval_channels"] == ["email"]
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "bob@example.com"]
    assert "the contract" in mailoutbox[0].body and "/forms/" in mailoutbox[0].body
