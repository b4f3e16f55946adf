"""``POST /apps/{app_id}/files/upload`` (alias ``POST /apps/{app_id}/files``): one file for a run.

The body size is checked before anything reads it: the ASGI guard (``config/body_limit.py``) gives
these routes ``UPLOAD_MAX_BYTES`` plus the multipart overhead instead of the JSON limit, and the
view refuses a declared ``Content-Length`` over that before parsing the multipart body.
"""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ACCOUNT, BearerAPIView
from apps_runtime.selectors import app_get_for_account
from config.api.client_ip import client_ip
from config.api.errors import ApiError
from config.api.middleware import request_body_limit
from config.api.parsers import CheckedMultiPartParser
from config.api.schema import BEARER_ERRORS, error_responses
from uploads import serializers
from uploads.services import too_large, upload_file_create

_APP_ID = OpenApiParameter("app_id", str, OpenApiParameter.PATH, description="the app's UUID")


class FileUploadView(BearerAPIView):
    subjects = frozenset({ACCOUNT})
    parser_classes: ClassVar[list[type]] = [CheckedMultiPartParser]  # type: ignore[misc]

    @extend_schema(
        operation_id="apps_files_upload",
        summary="Upload a file for a run input",
        description=(
            "Multipart with one part named `file`. Over `UPLOAD_MAX_BYTES` is 413, a file type "
            "outside `UPLOAD_ALLOWED_EXTENSIONS` 415. The file belongs to the uploader: only they "
            "can use its id in a run. Unused uploads are deleted after "
            "`UPLOAD_RETENTION_SECONDS`."
        ),
        parameters=[_APP_ID],
        request={"multipart/form-data": serializers.UploadRequestSerializer},
        responses={
            201: serializers.UploadResponseSerializer,
            **error_responses(*BEARER_ERRORS, 400, 404, 413, 415, 422),
        },
    )
    def post(self, request: Request, app_id: str) -> Response:
        assert self.subject.account is not None
        app = app_get_for_account(self.subject.account, app_id)
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > request_body_limit(
            request.method or "", request.path
        ):
            raise too_large()
        files = request.FILES.getlist("file")
        if len(files) != 1:
            raise ApiError(
                422,
                "file: send exactly one file part named file",
                code="invalid_param",
                details=[{"type": "missing", "loc": ["file"], "msg": "exactly one file part"}],
            )
        upload = upload_file_create(self.subject, app, files[0], ip=client_ip(request))
        return Response(serializers.upload_payload(upload), status=201)
