from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, serializers
from accounts.authentication import BearerAPIView
from accounts.services import access_token_revoke
from config.api import ratelimit
from config.api.schema import BEARER_ERRORS, error_responses
from config.api.wire import iso_z, page_envelope, page_rows, query_params


class AccountView(BearerAPIView):
    """The caller's identity: subject, account, workspaces and default workspace."""

    @extend_schema(
        operation_id="account_get",
        responses={200: serializers.AccountResponseSerializer, **error_responses(*BEARER_ERRORS)},
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
            body.update(selectors.account_identity(subject.account))
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
        sessions = selectors.live_sessions(self.subject)
        total = sessions.count()
        current_id = self.subject.token.id
        window = page_rows(sessions, page=page, limit=limit, total=total)
        rows = [
            {
                "id": str(token.id),
                "prefix": token.prefix,
                "client_id": token.client_id,
                "device_label": token.device_label,
                "created_at": iso_z(token.created_at),
                "last_used_at": iso_z(token.last_used_at),
                "expires_at": iso_z(token.expires_at),
                "current": token.id == current_id,
            }
            for token in window
        ]
        return Response(page_envelope(rows, page=page, limit=limit, total=total))


class SessionRevokeSelfView(BearerAPIView):
    """Revoke the token that authenticated this request (log out)."""

    @extend_schema(
        operation_id="account_sessions_revoke_self",
        responses={200: serializers.RevokeResponseSerializer, **error_responses(*BEARER_ERRORS)},
    )
    def delete(self, request: Request) -> Response:
        subject = self.subject
        access_token_revoke(
            subject.token,
            actor_type=subject.subject_type,
            actor_email=subject.email,
            reason="self revoke",
        )
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
        access_token_revoke(
            token,
            actor_type=subject.subject_type,
            actor_email=subject.email,
            reason="revoked by owner",
        )
        return Response({"status": "revoked"})
