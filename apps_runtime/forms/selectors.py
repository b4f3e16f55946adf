"""Reads of human-input forms, scoped to the caller.

The API finds a form by its API token, within the path's app, among the runs the caller started;
the page finds it by its page token for a member of the app's workspace. Everything that does not
match is the same 404 (decisions §5), whatever the reason.
"""

from __future__ import annotations

from accounts.authentication import Subject
from accounts.models import Account
from apps_runtime.forms.models import HumanInputForm
from apps_runtime.forms.tokens import token_digest, token_well_formed
from apps_runtime.models import App
from apps_runtime.runs.selectors import owned_by
from config.api.errors import ApiError
from workspaces.selectors import is_member

FORM_NOT_FOUND = "Form not found"


def form_for_api(subject: Subject, app: App, token: str) -> HumanInputForm:
    """The form behind an API token of ``app``, if the caller started its run."""
    if not token_well_formed(token):
        raise ApiError(404, FORM_NOT_FOUND)
    form = (
        HumanInputForm.objects.select_related("run")
        .filter(owned_by(subject, "run__"), api_token_digest=token_digest(token), app=app)
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
