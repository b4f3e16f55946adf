"""``GET /apps/{app_id}/export`` (alias ``/dsl``): an app as DSL YAML for an editor, admin or
the owner of its workspace (as Dify: a ``normal`` member gets 403 ``no_permission``; an outsider
404).

Secrets (values of ``secret`` environment variables) are exported only for the workspace's owner
and admins: an ``include_secret=true`` from an editor is 403 rather than a silently blanked file.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from accounts.audit import audit_by_subject
from accounts.authentication import Subject
from apps_runtime.dsl import DslError, app_export_dsl
from apps_runtime.models import WORKFLOW_MODES, App, WorkflowVersion
from apps_runtime.selectors import app_get_for_editor
from config.api.errors import ApiError
from workspaces.models import SECRET_READER_ROLES

WORKFLOW_NOT_FOUND = "workflow not found"
SECRETS_FORBIDDEN = "include_secret needs the owner or admin role in the app's workspace"


def app_export_for_subject(
    subject: Subject,
    app_ref: str,
    *,
    include_secret: bool = False,
    workflow_id: uuid.UUID | None = None,
    ip: str = "",
) -> str:
    """The YAML text; 404 for an app (or workflow version) the caller cannot see."""
    assert subject.account is not None
    app, membership = app_get_for_editor(subject.account, app_ref)
    if include_secret and membership.role not in SECRET_READER_ROLES:
        raise ApiError(403, SECRETS_FORBIDDEN, code="forbidden")
    workflow = _workflow(app, workflow_id)
    try:
        text = app_export_dsl(app, workflow=workflow, include_secrets=include_secret)
    except DslError as exc:
        raise ApiError(409, exc.message, code="app_not_exportable") from None
    with transaction.atomic():
        audit_by_subject(
            "app.exported",
            subject,
            ip=ip,
            app_id=app.id,
            workspace_id=app.workspace_id,
            workflow_id=workflow.id if workflow is not None else None,
            include_secret=include_secret,
        )
    return text


def _workflow(app: App, workflow_id: uuid.UUID | None) -> WorkflowVersion | None:
    if workflow_id is None:
        return None
    if app.mode not in WORKFLOW_MODES:
        raise ApiError(404, WORKFLOW_NOT_FOUND, hint=f"a {app.mode} app has no workflow versions")
    version = WorkflowVersion.objects.filter(app=app, id=workflow_id).first()
    if version is None:
        raise ApiError(404, WORKFLOW_NOT_FOUND)
    return version
