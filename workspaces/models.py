from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Workspace(models.Model):
    class Status(models.TextChoices):
        NORMAL = "normal", "normal"
        ARCHIVE = "archive", "archive"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NORMAL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


class GrantedMembershipManager(models.Manager["Membership"]):
    """Memberships that grant access: every read of "is this account a member" goes through here,
    so an invitation still waiting for its invitee (``pending``) can never be read as access."""

    def get_queryset(self) -> models.QuerySet[Membership]:
        return super().get_queryset().filter(pending=False)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "owner"
        ADMIN = "admin", "admin"
        EDITOR = "editor", "editor"
        NORMAL = "normal", "normal"
        DATASET_OPERATOR = "dataset_operator", "dataset operator"

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.NORMAL)
    current = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Invited, not yet granted: the invitee has not used this workspace's link (a pending
    # account), or the account was activated through another workspace's link and has not
    # confirmed its address yet. Listed as a pending member; gives no access.
    pending = models.BooleanField(default=False)

    objects = GrantedMembershipManager()
    # Granted and pending rows: the member routes (list, role, removal) and invitations only.
    with_pending: models.Manager[Membership] = models.Manager()

    class Meta:
        default_manager_name = "objects"
        ordering = ["workspace__created_at", "workspace_id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "account"], name="uq_membership"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(current=True), name="uq_membership_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} in {self.workspace} ({self.role})"


class Invitation(models.Model):
    """An emailed-style invitation link for a pending account: single use, expiring.

    Only the SHA-256 digest of the link's token is stored; the link itself is shown once, to the
    member who invited.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    role = models.CharField(max_length=32, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation of {self.account} to {self.workspace}"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class AddressConfirmation(models.Model):
    """A link mailed to an account's address (never shown to an inviter): using it, signed in as
    the account, proves the address and grants the account's pending invitations."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="address_confirmations"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"address confirmation of {self.account}"


# Who may do what in a workspace, as Dify's console decides it.
MEMBER_MANAGER_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})
APP_EDITOR_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.EDITOR})
# Roles that may see secret values (export with ``include_secret``).
SECRET_READER_ROLES = MEMBER_MANAGER_ROLES
# Roles a member can be given through the API; ``owner`` is never handed out this way.
ASSIGNABLE_ROLES: tuple[str, ...] = (
    Membership.Role.NORMAL.value,
    Membership.Role.EDITOR.value,
    Membership.Role.ADMIN.value,
)
