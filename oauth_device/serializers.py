"""Request and response shapes of ``/oauth/device/*`` (contract §5.2-§5.6)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.services import MintedToken
from config.api.wire import iso_z
from workspaces.selectors import memberships_for_account
from workspaces.serializers import AccountIdentitySerializer, account_identity

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


class DeviceTokenResponseSerializer(AccountIdentitySerializer):
    token = serializers.CharField()
    expires_at = serializers.CharField()
    subject_type = serializers.CharField()
    token_id = serializers.CharField()


def device_token_payload(minted: MintedToken) -> dict[str, Any]:
    """The token response of a device login: the token once, with who it is for."""
    account = minted.token.account
    assert account is not None  # a device login always mints for an account
    return {
        "token": minted.raw,
        "expires_at": iso_z(minted.token.expires_at),
        "subject_type": minted.token.subject_type,
        **account_identity(account, list(memberships_for_account(account))),
        "token_id": str(minted.token.id),
    }


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
