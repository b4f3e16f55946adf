from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, serializers
from accounts.audit import Actor
from accounts.authentication import BearerAPIView
from accounts.services import access_token_revoke
from config.api import ratelimit
from config.api.schema import BEARER_ERRORS, error_responses
from config.api.wire import page_envelope, query_params
from workspaces.selectors import TOKEN_WITH_MEMBERSHIPS, memberships_of_caller
from workspaces.serializers import AccountIdentitySerializer, account_identity


class AccountResponseSerializer(AccountIdentitySerializer):
    # /account answers with both apps' data, so this view (and the device token response) is
    # where accounts and workspaces meet; accounts' other modules never import workspaces.
    subject_type = drf_serializers.CharField()
    subject_email = drf_serializers.CharField(allow_null=True)
    subject_issuer = drf_serializers.CharField(allow_null=True)


class AccountView(BearerAPIView):
    """The caller's identity: subject, account, workspaces and default workspace."""

    bearer_query = TOKEN_WITH_MEMBERSHIPS

    @extend_schema(
        operation_id="account_get",
        responses={200: AccountResponseSerializer, **error_responses(*BEARER_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        subject = self.subject
        ratelimit.enforce(
            "account-read",
            subject.key,
            limit=settings.OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE,
            window=60,
        )
        body: dict[str, Any] = {
            "subject_type": subject.subject_type,
            "subject_email": subject.email,
            "subject_issuer": subject.issuer,
            "account": None,
            "workspaces": [],
            "default_workspace_id": None,
        }
        if subject.account is not None:
            body.update(account_identity(subject.account, memberships_of_caller(subject)))
        return Response(body)


class SessionListView(BearerAPIView):
    """The caller's live sessions (issued tokens), newest first, with the current one flagged."""

    @extend_schema(
        operation_id="account_sessions_list",
        parameters=[serializers.SessionListQuerySerializer],
        responses={
            200: serializers.SessionListResponseSerializer,
            **error_responses(*BEARER_ERRORS, 422),
        },
    )
    def get(self, request: Request) -> Response:
        params = query_params(request, serializers.SessionListQuerySerializer)
        page, limit = params["page"], params["limit"]
        total, window = selectors.live_session_page(self.subject, page=page, limit=limit)
        current_id = self.subject.token.id
        rows = [serializers.session_row(row, current_id=current_id) for row in window]
        return Response(page_envelope(rows, page=page, limit=limit, total=total))


class SessionRevokeSelfView(BearerAPIView):
    """Revoke the token that authenticated this request (log out)."""

    @extend_schema(
        operation_id="account_sessions_revoke_self",
        responses={200: serializers.RevokeResponseSerializer, **error_responses(*BEARER_ERRORS)},
    )
    def delete(self, request: Request) -> Response:
        subject = self.subject
        access_token_revoke(subject.token, actor=Actor.of_subject(subject), reason="self revoke")
        return Response({"status": "revoked"})


class SessionRevokeView(BearerAPIView):
    """Revoke one of the caller's sessions by id; another subject's session is 404."""

    @extend_schema(
        operation_id="account_sessions_revoke",
        responses={
            200: serializers.RevokeResponseSerializer,
            **error_responses(*BEARER_ERRORS, 404),
        },
    )
    def delete(self, request: Request, session_id: str) -> Response:
        subject = self.subject
        token = selectors.session_get(subject, session_id)
        access_token_revoke(token, actor=Actor.of_subject(subject), reason="revoked by owner")
        return Response({"status": "revoked"})
