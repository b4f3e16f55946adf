"""Email delivery and the form page it links to (issue 10 item 3), without a browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps_runtime.forms.models import HumanInputForm
from apps_runtime.runs.models import Run
from conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/forms/([A-Za-z0-9]+)")


def email_delivery(**config):
    return [{"id": "e", "enabled": True, "type": "email", "config": config}]


def emailed(pause_run, account, django_capture_on_commit_callbacks, **config):
    with django_capture_on_commit_callbacks(execute=True):
        paused = pause_run(account, delivery_methods=email_delivery(**config))
    return paused


def link_token(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def test_whole_workspace_gets_one_email_each_with_a_working_link(
    alice, bob, charlie, pause_run, django_capture_on_commit_callbacks, settings
):
    settings.FORM_LINK_BASE_URL = "https://dify.example.com"
    paused = emailed(
        pause_run,
        alice,
        django_capture_on_commit_callbacks,
        recipients={"whole_workspace": True, "items": []},
        subject="Review requested",
        body="Open {{#url#}} to answer.",
    )
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    message = mail.outbox[0]
    assert message.subject == "Review requested"
    assert message.body.startswith("Open https://dify.example.com/forms/")
    token = link_token(message)
    form = HumanInputForm.objects.get(pk=paused.form.pk)
    assert form.email_sent_at is not None
    assert form.email_recipients == ["alice@example.com", "bob@example.com"]
    # The link's token is not the API's, and is stored only as a digest.
    assert token not in str(HumanInputForm.objects.filter(pk=form.pk).values())


def test_named_recipients_members_by_id_or_email_and_externals(
    alice, bob, pause_run, django_capture_on_commit_callbacks
):
    emailed(
        pause_run,
        alice,
        django_capture_on_commit_callbacks,
        recipients={
            "whole_workspace": False,
            "items": [
                {"type": "member", "user_id": str(bob.id)},
                {"type": "external", "email": "auditor@partner.example"},
                {"type": "member", "user_id": "someone-from-another-dify"},
                {"type": "external", "email": "not an email"},
            ],
        },
    )
    assert sorted(m.to[0] for m in mail.outbox) == ["auditor@partner.example", "bob@example.com"]
    assert "Open the form:" in mail.outbox[0].body  # no {{#url#}}: the link is appended


def page(client, token):
    return client.get(f"/forms/{token}")


def test_a_member_answers_on_the_page_and_the_run_gets_the_answer(
    client, alice, bob, pause_run, django_capture_on_commit_callbacks
):
    paused = emailed(
        pause_run, alice, django_capture_on_commit_callbacks, recipients={"whole_workspace": True}
    )
    token = link_token(mail.outbox[0])
    anonymous = page(client, token)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]

    assert client.login(username="bob@example.com", password=TEST_PASSWORD)
    shown = page(client, token)
    assert shown.status_code == 200
    html = shown.content.decode()
    assert "Please review" in html and 'value="approve"' in html and "looks fine" in html
    # The answer's place in the text names the field by its label, not a raw [variable].
    assert "Please review (your answer in “Comment” below)" in html and "[comment]" not in html

    with django_capture_on_commit_callbacks() as callbacks:
        answered = client.post(f"/forms/{token}", {"action": "approve", "comment": "fine by me"})
    assert answered.status_code == 200, answered.content
    assert "Answer recorded" in answered.content.decode()
    assert len(callbacks) == 1
    form = HumanInputForm.objects.get(pk=paused.form.pk)
    assert (form.status, form.action_id, form.submitted_by, form.submitted_via) == (
        "submitted",
        "approve",
        bob,
        "page",
    )
    assert Run.objects.get(pk=paused.run.pk).resume_input["values"] == {"comment": "fine by me"}

    again = client.post(f"/forms/{token}", {"action": "reject", "comment": "changed my mind"})
    assert again.status_code == 412 and "Already answered" in again.content.decode()
    assert page(client, token).status_code == 412


def test_the_page_refuses_outsiders_unknown_tokens_and_api_tokens(
    client, alice, charlie, pause_run, django_capture_on_commit_callbacks
):
    emailed(
        pause_run, alice, django_capture_on_commit_callbacks, recipients={"whole_workspace": True}
    )
    token = link_token(mail.outbox[0])
    api_paused = pause_run(alice)
    assert client.login(username="charlie@example.com", password=TEST_PASSWORD)
    assert page(client, token).status_code == 404
    assert client.post(f"/forms/{token}", {"action": "approve"}).status_code == 404
    client.logout()
    assert client.login(username="alice@example.com", password=TEST_PASSWORD)
    assert page(client, api_paused.token).status_code == 404  # API tokens don't open the page
    assert page(client, "nope").status_code == 404


def test_a_bad_answer_on_the_page_shows_the_error_and_keeps_the_form_open(
    client, alice, pause_run, django_capture_on_commit_callbacks
):
    paused = emailed(
        pause_run, alice, django_capture_on_commit_callbacks, recipients={"whole_workspace": True}
    )
    token = link_token(mail.outbox[0])
    client.login(username="alice@example.com", password=TEST_PASSWORD)
    response = client.post(f"/forms/{token}", {"action": "launch"})
    assert response.status_code == 400
    assert "action &#x27;launch&#x27; is not one of" in response.content.decode()
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "waiting"


def test_an_overdue_form_page_says_expired(
    client, alice, pause_run, django_capture_on_commit_callbacks
):
    paused = emailed(
        pause_run, alice, django_capture_on_commit_callbacks, recipients={"whole_workspace": True}
    )
    token = link_token(mail.outbox[0])
    HumanInputForm.objects.filter(pk=paused.form.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    client.login(username="alice@example.com", password=TEST_PASSWORD)
    response = page(client, token)
    assert response.status_code == 412 and "Form expired" in response.content.decode()
    assert HumanInputForm.objects.get(pk=paused.form.pk).status == "timeout"


def test_the_page_of_a_stopped_runs_form_says_the_run_was_stopped(
    client, alice, pause_run, django_capture_on_commit_callbacks
):
    from accounts.audit import Actor
    from apps_runtime.runs.services import run_stop

    paused = emailed(
        pause_run, alice, django_capture_on_commit_callbacks, recipients={"whole_workspace": True}
    )
    token = link_token(mail.outbox[0])
    run_stop(run=paused.run, actor=Actor.system("test"))
    client.login(username="alice@example.com", password=TEST_PASSWORD)
    response = page(client, token)
    html = response.content.decode()
    assert response.status_code == 412 and "Run stopped" in html
    assert "its run was stopped" in html and "expired" not in html
