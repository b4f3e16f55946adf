"""Reads of human-input forms, scoped to the caller.

The API finds a form by its API token, within the path's app, among the runs the caller started;
the page finds it by its page token for a member of the app's workspace. Everything that does not
match is the same 404 (decisions §5), whatever the reason.
"""

from __future__ import annotations

from accounts.models import Account
from apps_runtime.forms.models import HumanInputForm
from apps_runtime.forms.tokens import token_digest, token_well_formed
from apps_runtime.models import App
from apps_runtime.selectors import APP_NOT_FOUND
from config.api.errors import ApiError
from config.api.wire import parse_uuid
from workspaces.models import Workspace
from workspaces.selectors import is_member

FORM_NOT_FOUND = "Form not found"


def app_for_forms(account: Account, app_ref: str) -> App:
    """The app-scoped pipeline (contract §3.5 with decisions §5): an app outside the caller's
    workspaces is 404 before anything else about it is checked."""
    app_id = parse_uuid(app_ref)
    app = App.objects.select_related("workspace").filter(id=app_id).first() if app_id else None
    if app is None or not is_member(account, app.workspace_id):
        raise ApiError(404, APP_NOT_FOUND)
    if app.status != App.Status.NORMAL:
        raise ApiError(404, APP_NOT_FOUND)
    if not app.enable_api:
        raise ApiError(403, "service_api_disabled")
    if app.workspace.status == Workspace.Status.ARCHIVE:
        raise ApiError(403, "workspace unavailable")
    return app


def form_for_api(account: Account, app: App, token: str) -> HumanInputForm:
    """The form behind an API token of ``app``, if the caller started its run."""
    if not token_well_formed(token):
        raise ApiError(404, FORM_NOT_FOUND)
    form = (
        HumanInputForm.objects.select_related("run")
        .filter(api_token_digest=token_digest(token), app=app, run__account=account)
        .first()
    )
    if form is None:
        raise ApiError(404, FORM_NOT_FOUND)
    return form


def form_for_page(account: Account, token: str) -> HumanInputForm | None:
    """The form behind an emailed link, for a member of the app's workspace; else ``None``."""
    if not token_well_formed(token):
        return None
    form = (
        HumanInputForm.objects.select_related("app", "app__workspace", "run")
        .filter(page_token_digest=token_digest(token))
        .first()
    )
    if form is None or not is_member(account, form.app.workspace_id):
        return None
    return form
