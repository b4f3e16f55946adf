"""The form endpoints through HTTP (contract §5.18-§5.19, issue 10 items 4-5, security 24)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps_runtime.forms.models import HumanInputForm
from apps_runtime.forms.tokens import token_digest, token_mint
from apps_runtime.runs.models import Run
from conftest import assert_envelope

pytestmark = pytest.mark.django_db


def form_url(app_id, token, *, alias=False):
    if alias:
        return f"/openapi/v1/apps/{app_id}/human-input-forms/{token}"
    return f"/openapi/v1/apps/{app_id}/form/human_input/{token}"


def submit_url(app_id, token, *, alias=False):
    return form_url(app_id, token, alias=alias) + (":submit" if alias else "")


@pytest.fixture
def client(api, token_for, alice):
    return api(token_for(alice))


@pytest.mark.parametrize("alias", [False, True])
def test_get_answers_the_form_as_the_contract_shapes_it(client, alice, pause_run, alias):
    paused = pause_run(alice)
    response = client.get(form_url(paused.run.app_id, paused.token, alias=alias))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "form_content",
        "inputs",
        "resolved_default_values",
        "user_actions",
        "expiration_time",
    }
    assert body["form_content"] == "Please review {{#$output.comment#}}"
    assert body["inputs"][0]["output_variable_name"] == "comment"
    assert body["resolved_default_values"] == {"comment": "looks fine"}
    assert [a["id"] for a in body["user_actions"]] == ["approve", "reject"]
    expected = int(paused.form.expires_at.timestamp())
    assert body["expiration_time"] == expected
    assert abs(expected - (timezone.now() + timedelta(hours=1)).timestamp()) < 60


def test_the_pause_event_carries_every_field_the_client_reads(alice, pause_run):
    paused = pause_run(alice)
    required, workflow_paused = paused.events
    assert required["event"] == "human_input_required"
    data = required["data"]
    assert set(data) >= {
        "form_id",
        "node_id",
        "node_title",
        "form_content",
        "inputs",
        "actions",
        "display_in_ui",
        "form_token",
        "approval_channels",
        "resolved_default_values",
        "expiration_time",
    }
    assert data["form_id"] == str(paused.form.id)
    assert data["display_in_ui"] is True and data["approval_channels"] == ["web_app"]
    assert isinstance(data["form_token"], str) and len(data["form_token"]) >= 22
    # Only the digest is stored.
    assert paused.form.api_token_digest == token_digest(data["form_token"])
    assert data["form_token"] not in str(HumanInputForm.objects.filter(pk=paused.form.pk).values())
    assert workflow_paused["event"] == "workflow_paused"
    reasons = workflow_paused["data"]["reasons"]
    assert reasons[0]["type"] == "human_input_required"
    assert reasons[0]["form_token"] == data["form_token"]
    assert workflow_paused["data"]["status"] == "paused"
    assert workflow_paused["data"]["paused_nodes"] == ["review"]


@pytest.mark.parametrize("alias", [False, True])
def test_submit_closes_the_form_and_hands_the_answer_to_the_run(
    client, alice, pause_run, alias, django_capture_on_commit_callbacks
):
    paused = pause_run(alice)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            submit_url(paused.run.app_id, paused.token, alias=alias),
            {"action": "reject", "inputs": {"comment": "not yet"}},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json() == {}
    assert len(callbacks) == 1  # the resume is submitted only after commit
    form = HumanInputForm.objects.get(pk=paused.form.pk)
    assert form.status == "submitted" and form.action_id == "reject"
    assert form.values == {"comment": "not yet"} and form.submitted_by == alice
    run = Run.objects.get(pk=paused.run.pk)
    assert run.resume_input == {
        "node_id": "review",
        "action_id": "reject",
        "values": {"comment": "not yet"},
        "timed_out": False,
    }


def test_a_second_submit_and_a_read_after_submit_are_412(client, alice, pause_run):
    paused = pause_run(alice)
    url = form_url(paused.run.app_id, paused.token)
    body = {"action": "approve", "inputs": {"comment": "ok"}}
    assert client.post(url, body, format="json").status_code == 200
    assert_envelope(client.post(url, body, format="json"), 412, code="human_input_form_submitted")
    assert_envelope(client.get(url), 412, code="human_input_form_submitted")
    alias = submit_url(paused.run.app_id, paused.token, alias=True)
    assert_envelope(client.post(alias, body, format="json"), 412, code="human_input_form_submitted")


@pytest.mark.parametrize("overdue", ["node", "global"])
def test_an_overdue_form_is_412_expired_and_expires_on_read(
    client, alice, pause_run, settings, overdue
):
    paused = pause_run(alice, timeout_seconds=600)
    if overdue == "node":
        HumanInputForm.objects.filter(pk=paused.form.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    else:
        settings.HITL_GLOBAL_TIMEOUT_SECONDS = 60
        HumanInputForm.objects.filter(pk=paused.form.pk).update(
            created_at=timezone.now() - timedelta(seconds=61)
        )
    url = form_url(paused.run.app_id, paused.token)
    assert_envelope(client.get(url), 412, code="human_input_form_expired")
    form = HumanInputForm.objects.get(pk=paused.form.pk)
    assert form.status == ("timeout" if overdue == "node" else "expired")
    run = Run.objects.get(pk=paused.run.pk)
    assert run.resume_input["timed_out"] is True and run.resume_input["action_id"] == ""
    body = {"action": "approve", "inputs": {"comment": "late"}}
    assert_envelope(client.post(url, body, format="json"), 412, code="human_input_form_expired")


def test_an_overdue_form_submitted_before_any_read_is_412_expired(client, alice, pause_run):
    paused = pause_run(alice)
    HumanInputForm.objects.filter(pk=paused.form.pk).update(expires_at=timezone.now())
    response = client.post(
        form_url(paused.run.app_id, paused.token),
        {"action": "approve", "inputs": {"comment": "late"}},
        format="json",
    )
    assert_envelope(response, 412, code="human_input_form_expired")
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "timeout"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"action": "maybe", "inputs": {"comment": "x"}}, "action 'maybe'"),
        ({"action": "approve", "inputs": {}}, "comment is required"),
        ({"action": "approve", "inputs": {"comment": 5}}, "comment must be a string"),
    ],
)
def test_a_bad_answer_is_400_invalid_form_data_naming_the_field(
    client, alice, pause_run, body, named
):
    paused = pause_run(alice)
    response = client.post(form_url(paused.run.app_id, paused.token), body, format="json")
    error = assert_envelope(response, 400, code="invalid_form_data")
    assert named in error["message"]
    # Nothing changed: the form still takes a good answer.
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "waiting"
    assert Run.objects.get(pk=paused.run.pk).resume_input is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": {}}, "action"),
        ({"action": "approve"}, "inputs"),
        ({"action": 1, "inputs": {}}, "action"),
        ({"action": "a", "inputs": []}, "inputs"),
    ],
)
def test_a_malformed_body_is_422_naming_the_field(client, alice, pause_run, body, field):
    paused = pause_run(alice)
    response = client.post(form_url(paused.run.app_id, paused.token), body, format="json")
    error = assert_envelope(response, 422, code="invalid_param")
    assert error["message"].startswith(field)


def test_unknown_and_malformed_tokens_are_404(client, alice, pause_run):
    paused = pause_run(alice)
    app_id = paused.run.app_id
    for token in [token_mint(), "short", "x" * 200, "%00", paused.token.lower() + "A"]:
        assert_envelope(client.get(form_url(app_id, token)), 404)
        response = client.post(
            form_url(app_id, token), {"action": "approve", "inputs": {}}, format="json"
        )
        assert_envelope(response, 404)


def test_another_subjects_form_is_404_and_stays_untouched(
    api, token_for, alice, bob, charlie, pause_run
):
    paused = pause_run(alice)
    url = form_url(paused.run.app_id, paused.token)
    body = {"action": "approve", "inputs": {"comment": "mine now"}}
    # bob is a member of the app's workspace but did not start the run; charlie is an outsider.
    assert_envelope(api(token_for(bob)).get(url), 404, message="Form not found")
    assert_envelope(api(token_for(bob)).post(url, body, format="json"), 404)
    assert_envelope(api(token_for(charlie)).get(url), 404, message="app not found")
    assert_envelope(api(token_for(charlie)).post(url, body, format="json"), 404)
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "waiting"


def test_another_apps_form_is_404(client, alice, acme, pause_run):
    from apps_runtime.tests.factories import AppFactory

    other = AppFactory(workspace=acme, mode="workflow")
    paused = pause_run(alice)
    assert_envelope(client.get(form_url(other.id, paused.token)), 404, message="Form not found")
    response = client.post(
        form_url(other.id, paused.token), {"action": "approve", "inputs": {}}, format="json"
    )
    assert_envelope(response, 404)
    assert_envelope(client.get(form_url("not-a-uuid", paused.token)), 404, message="app not found")


def test_email_only_forms_have_no_api_token_and_the_page_token_is_refused(
    client, alice, pause_run, mailoutbox
):
    paused = pause_run(
        alice,
        delivery_methods=[
            {
                "id": "e",
                "enabled": True,
                "type": "email",
                "config": {"recipients": {"whole_workspace": True, "items": []}},
            }
        ],
    )
    data = paused.events[0]["data"]
    assert data["form_token"] is None
    assert data["display_in_ui"] is False
    assert data["approval_channels"] == ["email"]
    assert paused.form.api_token_digest is None and paused.form.page_token_digest


def test_scope_and_surface_are_checked_first(api, token_for, alice, pause_run, sso_token):
    paused = pause_run(alice)
    url = form_url(paused.run.app_id, paused.token)
    assert_envelope(api().get(url), 401)
    # An external subject may use forms (contract G2), but not of another caller's run.
    assert_envelope(api(sso_token).get(url), 404)


def test_an_external_sso_user_answers_the_form_of_its_own_run(api, pause_run, token_for):
    # Contract G2: an external subject runs permitted apps as an end user, and answers its forms.
    from accounts.models import AuditEvent
    from apps_runtime.models import App

    issuer = "https://idp.partner.example"
    paused = pause_run(("jo@partner.example", issuer))
    App.objects.filter(pk=paused.run.app_id).update(access_mode="sso_verified")
    mine = token_for(external_email="jo@partner.example", external_issuer=issuer)
    same_email_other_issuer = token_for(external_email="jo@partner.example")
    url = form_url(paused.run.app_id, paused.token)
    assert_envelope(api(same_email_other_issuer).get(url), 404)
    assert api(mine).get(url).status_code == 200
    answered = api(mine).post(
        url, {"action": "approve", "inputs": {"comment": "fine"}}, format="json"
    )
    assert answered.status_code == 200, answered.content
    form = HumanInputForm.objects.get(pk=paused.form.pk)
    assert form.status == "submitted" and form.submitted_by is None
    record = AuditEvent.objects.get(action="human_input_form.submitted")
    assert (record.actor_type, record.actor_email) == ("external_sso", "jo@partner.example")


def test_a_run_that_is_no_longer_paused_refuses_the_answer(client, alice, pause_run):
    paused = pause_run(alice)
    Run.objects.filter(pk=paused.run.pk).update(status=Run.Status.FAILED)
    response = client.post(
        form_url(paused.run.app_id, paused.token),
        {"action": "approve", "inputs": {"comment": "too late"}},
        format="json",
    )
    assert_envelope(response, 412, code="human_input_form_expired")
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "cancelled"
