"""Workspace members: invite, change a role, remove, accept an invitation (issue 12 item 3).

Role rules, as Dify's console: the owner and admins manage members; nobody changes or removes the
owner; nobody changes their own role or removes themselves. An email without an account gets a
*pending* account (no password, cannot log in) and a single-use, expiring invitation link to the
``/invite/<token>`` page, where the invitee sets a password. Removing a member takes effect on their
next request: every API check reads the membership from the database.

Invitations across workspaces (issue 16, docs/decisions/16-invitations.md): an invitation's
membership is ``pending`` (listed, no access) until it is granted. Using a workspace's link grants
that workspace only; the account has then not proven its address (``email_confirmed`` false), and
every other workspace's invitation, earlier or later, stays pending until the account, signed in,
opens a confirmation link mailed to its address (``/invite/confirm/<token>``; never shown to an
inviter). So whoever holds one workspace's link never gains another workspace's access.

Each write is one transaction with an audit record; invitation tokens never reach a log or the
audit details.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor, audit_by_subject, audit_record
from accounts.authentication import Subject
from accounts.models import Account
from config.api.errors import ApiError
from config.public_url import link_base_url
from workspaces.models import (
    ASSIGNABLE_ROLES,
    MEMBER_MANAGER_ROLES,
    AddressConfirmation,
    Invitation,
    Membership,
    Workspace,
)
from workspaces.selectors import WORKSPACE_NOT_FOUND

logger = logging.getLogger("difyapi.members")

MEMBER_NOT_FOUND = "member not found"
NO_PERMISSION = "only the workspace owner or an admin may manage members"


class InvitationInvalid(Exception):
    """The link is unknown, used, expired, or its membership was removed."""


@dataclass(frozen=True)
class InviteResult:
    membership: Membership
    token: str | None  # the raw invitation token, for a pending account only


def _expiry(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.MEMBER_INVITATION_TTL_SECONDS)


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
        Membership.with_pending.select_for_update()
        .filter(workspace_id=workspace_id, account_id=member_id)
        .select_related("account")
        .first()
    )
    if target is None:
        raise ApiError(404, MEMBER_NOT_FOUND)
    return target


def member_invite(
    subject: Subject,
    workspace_id: uuid.UUID,
    *,
    email: str,
    role: str,
    ip: str = "",
    link_base: str = "",
) -> InviteResult:
    """Add ``email`` to the workspace with ``role``.

    A new email gets a pending account and a link for the inviter to pass on; an account that has
    not proven its address gets a pending membership and a confirmation link mailed to it; any
    other account joins at once. Inviting a member whose invitation is still pending again
    replaces that invitation (new link, new expiry, the new role). ``link_base`` is the site's
    origin for the mailed link.
    """
    return _invite_recorded(
        lambda: _manager(subject, workspace_id).workspace,
        subject.account,
        email=email,
        role=role,
        link_base=link_base,
        audit=lambda details: audit_by_subject("member.invited", subject, ip=ip, **details),
    )


def member_add(
    workspace: Workspace, *, email: str, role: str, actor: Actor, link_base: str = ""
) -> InviteResult:
    """``manage.py add_member``: the operator adds ``email`` with ``role``, by the same rules as
    an invitation (a new email gets a pending account and a link to pass on)."""
    return _invite_recorded(
        lambda: workspace,
        None,
        email=email,
        role=role,
        link_base=link_base,
        audit=lambda details: audit_record("member.invited", actor=actor, **details),
    )


def _invite_recorded(
    workspace_of: Callable[[], Workspace],
    inviter: Account | None,
    *,
    email: str,
    role: str,
    link_base: str,
    audit: Callable[[dict[str, Any]], object],
) -> InviteResult:
    """One transaction: the workspace (``workspace_of`` checks who may invite), the invitation,
    its audit record."""
    if role not in ASSIGNABLE_ROLES:
        raise ApiError(422, f"role must be one of: {', '.join(ASSIGNABLE_ROLES)}")
    try:
        with transaction.atomic():
            workspace = workspace_of()
            result, created = _invite(
                workspace, inviter, email=email.strip().lower(), role=role, link_base=link_base
            )
            account = result.membership.account
            audit(
                {
                    "workspace_id": workspace.id,
                    "member_id": account.id,
                    "member_email": account.email,
                    "role": role,
                    "new_account": created,
                    "pending": result.membership.pending,
                }
            )
    except IntegrityError:
        # A concurrent invite of the same email won the race.
        raise ApiError(
            409, "this email is already a member of the workspace", code="member_exists"
        ) from None
    return result


def _invite(
    workspace: Workspace, inviter: Account | None, *, email: str, role: str, link_base: str
) -> tuple[InviteResult, bool]:
    """Inside a transaction: the membership (and invitation) for ``email``; True when the
    account was created."""
    now = timezone.now()
    workspace_id = workspace.id
    account = Account.objects.filter(email__iexact=email).first()
    created = account is None
    if account is None:
        account = Account.objects.create_user(
            email, None, name=email.split("@", 1)[0], status=Account.Status.PENDING
        )
    elif account.status == Account.Status.DISABLED:
        raise ApiError(409, "this account is disabled", code="account_disabled")
    waits = account.status == Account.Status.PENDING or not account.email_confirmed
    membership = (
        Membership.with_pending.select_for_update()
        .filter(workspace_id=workspace_id, account=account)
        .first()
    )
    if membership is not None and not membership.pending:
        raise ApiError(409, "this email is already a member of the workspace", code="member_exists")
    if membership is None:
        membership = Membership.objects.create(
            workspace=workspace,
            account=account,
            role=role,
            current=False,
            pending=waits,
        )
    else:
        # A re-invite: the earlier link dies, this one (and its role) counts.
        Invitation.objects.filter(
            workspace_id=workspace_id, account=account, accepted_at__isnull=True
        ).delete()
        membership.role, membership.pending = role, waits
        membership.save(update_fields=["role", "pending"])
    token: str | None = None
    if waits:
        raw = secrets.token_urlsafe(32)
        Invitation.objects.create(
            workspace=workspace,
            account=account,
            invited_by=inviter,
            role=role,
            token_hash=invitation_digest(raw),
            created_at=now,
            expires_at=_expiry(now),
        )
        if account.status == Account.Status.PENDING:
            token = raw
        else:
            # The account exists: only its address may let this workspace in.
            _mail_confirmation(account, link_base=link_base, now=now)
    membership.account = account
    return InviteResult(membership=membership, token=token), created


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
            Membership.with_pending.filter(pk=target.pk).update(role=role)
            Invitation.objects.filter(
                workspace_id=workspace_id, account_id=member_id, accepted_at__isnull=True
            ).update(role=role)
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


LinkRow = TypeVar("LinkRow", Invitation, AddressConfirmation)


def _by_link(rows: QuerySet[LinkRow], raw: str, *, lock: bool) -> LinkRow | None:
    """The row whose ``token_hash`` is the link's digest (locked for a write), or None."""
    if not raw or len(raw) > 128:
        return None
    digest = invitation_digest(raw)
    rows = rows.filter(token_hash=digest)
    if lock:
        rows = rows.select_for_update()
    row = rows.first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row


