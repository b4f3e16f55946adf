from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ACCOUNT, BearerAPIView
from config.api.schema import BEARER_ERRORS, error_responses
from config.api.wire import query_params, uuid_or_404
from workspaces import selectors, serializers
from workspaces.services import workspace_switch


class _NoQuery(drf_serializers.Serializer):  # type: ignore[type-arg]
    """``/workspaces`` takes no query parameters (decisions §9)."""


class WorkspaceListView(BearerAPIView):
    """Every workspace the account is a member of, oldest first."""

    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="workspaces_list",
        responses={
            200: serializers.WorkspaceListResponseSerializer,
            **error_responses(*BEARER_ERRORS, 422),
        },
    )
    def get(self, request: Request) -> Response:
        query_params(request, _NoQuery)
        assert self.subject.account is not None
        rows = [
            serializers.workspace_summary(m)
            for m in selectors.memberships_for_account(self.subject.account)
        ]
        total = len(rows)
        return Response(
            {
                "workspaces": rows,
                "data": rows,
                "page": 1,
                "limit": total,
                "total": total,
                "has_more": False,
            }
        )


class WorkspaceDetailView(BearerAPIView):
    """One workspace of the account; a non-member gets 404."""

    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="workspaces_get",
        responses={
            200: serializers.WorkspaceDetailResponseSerializer,
            **error_responses(*BEARER_ERRORS, 404),
        },
    )
    def get(self, request: Request, workspace_id: str) -> Response:
        assert self.subject.account is not None
        membership = selectors.membership_get(
            self.subject.account, uuid_or_404(workspace_id, selectors.WORKSPACE_NOT_FOUND)
        )
        return Response(serializers.workspace_detail(membership))


class WorkspaceSwitchView(BearerAPIView):
    """Make a workspace the account's current one and answer its detail."""

    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="workspaces_switch",
        request=None,
        responses={
            200: serializers.WorkspaceDetailResponseSerializer,
            **error_responses(*BEARER_ERRORS, 404),
        },
    )
    def post(self, request: Request, workspace_id: str) -> Response:
        assert self.subject.account is not None
        membership = workspace_switch(
            self.subject.account, uuid_or_404(workspace_id, selectors.WORKSPACE_NOT_FOUND)
        )
        return Response(serializers.workspace_detail(membership))
