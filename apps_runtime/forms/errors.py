"""The form endpoints' domain errors (contract §2.1: 412s; issue 10: 400 ``invalid_form_data``)."""

from __future__ import annotations

from config.api.errors import ApiError

FORM_SUBMITTED = "human_input_form_submitted"
FORM_EXPIRED = "human_input_form_expired"
INVALID_FORM_DATA = "invalid_form_data"


def form_submitted_error() -> ApiError:
    return ApiError(412, "This form has already been submitted.", code=FORM_SUBMITTED)


def form_expired_error() -> ApiError:
    return ApiError(412, "This form has expired.", code=FORM_EXPIRED)


def invalid_form_data(message: str) -> ApiError:
    return ApiError(400, message, code=INVALID_FORM_DATA)
