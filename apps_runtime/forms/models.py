"""A human-input form: what a paused run asks a person, and the answer that resumes it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class HumanInputForm(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "waiting"
        SUBMITTED = "submitted", "submitted"
        # The node's own timeout passed: the run leaves through ``__timeout`` (or fails).
        TIMEOUT = "timeout", "timed out"
        # HITL_GLOBAL_TIMEOUT_SECONDS passed: handled like a timeout (issue 10, item 7).
        EXPIRED = "expired", "expired"
        # The run ended another way (failed from the admin, stopped, swept as stale).
        CANCELLED = "cancelled", "cancelled"

    class Delivery(models.TextChoices):
        WEBAPP = "webapp", "web app / API"
        EMAIL = "email", "email"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(
        "apps_runtime.App", on_delete=models.CASCADE, related_name="human_input_forms"
    )
    # Forms belong to the subject that started the run (decisions §5): lookups filter on the
    # run's account, so any other caller gets the same 404 as an unknown token.
    run = models.ForeignKey(
        "apps_runtime.Run", on_delete=models.CASCADE, related_name="human_input_forms"
    )
    node_id = models.CharField(max_length=255)
    node_title = models.CharField(max_length=255, blank=True, default="")
    # Rendered with variables resolved, ``{{#$output.x#}}`` kept for the person's answers.
    form_content = models.TextField(blank=True, default="")
    inputs = models.JSONField(default=list, blank=True)
    resolved_default_values = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list, blank=True)
    delivery_methods = models.JSONField(default=list, blank=True)
    email_recipients = models.JSONField(default=list, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 hex of the API token (webapp delivery) and of the emailed page link's token.
    api_token_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    page_token_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.WAITING, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The node's timeout (``timeout`` x ``timeout_unit`` from creation).
    expires_at = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    action_id = models.CharField(max_length=64, blank=True, default="")
    values = models.JSONField(default=dict, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_via = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        app_label = "apps_runtime"
        ordering = ["-created_at"]
        verbose_name = "human-input form"

    def __str__(self) -> str:
        return f"form {self.node_title or self.node_id} ({self.status})"

    @property
    def is_waiting(self) -> bool:
        return self.status == self.Status.WAITING

    def global_expiry(self) -> datetime | None:
        seconds = settings.HITL_GLOBAL_TIMEOUT_SECONDS
        return self.created_at + timedelta(seconds=seconds) if seconds > 0 else None

    def expiration_time(self) -> datetime:
        """When the form stops accepting answers: the node timeout or the global one."""
        cutoff = self.global_expiry()
        return min(self.expires_at, cutoff) if cutoff else self.expires_at

    def overdue_status(self, now: datetime | None = None) -> str | None:
        """``timeout``/``expired`` once a waiting form is past its expiry, else ``None``."""
        if not self.is_waiting:
            return None
        now = now or timezone.now()
        if now >= self.expires_at:
            return self.Status.TIMEOUT
        cutoff = self.global_expiry()
        if cutoff is not None and now >= cutoff:
            return self.Status.EXPIRED
        return None

    def action(self, action_id: str) -> dict[str, Any] | None:
        return next((a for a in self.actions if a.get("id") == action_id), None)
