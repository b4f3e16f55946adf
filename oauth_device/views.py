"""``/openapi/v1/oauth/device/*``: thin views over the device-flow services (contract §5.2-§5.6).

Errors keep the RFC 8628 shape ``{"error": "…"}`` where the contract uses it; validation failures
are the 400 envelope with code ``invalid_param`` (decisions §4); limits are the 429 envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.urls import reverse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from config.api.client_ip import client_ip
from config.api.errors import ApiError, serializer_error
from config.api.parsers import BoundedJSONParser
from config.api.schema import ErrorResponseSerializer, error_responses
from config.public_url import public_url
from oauth_device import limits, selectors, services
from oauth_device.errors import (
    DeviceFlowError,
    GrantAlreadyResolved,
    GrantUnknown,
    PollError,
)
from oauth_device.serializers import (
    DeviceCodeResponseSerializer,
    DeviceCodeSerializer,
    DeviceErrorResponseSerializer,
    DeviceLookupQuerySerializer,
    DeviceLookupResponseSerializer,
    DeviceMutateResponseSerializer,
    DeviceMutateSerializer,
    DevicePollSerializer,
    DeviceTokenResponseSerializer,
    device_token_payload,
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_BAD_REQUEST = OpenApiResponse(
    PolymorphicProxySerializer(
        component_name="DeviceBadRequest",
        serializers=[DeviceErrorResponseSerializer, ErrorResponseSerializer],
        resource_type_field_name=None,
    ),
    description='RFC 8628 error `{"error": …}`, or the envelope with code `invalid_param`',
)
_DEVICE_ERROR = {
    404: OpenApiResponse(DeviceErrorResponseSerializer, description="`expired_or_unknown`"),
    409: OpenApiResponse(DeviceErrorResponseSerializer, description="`already_resolved`"),
}


def validated(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    """Validate input; a failure is the 400 envelope ``invalid_param`` naming the field."""
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    raise serializer_error(serializer.errors, status=400)


def rfc_error(
    status: int, error: DeviceFlowError, headers: Mapping[str, str] | None = None
) -> ApiError:
    body: dict[str, Any] = {"error": error.error}
    if error.interval is not None:
        body["interval"] = error.interval
    return ApiError(status, error.error, body=body, headers=headers)


def verification_uri(request: Request) -> str:
    return public_url(request, reverse("device"))


class AnonymousDeviceView(APIView):
    authentication_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    permission_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    # RFC 8628 clients send forms; difyctl sends JSON.
    parser_classes: ClassVar[list[type]] = [BoundedJSONParser, FormParser]  # type: ignore[misc]


class DeviceCodeView(AnonymousDeviceView):
    @extend_schema(
        operation_id="oauth_device_code",
        summary="Start a device login (RFC 8628 §3.1)",
        request=DeviceCodeSerializer,
        responses={
            200: DeviceCodeResponseSerializer,
            400: _BAD_REQUEST,
            **error_responses(429),
        },
    )
    def post(self, request: Request) -> Response:
        ip = client_ip(request)
        try:
            limits.code_creation_hit(ip)
            data = validated(DeviceCodeSerializer, request.data)
            created = services.device_grant_create(
                client_id=data["client_id"],
                device_label=data["device_label"],
                ip=ip,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except DeviceFlowError as exc:
            raise rfc_error(400, exc) from None
        grant = created.grant
        body = {
            "device_code": created.device_code,
            "user_code": grant.user_code,
            "verification_uri": verification_uri(request),
            "expires_in": settings.DEVICE_CODE_TTL_SECONDS,
            "interval": grant.interval,
        }
        return Response(body, headers=NO_STORE)


class DeviceTokenView(AnonymousDeviceView):
    @extend_schema(
        operation_id="oauth_device_token",
        summary="Poll for the token (RFC 8628 §3.4); the token is delivered exactly once",
        request=DevicePollSerializer,
        responses={200: DeviceTokenResponseSerializer, 400: _BAD_REQUEST},
    )
    def post(self, request: Request) -> Response:
        data = validated(DevicePollSerializer, request.data)
        try:
            minted = services.device_grant_poll(
                device_code=data["device_code"], client_id=data["client_id"], ip=client_ip(request)
            )
        except PollError as exc:
            raise rfc_error(400, exc, headers=NO_STORE) from None
        return Response(device_token_payload(minted), headers=NO_STORE)


class DeviceLookupView(AnonymousDeviceView):
    @extend_schema(
        operation_id="oauth_device_lookup",
        summary="Is this user code a pending login?",
        parameters=[DeviceLookupQuerySerializer],
        responses={200: DeviceLookupResponseSerializer, **error_responses(400, 429)},
    )
    def get(self, request: Request) -> Response:
        ip = client_ip(request)
        try:
            limits.lookup_hit(ip)
            data = validated(
                DeviceLookupQuerySerializer, {"user_code": request.GET.get("user_code")}
            )
            lookup = limits.code_attempt(
                None, ip, lambda: selectors.device_grant_lookup(data["user_code"])
            )
        except GrantUnknown:
            lookup = selectors.Lookup(valid=False, expires_in_remaining=0, client_id=None)
        return Response(DeviceLookupResponseSerializer(lookup).data)


class CsrfSessionAuthentication(SessionAuthentication):
    """A logged-in Django session, with Django's CSRF check (``X-CSRFToken``) always enforced."""

    def enforce_csrf(self, request: Request) -> None:
        try:
            super().enforce_csrf(request)
        except drf_exceptions.PermissionDenied:
            raise ApiError(403, "CSRF verification failed", code="csrf_failed") from None


class CsrfSessionScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = CsrfSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "A logged-in browser session; POSTs also need the `X-CSRFToken` header."
            " Bearer tokens are not accepted.",
        }


class DeviceDecisionView(APIView):
    """Approve or deny from a browser session. A bearer token is never looked at here."""

    authentication_classes: ClassVar[list[type]] = [CsrfSessionAuthentication]  # type: ignore[misc]
    permission_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    approve: ClassVar[bool] = True

    def decide(self, request: Request) -> Response:
        account = request.user
        if not isinstance(account, Account) or not account.is_active:
            raise ApiError(401, "Unauthorized.")
        data = validated(DeviceMutateSerializer, request.data)
        service = services.device_grant_approve if self.approve else services.device_grant_deny
        try:
            service(user_code=data["user_code"], account=account, ip=client_ip(request))
        except GrantUnknown as exc:
            raise rfc_error(404, exc) from None
        except GrantAlreadyResolved as exc:
            raise rfc_error(409, exc) from None
        return Response({"status": "approved" if self.approve else "denied"})


_DECISION_RESPONSES = {
    200: DeviceMutateResponseSerializer,
    **error_responses(400, 401, 403),
    **_DEVICE_ERROR,
    **error_responses(429),
}


class DeviceApproveView(DeviceDecisionView):
    approve = True

    @extend_schema(
        operation_id="oauth_device_approve",
        summary="Approve a pending device login (browser session + CSRF)",
        request=DeviceMutateSerializer,
        responses=_DECISION_RESPONSES,
    )
    def post(self, request: Request) -> Response:
        return self.decide(request)


class DeviceDenyView(DeviceDecisionView):
    approve = False

    @extend_schema(
        operation_id="oauth_device_deny",
        summary="Deny a pending device login (browser session + CSRF)",
        request=DeviceMutateSerializer,
        responses=_DECISION_RESPONSES,
    )
    def post(self, request: Request) -> Response:
        return self.decide(request)
