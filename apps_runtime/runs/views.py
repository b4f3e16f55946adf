"""``POST /apps/{app_id}/tasks/{task_id}/stop`` (alias ``…:stop``): contract §5.17, decisions §5.

Own runs only (by ``task_id`` or ``workflow_run_id``); anything else is 404. Idempotent: a stop of
a run that already ended answers success as well. ``result`` stays ``success`` (difyctl ignores the
body); ``status`` and ``message`` say what the stop did (decisions 22).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import Actor
from accounts.authentication import ACCOUNT, EXTERNAL, BearerAPIView
from apps_runtime.runs.models import Run
from apps_runtime.runs.prestream import APPS_RUN
from apps_runtime.runs.selectors import TASK_NOT_FOUND, app_get_for_run, run_get_for_subject
from apps_runtime.runs.services import run_stop
from config.api.client_ip import client_ip
from config.api.schema import BEARER_ERRORS, error_responses


class StopResponseSerializer(serializers.Serializer[dict[str, str]]):
    result = serializers.CharField()
    status = serializers.CharField(
        help_text="stopping, stopped, or the status it had finished with"
    )
    message = serializers.CharField()


def stop_answer(before: str) -> dict[str, str]:
    """What a stop did, from the run's status when it arrived."""
    if before == Run.Status.PAUSED:
        return {"result": "success", "status": "stopped", "message": "The paused run was stopped."}
    if before in Run.ACTIVE:
        return {
            "result": "success",
            "status": "stopping",
            "message": "Stop requested: the run ends at its next node or streamed chunk.",
        }
    return {
        "result": "success",
        "status": before,
        "message": f"The run had already finished ({before}); there was nothing to stop.",
    }


class TaskStopView(BearerAPIView):
    subjects = frozenset({ACCOUNT, EXTERNAL})  # external SSO subjects: contract G2
    scope = APPS_RUN

    @extend_schema(
        operation_id="app_task_stop",
        summary="Stop a run (by task_id or workflow_run_id)",
        request=None,
        parameters=[
            OpenApiParameter("app_id", str, OpenApiParameter.PATH),
            OpenApiParameter("task_id", str, OpenApiParameter.PATH),
        ],
        responses={
            200: OpenApiResponse(StopResponseSerializer, description="Stop requested"),
            **error_responses(*BEARER_ERRORS, 404),
        },
    )
    def post(self, request: Request, app_id: str, task_id: str) -> Response:
        app = app_get_for_run(self.subject, app_id)
        run = run_get_for_subject(self.subject, app, task_id, message=TASK_NOT_FOUND)
        before = run_stop(
            run=run,
            actor=Actor.of_subject(self.subject),
            subject=self.subject,
            ip=client_ip(request),
        )
        return Response(stop_answer(before))
