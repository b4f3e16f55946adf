"""Routes of the DSL transfer (client.md §4.15): export now; import and dependency check below."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ACCOUNT, BearerAPIView
from apps_runtime.transfer.export import app_export_for_subject
from config.api.client_ip import client_ip
from config.api.schema import BEARER_ERRORS, error_responses
from config.api.wire import query_params

_APP_ID = OpenApiParameter("app_id", str, OpenApiParameter.PATH, description="the app's UUID")


class ExportQuerySerializer(serializers.Serializer[Any]):
    include_secret = serializers.BooleanField(
        required=False,
        default=False,
        help_text="export the values of secret environment variables (owner and admin only)",
    )
    workflow_id = serializers.UUIDField(
        required=False,
        error_messages={"invalid": "must be a UUID"},
        help_text="a workflow version of the app (default: the draft, else the published one)",
    )


class ExportResponseSerializer(serializers.Serializer[Any]):
    data = serializers.CharField(help_text="the app as Dify DSL YAML")  # type: ignore[assignment]


class AppExportView(BearerAPIView):
    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="apps_export",
        summary="Export an app as DSL YAML",
        description=(
            "Any member of the app's workspace may export it; `include_secret=true` needs the "
            "owner or admin role (403 otherwise). An app outside the caller's workspaces, or an "
            "unknown `workflow_id`, is 404; a malformed `workflow_id` is 422."
        ),
        parameters=[_APP_ID, ExportQuerySerializer],
        responses={200: ExportResponseSerializer, **error_responses(*BEARER_ERRORS, 404, 409, 422)},
    )
    def get(self, request: Request, app_id: str) -> Response:
        params = query_params(request, ExportQuerySerializer, strict=False)
        text = app_export_for_subject(
            self.subject,
            app_id,
            include_secret=params["include_secret"],
            workflow_id=params.get("workflow_id"),
            ip=client_ip(request),
        )
        return Response({"data": text})
