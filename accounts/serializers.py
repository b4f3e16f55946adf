from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Account
from config.api.wire import MAX_PAGE_LIMIT, iso_z


class AccountPayloadSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    email = serializers.CharField()
    name = serializers.CharField()


class SessionRowSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    prefix = serializers.CharField()
    client_id = serializers.CharField()
    device_label = serializers.CharField()
    created_at = serializers.CharField(allow_null=True)
    last_used_at = serializers.CharField(allow_null=True)
    expires_at = serializers.CharField(allow_null=True)
    current = serializers.BooleanField()


class SessionListResponseSerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = SessionRowSerializer(many=True)  # type: ignore[assignment]


class SessionListQuerySerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    limit = serializers.IntegerField(
        required=False, default=100, min_value=1, max_value=MAX_PAGE_LIMIT
    )


class RevokeResponseSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()


def account_payload(account: Account) -> dict[str, Any]:
    return {"id": str(account.id), "email": account.email, "name": account.display_name()}


def session_row(row: tuple[Any, ...], *, current_id: Any) -> dict[str, Any]:
    """A row of ``selectors.live_session_page`` (SESSION_ROW_COLUMNS) on the wire."""
    token_id, prefix, client_id, device_label, created_at, last_used_at, expires_at = row
    return {
        "id": str(token_id),
        "prefix": prefix,
        "client_id": client_id,
        "device_label": device_label,
        "created_at": iso_z(created_at),
        "last_used_at": iso_z(last_used_at),
        "expires_at": iso_z(expires_at),
        "current": token_id == current_id,
    }
