"""Routes of the DSL transfer (client.md §4.15): export now; import and dependency check below."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import Actor
from accounts.authentication import ACCOUNT, BearerAPIView
from apps_runtime.dsl import DslError
from apps_runtime.models import AppImport
from apps_runtime.selectors import (
    IMPORT_NOT_FOUND,
    app_get_for_editor,
    import_pending_for_account,
    import_workspace_for_editor,
)
from apps_runtime.transfer import imports, serializers
from apps_runtime.transfer.dependencies import app_leaked_dependencies
from apps_runtime.transfer.export import app_export_for_subject
from config.api.client_ip import client_ip
from config.api.errors import ApiError, serializer_error
from config.api.schema import BEARER_ERRORS, error_responses
from config.api.wire import query_params, uuid_or_404
from workspaces.selectors import WORKSPACE_NOT_FOUND

_APP_ID = OpenApiParameter("app_id", str, OpenApiParameter.PATH, description="the app's UUID")


class AppExportView(BearerAPIView):
    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="apps_export",
        summary="Export an app as DSL YAML",
        description=(
            "Editors, admins and the owner of the app's workspace may export it (a `normal` "
            "member gets 403 `no_permission`); `include_secret=true` needs the owner or admin "
            "role (403 otherwise). An app outside the caller's workspaces, or an "
            "unknown `workflow_id`, is 404; a malformed `workflow_id` is 422."
        ),
        parameters=[_APP_ID, serializers.ExportQuerySerializer],
        responses={
            200: serializers.ExportResponseSerializer,
            **error_responses(*BEARER_ERRORS, 403, 404, 409, 422),
        },
    )
    def get(self, request: Request, app_id: str) -> Response:
        params = query_params(request, serializers.ExportQuerySerializer, strict=False)
        text = app_export_for_subject(
            self.subject,
            app_id,
            include_secret=params["include_secret"],
            workflow_id=params.get("workflow_id"),
            ip=client_ip(request),
        )
        return Response({"data": text})


# -- import (client.md §4.15) ---------------------------------------------------------------------

_WORKSPACE_ID = OpenApiParameter(
    "workspace_id", str, OpenApiParameter.PATH, description="the workspace's UUID"
)
_IMPORT_ID = OpenApiParameter(
    "import_id", str, OpenApiParameter.PATH, description="the id of a pending import"
)
_IMPORT_RESPONSES = {
    200: OpenApiResponse(
        serializers.ImportResponseSerializer,
        description="`completed` or `completed-with-warnings`",
    ),
    202: OpenApiResponse(
        serializers.ImportResponseSerializer,
        description="`pending`: the file's DSL version is newer than ours (or of another major "
        "version); confirm within `DSL_IMPORT_PENDING_SECONDS`",
    ),
    400: OpenApiResponse(
        serializers.FailedImportResponseSerializer,
        description="`failed`: the Import shape with `error` (and `message`), or a body that is "
        "not JSON (the error envelope)",
    ),
}


def _importer(view: BearerAPIView, request: Request) -> imports.Importer:
    subject = view.subject
    return imports.Importer(
        actor=Actor.of_subject(subject),
        account=subject.account,
        token_id=subject.token.id,
        ip=client_ip(request),
    )


def _import_response(record: AppImport) -> Response:
    statuses: dict[str, int] = {AppImport.Status.PENDING: 202, AppImport.Status.FAILED: 400}
    status = statuses.get(record.status, 200)
    return Response(serializers.import_payload(record), status=status)


class AppImportView(BearerAPIView):
    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="apps_import",
        summary="Import an app from DSL YAML (text or URL)",
        description=(
            "Editors, admins and the owner of the workspace only (403 `no_permission`). "
            "`yaml-url` is fetched server-side: private, loopback and link-local addresses are "
            "refused, also after a redirect, and the file is capped at `DSL_IMPORT_MAX_BYTES`. "
            "`app_id` overwrites the draft of a workflow / advanced-chat app of the same mode."
        ),
        parameters=[_WORKSPACE_ID],
        request=serializers.ImportRequestSerializer,
        responses={**_IMPORT_RESPONSES, **error_responses(*BEARER_ERRORS, 404, 422)},
    )
    def post(self, request: Request, workspace_id: str) -> Response:
        assert self.subject.account is not None
        workspace = import_workspace_for_editor(
            self.subject.account, uuid_or_404(workspace_id, WORKSPACE_NOT_FOUND)
        )
        data = request.data
        if not isinstance(data, dict):
            raise serializer_error({"non_field_errors": ["the body must be a JSON object"]})
        serializer = serializers.ImportRequestSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data
        importer = _importer(self, request)
        if body["mode"] == AppImport.Source.YAML_URL:
            try:
                text: str | bytes = imports.yaml_url_fetch(body["yaml_url"])
            except imports.YamlUrlError as exc:
                record = imports.dsl_import_failed(
                    workspace=workspace,
                    importer=importer,
                    error=str(exc),
                    source=AppImport.Source.YAML_URL,
                    yaml_url=body["yaml_url"],
                )
                return _import_response(record)
        else:
            text = body["yaml_content"]
        record = imports.dsl_import(
            workspace=workspace,
            yaml_text=text,
            importer=importer,
            options=serializer.options(),
            source=body["mode"],
            yaml_url=body.get("yaml_url") or "",
        )
        return _import_response(record)


class AppImportConfirmView(BearerAPIView):
    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="apps_import_confirm",
        summary="Confirm a pending import",
        description=(
            "Only the account that started the import, while it is pending and not expired; "
            "anything else is 404."
        ),
        parameters=[_WORKSPACE_ID, _IMPORT_ID],
        request=None,
        responses={
            200: _IMPORT_RESPONSES[200],
            400: _IMPORT_RESPONSES[400],
            **error_responses(*BEARER_ERRORS, 404),
        },
    )
    def post(self, request: Request, workspace_id: str, import_id: str) -> Response:
        assert self.subject.account is not None
        record = import_pending_for_account(
            self.subject.account,
            uuid_or_404(workspace_id, WORKSPACE_NOT_FOUND),
            uuid_or_404(import_id, IMPORT_NOT_FOUND),
        )
        try:
            record = imports.dsl_import_confirm(record=record, importer=_importer(self, request))
        except DslError:
            raise ApiError(404, IMPORT_NOT_FOUND) from None
        return _import_response(record)


class AppCheckDependenciesView(BearerAPIView):
    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="apps_check_dependencies",
        summary="What the app's DSL dependencies need that this server lacks",
        description=(
            "Model-provider plugins are served by the OpenAI-compatible client and never leak; "
            "any other plugin is listed. Editors, admins and the owner of the app's workspace "
            "(a `normal` member gets 403 `no_permission`); others 404."
        ),
        parameters=[_APP_ID],
        responses={
            200: serializers.CheckDependenciesResponseSerializer,
            **error_responses(*BEARER_ERRORS, 403, 404),
        },
    )
    def get(self, request: Request, app_id: str) -> Response:
        assert self.subject.account is not None
        app, _ = app_get_for_editor(self.subject.account, app_id)
        return Response({"leaked_dependencies": app_leaked_dependencies(app)})
