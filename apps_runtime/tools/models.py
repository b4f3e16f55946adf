"""Tool providers of a workspace and the audit of every tool call."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from workspaces.models import Workspace


class ToolProvider(models.Model):
    """A source of tools in one workspace. Credentials (an API key, MCP headers) are sealed with
    ``config.crypto`` and written only through ``tools.services``; ``tools`` caches the tool
    descriptions (parsed from the schema, listed from the MCP server, or the workflow's inputs)."""

    class Kind(models.TextChoices):
        API = "api", "OpenAPI schema"
        MCP = "mcp", "MCP server"
        WORKFLOW = "workflow", "Published workflow"

    class Auth(models.TextChoices):
        NONE = "none", "none"
        BEARER = "bearer", "Bearer token"
        API_KEY_HEADER = "api_key_header", "API key in a header"
        API_KEY_QUERY = "api_key_query", "API key in the query"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="tool_providers"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(
        max_length=255,
        blank=True,
        help_text="The provider name DSLs use (their provider_name); for a workflow, its tool "
        "name (default: the app's name).",
    )
    provider_id = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="Optional: the provider id DSLs name (Dify's provider id or MCP server id).",
    )
    description = models.TextField(blank=True, default="")
    schema = models.TextField(blank=True, default="", help_text="OpenAPI 3 schema (JSON or YAML).")
    server_url = models.URLField(
        max_length=2048,
        blank=True,
        default="",
        help_text="MCP: the server's URL. API: overrides the schema's first server URL.",
    )
    auth_type = models.CharField(max_length=32, choices=Auth.choices, default=Auth.NONE)
    auth_key_name = models.CharField(
        max_length=255, blank=True, default="", help_text="Header or query parameter of the key."
    )
    credentials = models.TextField(blank=True, default="", editable=False)
    workflow_app = models.ForeignKey(
        "apps_runtime.App",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Workflow providers: the published workflow app served as a tool.",
    )
    tools = models.JSONField(default=list, blank=True, editable=False)
    tools_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        app_label = "apps_runtime"
        ordering = ("workspace_id", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"], name="uq_tool_provider_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class ToolCallRecord(models.Model):
    """One tool call made by a run (or refused before it was made)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(
        "apps_runtime.Run", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=255)
    tool = models.CharField(max_length=255)
    arguments = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16)
    error = models.TextField(blank=True, default="")
    output_bytes = models.PositiveIntegerField(default=0)
    elapsed_time = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        app_label = "apps_runtime"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.provider}/{self.tool} ({self.status})"
