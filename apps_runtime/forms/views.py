"""``GET``/``POST /apps/{app_id}/form/human_input/{form_token}`` and the later clients' aliases
``GET /apps/{app_id}/human-input-forms/{form_token}``, ``POST …/{form_token}:submit``.

Checks in order: bearer, surface, scope (the base view); the app (contract §3.5); the form (404
for an unknown or malformed token, another app's form, another caller's run); closed or overdue
(412, expiring an overdue form on the spot); the body (422); the answer (400 ``invalid_form_data``).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import Actor
from accounts.authentication import ACCOUNT, EXTERNAL, BearerAPIView, Subject
from apps_runtime.forms import errors, selectors, serializers, services
from apps_runtime.forms.models import HumanInputForm
from apps_runtime.runs.selectors import app_get_for_run
from config.api.errors import serializer_error
from config.api.schema import BEARER_ERRORS, error_responses

APPS_RUN = "apps:run"

_PARAMS = [
    OpenApiParameter("app_id", str, OpenApiParameter.PATH, description="the app's UUID"),
    OpenApiParameter(
        "form_token",
        str,
        OpenApiParameter.PATH,
        description="from human_input_required.data.form_token",
    ),
]


def _open_form(subject: Subject, app_id: str, form_token: str) -> HumanInputForm:
    """The caller's form, still answerable; 404 / 412 otherwise."""
    app = app_get_for_run(subject, app_id)
    form = selectors.form_for_api(subject, app, form_token)
    if form.is_waiting and not services.form_close_if_unanswerable(form):
        return form
    form.refresh_from_db()
    raise errors.form_closed_error(form)


class FormView(BearerAPIView):
    # External SSO subjects answer the forms of their own runs (contract G2, §5.19).
    subjects = frozenset({ACCOUNT, EXTERNAL})
    scope = APPS_RUN

    @extend_schema(
        operation_id="apps_human_input_form_get",
        summary="Read a paused run's human-input form",
        parameters=_PARAMS,
        responses={
            200: serializers.FormResponseSerializer,
            **error_responses(*BEARER_ERRORS, 404, 412),
        },
    )
    def get(self, request: Request, app_id: str, form_token: str) -> Response:
        form = _open_form(self.subject, app_id, form_token)
        return Response(serializers.form_payload(form))

    @extend_schema(
        operation_id="apps_human_input_form_submit",
        summary="Answer a human-input form; the run resumes",
        parameters=_PARAMS,
        request=serializers.FormSubmitSerializer,
        responses={
            200: serializers.EmptySerializer,
            **error_responses(*BEARER_ERRORS, 400, 404, 412, 413, 422),
        },
    )
    def post(self, request: Request, app_id: str, form_token: str) -> Response:
        form = _open_form(self.subject, app_id, form_token)
        body = serializers.FormSubmitSerializer(
            data=request.data if isinstance(request.data, dict) else {}
        )
        if not body.is_valid():
            raise serializer_error(body.errors)
        services.form_submit(
            form_id=form.id,
            action=body.validated_data["action"],
            values=body.validated_data["inputs"],
            account=self.subject.account,
            actor=Actor.of_subject(self.subject),
            via="api",
        )
        return Response({})


class FormReadView(FormView):
    """Only the read (the alias path of later clients takes no POST)."""

    http_method_names = ["get", "options"]


class FormSubmitView(FormView):
    """Only the submit (``…:submit``)."""

    http_method_names = ["post", "options"]
