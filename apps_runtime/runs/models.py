"""What a run leaves behind: the run itself (one ``task_id``), its node executions, and for the
chat family the conversation and its messages (with the provider's usage figures).

``Run.id`` is the stream's ``task_id``; workflow-family runs also carry a ``workflow_run_id``
(what ``/events`` takes). Owned by the subject that started the run (decisions §5): anyone else
gets 404.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps_runtime.models import App, WorkflowVersion
from workspaces.models import Workspace


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="conversations")
    subject_type = models.CharField(max_length=32)
    subject_email = models.CharField(max_length=255)
    # An external SSO end user's identity provider issuer; "" for accounts.
    subject_issuer = models.CharField(max_length=255, blank=True, default="")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=255, blank=True, default="")
    # Values of the app's conversation variables (advanced-chat ``conversation.*``).
    variables = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "apps_runtime"
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["app", "account"], name="conversation_owner_idx")]

    def __str__(self) -> str:
        return self.name or str(self.id)


class Run(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "running"
        PAUSED = "paused", "paused"
        SUCCEEDED = "succeeded", "succeeded"
        PARTIAL_SUCCEEDED = "partial-succeeded", "partial succeeded"
        FAILED = "failed", "failed"
        STOPPED = "stopped", "stopped"

    ACTIVE = (Status.RUNNING, Status.PAUSED)

    id = models.UUIDField("task id", primary_key=True, default=uuid.uuid4, editable=False)
    workflow_run_id = models.UUIDField(null=True, blank=True, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="runs")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runs")
    mode = models.CharField(max_length=32)
    subject_type = models.CharField(max_length=32)
    subject_email = models.CharField(max_length=255)
    # An external SSO end user's identity provider issuer; "" for accounts.
    subject_issuer = models.CharField(max_length=255, blank=True, default="")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    workflow_version = models.ForeignKey(
        WorkflowVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    inputs = models.JSONField(default=dict, blank=True)
    query = models.TextField(blank=True, default="")
    files = models.JSONField(default=list, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    error_code = models.CharField(max_length=64, blank=True, default="")
    # The engine's saved state while paused (JSON); what a resume job continues from.
    state = models.JSONField(null=True, blank=True)
    # What the next resume job applies (a form submission or a timeout), written by whoever
    # submits the resume; cleared by the job.
    resume_input = models.JSONField(null=True, blank=True)
    # When resume_input was written and its job submitted; housekeeping submits the job again
    # when the run is still paused with it RUN_STALE_SECONDS later (a full queue, a lost process).
    resume_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    stop_requested_at = models.DateTimeField(null=True, blank=True)
    elapsed_time = models.FloatField(default=0.0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)

    class Meta:
        app_label = "apps_runtime"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"], name="run_stale_idx"),
            models.Index(fields=["app", "account"], name="run_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.app.name} run {self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class Message(models.Model):
    """One turn of a chat-family run: the query, the full answer, the provider's usage."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="message")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    query = models.TextField(blank=True, default="")
    inputs = models.JSONField(default=dict, blank=True)
    answer = models.TextField(blank=True, default="")
    # Agent apps: the steps that led to the answer (thought, tool, tool_input, observation).
    agent_thoughts = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=32, default=Run.Status.RUNNING)
    error = models.TextField(blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    latency = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        app_label = "apps_runtime"
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"message {self.id}"


class NodeExecution(models.Model):
    """One node's execution in a workflow-family run, as its ``node_finished`` reported it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="node_executions")
    index = models.PositiveIntegerField(default=0)
    node_id = models.CharField(max_length=255)
    node_type = models.CharField(max_length=64)
    title = models.CharField(max_length=255, blank=True, default="")
    predecessor_node_id = models.CharField(max_length=255, blank=True, default="")
    inputs = models.JSONField(null=True, blank=True)
    process_data = models.JSONField(null=True, blank=True)
    outputs = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=32, default="running")
    error = models.TextField(blank=True, default="")
    elapsed_time = models.FloatField(default=0.0)
    execution_metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "apps_runtime"
        ordering = ["run", "index", "created_at"]

    def __str__(self) -> str:
        return f"{self.title or self.node_id} ({self.status})"
