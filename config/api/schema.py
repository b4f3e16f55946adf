"""OpenAPI documentation helpers: the error envelope component and the bearer security scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    loc = serializers.ListField(child=serializers.CharField())
    msg = serializers.CharField()


class ErrorResponseSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    status = serializers.IntegerField()
    hint = serializers.CharField(required=False)
    details = ErrorDetailSerializer(many=True, required=False)


class RateLimitedResponseSerializer(ErrorResponseSerializer):
    error = serializers.CharField(required=False)
    retry_after_ms = serializers.IntegerField(required=False)


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid, expired or revoked bearer token",
    403: "Wrong surface, missing scope or no access",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    422: "Validation failed",
    429: "Rate limited",
    503: "Service unavailable",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    out: dict[int, OpenApiResponse] = {}
    for status in statuses:
        serializer = RateLimitedResponseSerializer if status == 429 else ErrorResponseSerializer
        out[status] = OpenApiResponse(serializer, description=_DESCRIPTIONS.get(status, "Error"))
    return out


BEARER_ERRORS = (401, 403, 429)


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "accounts.authentication.BearerAuthentication"
    name = "Bearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer dfoa_…` (account) or `dfoe_…` (external SSO)",
        }


def add_bad_text_response(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Every operation may answer 422 for text it cannot store (``config.api.text``: a NUL or an
    unpaired surrogate in a JSON field, query parameter, form field or header), so each says so."""
    response = {
        "description": "Validation failed (the message names the field)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                operation.setdefault("responses", {}).setdefault("422", response)
    return result
