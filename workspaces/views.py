from __future__ import annotations

import uuid

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ACCOUNT, BearerAPIView
from config.api.client_ip import client_ip
from config.api.schema import BEARER_ERRORS, error_responses
from config.api.wire import body_params, page_envelope, page_rows, query_params, uuid_or_404
from config.public_url import public_url, site_origin
from workspaces import members, selectors, serializers
from workspaces.services import workspace_switch


class _NoQuery(drf_serializers.Serializer):  # type: ignore[type-arg]
    """``/workspaces`` takes no query parameters (decisions §9)."""


class WorkspaceListView(BearerAPIView):
    """Every workspace the account is a member of, oldest first."""

    subjects = frozenset({ACCOUNT})
    bearer_query = selectors.TOKEN_WITH_MEMBERSHIPS

    @extend_schema(
        operation_id="workspaces_list",
        responses={
            200: serializers.WorkspaceListResponseSerializer,
            **error_responses(*BEARER_ERRORS, 422),
        },
    )
    def get(self, request: Request) -> Response:
        query_params(request, _NoQuery)
        rows = [
            serializers.workspace_summary(m) for m in selectors.memberships_of_caller(self.subject)
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


# -- members (client.md §4.15) -------------------------------------------------------------------

_MEMBER_ID = OpenApiParameter(
    "member_id", str, OpenApiParameter.PATH, description="the member's account id"
)
_WORKSPACE_ID = OpenApiParameter(
    "workspace_id", str, OpenApiParameter.PATH, description="the workspace's UUID"
)
_MEMBER_WRITE_ERRORS = error_responses(*BEARER_ERRORS, 400, 404, 422)


def _invite_url(request: Request, token: str | None) -> str:
    return public_url(request, reverse("invite", args=[token]) if token else reverse("login"))


class MemberListView(BearerAPIView):
    """Members of a workspace: any member lists them; the owner and admins invite."""

    subjects = frozenset({ACCOUNT})

    @extend_schema(
        operation_id="workspace_members_list",
        summary="List the members of a workspace",
        parameters=[_WORKSPACE_ID, serializers.MemberListQuerySerializer],
        responses={
            200: serializers.MemberListResponseSerializer,
            **error_responses(*BEARER_ERRORS, 404, 422),
        },
    )
    def get(self, request: Request, workspace_id: str) -> Response:
        params = query_params(request, serializers.MemberListQuerySerializer, strict=False)
        assert self.subject.account is not None
        rows = selectors.member_rows(
            self.subject.account, uuid_or_404(workspace_id, selectors.WORKSPACE_NOT_FOUND)
        )
        total = rows.count()
        page = page_rows(rows, page=params["page"], limit=params["limit"], total=total)
        data = [serializers.member_row(m, caller_id=self.subject.account.id) for m in page]
        return Response(
            page_envelope(data, page=params["page"], limit=params["limit"], total=total)
        )

    @extend_schema(
        operation_id="workspace_members_invite",
        summary="Invite a member by email",
        description=(
            "Owner and admins only (403 `no_permission`). An email without an account gets a "
            "pending account and `invite_url`, a single-use link (valid "
            "`MEMBER_INVITATION_TTL_SECONDS`) to a page where they set a password. An account "
            "activated through another workspace's link that has not confirmed its address gets "
            "a pending membership and a confirmation mail. Inviting a still-pending member again "
            "renews the invitation; 409 when the email is already a granted member."
        ),
        parameters=[_WORKSPACE_ID],
        request=serializers.MemberInviteRequestSerializer,
        responses={
            201: serializers.MemberInviteResponseSerializer,
            **error_responses(*BEARER_ERRORS, 400, 404, 409, 422),
        },
    )
    def post(self, request: Request, workspace_id: str) -> Response:
        body = body_params(request, serializers.MemberInviteRequestSerializer)
        result = members.member_invite(
            self.subject,
            uuid_or_404(workspace_id, selectors.WORKSPACE_NOT_FOUND),
            email=body["email"],
            role=body["role"],
            ip=client_ip(request),
            link_base=site_origin(request),
        )
        membership = result.membership
        return Response(
            {
                "result": "success",
                "member_id": str(membership.account_id),
                "email": membership.account.email,
                "role": membership.role,
                "tenant_id": str(membership.workspace_id),
                "invite_url": _invite_url(request, result.token),
            },
            status=201,
        )


def _ids(workspace_id: str, member_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    return (
        uuid_or_404(workspace_id, selectors.WORKSPACE_NOT_FOUND),
        uuid_or_404(member_id, members.MEMBER_NOT_FOUND),
    )


class MemberRoleView(BearerAPIView):
    """``PUT /workspaces/{id}/members/{member_id}/role`` (early clients)."""

    subjects = frozenset({ACCOUNT})

    def _set_role(self, request: Request, workspace_id: str, member_id: str) -> Response:
        body = body_params(request, serializers.MemberRoleRequestSerializer)
        ws, member = _ids(workspace_id, member_id)
        membership = members.member_set_role(
            self.subject, ws, member, role=body["role"], ip=client_ip(request)
        )
        return Response(
            {"result": "success", "member_id": str(membership.account_id), "role": membership.role}
        )

    @extend_schema(
        operation_id="workspace_members_set_role",
        summary="Change a member's role",
        description=(
            "Owner and admins only (403 `no_permission`); nobody changes the owner's role "
            "(403 `cannot_operate_owner`) or their own (403 `cannot_operate_self`)."
        ),
        parameters=[_WORKSPACE_ID, _MEMBER_ID],
        request=serializers.MemberRoleRequestSerializer,
        responses={200: serializers.MemberResultResponseSerializer, **_MEMBER_WRITE_ERRORS},
    )
    def put(self, request: Request, workspace_id: str, member_id: str) -> Response:
        return self._set_role(request, workspace_id, member_id)


class MemberDetailView(MemberRoleView):
    """``PATCH`` (set the role, later clients) and ``DELETE`` (remove) of one member."""

    http_method_names = ["patch", "delete", "options"]

    @extend_schema(
        operation_id="workspace_members_update",
        summary="Change a member's role",
        description="As `PUT …/members/{member_id}/role`.",
        parameters=[_WORKSPACE_ID, _MEMBER_ID],
        request=serializers.MemberRoleRequestSerializer,
        responses={200: serializers.MemberResultResponseSerializer, **_MEMBER_WRITE_ERRORS},
    )
    def patch(self, request: Request, workspace_id: str, member_id: str) -> Response:
        return self._set_role(request, workspace_id, member_id)

    @extend_schema(
        operation_id="workspace_members_remove",
        summary="Remove a member",
        description=(
            "Owner and admins only (403 `no_permission`); nobody removes the owner "
            "(403 `cannot_operate_owner`) or themselves (403 `cannot_operate_self`). The removed "
            "member's tokens lose the workspace on their next request."
        ),
        parameters=[_WORKSPACE_ID, _MEMBER_ID],
        request=None,
        responses={200: serializers.MemberResultResponseSerializer, **_MEMBER_WRITE_ERRORS},
    )
    def delete(self, request: Request, workspace_id: str, member_id: str) -> Response:
        ws, member = _ids(workspace_id, member_id)
        members.member_remove(self.subject, ws, member, ip=client_ip(request))
        return Response({"result": "success", "member_id": str(member)})
