"""Per-workspace model-provider configurations (decisions §8)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from django.db import models
from django.utils import timezone

from workspaces.models import Workspace


def provider_name(provider: str) -> str:
    """The configuration key of a DSL provider: its last path segment
    (``langgenius/openai_api_compatible/openai_api_compatible`` → ``openai_api_compatible``)."""
    return provider.strip().strip("/").rsplit("/", 1)[-1]


class ProviderConfig(models.Model):
    """Where a workspace's apps reach one provider. ``api_key`` holds the key sealed with
    ``config.crypto`` (never plaintext); write it through ``providers.services`` only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="provider_configs"
    )
    provider = models.CharField(
        max_length=255,
        help_text="Last segment of the DSL provider, e.g. openai_api_compatible or openai.",
    )
    base_url = models.URLField(
        max_length=2048, help_text="OpenAI-compatible API root, e.g. https://api.openai.com/v1"
    )
    api_key = models.TextField(blank=True, default="", editable=False)
    model_names = models.JSONField(
        default=list, blank=True, help_text="Model names this provider serves (informational)."
    )
    is_default = models.BooleanField(
        default=False,
        help_text="Used for the workspace's apps whose provider has no configuration of its own.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        app_label = "apps_runtime"
        ordering = ("workspace_id", "provider")
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider"], name="uq_provider_config_per_workspace"
            ),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(is_default=True),
                name="uq_provider_config_one_default",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} ({self.workspace_id})"

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        # Saving a new default moves the flag (providers.services), so a form must not reject
        # a second default; the database constraint still guards against races.
        super().validate_constraints(exclude={*(exclude or ()), "is_default"})