def _live_invitation(raw: str, *, lock: bool) -> Invitation:
    rows = Invitation.objects.select_related("account", "workspace")
    invitation = _by_link(rows, raw, lock=lock)
    if invitation is None:
        raise InvitationInvalid
    if invitation.accepted_at is not None or invitation.expires_at <= timezone.now():
        raise InvitationInvalid
    if invitation.account.status != Account.Status.PENDING:
        raise InvitationInvalid
    if not Membership.with_pending.filter(
        workspace_id=invitation.workspace_id, account_id=invitation.account_id
    ).exists():
        raise InvitationInvalid
    return invitation


def invitation_accept(
    raw: str, *, password: str, name: str = "", ip: str = "", link_base: str = ""
) -> Account:
    """Set the pending account's password and activate it, in the link's workspace only.

    The account's invitations from other workspaces stay pending; if there are any, a
    confirmation link is mailed to the address. The caller validates the password first
    (Django's validators).
    """
    now = timezone.now()
    with transaction.atomic():
        invitation = _live_invitation(raw, lock=True)
        account = invitation.account
        account.set_password(password)
        account.status = Account.Status.ACTIVE
        account.email_confirmed = False
        if name.strip():
            account.name = name.strip()[:255]
        account.save(update_fields=["password", "status", "name", "email_confirmed"])
        Invitation.objects.filter(pk=invitation.pk).update(accepted_at=now)
        _grant(account, [invitation.workspace_id])
        waiting = _live_pending_invitations(account, now).exists()
        if waiting:
            _mail_confirmation(account, link_base=link_base, now=now)
        audit_record(
            "invitation.accepted",
            actor=Actor.of_account(account),
            account=account,
            ip=ip,
            workspace_id=invitation.workspace_id,
            invitation_id=invitation.id,
            other_invitations_pending=waiting,
        )
    return account


