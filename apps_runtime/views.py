"""``/apps``, ``/apps/{app_id}/describe`` (alias ``/apps/{app_id}``), ``/permitted-external-apps*``.

Thin views: parse the query, call one selector, shape the payload. Contract §5.13, §5.14, §5.20;
decisions §5 (404 for apps the caller cannot see).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ACCOUNT, EXTERNAL, BearerAPIView
from apps_runtime import selectors, serializers
from config.api.schema import BEARER_ERRORS, error_responses
from config.api.wire import page_envelope, query_params

APPS_READ = "apps:read"
APPS_READ_PERMITTED_EXTERNAL = "apps:read:permitted-external"

_APP_ID = OpenApiParameter(
    "app_id", str, OpenApiParameter.PATH, description="the app's UUID (or, with workspace_id, name)"
)
_EXTERNAL_APP_ID = OpenApiParameter(
    "app_id", str, OpenApiParameter.PATH, description="the app's UUID"
)


def _blank_to_none(params: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: params.get(name) or None for name in names}


def _page_response(page: selectors.AppPage, *, external: bool = False) -> Response:
    rows = [serializers.app_list_row(app, external=external) for app in page.apps]
    return Response(page_envelope(rows, page=page.page, limit=page.limit, total=page.total))


class AppListView(BearerAPIView):
    subjects = frozenset({ACCOUNT})
    scope = APPS_READ

    @extend_schema(
        operation_id="apps_list",
        summary="List the apps of a workspace",
        parameters=[serializers.AppListQuerySerializer],
        responses={
            200: serializers.AppListResponseSerializer,
            **error_responses(*BEARER_ERRORS, 422),
        },
    )
    def get(self, request: Request) -> Response:
        # Unknown query parameters are ignored here, as in the contract (§5.13).
        params = query_params(request, serializers.AppListQuerySerializer, strict=False)
        assert self.subject.account is not None
        page = selectors.app_page_for_account(
            self.subject.account,
            params["workspace_id"],
            page=params["page"],
            limit=params["limit"],
            **_blank_to_none(params, "mode", "name", "tag"),
        )
        return _page_response(page)


class AppDescribeView(BearerAPIView):
    subjects = frozenset({ACCOUNT})
    scope = APPS_READ

    @extend_schema(
        operation_id="apps_describe",
        summary="Describe an app: info, parameters and the run input schema",
        parameters=[_APP_ID, serializers.AppDescribeQuerySerializer],
        responses={
            200: serializers.AppDescribeResponseSerializer,
            **error_responses(*BEARER_ERRORS, 404, 409, 422),
        },
    )
    def get(self, request: Request, app_id: str) -> Response:
        params = query_params(request, serializers.AppDescribeQuerySerializer)
        assert self.subject.account is not None
        app = selectors.app_get_for_account(
            self.subject.account, app_id, workspace_id=params.get("workspace_id")
        )
        fields = params.get("fields") or serializers.DESCRIBE_FIELDS
        tag_names = selectors.app_tag_names(app) if "info" in fields else []
        return Response(serializers.app_describe(app, fields, tag_names=tag_names))


class PermittedExternalAppListView(BearerAPIView):
    subjects = frozenset({EXTERNAL})
    scope = APPS_READ_PERMITTED_EXTERNAL

    @extend_schema(
        operation_id="permitted_external_apps_list",
        summary="List the apps an external SSO subject may use",
        parameters=[serializers.PermittedExternalAppsListQuerySerializer],
        responses={
            200: serializers.PermittedExternalAppsListResponseSerializer,
            **error_responses(*BEARER_ERRORS, 422),
        },
    )
    def get(self, request: Request) -> Response:
        params = query_params(request, serializers.PermittedExternalAppsListQuerySerializer)
        page = selectors.app_page_permitted_external(
            page=params["page"],
            limit=params["limit"],
            provider_id=self.subject.token.identity_provider_id,
            **_blank_to_none(params, "mode", "name"),
        )
        return _page_response(page, external=True)


class PermittedExternalAppDescribeView(BearerAPIView):
    subjects = frozenset({EXTERNAL})
    scope = APPS_READ_PERMITTED_EXTERNAL

    @extend_schema(
        operation_id="permitted_external_apps_get",
        summary="Describe an app an external SSO subject may use",
        parameters=[_EXTERNAL_APP_ID, serializers.PermittedExternalAppDescribeQuerySerializer],
        responses={
            200: serializers.AppDescribeResponseSerializer,
            **error_responses(*BEARER_ERRORS, 404, 422),
        },
    )
    def get(self, request: Request, app_id: str) -> Response:
        params = query_params(request, serializers.PermittedExternalAppDescribeQuerySerializer)
        app = selectors.app_get_permitted_external(app_id, self.subject.token.identity_provider_id)
        fields = params.get("fields") or serializers.DESCRIBE_FIELDS
        return Response(serializers.app_describe(app, fields, external=True))
