"""The app catalog: apps, tags, prompt-app configurations and workflow versions.

Definitions are kept as the Dify DSL shapes them (JSON columns), so an export writes back every key
an import read, including keys the engine ignores.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from workspaces.models import Workspace


class AppMode(models.TextChoices):
    COMPLETION = "completion", "completion"
    WORKFLOW = "workflow", "workflow"
    CHAT = "chat", "chat"
    ADVANCED_CHAT = "advanced-chat", "advanced-chat"
    AGENT_CHAT = "agent-chat", "agent-chat"
    CHANNEL = "channel", "channel"
    RAG_PIPELINE = "rag-pipeline", "rag-pipeline"


WORKFLOW_MODES = frozenset({AppMode.WORKFLOW, AppMode.ADVANCED_CHAT})
CHAT_MODES = frozenset({AppMode.CHAT, AppMode.AGENT_CHAT, AppMode.ADVANCED_CHAT})
PROMPT_MODES = frozenset({AppMode.CHAT, AppMode.COMPLETION, AppMode.AGENT_CHAT})


class Tag(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="uq_tag_name")]

    def __str__(self) -> str:
        return self.name


class App(models.Model):
    class Status(models.TextChoices):
        NORMAL = "normal", "normal"
        ARCHIVED = "archived", "archived"

    class AccessMode(models.TextChoices):
        PUBLIC = "public", "public"
        SSO_VERIFIED = "sso_verified", "SSO verified"
        PRIVATE_ALL = "private_all", "private (all members)"
        PRIVATE = "private", "private"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    mode = models.CharField(max_length=32, choices=AppMode.choices)
    icon = models.CharField(max_length=255, blank=True, default="")
    icon_type = models.CharField(max_length=16, blank=True, default="emoji")
    icon_background = models.CharField(max_length=32, blank=True, default="#FFFFFF")
    enable_api = models.BooleanField("service API enabled", default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NORMAL)
    access_mode = models.CharField(
        max_length=16, choices=AccessMode.choices, default=AccessMode.PRIVATE_ALL
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authored_apps",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="apps")
    # The published workflow version a run uses by default (workflow / advanced-chat apps).
    published_workflow = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # DSL keys this service does not model (app block extras, dependencies, kind, version …),
    # written back verbatim on export.
    dsl_extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "status", "enable_api"], name="app_visible_idx"),
            # /apps: the servable apps of one workspace, newest first. The page is read in index
            # order with a LIMIT, and ``total`` is an index-only count of this workspace's entries.
            models.Index(
                fields=["workspace", "-updated_at", "-id"],
                condition=models.Q(enable_api=True, status="normal"),
                name="app_servable_page_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.mode})"


class AppModelConfig(models.Model):
    """The ``model_config`` block of a prompt-based app (chat, completion, agent-chat), verbatim."""

    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="model_config")
    config = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"model config of {self.app}"

    @property
    def pre_prompt(self) -> str:
        return str(self.config.get("pre_prompt") or "")

    @property
    def user_input_form(self) -> list[dict[str, Any]]:
        form = self.config.get("user_input_form")
        return form if isinstance(form, list) else []

    @property
    def model(self) -> dict[str, Any]:
        model = self.config.get("model")
        return model if isinstance(model, dict) else {}


class WorkflowVersion(models.Model):
    """A version of a workflow / advanced-chat app's ``workflow`` block: a draft or a published."""

    DRAFT = "draft"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="workflow_versions")
    # "draft" for the editable version, else a publication stamp.
    version = models.CharField(max_length=64, default=DRAFT)
    graph = models.JSONField(default=dict)
    features = models.JSONField(default=dict)
    environment_variables = models.JSONField(default=list)
    conversation_variables = models.JSONField(default=list)
    # Other keys of the DSL ``workflow`` block, kept for export.
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["app"], condition=models.Q(version="draft"), name="uq_workflow_one_draft"
            )
        ]

    def __str__(self) -> str:
        return f"{self.app.name} @ {self.label}"

    @property
    def is_draft(self) -> bool:
        return self.version == self.DRAFT

    @property
    def label(self) -> str:
        """How people name a version: "draft", or when it was published (UTC, to the second);
        ``version`` itself keeps Dify's microsecond stamp for export."""
        if self.is_draft or self.published_at is None:
            return self.version
        return self.published_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def start_variables(self) -> list[dict[str, Any]]:
        for node in (self.graph or {}).get("nodes") or []:
            data = node.get("data") or {}
            if data.get("type") == "start":
                variables = data.get("variables")
                return variables if isinstance(variables, list) else []
        return []


from apps_runtime.forms.models import HumanInputForm  # noqa: E402, F401
from apps_runtime.providers.models import ProviderConfig  # noqa: E402, F401
from apps_runtime.runs.models import Conversation, Message, NodeExecution, Run  # noqa: E402, F401
from apps_runtime.tools.models import ToolCallRecord, ToolProvider  # noqa: E402, F401


class AppImport(models.Model):
    """One DSL import over the API (or the command / admin): its outcome, and while ``pending``
    the YAML waiting for a confirm. The YAML is dropped once the import is decided."""

    class Status(models.TextChoices):
        COMPLETED = "completed", "completed"
        COMPLETED_WITH_WARNINGS = "completed-with-warnings", "completed with warnings"
        PENDING = "pending", "pending"
        FAILED = "failed", "failed"

    class Source(models.TextChoices):
        YAML_CONTENT = "yaml-content", "yaml-content"
        YAML_URL = "yaml-url", "yaml-url"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="app_imports")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="app_imports",
    )
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.FAILED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.YAML_CONTENT)
    yaml_url = models.CharField(max_length=2000, blank=True)
    yaml_content = models.TextField(blank=True)
    options = models.JSONField(default=dict, blank=True)
    app = models.ForeignKey(
        App, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports"
    )
    app_mode = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    imported_dsl_version = models.CharField(max_length=32, blank=True)
    current_dsl_version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.id} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
