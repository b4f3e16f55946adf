from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

ACCOUNT_ISSUER = "dify:account"  # stored issuer for account subjects; never a URL, so no collision


class AccountManager(BaseUserManager["Account"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> Account:
        if not email:
            raise ValueError("email is required")
        account = self.model(email=self.normalize_email(email).lower(), **extra)
        account.set_password(password)
        account.save(using=self._db)
        return account

    def get_by_natural_key(self, username: str | None) -> Account:
        # Logins match the email whatever its case; emails are stored lower-case.
        return self.get(email__iexact=username)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> Account:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class Account(AbstractBaseUser, PermissionsMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        DISABLED = "disabled", "disabled"
        # Invited to a workspace by email, no password set yet: cannot log in or use tokens.
        PENDING = "pending", "pending (invited)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # False for an account whose password was set through a workspace invitation link, until it
    # confirms its address through a link mailed to it: whoever holds the link of one workspace
    # may not be the address's owner (issue 16, docs/decisions/16-invitations.md).
    email_confirmed = models.BooleanField(default=True)

    objects: ClassVar[AccountManager] = AccountManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="uq_account_email_ci"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == self.Status.ACTIVE

    def display_name(self) -> str:
        return display_name(self.name, self.email)


def display_name(name: str, email: str) -> str:
    """How an account is shown: its name, else the local part of its email (also for rows read
    as columns, without an Account instance)."""
    return name or email.split("@", 1)[0]


class IdentityProvider(models.Model):
    """An OpenID Connect provider whose users may sign in as external SSO subjects (issue 23).

    Configured by an operator in the admin. ``issuer`` is read from the discovery document and
    is the ``subject_issuer`` of the tokens its users get. ``client_secret`` is sealed at rest
    (config/crypto.py). Its users see the ``public`` / ``sso_verified`` apps of ``workspaces``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=64, unique=True, help_text="used in sign-in links")
    name = models.CharField(max_length=120, help_text='shown as "Continue with <name>"')
    discovery_url = models.URLField(
        max_length=500,
        help_text="the provider's OpenID configuration (…/.well-known/openid-configuration)",
    )
    issuer = models.CharField(max_length=255, blank=True, editable=False)
    client_id = models.CharField(max_length=255)
    client_secret = models.TextField(blank=True)
    allowed_email_domains = models.TextField(
        help_text="one domain per line; only verified emails of these domains may sign in"
    )
    workspaces = models.ManyToManyField(
        "workspaces.Workspace",
        blank=True,
        related_name="+",
        help_text="whose public and SSO-verified apps this provider's users may see and run",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def email_domains(self) -> list[str]:
        return [
            line.strip().lower().lstrip("@")
            for line in self.allowed_email_domains.replace(",", "\n").splitlines()
            if line.strip()
        ]

    def allows_email(self, email: str) -> bool:
        domain = email.rsplit("@", 1)[-1].lower() if "@" in email else ""
        return bool(domain) and domain in self.email_domains


class AccessToken(models.Model):
    """An issued bearer token ("session"). Only the SHA-256 digest of the secret is stored."""

    class SubjectType(models.TextChoices):
        ACCOUNT = "account", "account"
        EXTERNAL_SSO = "external_sso", "external SSO"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_type = models.CharField(max_length=16, choices=SubjectType.choices)
    subject_email = models.EmailField(max_length=255)
    subject_issuer = models.CharField(max_length=255)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="access_tokens"
    )
    client_id = models.CharField(max_length=64)
    device_label = models.CharField(max_length=255)
    prefix = models.CharField(max_length=8)
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The provider an external subject signed in with (the device flow's SSO branch); its
    # removal or disabling revokes the token. None for accounts and operator-issued tokens.
    identity_provider = models.ForeignKey(
        IdentityProvider,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="access_tokens",
    )

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_email", "subject_issuer", "client_id", "device_label"],
                condition=Q(revoked_at__isnull=True),
                name="uq_access_token_live_per_device",
            )
        ]
        indexes = [
            models.Index(fields=["account", "revoked_at"], name="access_token_account_idx"),
            # /account/sessions reads only rows that can be live (not revoked, digest kept): the
            # page in index order with a LIMIT, and ``total`` as an index-only range count on
            # expires_at (a count over the page index was costed above a sequential scan).
            models.Index(
                fields=["account", "-created_at", "id"],
                condition=Q(revoked_at__isnull=True, token_hash__isnull=False),
                name="access_token_live_page_idx",
            ),
            models.Index(
                fields=["account", "expires_at"],
                condition=Q(revoked_at__isnull=True, token_hash__isnull=False),
                name="access_token_live_count_idx",
            ),
            models.Index(fields=["subject_email", "client_id"], name="access_token_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.device_label} ({self.subject_email})"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "live"


class AuditEvent(models.Model):
    """Append-only record of security-relevant writes, with the acting subject."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    actor_type = models.CharField(max_length=32, blank=True)
    actor_email = models.CharField(max_length=255, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_id = models.UUIDField(null=True, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_email or '-'}"
