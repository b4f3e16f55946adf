"""Query and response shapes of ``/apps*`` and ``/permitted-external-apps*``.

Response serializers document the wire (their names are the seed's component names); the payloads
themselves are built by the plain functions at the end of this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps_runtime import describe
from apps_runtime.dsl import app_blocking_nodes, app_unrunnable_message
from apps_runtime.models import App, AppMode
from apps_runtime.selectors import AppListItem
from config.api.wire import MAX_PAGE_LIMIT, iso_z

DESCRIBE_FIELDS = ("info", "parameters", "input_schema")
NAME_MAX_LENGTH = 200
TAG_MAX_LENGTH = 100
# How much of each unknown ``fields`` member an error message repeats.
_UNKNOWN_FIELD_ECHO = 40

_MODE_CHOICES = [mode.value for mode in AppMode]
# Filter spellings the client may send for a mode: Dify's console lists agent apps as ``agent``.
MODE_FILTER_ALIASES: dict[str, str] = {"agent": AppMode.AGENT_CHAT.value}
_MODE_FILTER_CHOICES = [*_MODE_CHOICES, *MODE_FILTER_ALIASES]
_MODE_ERRORS: dict[str, Any] = {
    "invalid_choice": f"must be one of: {', '.join(_MODE_FILTER_CHOICES)}"
}


# -- query -------------------------------------------------------------------------------------


class _PageQuerySerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    limit = serializers.IntegerField(
        required=False, default=20, min_value=1, max_value=MAX_PAGE_LIMIT
    )
    mode = serializers.ChoiceField(
        choices=_MODE_FILTER_CHOICES,
        required=False,
        allow_blank=True,
        error_messages=_MODE_ERRORS,
        help_text="an app mode; `agent` selects `agent-chat` apps",
    )
    name = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=NAME_MAX_LENGTH
    )

    def validate_mode(self, value: str) -> str:
        return MODE_FILTER_ALIASES.get(value, value)


class AppListQuerySerializer(_PageQuerySerializer):
    workspace_id = serializers.UUIDField(error_messages={"invalid": "must be a UUID"})
    tag = serializers.CharField(required=False, allow_blank=True, max_length=TAG_MAX_LENGTH)


class PermittedExternalAppsListQuerySerializer(_PageQuerySerializer):
    """Strict: ``workspace_id``, ``tag`` and anything else are 422."""


# The ``fields`` values the server accepts: members of DESCRIBE_FIELDS separated by commas, any
# spaces and empty members ignored (what validate_fields does), declared so in the schema.
_MEMBER = "(?:" + "|".join(DESCRIBE_FIELDS) + ")"
FIELDS_PATTERN = rf"^[\s,]*(?:{_MEMBER}\s*(?:,[\s,]*|$))*$"


@extend_schema_field({"type": "string", "pattern": FIELDS_PATTERN})
class DescribeFieldsField(serializers.CharField):
    pass


class _FieldsQuerySerializer(serializers.Serializer[Any]):
    # DRF moves declared fields off the class, so this does not shadow ``Serializer.fields``.
    fields = DescribeFieldsField(  # type: ignore[assignment]
        required=False,
        allow_blank=True,
        help_text="comma-separated subset of info, parameters, input_schema (default: all)",
    )

    def validate_fields(self, value: str) -> tuple[str, ...]:
        requested = [member.strip() for member in value.split(",") if member.strip()]
        unknown = sorted({m for m in requested if m not in DESCRIBE_FIELDS})
        if unknown:
            shown = [m[:_UNKNOWN_FIELD_ECHO] for m in unknown[:5]]
            raise serializers.ValidationError(
                f"unknown field(s): {shown}; allowed: {', '.join(DESCRIBE_FIELDS)}"
            )
        return tuple(f for f in DESCRIBE_FIELDS if f in requested) or DESCRIBE_FIELDS


class AppDescribeQuerySerializer(_FieldsQuerySerializer):
    workspace_id = serializers.UUIDField(
        required=False,
        error_messages={"invalid": "must be a UUID"},
        help_text="the workspace of a name-based lookup",
    )


class PermittedExternalAppDescribeQuerySerializer(_FieldsQuerySerializer):
    pass


# -- responses ---------------------------------------------------------------------------------


class TagItemSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()


class AppListRowSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    mode = serializers.ChoiceField(choices=_MODE_CHOICES)
    tags = TagItemSerializer(many=True)
    updated_at = serializers.CharField(allow_null=True)
    created_by_name = serializers.CharField(allow_null=True)
    workspace_id = serializers.UUIDField()
    workspace_name = serializers.CharField()


class AppListResponseSerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = AppListRowSerializer(many=True)  # type: ignore[assignment]


class PermittedExternalAppsListResponseSerializer(AppListResponseSerializer):
    pass


class BlockingNodeSerializer(serializers.Serializer[Any]):
    node_id = serializers.CharField(required=False, help_text="not shown to external subjects")
    node_type = serializers.CharField()
    title = serializers.CharField(required=False, help_text="not shown to external subjects")


class AppDescribeInfoSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    mode = serializers.ChoiceField(choices=_MODE_CHOICES)
    description = serializers.CharField()
    tags = TagItemSerializer(many=True)
    author = serializers.CharField(allow_null=True)
    updated_at = serializers.CharField(allow_null=True)
    service_api_enabled = serializers.BooleanField()
    is_agent = serializers.BooleanField()
    blocking_nodes = BlockingNodeSerializer(
        many=True,
        help_text="nodes of the published workflow this server cannot run (a run answers "
        "app_unavailable naming their types); empty when nothing blocks a run",
    )
    unavailable = serializers.CharField(
        required=False,
        help_text="present only when runs answer app_unavailable for the app's nodes: why, "
        "and what to install",
    )
    tool_providers = serializers.ListField(
        child=serializers.DictField(),
        help_text="tool providers the app uses: provider_type, provider_id, provider_name, tools,"
        " available (whether its workspace has it)",
    )


class AppDescribeResponseSerializer(serializers.Serializer[Any]):
    info = AppDescribeInfoSerializer(allow_null=True)
    parameters = serializers.DictField(
        allow_null=True, help_text="the Service API /parameters payload"
    )
    input_schema = serializers.DictField(
        allow_null=True, help_text="JSON Schema (draft 2020-12) of a run body"
    )


# -- payloads ----------------------------------------------------------------------------------


def _author_name(app: App) -> str | None:
    return app.author.display_name() if app.author is not None else None


def app_list_row(app: AppListItem, *, external: bool = False) -> dict[str, Any]:
    """A list row; external subjects see no workspace-internal tags or author names."""
    return {
        "id": str(app.id),
        "name": app.name,
        "description": app.description,
        "mode": app.mode,
        "tags": [] if external else [{"name": name} for name in app.tags],
        "updated_at": iso_z(app.updated_at),
        "created_by_name": None if external else app.author_name,
        "workspace_id": str(app.workspace_id),
        "workspace_name": app.workspace_name,
    }


def app_describe_info(
    app: App, *, external: bool = False, tag_names: Sequence[str] = ()
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": str(app.id),
        "name": app.name,
        "mode": app.mode,
        "description": app.description,
        "tags": [] if external else [{"name": name} for name in tag_names],
        "author": None if external else _author_name(app),
        "updated_at": iso_z(app.updated_at),
        "service_api_enabled": app.enable_api,
        "is_agent": app.mode in (AppMode.AGENT_CHAT, AppMode.ADVANCED_CHAT),
        "blocking_nodes": [
            {"node_type": node["node_type"]} if external else node
            for node in app_blocking_nodes(app)
        ],
        "tool_providers": [] if external else describe.app_tool_providers(app),
    }
    # Only when runs of the app answer app_unavailable for its nodes (e.g. the code sandbox is
    # not installed): the same message, naming what to install.
    problem = app_unrunnable_message(app)
    if problem is not None:
        info["unavailable"] = problem
    return info


def app_describe(
    app: App,
    fields: tuple[str, ...],
    *,
    external: bool = False,
    tag_names: Sequence[str] = (),
) -> dict[str, Any]:
    """Always the three keys; the blocks not asked for are ``null``. ``tag_names``: the app's
    tags (``selectors.app_tag_names``), shown in ``info`` to account subjects."""
    return {
        "info": app_describe_info(app, external=external, tag_names=tag_names)
        if "info" in fields
        else None,
        "parameters": describe.app_parameters(app) if "parameters" in fields else None,
        "input_schema": describe.app_input_schema(app) if "input_schema" in fields else None,
    }
