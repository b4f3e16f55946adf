"""The form endpoints' domain errors (contract §2.1: 412s; issue 10: 400 ``invalid_form_data``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.api.errors import ApiError

if TYPE_CHECKING:
    from apps_runtime.forms.models import HumanInputForm

FORM_SUBMITTED = "human_input_form_submitted"
FORM_EXPIRED = "human_input_form_expired"
INVALID_FORM_DATA = "invalid_form_data"


def form_submitted_error() -> ApiError:
    return ApiError(412, "This form has already been submitted.", code=FORM_SUBMITTED)


def form_expired_error() -> ApiError:
    return ApiError(412, "This form has expired.", code=FORM_EXPIRED)


def run_ended_reason(form: HumanInputForm) -> str:
    """``"stopped"`` / ``"failed"`` when the form was cancelled because its run ended that way."""
    from apps_runtime.runs.models import Run

    if form.status != form.Status.CANCELLED:
        return ""
    status = Run.objects.filter(pk=form.run_id).values_list("status", flat=True).first()
    return status if status in (Run.Status.STOPPED, Run.Status.FAILED) else ""


def form_closed_error(form: HumanInputForm) -> ApiError:
    """The 412 for a form that cannot be answered, saying why (submitted, run stopped, expired)."""
    if form.status == form.Status.SUBMITTED:
        return form_submitted_error()
    reason = run_ended_reason(form)
    if reason:
        return ApiError(
            412, f"This form can no longer be answered: its run was {reason}.", code=FORM_EXPIRED
        )
    return form_expired_error()


def invalid_form_data(message: str) -> ApiError:
    return ApiError(400, message, code=INVALID_FORM_DATA)
