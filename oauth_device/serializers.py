"""Request and response shapes of ``/oauth/device/*`` (contract §5.2-§5.6)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.services import MintedToken
from config.api.wire import iso_z
from workspaces.selectors import memberships_for_account
from workspaces.serializers import AccountIdentitySerializer, account_identity

CLIENT_ID_MAX = 64
DEVICE_LABEL_MAX = 255
USER_CODE_MAX = 64  # generous: people paste codes with spaces around them
# What DRF's CharField accepts: some non-space character once trimmed, and no NUL.
NON_BLANK_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": USER_CODE_MAX, "pattern": NON_BLANK_TEXT}
)
class UserCodeField(serializers.CharField):
    """A typed user code: any text up to ``USER_CODE_MAX``; unknown codes are answered, not 400."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", USER_CODE_MAX)
        kwargs.setdefault("help_text", "the code shown by the CLI; case, spaces and dash optional")
        super().__init__(**kwargs)


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": DEVICE_LABEL_MAX, "pattern": NON_BLANK_TEXT}
)
class DeviceLabelField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", DEVICE_LABEL_MAX)
        super().__init__(**kwargs)


class KnownClientIdField(serializers.CharField):
    """A client id; ids outside ``OPENAPI_KNOWN_CLIENT_IDS`` get the RFC ``unsupported_client``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", CLIENT_ID_MAX)
        super().__init__(**kwargs)


class KnownClientIdSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """The schema names the allow-list the server enforces (read when the schema is built)."""

    target_class = KnownClientIdField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(settings.OPENAPI_KNOWN_CLIENT_IDS)}


class DeviceCodeSerializer(serializers.Serializer[Any]):
    client_id = KnownClientIdField()
    device_label = DeviceLabelField()


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
    if account is None:  # the SSO branch: an external subject (contract §5.3)
        return {
            "token": minted.raw,
            "expires_at": iso_z(minted.token.expires_at),
            "subject_type": minted.token.subject_type,
            "account": None,
            "workspaces": [],
            "default_workspace_id": None,
            "subject_email": minted.token.subject_email,
            "subject_issuer": minted.token.subject_issuer,
            "token_id": str(minted.token.id),
        }
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
    user_code = UserCodeField()


class DeviceLookupResponseSerializer(serializers.Serializer[Any]):
    valid = serializers.BooleanField()
    expires_in_remaining = serializers.IntegerField()
    client_id = serializers.CharField(allow_null=True)


class DeviceMutateSerializer(serializers.Serializer[Any]):
    user_code = UserCodeField()


class DeviceMutateResponseSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["approved", "denied"])
