"""Stop and re-attach find only the caller's own runs (decisions §5): anyone else gets 404."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from accounts.models import AuditEvent
from apps_runtime.models import AppMode
from apps_runtime.runs.models import Run
from apps_runtime.runs.services import stop_flag_key
from apps_runtime.runs.tests.helpers import assert_error, events_path, running_run, sse_call
from apps_runtime.tests.factories import make_prompt_app, make_workflow_app
from conftest import assert_envelope

_run_of = running_run


@pytest.fixture
def workflow_app(acme):
    return make_workflow_app(acme)


def _stop(api, token, app, task, colon=False):
    suffix = ":stop" if colon else "/stop"
    return api(token).post(f"/openapi/v1/apps/{app.id}/tasks/{task}{suffix}")


@pytest.mark.parametrize("colon", [False, True])
def test_stop_by_task_or_workflow_run_id_is_idempotent(api, alice, token_for, workflow_app, colon):
    run = _run_of(workflow_app, alice)
    token = token_for(alice)
    for ref in (run.id, run.workflow_run_id, run.id):
        response = _stop(api, token, workflow_app, ref, colon)
        assert response.status_code == 200, response.content
        assert response.json()["result"] == "success"  # what difyctl reads (client.md §4.12)
        assert response.json()["status"] == "stopping"
    run.refresh_from_db()
    assert run.stop_requested_at is not None
    assert cache.get(stop_flag_key(run.id))
    assert AuditEvent.objects.filter(action="run.stop_requested").count() == 1


@pytest.mark.parametrize("status", ["succeeded", "failed", "stopped"])
def test_stopping_a_finished_run_says_it_had_already_finished(
    api, alice, token_for, workflow_app, status
):
    run = _run_of(workflow_app, alice)
    Run.objects.filter(pk=run.pk).update(status=status)
    response = _stop(api, token_for(alice), workflow_app, run.id)
    assert response.status_code == 200
    body = response.json()
    assert body["result"] == "success" and body["status"] == status
    assert body["message"] == f"The run had already finished ({status}); there was nothing to stop."
    run.refresh_from_db()
    assert run.status == status and run.stop_requested_at is None


def test_stop_of_another_users_or_unknown_task_is_404(api, alice, bob, token_for, workflow_app):
    bobs = _run_of(workflow_app, bob)
    token = token_for(alice)
    for ref in (bobs.id, bobs.workflow_run_id, uuid.uuid4(), "not-a-uuid"):
        assert_envelope(_stop(api, token, workflow_app, ref), 404)
    bobs.refresh_from_db()
    assert bobs.stop_requested_at is None


def test_stop_through_another_app_is_404(api, alice, token_for, workflow_app, acme):
    run = _run_of(workflow_app, alice)
    other = make_workflow_app(acme)
    assert_envelope(_stop(api, token_for(alice), other, run.id), 404)


def test_stop_by_an_outsider_is_app_not_found(api, alice, charlie, token_for, workflow_app):
    run = _run_of(workflow_app, alice)
    assert_envelope(
        _stop(api, token_for(charlie), workflow_app, run.id), 404, message="app not found"
    )


def test_events_of_a_chat_app_are_not_supported(acme, alice, token_for):
    app = make_prompt_app(acme, mode=AppMode.CHAT)
    run = _run_of(app, alice)
    response = sse_call("GET", events_path(app, run.id), token=token_for(alice))
    assert_error(response, 422, message="mode_not_supported_for_event_reconnect")


def test_events_of_another_users_or_unknown_run_are_404(alice, bob, token_for, workflow_app):
    bobs = _run_of(workflow_app, bob)
    token = token_for(alice)
    for ref in (bobs.workflow_run_id, bobs.id, uuid.uuid4(), "junk"):
        response = sse_call("GET", events_path(workflow_app, ref), token=token)
        assert_error(response, 404, message="Workflow run not found")


def test_events_by_an_outsider_is_app_not_found(alice, charlie, token_for, workflow_app):
    run = _run_of(workflow_app, alice)
    response = sse_call(
        "GET", events_path(workflow_app, run.workflow_run_id), token=token_for(charlie)
    )
    assert_error(response, 404, message="app not found")
