"""Reads for running apps, scoped to the caller (decisions §5).

An app in a workspace the caller is not a member of is ``404 app not found``, checked before
anything else about it; a member meets the contract's 403s (service API off, archived workspace).
Runs and conversations belong to the subject that started them: anyone else gets 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q

from accounts.authentication import Subject
from apps_runtime.models import App
from apps_runtime.runs.models import Conversation, Message, Run
from apps_runtime.selectors import APP_NOT_FOUND, apps_permitted_external
from config.api.errors import ApiError
from config.api.wire import parse_uuid
from workspaces.models import Workspace
from workspaces.selectors import is_member

SERVICE_API_DISABLED = "service_api_disabled"
WORKSPACE_UNAVAILABLE = "workspace unavailable"
RUN_NOT_FOUND = "Workflow run not found"
TASK_NOT_FOUND = "task not found"
CONVERSATION_NOT_EXISTS = "Conversation Not Exists."


def app_get_for_run(subject: Subject, app_ref: str) -> App:
    """The app a run, events or stop call names (contract §3.5 step 4-6, decisions §5)."""
    app_id = parse_uuid(app_ref)
    if app_id is None:
        raise ApiError(404, APP_NOT_FOUND)
    related = ("workspace", "model_config", "published_workflow")
    if subject.account is None:
        # An external subject (contract G2): only a public / SSO-verified app of a workspace its
        # identity provider may see; every other app is the same 404.
        provider_id = subject.token.identity_provider_id
        found = apps_permitted_external(provider_id).select_related(*related).filter(id=app_id)
        external_app = found.first()
        if external_app is None:
            raise ApiError(404, APP_NOT_FOUND)
        return external_app
    app = App.objects.select_related(*related).filter(id=app_id).first()
    if app is None or not is_member(subject.account, app.workspace_id):
        raise ApiError(404, APP_NOT_FOUND)
    if app.status != App.Status.NORMAL:
        raise ApiError(404, APP_NOT_FOUND)
    if not app.enable_api:
        raise ApiError(403, SERVICE_API_DISABLED, code=SERVICE_API_DISABLED)
    if app.workspace.status != Workspace.Status.NORMAL:
        raise ApiError(403, WORKSPACE_UNAVAILABLE)
    return app


def owned_by(subject: Subject, prefix: str = "") -> Q:
    """Rows (a run, a conversation; ``prefix`` "run__" through a relation) this subject started.

    An external identity is its issuer and email: the same email from two identity providers
    never shares a run or a conversation."""
    if subject.account is not None:
        return Q(**{f"{prefix}account": subject.account})
    return Q(
        **{
            f"{prefix}subject_type": subject.subject_type,
            f"{prefix}subject_email": subject.email,
            f"{prefix}subject_issuer": subject.issuer or "",
            f"{prefix}account__isnull": True,
        }
    )


def run_get_for_subject(
    subject: Subject, app: App, ref: str, *, message: str = RUN_NOT_FOUND
) -> Run:
    """The caller's own run of ``app`` by ``task_id`` or ``workflow_run_id``; else 404."""
    run_id = parse_uuid(ref)
    if run_id is None:
        raise ApiError(404, message)
    run = (
        Run.objects.filter(owned_by(subject), app=app)
        .filter(Q(id=run_id) | Q(workflow_run_id=run_id))
        .select_related("app", "message", "account")
        .first()
    )
    if run is None:
        raise ApiError(404, message)
    return run


def conversation_get_for_subject(
    subject: Subject, app: App, conversation_id: uuid.UUID
) -> Conversation:
    conversation = Conversation.objects.filter(
        owned_by(subject), app=app, id=conversation_id
    ).first()
    if conversation is None:
        raise ApiError(404, CONVERSATION_NOT_EXISTS, code="not_found")
    return conversation


def conversation_history(
    conversation_id: uuid.UUID,
    *,
    before: uuid.UUID,
    limit: int | None,
    with_thoughts: bool = False,
) -> list[Any]:
    """Earlier finished turns of a conversation as (query, answer), oldest first; with
    ``with_thoughts`` as (query, answer, agent thoughts)."""
    fields = ("query", "answer", "agent_thoughts") if with_thoughts else ("query", "answer")
    turns = (
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(run_id=before)
        .filter(run__status__in=(Run.Status.SUCCEEDED, Run.Status.PARTIAL_SUCCEEDED))
        .order_by("-created_at")
        .values_list(*fields)
    )
    rows = list(turns[:limit] if limit is not None else turns)
    rows.reverse()
    return [tuple(row) for row in rows]
