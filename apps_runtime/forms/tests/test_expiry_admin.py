"""Expiry by housekeeping (decisions §7) and the forms admin (issue 10 items 7, 9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps_runtime.forms.models import HumanInputForm
from apps_runtime.runs.models import Run
from config import housekeeping

pytestmark = pytest.mark.django_db

TASK = "overdue human-input forms expired"


def test_housekeeping_expires_overdue_forms_only(alice, pause_run, settings):
    due = pause_run(alice, timeout_seconds=60)
    fresh = pause_run(alice, timeout_seconds=3600)
    answered = pause_run(alice, timeout_seconds=60)
    HumanInputForm.objects.filter(pk=answered.form.pk).update(status="submitted")
    assert housekeeping.run_once()[TASK] == 0

    later = timezone.now() + timedelta(seconds=61)
    settings.HITL_GLOBAL_TIMEOUT_SECONDS = 0
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=later):
        assert housekeeping.run_once()[TASK] == 1
    assert HumanInputForm.objects.get(pk=due.form.pk).status == "timeout"
    assert HumanInputForm.objects.get(pk=fresh.form.pk).status == "waiting"
    assert HumanInputForm.objects.get(pk=answered.form.pk).status == "submitted"
    run = Run.objects.get(pk=due.run.pk)
    assert run.resume_input == {
        "node_id": "review",
        "action_id": "",
        "values": {},
        "timed_out": True,
    }
    assert Run.objects.get(pk=fresh.run.pk).resume_input is None


def test_the_global_timeout_expires_forms_with_long_node_timeouts(alice, pause_run, settings):
    paused = pause_run(alice, timeout_seconds=36 * 3600)
    settings.HITL_GLOBAL_TIMEOUT_SECONDS = 30
    assert paused.form.expiration_time() == paused.form.created_at + timedelta(seconds=30)
    HumanInputForm.objects.filter(pk=paused.form.pk).update(
        created_at=timezone.now() - timedelta(seconds=31)
    )
    assert housekeeping.run_once()[TASK] == 1
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "expired"


def test_admin_lists_forms_with_masked_tokens(client, alice, pause_run):
    alice.is_staff = True
    alice.is_superuser = True
    alice.save()
    paused = pause_run(alice)
    client.force_login(alice)
    listing = client.get("/admin/apps_runtime/humaninputform/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Review" in html and "waiting" in html and "webapp" in html
    detail = client.get(f"/admin/apps_runtime/humaninputform/{paused.form.pk}/change/")
    assert detail.status_code == 200
    html = detail.content.decode()
    assert paused.token not in html
    assert paused.form.api_token_digest not in html  # only a prefix of the digest
    assert f"sha256:{paused.form.api_token_digest[:8]}" in html


def test_a_form_whose_run_ended_otherwise_is_412_and_cancelled(api, token_for, alice, pause_run):
    from accounts.audit import Actor
    from apps_runtime.runs.services import run_stop

    paused = pause_run(alice)
    run_stop(run=paused.run, actor=Actor.admin("admin@example.com"))
    client = api(token_for(alice))
    url = f"/openapi/v1/apps/{paused.run.app_id}/form/human_input/{paused.token}"
    response = client.get(url)
    assert response.status_code == 412 and response.json()["code"] == "human_input_form_expired"
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "cancelled"
    assert Run.objects.get(pk=paused.run.pk).status == "stopped"


def test_the_admin_fails_the_paused_run_of_a_waiting_form(client, alice, pause_run):
    alice.is_staff = True
    alice.is_superuser = True
    alice.save()
    paused = pause_run(alice)
    answered = pause_run(alice)
    HumanInputForm.objects.filter(pk=answered.form.pk).update(status="submitted")
    client.force_login(alice)
    response = client.post(
        "/admin/apps_runtime/humaninputform/",
        {
            "action": "fail_paused_runs",
            "_selected_action": [str(paused.form.pk), str(answered.form.pk)],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "1 paused run(s) failed." in response.content.decode()
    run = Run.objects.get(pk=paused.run.pk)
    assert run.status == "failed" and run.error == "failed from the admin"
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "cancelled"
    assert Run.objects.get(pk=answered.run.pk).status == "paused"


def test_housekeeping_cancels_an_overdue_form_whose_run_already_ended(alice, pause_run):
    paused = pause_run(alice, timeout_seconds=60)
    Run.objects.filter(pk=paused.run.pk).update(status=Run.Status.STOPPED)
    HumanInputForm.objects.filter(pk=paused.form.pk).update(expires_at=timezone.now())
    assert housekeeping.run_once()[TASK] == 1
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "cancelled"
    assert Run.objects.get(pk=paused.run.pk).resume_input is None
