"""Workspace members: invite, change a role, remove, accept an invitation (issue 12 item 3).

Role rules, as Dify's console: the owner and admins manage members; nobody changes or removes the
owner; nobody changes their own role or removes themselves. An email without an account gets a
*pending* account (no password, cannot log in) and a single-use, expiring invitation link to the
``/invite/<token>`` page, where the invitee sets a password. Removing a member takes effect on their
next request: every API check reads the membership from the database.

Each write is one transaction with an audit record; invitation tokens never reach a log or the
audit details.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import Actor, audit_by_subject, audit_record
from accounts.authentication import Subject
from accounts.models import Account
from config.api.errors import ApiError
from workspaces.models import (
    ASSIGNABLE_ROLES,
    MEMBER_MANAGER_ROLES,
    Invitation,
    Membership,
    Workspace,
)
from workspaces.selectors import WORKSPACE_NOT_FOUND

MEMBER_NOT_FOUND = "member not found"
NO_PERMISSION = "only the workspace owner or an admin may manage members"


class InvitationInvalid(Exception):
    """The link is unknown, used, expired, or its membership was removed."""


@dataclass(frozen=True)
class InviteResult:
    membership: Membership
    token: str | None  # the raw invitation token, for a pending account only


def invitation_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _caller_membership(subject: Subject, workspace_id: uuid.UUID, *, lock: bool) -> Membership:
    assert subject.account is not None
    rows = Membership.objects.filter(account=subject.account, workspace_id=workspace_id)
    if lock:
        rows = rows.select_for_update()
    membership = rows.select_related("workspace").first()
    if membership is None:
        raise ApiError(404, WORKSPACE_NOT_FOUND)
    return membership


def _manager(subject: Subject, workspace_id: uuid.UUID) -> Membership:
    membership = _caller_membership(subject, workspace_id, lock=True)
    if membership.role not in MEMBER_MANAGER_ROLES:
        raise ApiError(403, NO_PERMISSION, code="no_permission")
    if membership.workspace.status != Workspace.Status.NORMAL:
        raise ApiError(403, "the workspace is archived", code="workspace_archived")
    return membership


def _target(workspace_id: uuid.UUID, member_id: uuid.UUID) -> Membership:
    target = (
        Membership.objects.select_for_update()
        .filter(workspace_id=workspace_id, account_id=member_id)
        .select_related("account")
        .first()
    )
    if target is None:
        raise ApiError(404, MEMBER_NOT_FOUND)
    return target


def member_invite(
    subject: Subject, workspace_id: uuid.UUID, *, email: str, role: str, ip: str = ""
) -> InviteResult:
    """Add ``email`` to the workspace with ``role``; a new email gets a pending account."""
    if role not in ASSIGNABLE_ROLES:
        raise ApiError(422, f"role must be one of: {', '.join(ASSIGNABLE_ROLES)}")
    email = email.strip().lower()
    now = timezone.now()
    try:
        with transaction.atomic():
            manager = _manager(subject, workspace_id)
            account = Account.objects.filter(email__iexact=email).first()
            created = account is None
            if account is None:
                account = Account.objects.create_user(
                    email, None, name=email.split("@", 1)[0], status=Account.Status.PENDING
                )
            elif account.status == Account.Status.DISABLED:
                raise ApiError(409, "this account is disabled", code="account_disabled")
            if Membership.objects.filter(workspace_id=workspace_id, account=account).exists():
                raise ApiError(
                    409, "this email is already a member of the workspace", code="member_exists"
                )
            membership = Membership.objects.create(
                workspace=manager.workspace, account=account, role=role, current=False
            )
            token: str | None = None
            if account.status == Account.Status.PENDING:
                token = secrets.token_urlsafe(32)
                Invitation.objects.create(
                    workspace=manager.workspace,
                    account=account,
                    invited_by=subject.account,
                    role=role,
                    token_hash=invitation_digest(token),
                    created_at=now,
                    expires_at=now + timedelta(seconds=settings.MEMBER_INVITATION_TTL_SECONDS),
                )
            audit_by_subject(
                "member.invited",
                subject,
                ip=ip,
                workspace_id=workspace_id,
                member_id=account.id,
                member_email=account.email,
                role=role,
                new_account=created,
            )
    except IntegrityError:
        # A concurrent invite of the same email won the race.
        raise ApiError(
            409, "this email is already a member of the workspace", code="member_exists"
        ) from None
    membership.account = account
    return InviteResult(membership=membership, token=token)


def member_set_role(
    subject: Subject, workspace_id: uuid.UUID, member_id: uuid.UUID, *, role: str, ip: str = ""
) -> Membership:
    if role not in ASSIGNABLE_ROLES:
        raise ApiError(422, f"role must be one of: {', '.join(ASSIGNABLE_ROLES)}")
    with transaction.atomic():
        manager = _manager(subject, workspace_id)
        target = _target(workspace_id, member_id)
        if target.pk == manager.pk:
            raise ApiError(403, "you cannot change your own role", code="cannot_operate_self")
        if target.role == Membership.Role.OWNER:
            raise ApiError(403, "the owner's role cannot be changed", code="cannot_operate_owner")
        before = target.role
        if before != role:
            Membership.objects.filter(pk=target.pk).update(role=role)
            target.role = role
            audit_by_subject(
                "member.role_changed",
                subject,
                ip=ip,
                workspace_id=workspace_id,
                member_id=member_id,
                before=before,
                after=role,
            )
    return target


def member_remove(
    subject: Subject, workspace_id: uuid.UUID, member_id: uuid.UUID, *, ip: str = ""
) -> None:
    with transaction.atomic():
        manager = _manager(subject, workspace_id)
        target = _target(workspace_id, member_id)
        if target.pk == manager.pk:
            raise ApiError(403, "you cannot remove yourself", code="cannot_operate_self")
        if target.role == Membership.Role.OWNER:
            raise ApiError(403, "the owner cannot be removed", code="cannot_operate_owner")
        target.delete()
        # An unused link must not bring the removed member back.
        Invitation.objects.filter(
            workspace_id=workspace_id, account_id=member_id, accepted_at__isnull=True
        ).delete()
        audit_by_subject(
            "member.removed",
            subject,
            ip=ip,
            workspace_id=workspace_id,
            member_id=member_id,
            member_email=target.account.email,
            role=target.role,
        )


def invitation_get(raw: str) -> Invitation:
    """The live invitation behind a link; InvitationInvalid otherwise (nothing is consumed)."""
    return _live_invitation(raw, lock=False)


def _live_invitation(raw: str, *, lock: bool) -> Invitation:
    if not raw or len(raw) > 128:
        raise InvitationInvalid
    digest = invitation_digest(raw)
    rows = Invitation.objects.filter(token_hash=digest)
    if lock:
        rows = rows.select_for_update()
    invitation = rows.select_related("account", "workspace").first()
    if invitation is None or not hmac.compare_digest(invitation.token_hash, digest):
        raise InvitationInvalid
    if invitation.accepted_at is not None or invitation.expires_at <= timezone.now():
        raise InvitationInvalid
    if invitation.account.status != Account.Status.PENDING:
        raise InvitationInvalid
    if not Membership.objects.filter(
        workspace_id=invitation.workspace_id, account_id=invitation.account_id
    ).exists():
        raise InvitationInvalid
    return invitation


def invitation_accept(raw: str, *, password: str, name: str = "", ip: str = "") -> Account:
    """Set the pending account's password and activate it; every link of the account is used up.

    The caller validates the password first (Django's validators).
    """
    now = timezone.now()
    with transaction.atomic():
        invitation = _live_invitation(raw, lock=True)
        account = invitation.account
        account.set_password(password)
        account.status = Account.Status.ACTIVE
        if name.strip():
            account.name = name.strip()[:255]
        account.save(update_fields=["password", "status", "name"])
        Invitation.objects.filter(account=account, accepted_at__isnull=True).update(accepted_at=now)
        if not Membership.objects.filter(account=account, current=True).exists():
            Membership.objects.filter(account=account, workspace_id=invitation.workspace_id).update(
                current=True
            )
        audit_record(
            "invitation.accepted",
            actor=Actor.of_account(account),
            account=account,
            ip=ip,
            workspace_id=invitation.workspace_id,
            invitation_id=invitation.id,
        )
    return account