def _grant(account: Account, workspace_ids: list[uuid.UUID]) -> None:
    """Turn the account's pending memberships of these workspaces into access; the first becomes
    the current workspace when the account has none."""
    Membership.with_pending.filter(account=account, workspace_id__in=workspace_ids).update(
        pending=False
    )
    if workspace_ids and not Membership.objects.filter(account=account, current=True).exists():
        Membership.objects.filter(account=account, workspace_id=workspace_ids[0]).update(
            current=True
        )


def _live_pending_invitations(account: Account, now: datetime) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        account=account,
        accepted_at__isnull=True,
        expires_at__gt=now,
        workspace__memberships__account=account,
        workspace__memberships__pending=True,
    ).select_related("workspace")


# -- confirming the address ------------------------------------------------------------------------


class ConfirmationInvalid(Exception):
    """The confirmation link is unknown, used or expired, or its account cannot log in."""


def _mail_confirmation(account: Account, *, link_base: str, now: datetime) -> None:
    """Mail a confirmation link to the account's address, once the transaction commits."""
    raw = secrets.token_urlsafe(32)
    AddressConfirmation.objects.create(
        account=account, token_hash=invitation_digest(raw), created_at=now, expires_at=_expiry(now)
    )
    link = (link_base or link_base_url()) + reverse("invite-confirm", args=[raw])
    body = (
        "You have been invited to a workspace on Dify API.\n\n"
        "To join it, sign in as this address and confirm it here:\n\n"
        f"{link}\n\n"
        "If you did not set up this account yourself, do not use the link: someone else may "
        "hold it, and confirming would let them into your invitations.\n"
    )
    email = account.email

    def send() -> None:
        try:
            send_mail("Confirm your email address", body, None, [email], fail_silently=False)
        except Exception:  # a mail outage must not undo the invitation
            logger.warning("confirmation mail to account %s failed", account.id, exc_info=True)

    transaction.on_commit(send)


def _live_confirmation(raw: str, *, lock: bool) -> AddressConfirmation:
    confirmation = _by_link(AddressConfirmation.objects.select_related("account"), raw, lock=lock)
    if confirmation is None:
        raise ConfirmationInvalid
    if confirmation.used_at is not None or confirmation.expires_at <= timezone.now():
        raise ConfirmationInvalid
    if confirmation.account.status != Account.Status.ACTIVE:
        raise ConfirmationInvalid
    return confirmation


def address_confirmation_get(raw: str) -> tuple[AddressConfirmation, list[Invitation]]:
    """The live confirmation behind a link and the invitations it would grant (nothing used)."""
    confirmation = _live_confirmation(raw, lock=False)
    return confirmation, list(_live_pending_invitations(confirmation.account, timezone.now()))


def address_confirm(raw: str, *, account: Account, ip: str = "") -> list[Invitation]:
    """The signed-in ``account`` proves its address with a mailed link: it is confirmed, and every
    invitation of it still live is granted (an expired one stays pending until re-invited).

    A link of another account is ConfirmationInvalid: the mailbox alone is not the account.
    """
    now = timezone.now()
    with transaction.atomic():
        confirmation = _live_confirmation(raw, lock=True)
        if confirmation.account_id != account.id:
            raise ConfirmationInvalid
        Account.objects.filter(pk=account.pk).update(email_confirmed=True)
        account.email_confirmed = True
        AddressConfirmation.objects.filter(account=account, used_at__isnull=True).update(
            used_at=now
        )
        granted = list(_live_pending_invitations(account, now).select_for_update(of=("self",)))
        Invitation.objects.filter(pk__in=[i.pk for i in granted]).update(accepted_at=now)
        _grant(account, [i.workspace_id for i in granted])
        audit_record(
            "account.email_confirmed",
            actor=Actor.of_account(account),
            account=account,
            ip=ip,
            workspace_ids=[str(i.workspace_id) for i in granted],
        )
    return granted
