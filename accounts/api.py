"""The base class of every bearer-authenticated view: authentication, surface, then scope."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.authentication import BearerAuthentication, Subject, missing_bearer
from accounts.models import AccessToken
from config.api.errors import INSUFFICIENT_SCOPE_CHALLENGE, ApiError

logger = logging.getLogger("difyapi.audit")

ACCOUNT = AccessToken.SubjectType.ACCOUNT.value
EXTERNAL = AccessToken.SubjectType.EXTERNAL_SSO.value
CANONICAL_PATH = {
    ACCOUNT: "/openapi/v1/apps",
    EXTERNAL: "/openapi/v1/permitted-external-apps",
}


class SubjectAPIView(APIView):
    # Authenticated by bearer token; ``subjects`` is the surface, ``scope`` the scope needed.
    # (A comment, not a docstring: drf-spectacular would show it on every operation.)

    authentication_classes: ClassVar[list[type]] = [BearerAuthentication]  # type: ignore[misc]
    permission_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    subjects: ClassVar[frozenset[str]] = frozenset({ACCOUNT, EXTERNAL})
    scope: ClassVar[str | None] = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        subject = request.user
        if not isinstance(subject, Subject):
            raise missing_bearer()
        if subject.subject_type not in self.subjects:
            logger.info(
                "audit action=openapi.wrong_surface_denied subject_type=%s attempted_path=%s "
                "client_id=%s token_id=%s",
                subject.subject_type,
                request.path,
                subject.token.client_id,
                subject.token.id,
            )
            raise ApiError(
                403, f"wrong_surface (canonical: {CANONICAL_PATH[subject.subject_type]})"
            )
        if self.scope and not subject.has_scope(self.scope):
            raise ApiError(
                403,
                f"insufficient_scope: {self.scope}",
                headers={"WWW-Authenticate": INSUFFICIENT_SCOPE_CHALLENGE},
            )

    @property
    def subject(self) -> Subject:
        subject = self.request.user
        assert isinstance(subject, Subject)
        return subject
