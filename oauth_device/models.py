from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class DeviceGrant(models.Model):
    """One device-flow login (RFC 8628), from ``/oauth/device/code`` to the first successful poll.

    Only the SHA-256 digest of the device code is stored. The token is not stored at all: it is
    minted at the first successful poll after approval, in the transaction that consumes the grant.
    States: ``pending → approved | denied → consumed``; expiry is decided by ``expires_at``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        APPROVED = "approved", "approved"
        DENIED = "denied", "denied"
        CONSUMED = "consumed", "consumed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    device_code_hash = models.CharField(max_length=64, unique=True)
    user_code = models.CharField(max_length=9)
    client_id = models.CharField(max_length=64)
    device_label = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_ip = models.CharField(max_length=64, blank=True)
    created_user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_poll_at = models.DateTimeField(null=True, blank=True)
    interval = models.PositiveIntegerField()
    # The account whose approve or deny POST reached the grant first; it owns the decision.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="device_grants",
    )
    # ``approved`` or ``denied``; kept after the grant is consumed (``status`` then says consumed).
    decision = models.CharField(max_length=16, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_ip = models.CharField(max_length=64, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    token_id = models.UUIDField(null=True, blank=True)
    # Approved on the SSO branch: the provider and the verified email (``account`` stays None).
    identity_provider = models.ForeignKey(
        "accounts.IdentityProvider",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    external_email = models.EmailField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # A user code names at most one grant that can still be decided or delivered.
            models.UniqueConstraint(
                fields=["user_code"],
                condition=~Q(status="consumed"),
                name="uq_device_grant_open_user_code",
            )
        ]
        indexes = [
            models.Index(fields=["user_code"], name="device_grant_user_code_idx"),
            models.Index(fields=["created_ip", "status"], name="device_grant_ip_status_idx"),
            models.Index(fields=["expires_at"], name="device_grant_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.masked_user_code} {self.client_id} ({self.status})"

    @property
    def masked_user_code(self) -> str:
        # Enough to match a code a user reads out to support, far too little to use it.
        return f"••••-••{self.user_code[-2:]}" if self.user_code else "••••-••••"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (timezone.now() if now is None else now)
