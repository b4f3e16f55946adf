"""Request and response shapes of the DSL transfer routes (client.md §4.15)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps_runtime.models import AppImport
from apps_runtime.transfer.imports import ImportOptions


class ExportQuerySerializer(serializers.Serializer[Any]):
    include_secret = serializers.BooleanField(
        required=False,
        default=False,
        help_text="export the values of secret environment variables (owner and admin only)",
    )
    workflow_id = serializers.UUIDField(
        required=False,
        error_messages={"invalid": "must be a UUID"},
        help_text="a workflow version of the app (default: the draft, else the published one)",
    )


class ExportResponseSerializer(serializers.Serializer[Any]):
    data = serializers.CharField(help_text="the app as Dify DSL YAML")  # type: ignore[assignment]


class ImportRequestSerializer(serializers.Serializer[Any]):
    mode = serializers.ChoiceField(
        choices=AppImport.Source.values,
        error_messages={"invalid_choice": "must be one of: yaml-content, yaml-url"},
    )
    yaml_content = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="with yaml-content"
    )
    # Not a URLField: Django's validator refuses some spellings of a host (``0x7f.1``) that the
    # outbound client must judge by what they resolve to, and answer as a failed import.
    yaml_url = serializers.CharField(
        required=False, max_length=2000, help_text="with yaml-url: an http(s) URL of the file"
    )
    name = serializers.CharField(required=False, allow_null=True, max_length=255)
    description = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=4000
    )
    icon_type = serializers.ChoiceField(
        choices=["emoji", "image", "link"], required=False, allow_null=True
    )
    icon = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    icon_background = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=32
    )
    app_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="overwrite this workflow / advanced-chat app of the workspace (same mode)",
    )

    def validate_yaml_url(self, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")) or len(value) < 10:
            raise serializers.ValidationError("must be an http:// or https:// URL")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["mode"] == AppImport.Source.YAML_CONTENT and not attrs.get("yaml_content"):
            raise serializers.ValidationError({"yaml_content": "required with mode yaml-content"})
        if attrs["mode"] == AppImport.Source.YAML_URL and not attrs.get("yaml_url"):
            raise serializers.ValidationError({"yaml_url": "required with mode yaml-url"})
        return attrs

    def options(self) -> ImportOptions:
        data = self.validated_data
        return ImportOptions(
            name=data.get("name") or None,
            description=data.get("description"),
            icon_type=data.get("icon_type"),
            icon=data.get("icon"),
            icon_background=data.get("icon_background"),
            app_id=data.get("app_id"),
        )


class ImportResponseSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=AppImport.Status.choices)
    app_id = serializers.UUIDField(allow_null=True)
    app_mode = serializers.CharField(allow_null=True)
    current_dsl_version = serializers.CharField()
    imported_dsl_version = serializers.CharField()
    error = serializers.CharField(help_text="why it failed; empty otherwise")
    warnings = serializers.ListField(child=serializers.CharField())


class FailedImportResponseSerializer(ImportResponseSerializer):
    code = serializers.CharField(help_text="`dsl_import_failed`")
    message = serializers.CharField(help_text="the same text as `error`")


class LeakedDependencySerializer(serializers.Serializer[Any]):
    type = serializers.CharField(allow_null=True)
    value = serializers.DictField(allow_null=True)
    current_identifier = serializers.CharField(allow_null=True)


class CheckDependenciesResponseSerializer(serializers.Serializer[Any]):
    leaked_dependencies = LeakedDependencySerializer(many=True)


def import_payload(record: AppImport) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(record.id),
        "status": record.status,
        "app_id": str(record.app_id) if record.app_id else None,
        "app_mode": record.app_mode or None,
        "current_dsl_version": record.current_dsl_version,
        "imported_dsl_version": record.imported_dsl_version,
        "error": record.error,
        "warnings": list(record.warnings or []),
    }
    if record.status == AppImport.Status.FAILED:
        # A failed import answers 400 (as Dify's console); clients that read the error envelope
        # find the reason under ``message``.
        body.update(code="dsl_import_failed", message=record.error or "import failed")
    return body
