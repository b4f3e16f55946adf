"""Request and response shapes of ``/oauth/device/*`` (contract §5.2-§5.6)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.serializers import AccountPayloadSerializer
from workspaces.serializers import WorkspacePayloadSerializer

CLIENT_ID_MAX = 64
DEVICE_LABEL_MAX = 255
USER_CODE_MAX = 64  # generous: people paste codes with spaces around them


class DeviceCodeSerializer(serializers.Serializer[Any]):
    client_id = serializers.CharField(max_length=CLIENT_ID_MAX)
    device_label = serializers.CharField(max_length=DEVICE_LABEL_MAX)


class DeviceCodeResponseSerializer(serializers.Serializer[Any]):
    device_code = serializers.CharField()
    user_code = serializers.CharField()
    verification_uri = serializers.URLField()
    expires_in = serializers.IntegerField()
    interval = serializers.IntegerField()


class DevicePollSerializer(serializers.Serializer[Any]):
    device_code = serializers.CharField(max_length=256)
    client_id = serializers.CharField(max_length=CLIENT_ID_MAX)


class DeviceTokenResponseSerializer(serializers.Serializer[Any]):
    token = serializers.CharField()
    expires_at = serializers.CharField()
    subject_type = serializers.CharField()
    account = AccountPayloadSerializer(allow_null=True)
    workspaces = WorkspacePayloadSerializer(many=True)
    default_workspace_id = serializers.CharField(allow_null=True)
    token_id = serializers.CharField()


class DeviceErrorResponseSerializer(serializers.Serializer[Any]):
    """RFC 8628 error body: ``{"error": "…"}``; ``slow_down`` also carries the new ``interval``."""

    error = serializers.CharField()
    interval = serializers.IntegerField(required=False)


class DeviceLookupQuerySerializer(serializers.Serializer[Any]):
    user_code = serializers.CharField(max_length=USER_CODE_MAX)


class DeviceLookupResponseSerializer(serializers.Serializer[Any]):
    valid = serializers.BooleanField()
    expires_in_remaining = serializers.IntegerField()
    client_id = serializers.CharField(allow_null=True)


class DeviceMutateSerializer(serializers.Serializer[Any]):
    user_code = serializers.CharField(max_length=USER_CODE_MAX)


class DeviceMutateResponseSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["approved", "denied"])
